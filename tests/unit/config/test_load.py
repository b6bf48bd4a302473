"""The whole pipeline: normalization results and every class of error with its line."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.errors import ConfigError, GraphError

from .helpers import load_in, write


def test_normalized_service_fields(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", """
        name: demo
        services:
          web:
            image: nginx
            build: ./missing-context
            command: sh -c 'echo "a b"; sleep 1'
            ports: ["127.0.0.1:8000-8001:80-81/udp", "9000", 3000, "[::1]:53:53"]
            volumes:
              - data:/data:ro
              - ./html:/usr/share/nginx/html
              - /anon
              - type: tmpfs
                target: /tmp
                tmpfs: {size: 1m}
            healthcheck:
              test: curl -f http://localhost
              interval: 1m30s
              timeout: 500ms
            stop_grace_period: 20s
            mem_limit: 512m
            ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 64}
            depends_on:
              db: {condition: service_healthy, restart: true}
          db:
            image: postgres
            networks: [back]
            healthcheck: {test: ["CMD", "pg_isready"]}
        volumes:
          data: {}
        networks:
          back: {}
          ext: {external: true}
    """)
    project = load_in(tmp_path)
    web = project.services["web"]
    assert web.command == ("sh", "-c", 'echo "a b"; sleep 1')
    assert [(p.host_ip, p.published, p.target, p.protocol) for p in web.ports] == [
        ("127.0.0.1", "8000", 80, "udp"), ("127.0.0.1", "8001", 81, "udp"),
        (None, None, 9000, "tcp"), (None, None, 3000, "tcp"), ("::1", "53", 53, "tcp")]
    kinds = [(v.type, v.source, v.target, v.read_only) for v in web.volumes]
    assert kinds == [("volume", "data", "/data", True),
                     ("bind", str(tmp_path / "html"), "/usr/share/nginx/html", False),
                     ("volume", None, "/anon", False), ("tmpfs", None, "/tmp", False)]
    assert web.volumes[3].tmpfs is not None and web.volumes[3].tmpfs.size == 1 << 20
    assert web.healthcheck is not None
    assert (web.healthcheck.interval, web.healthcheck.timeout) == (90.0, 0.5)
    assert web.stop_grace_period == 20.0 and web.mem_limit == 512 << 20
    assert web.ulimits["nofile"].soft == 1024 and web.ulimits["nproc"].hard == 64
    dep = web.depends_on["db"]
    assert (dep.condition, dep.restart, dep.required) == ("service_healthy", True, True)
    assert web.build is not None and web.build.context == str(tmp_path / "missing-context")
    assert web.build.dockerfile == "Dockerfile"
    assert set(web.networks) == {"default"}
    assert project.networks["default"].name == "demo_default"
    assert project.networks["back"].name == "demo_back"
    assert project.networks["ext"].name == "ext" and project.networks["ext"].external
    assert project.volumes["data"].name == "demo_data"
    assert project.container_name("web", 2) == "demo-web-2"
    assert web.raw["ports"][0] == {"mode": "ingress", "host_ip": "127.0.0.1", "target": 80,
                                   "published": "8000", "protocol": "udp"}


def test_env_file_and_environment_precedence(tmp_path: Path) -> None:
    write(tmp_path, ".env", "TAG=1.2\nFROM_DOTENV=yes\n")
    write(tmp_path, "a.env", "A=from-a\nB=from-a\nC=${TAG}\n")
    write(tmp_path, "raw.env", "R='kept $as is'\n")
    write(tmp_path, "compose.yaml", """
        services:
          app:
            image: "busybox:${TAG}"
            env_file:
              - a.env
              - path: raw.env
                format: raw
              - path: optional.env
                required: false
            environment:
              B: from-environment
              FROM_DOTENV:
              FROM_PROCESS:
              NOT_ANYWHERE:
    """)
    project = load_in(tmp_path, {"FROM_PROCESS": "p", "TAG": "9"})
    app = project.services["app"]
    assert app.image == "busybox:9"  # process environment beats .env
    assert app.environment == {
        "A": "from-a", "B": "from-environment", "C": "9", "R": "'kept $as is'",
        "FROM_DOTENV": "yes", "FROM_PROCESS": "p", "NOT_ANYWHERE": None}


def test_env_file_option_replaces_dotenv(tmp_path: Path) -> None:
    write(tmp_path, ".env", "TAG=dotenv\n")
    write(tmp_path, "other.env", "TAG=other\n")
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: x:${TAG:-none}\n")
    assert load_in(tmp_path).services["a"].image == "x:dotenv"
    assert load_in(tmp_path, env_files=["other.env"]).services["a"].image == "x:other"


def test_required_env_file_missing_is_located(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: x\n    env_file: nope.env\n")
    with pytest.raises(ConfigError) as info:
        load_in(tmp_path)
    assert "nope.env" in info.value.message and info.value.line == 4
    assert info.value.key_path == "services.a.env_file"


def test_only_the_services_a_command_uses_need_their_env_files(tmp_path: Path) -> None:
    """docker compose's TestUnusedMissingEnvFile: ``up a`` works while b names a missing
    env file; a command that uses b (directly or as a dependency) fails on it."""
    write(tmp_path, "compose.yaml", """
services:
  a: {image: x, environment: [A=1]}
  b: {image: x, env_file: [/does/not/exist.env], environment: [B=1]}
  c: {image: x, depends_on: [b]}
""")
    project = load_in(tmp_path, services=["a"])
    assert project.services["a"].environment == {"A": "1"}
    assert project.services["b"].environment == {"B": "1"}  # never used by this command
    for used in (["b"], ["c"], []):
        with pytest.raises(ConfigError, match="exist.env"):
            load_in(tmp_path, services=used)


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("services:\n  a:\n    image: [x\n", 4, ""),  # YAML syntax error (unclosed flow)
    ("services:\n  a:\n    image: x\n    image: y\n", 4, "image"),  # duplicate key
    ("services:\n  a:\n    image: x\n    restartt: always\n", 4, "restartt"),  # unknown key
    ("services:\n  a:\n    image: x\n    ports: {a: 1}\n", 4, "ports"),  # wrong type
    ("services:\n  a:\n    image: ${X:?need X}\n", 3, "X"),  # interpolation
    ("services:\n  a:\n    image: x\n    networks: [nope]\n", 4, "nope"),  # unknown network
    ("services:\n  a:\n    image: x\n    depends_on: [zzz]\n", 4, "zzz"),  # unknown service
    ("services:\n  a:\n    image: x\n    ports: ['99999:80']\n", 4, "99999"),  # port range
    ("services:\n  a:\n    image: x\n    stop_grace_period: 10 minutes\n", 4, "10 minutes"),
    ("services:\n  a:\n    image: x\n    mem_limit: lots\n", 4, "lots"),
    ("services:\n  a:\n    image: x\n    ports: ['80:80:80:80']\n", 4, "not an IP"),
    ("services:\n  a:\n    image: x\n    command: echo 'open\n", 4, "quotation"),
    ("services:\n  a:\n    image: x\n    extends: a\n", 4, "a -> a"),
])
def test_errors_are_located(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    write(tmp_path, "compose.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_in(tmp_path)
    err = info.value
    assert err.file == str(tmp_path / "compose.yaml")
    assert err.line == line, str(err)
    assert fragment in str(err)


def test_dependency_cycle_is_located(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", """
        services:
          a: {image: x, depends_on: [b]}
          b: {image: x, volumes_from: [a]}
    """)
    with pytest.raises(GraphError) as info:
        load_in(tmp_path)
    assert "a -> b -> a" in info.value.message and info.value.line == 3


def test_empty_file_and_non_mapping(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", "")
    with pytest.raises(ConfigError, match="empty"):
        load_in(tmp_path)
    write(tmp_path, "compose.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_in(tmp_path)


def test_no_interpolate_keeps_references(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: x:${TAG}\n"
                                    "    ports: ['${P}:80']\n")
    project = load_in(tmp_path, interpolate=False)
    assert project.services["a"].image == "x:${TAG}"
    assert project.services["a"].raw["ports"] == ["${P}:80"]


def test_anchors_merge_keys_and_extensions(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", """
        x-common: &common
          restart: always
          environment: {SHARED: "1"}
        services:
          a:
            <<: *common
            image: a
            x-note: kept
    """)
    project = load_in(tmp_path)
    a = project.services["a"]
    assert a.restart == "always" and a.environment == {"SHARED": "1"}
    assert a.raw["x-note"] == "kept"
    assert "x-common" in project.extensions


def test_label_file_merged_under_labels(tmp_path: Path) -> None:
    write(tmp_path, "labels.env", "team=core\ntier=file\n")
    write(tmp_path, "compose.yaml", """
        services:
          a:
            image: x
            label_file: labels.env
            labels: {tier: inline}
    """)
    a = load_in(tmp_path).services["a"]
    assert a.labels == {"team": "core", "tier": "inline"}
    assert "label_file" not in a.raw


def test_docker_compose_normalizations(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", """
        services:
          app:
            build:
              context: .
              args: [FROM_ENV, MISSING, SET=1]
            pull_policy: if_not_present
            links: [db:database]
            volumes_from: [data]
            ipc: "service:db"
            volumes: ["/x/../y/:/a/b/../c/"]
            environment: {Z: "1", A: "2"}
          db: {image: db}
          data: {image: data}
    """)
    app = load_in(tmp_path, {"FROM_ENV": "env"}).services["app"]
    assert app.pull_policy == "missing"
    assert app.build is not None and app.build.args == {"FROM_ENV": "env", "SET": "1"}
    assert app.depends_on["db"].restart and app.depends_on["db"].required
    assert not app.depends_on["data"].restart
    assert app.volumes[0].target == "/a/c" and app.volumes[0].source == "/y"
    assert list(app.raw["environment"]) == ["A", "Z"]  # Go maps print sorted


def test_compose_env_files_and_disable_env_file(tmp_path: Path) -> None:
    write(tmp_path, ".env", "TAG=dotenv\n")
    write(tmp_path, "a.env", "TAG=a\n")
    write(tmp_path, "compose.yaml", "services:\n  s:\n    image: x:${TAG:-none}\n")
    assert load_in(tmp_path, {"COMPOSE_ENV_FILES": "a.env"}).services["s"].image == "x:a"
    env = {"COMPOSE_DISABLE_ENV_FILE": "true"}
    assert load_in(tmp_path, env).services["s"].image == "x:none"


def test_other_top_level_keys_are_kept(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", """
        services:
          a: {image: x}
        models:
          llm: {model: ai/smollm2}
        x-tail: 1
    """)
    project = load_in(tmp_path)
    assert list(project.raw) == ["name", "services", "networks", "models", "x-tail"]


def test_absurd_nesting_is_a_config_error(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml",
          "services:\n  a:\n    image: x\n    x-deep: " + "[" * 3000 + "]" * 3000 + "\n")
    # PyYAML >= 6.0.4's libyaml stops at its own depth limit; older ones leave it to our check.
    # Either way: a located ConfigError, never a RecursionError.
    with pytest.raises(ConfigError, match="nests too deeply|maximum nesting depth") as err:
        load_in(tmp_path)
    assert err.value.file and err.value.file.endswith("compose.yaml")


def test_several_documents_in_one_file_merge_in_order(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", """
        services:
          a: {image: x, environment: {A: "1"}}
        ---
        services:
          a: {user: nobody, environment: {B: "2"}, bogus_key: 1}
    """)
    with pytest.raises(ConfigError) as info:
        load_in(tmp_path)
    assert info.value.line == 6  # each document is validated on its own, located
    write(tmp_path, "compose.yaml", """
        services:
          a: {image: x, environment: {A: "1"}}
        ---
        services:
          a: {user: nobody, environment: {B: "2"}}
    """)
    a = load_in(tmp_path).services["a"]
    assert (a.image, a.user, a.environment) == ("x", "nobody", {"A": "1", "B": "2"})


def test_the_optional_sections_classes_load_with_the_first_file_using_one(
        tmp_path: Path) -> None:
    from tests.support import fresh

    write(tmp_path, "plain.yaml", "services:\n  a:\n    image: x\n")
    write(tmp_path, "deploy.yaml", "services:\n  a:\n    image: x\n    deploy: {replicas: 2}\n")
    probe = """
import json, sys
from compose.config import LoadOptions, load
from compose.config import model
plain = load(LoadOptions(files=(sys.argv[1],)))
before = "compose.config.model_options" in sys.modules
project = load(LoadOptions(files=(sys.argv[2],)))
deploy = project.services["a"].deploy
from compose.config.model import Deploy
from compose.config import model_options
print(json.dumps({"before": before, "replicas": deploy.replicas,
                  "same": type(deploy) is Deploy is model.Deploy is model_options.Deploy}))
"""
    out = fresh.run_json(probe, str(tmp_path / "plain.yaml"), str(tmp_path / "deploy.yaml"))
    assert out == {"before": False, "replicas": 2, "same": True}
