from __future__ import annotations

import pytest

from engine.networks import upstream
from engine.networks.model import NetworkError, NetworkSpec, PortBinding
from engine.networks.network import spec_from_json, spec_to_json, validate_spec
from engine.networks.resolvconf import render_hosts, render_resolv_conf

HOST = "nameserver 127.0.0.53\nnameserver 10.1.1.1\nsearch corp.example\noptions edns0\n"


def test_embedded_resolv_conf_like_docker() -> None:
    text = render_resolv_conf(dns=["9.9.9.9"], dns_search=[], dns_opt=["timeout:2"],
                              use_embedded=True, host_text=HOST)
    assert text == ("nameserver 127.0.0.11\nsearch corp.example\n"
                    "options ndots:0 timeout:2\n")


def test_non_embedded_filters_loopback_resolvers() -> None:
    text = render_resolv_conf(dns=[], dns_search=["a.test"], dns_opt=[], use_embedded=False,
                              host_text=HOST)
    assert text == "nameserver 10.1.1.1\nsearch a.test\noptions edns0\n"
    only_lo = render_resolv_conf(dns=[], dns_search=[], dns_opt=[], use_embedded=False,
                                 host_text="nameserver 127.0.0.53\n")
    assert "nameserver 8.8.8.8" in only_lo and "127.0.0.53" not in only_lo


def test_hosts_file() -> None:
    text = render_hosts(hostname="web.example", addresses=["10.0.0.2"],
                        extra_hosts=[("db", "10.9.9.9")])
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost"
    assert "10.9.9.9\tdb" in lines and lines[-1] == "10.0.0.2\tweb.example web"


@pytest.mark.parametrize("text, want", [
    ("127.0.0.77:5353", ("127.0.0.77", 5353)), ("10.0.0.1", ("10.0.0.1", 53)),
    ("[fd00::1]:5353", ("fd00::1", 5353)), ("fd00::1", ("fd00::1", 53)),
])
def test_parse_upstream(text: str, want: tuple[str, int]) -> None:
    assert upstream.parse_upstream(text) == want


def test_upstream_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(upstream.UPSTREAMS_ENV, "127.0.0.5:53,127.0.0.6:54")
    assert upstream.configured_upstreams() == [("127.0.0.5", 53), ("127.0.0.6", 54)]


@pytest.mark.parametrize("spec, msg", [
    (NetworkSpec(name="n", driver="macvlan"), "driver 'macvlan'"),
    (NetworkSpec(name="n", driver_opts={"com.docker.network.driver.mtu": "x"}), "invalid MTU"),
    (NetworkSpec(name="n", driver_opts={"bogus": "1"}), "unsupported driver_opts: bogus"),
    (NetworkSpec(name="n", enable_ipv4=False), "IPv4 or IPv6"),
])
def test_spec_validation(spec: NetworkSpec, msg: str) -> None:
    with pytest.raises(NetworkError, match=msg):
        validate_spec(spec)


def test_spec_roundtrip_through_json() -> None:
    from engine.networks.model import IpamConfig, IpamSpec

    spec = NetworkSpec(name="p_default", labels={"com.docker.compose.project": "p"},
                       internal=True, ipam=IpamSpec(configs=(IpamConfig(
                           subnet="10.213.9.0/24", aux_addresses={"r": "10.213.9.5"}),)),
                       driver_opts={"com.docker.network.driver.mtu": "1400"})
    assert spec_from_json(spec_to_json(spec)) == spec


def test_port_binding_validation() -> None:
    with pytest.raises(NetworkError):
        PortBinding(80, protocol="sctp")
    with pytest.raises(NetworkError):
        PortBinding(70000)


def test_hosts_host_gateway() -> None:
    text = render_hosts(hostname="web", addresses=[], extra_hosts=[("host.docker.internal",
                                                                     "host-gateway")],
                        host_gateway="10.213.1.1")
    assert "10.213.1.1\thost.docker.internal" in text.splitlines()
    with pytest.raises(NetworkError, match="host-gateway"):
        render_hosts(hostname="web", addresses=[], extra_hosts=[("h", "host-gateway")])


def test_host_network_keeps_loopback_resolvers() -> None:
    text = render_resolv_conf(dns=[], dns_search=[], dns_opt=[], use_embedded=False,
                              host_text=HOST, host_network=True)
    assert text.startswith("nameserver 127.0.0.53\nnameserver 10.1.1.1\n")
