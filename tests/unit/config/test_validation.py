"""Tests for the semantic checks and the unit parsers they share with the normalizer."""
from __future__ import annotations

import pytest

from compose.config.positions import Position
from compose.config.units import (
    PortRange,
    parse_duration,
    parse_port_range,
    parse_port_spec,
    parse_size,
)
from compose.config.validation import check_semantics
from compose.config.yamlload import load_yaml
from compose.errors import ConfigError


def semantic_error(text: str) -> ConfigError:
    data, positions = load_yaml(text, "compose.yaml")
    with pytest.raises(ConfigError) as info:
        check_semantics(data, positions)
    return info.value


def passes(text: str) -> None:
    data, positions = load_yaml(text, "compose.yaml")
    check_semantics(data, positions)


def svc(body: str, extra: str = "") -> str:
    """A one-service project; ``body`` is indented under the service."""
    lines = "".join(f"    {line}\n" for line in body.splitlines())
    return f"services:\n  web:\n    image: x\n{lines}{extra}"


@pytest.mark.parametrize(
    ("body", "extra", "line", "fragment"),
    [
        ("networks: [front]", "", 4, "uses network 'front', which is not defined"),
        ("networks:\n  back:", "networks:\n  front:\n", 5, "network 'back'"),
        ("secrets: [token]", "", 4, "uses secret 'token'"),
        ("configs:\n  - source: conf", "", 5, "uses config 'conf'"),
        ("build:\n  context: .\n  secrets: [s]", "", 6, "build of service 'web' uses secret 's'"),
        ("models: [llm]", "", 4, "uses model 'llm'"),
        ("volumes: ['data:/data']", "", 4, "volume 'data' is not defined"),
        ("volumes:\n  - type: volume\n    source: data\n    target: /d", "", 5,
         "volume 'data' is not defined"),
        ("depends_on: [api]", "", 4, "depends on undefined service 'api'"),
        ("depends_on:\n  api:\n    condition: service_started", "", 5,
         "depends on undefined service 'api'"),
        ("depends_on: [web]", "", 4, "service 'web' depends on itself"),
        ("links: ['db:database']", "", 4, "links to undefined service 'db'"),
        ("volumes_from: [db]", "", 4, "takes volumes from undefined service 'db'"),
        ("network_mode: 'service:db'", "", 4, "network_mode refers to service 'db'"),
        ("network_mode: 'service:web'", "", 4, "cannot use its own network stack"),
        ("network_mode: host\nnetworks: [default]", "", 4, "cannot both be set"),
        ("extends: base", "", 4, "extends undefined service 'base'"),
        ("ports: ['70000:80']", "", 4, "port 70000 is out of range 0-65535"),
        ("ports: ['80:99999']", "", 4, "port 99999 is out of range"),
        ("ports: ['8010-8000:80']", "", 4, "ends before it starts"),
        ("ports: ['8000-8001:80-82']", "", 4, "different sizes"),
        ("ports: ['http:80']", "", 4, "'http' is not a port number or range"),
        ("ports:\n  - target: 80\n    published: '8000-7000'", "", 5, "ends before it starts"),
        ("ports:\n  - target: 70000", "", 5, "out of range"),
        ("expose: ['80-70000']", "", 4, "out of range"),
        ("healthcheck:\n  interval: 10x", "", 5, "'10x' is not a duration"),
        ("healthcheck:\n  timeout: '10'", "", 5, "is not a duration"),
        ("stop_grace_period: 1m30", "", 4, "is not a duration"),
        ("deploy:\n  restart_policy:\n    delay: soon", "", 6, "'soon' is not a duration"),
        ("shm_size: 1q", "", 4, "'1q' is not a size"),
        ("mem_limit: lots", "", 4, "is not a size"),
        ("deploy:\n  resources:\n    limits:\n      memory: 1.2.3g", "", 7, "is not a size"),
        ("memswap_limit: -2g", "", 4, "or -1 for unlimited swap"),
        ("volumes:\n  - type: tmpfs\n    target: /t\n    tmpfs:\n      size: big", "", 5,
         "tmpfs size"),
        ("cpus: lots", "", 4, "'lots' is not a number"),
        ("scale: two", "", 4, "'two' is not a whole number"),
        ("container_name: one\nscale: 3", "", 4, "cannot run 3 replicas"),
        ("container_name: one\ndeploy:\n  replicas: 2", "", 4, "cannot run 2 replicas"),
        ("volumes: ['./a:/b:rx']", "", 4, "'rx' is not a valid volume mode"),
        ("volumes: ['./a:/b:ro,bogus']", "", 4, "'bogus' is not a valid volume mode"),
        ("volumes: ['./a:/b:ro:z']", "", 4, "is not a valid volume"),
        ("volumes: ['./a:relative']", "", 4, "must be an absolute path"),
        ("oom_score_adj: 2000", "", 4, "2000 is out of range -1000..1000"),
        ("mem_swappiness: 101", "", 4, "out of range -1..100"),
        ("scale: -1", "", 4, "out of range"),
        ("build:\n  dockerfile: a\n  dockerfile_inline: FROM scratch", "", 6,
         "cannot both be set"),
        ("platform: linux/arm64\nbuild:\n  platforms: [linux/amd64]", "", 6,
         "must include the service platform 'linux/arm64'"),
        ("cpus: 1\ndeploy:\n  resources:\n    limits:\n      cpus: '0.5'", "", 4,
         "cpus (1) and deploy.resources.limits.cpus (0.5) differ"),
        ("mem_limit: 1g\ndeploy:\n  resources:\n    limits:\n      memory: 512m", "", 4,
         "differ; set only one"),
        ("scale: 2\ndeploy:\n  replicas: 3", "", 4, "scale (2) and deploy.replicas (3) differ"),
        ("tmpfs: /data\nvolumes: ['./d:/data']", "", 5, "/data is already mounted by tmpfs[0]"),
        ("volumes:\n  - ./a:/x\n  - type: bind\n    source: ./b\n    target: /x/", "", 6,
         "/x is already mounted by volumes[0]"),
        ("develop:\n  watch:\n    - path: ./src\n      action: sync", "", 6,
         "action 'sync' needs a target path"),
        ("build:\n  context: .\n  additional_contexts:\n    base: 'service:nope'", "", 7,
         "refers to undefined service 'nope'"),
        ("build:\n  context: .\n  additional_contexts: ['base=service:db']",
         "  db:\n    image: pg\n", 6, "refers to service 'db', which has no build"),
        ("restart: sometimes", "", 4, "'sometimes' is not a restart policy"),
        ("restart: 'on-failure:x'", "", 4, "is not a restart policy"),
        ("pull_policy: hourly", "", 4, "'hourly' is not a pull policy"),
        ("healthcheck:\n  test: [curl, -f, localhost]", "", 5, "must start with NONE, CMD"),
        ("ulimits:\n  nofile: {soft: 20, hard: 10}", "", 5, "soft limit 20 is above"),
        ("ipc: 'service:db'", "", 4, "ipc refers to service 'db'"),
        ("pid: 'service:web'", "", 4, "cannot share its own pid namespace"),
        ("networks:\n  front:\n    ipv4_address: 10.1.0.300", "networks:\n  front:\n", 6,
         "'10.1.0.300' is not an IPv4 address"),
        ("networks:\n  front:\n    ipv4_address: fd00::5", "networks:\n  front:\n", 6,
         "is not an IPv4 address"),
        ("networks:\n  front:\n    ipv4_address: 10.1.0.5", "networks:\n  front:\n", 6,
         "needs a network with a configured IPv4 subnet"),
        ("networks:\n  front:\n    ipv4_address: 10.2.0.5",
         "networks:\n  front:\n    ipam:\n      config:\n        - subnet: 10.1.0.0/24\n", 6,
         "10.2.0.5 is not inside the network's subnets 10.1.0.0/24"),
    ],
)
def test_semantic_error_names_line_and_problem(
    body: str, extra: str, line: int, fragment: str
) -> None:
    err = semantic_error(svc(body, extra))
    assert fragment in err.message
    assert err.line == line
    assert err.file == "compose.yaml"
    assert err.message.startswith(f"{err.key_path}: ")
    assert err.key_path is not None and err.key_path.startswith("services.web.")


def test_error_string_is_one_located_sentence() -> None:
    err = semantic_error(svc("depends_on: [api]"))
    assert str(err) == (
        "compose.yaml:4:18: services.web.depends_on[0]: service 'web' depends on undefined "
        "service 'api'"
    )


def test_valid_project_passes() -> None:
    passes(svc(
        "networks: [default, front]\n"
        "volumes: ['data:/data:ro,z', './src:/src', '/anon', '~/x:/x']\n"
        "ports: ['127.0.0.1:80:80/udp', '[::1]:81:81', '::1:82:82', 3000, '9090-9091:8080-8081',"
        " '8000-9000:80', '127.0.0.1::5000']\n"
        "expose: ['3000', 4000, '5000-5010/udp']\n"
        "healthcheck: {interval: 1m30s, timeout: 500ms, start_period: '0'}\n"
        "shm_size: 1g\nmem_limit: 512m\nmemswap_limit: -1\ncpus: '0.5'\nscale: 1\n"
        "container_name: solo\n"
        "depends_on:\n  db:\n    condition: service_healthy\n  cache:\n"
        "    condition: service_started\n    required: false\n"
        "links: ['db:database']\nvolumes_from: ['db:ro', 'container:other']\n"
        "secrets: [s]\nconfigs: [{source: c, target: /c}]\n",
        "  db:\n    image: pg\n    network_mode: 'service:web'\n"
        "networks:\n  front:\nvolumes:\n  data:\nsecrets:\n  s: {file: ./s}\n"
        "configs:\n  c: {content: x}\n",
    ))


def test_values_left_uninterpolated_are_not_parsed() -> None:
    passes(svc("ports: ['${PORT}:80']\nhealthcheck: {interval: '${I}'}\nshm_size: '${S}'\n"
               "volumes: ['${DATA}:/data']"))


def test_optional_dependency_may_be_missing_but_not_self() -> None:
    passes(svc("depends_on:\n  gone:\n    condition: service_started\n    required: false"))


def test_positions_from_merged_files_name_their_file() -> None:
    data, positions = load_yaml(svc("depends_on: [api]"), "compose.yaml")
    positions[("services", "web", "depends_on", 0)] = Position("override.yaml", 7, 9)
    with pytest.raises(ConfigError) as info:
        check_semantics(data, positions)
    assert (info.value.file, info.value.line, info.value.column) == ("override.yaml", 7, 9)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10), ("1m30s", 90), ("1h", 3600), ("500ms", 0.5), ("1.5s", 1.5), ("0", 0),
     ("2h45m", 9900), ("100us", 1e-4), ("10ns", 1e-8), ("-2s", -2), (".5m", 30), (3, 3.0)],
)
def test_parse_duration(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "1d", "s", "1m 30s", "1.2.3s", "abc", "10sx"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [("512m", 512 << 20), ("1g", 1 << 30), ("100k", 102400), ("1024", 1024), (2048, 2048),
     ("1.5GB", int(1.5 * (1 << 30))), ("10 MiB", 10 << 20), ("64M", 64 << 20), ("7b", 7),
     ("2t", 2 << 40)],
)
def test_parse_size(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "1q", "lots", "-1", "1.2.3g", "g", -5, True])
def test_parse_size_rejects(text: str | int) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_parse_port_spec_forms() -> None:
    spec = parse_port_spec("127.0.0.1:5000-5010:6000-6010/udp")
    assert spec.host_ip == "127.0.0.1" and spec.protocol == "udp"
    assert spec.published == PortRange(5000, 5010) and spec.target == PortRange(6000, 6010)
    assert parse_port_spec("[::1]:6001:6002").host_ip == "::1"
    assert parse_port_spec("::1:6000:6000").host_ip == "::1"
    only = parse_port_spec(3000)
    assert only.published is None and only.target == PortRange(3000, 3000)
    assert parse_port_spec("8000-9000:80").published == PortRange(8000, 9000)
    assert parse_port_spec("127.0.0.1::80").published is None
    assert parse_port_range("65535").size == 1


def test_every_key_fixture_passes_semantics() -> None:
    from pathlib import Path

    path = Path(__file__).parent / "data" / "every-key.yaml"
    data, positions = load_yaml(path.read_text(), str(path))
    check_semantics(data, positions)


@pytest.mark.parametrize(
    ("text", "line", "key_path", "fragment"),
    [
        ("networks:\n  n:\n    external: true\n    driver: bridge\n", 4, "networks.n.driver",
         "network 'n' is external, so 'driver' cannot be set"),
        ("volumes:\n  v:\n    external: {name: real}\n    driver_opts: {a: b}\n", 4,
         "volumes.v.driver_opts", "volume 'v' is external"),
        ("secrets:\n  s:\n    labels: {a: b}\n", 2, "secrets.s",
         "secret 's' needs one of file, environment or driver, or external: true"),
        ("configs:\n  c:\n    name: x\n", 2, "configs.c", "config 'c' needs one of"),
        ("networks:\n  n:\n    ipam:\n      config:\n        - subnet: 10.0.0.0/33\n", 5,
         "networks.n.ipam.config[0].subnet", "'10.0.0.0/33' is not a subnet in CIDR form"),
        ("networks:\n  n:\n    ipam:\n      config:\n        - subnet: 10.0.0.0/24\n"
         "          ip_range: 10.0.1.0/25\n", 6, "networks.n.ipam.config[0].ip_range",
         "not inside subnet 10.0.0.0/24"),
        ("networks:\n  n:\n    ipam:\n      config:\n        - subnet: 10.0.0.0/24\n"
         "          gateway: 10.0.9.1\n", 6, "networks.n.ipam.config[0].gateway",
         "gateway 10.0.9.1 is not inside subnet"),
    ],
)
def test_top_level_resource_errors(text: str, line: int, key_path: str, fragment: str) -> None:
    err = semantic_error("services: {}\n" + text)
    assert err.line == line + 1
    assert err.key_path == key_path
    assert fragment in err.message


def test_resources_that_are_fine() -> None:
    passes(
        "services:\n  web:\n    image: x\n    networks:\n      n:\n"
        "        ipv4_address: 10.0.0.5\n        ipv6_address: fd12::5\n      ext:\n"
        "        ipv4_address: 192.168.9.9\n"
        "networks:\n  n:\n    ipam:\n      config:\n        - subnet: 10.0.0.0/24\n"
        "          ip_range: 10.0.0.0/25\n          gateway: 10.0.0.1\n"
        "        - subnet: fd12::/64\n  ext:\n    external: true\n    name: real\n"
        "volumes:\n  v:\n    external: true\n    name: real\n"
        "secrets:\n  s:\n    environment: TOKEN\n  e:\n    external: true\n"
        "configs:\n  c:\n    content: hi\n"
    )


def test_service_needs_an_image_a_build_or_a_provider() -> None:
    err = semantic_error("services:\n  web:\n    command: x\n")
    assert err.line == 2 and err.key_path == "services.web"
    assert "neither an image nor a build" in err.message
    passes("services:\n  a:\n    build: .\n  b:\n    provider:\n      type: cloud\n")


def test_same_setting_in_both_places_with_equal_values_is_fine() -> None:
    passes(svc("cpus: 0.5\nmem_limit: 512m\nscale: 2\ndeploy:\n  replicas: 2\n  resources:\n"
               "    limits:\n      cpus: '0.50'\n      memory: 536870912"))
