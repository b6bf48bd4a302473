"""Order of the privileged steps and the write-ahead records, with recording fakes in place of
netlink, netns, iptables and the DNS daemon (no root needed)."""
from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

import engine.networks as N
from engine.errors import Conflict
from engine.networks import dns_control, firewall, link, netns, network, state, sysctl
from engine.networks import rules as rules_mod


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail_on: str | None = None

    def fake(self, name: str, result: Any = None, check: Any = None) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, (args, kwargs)))
            if check is not None:
                check(*args, **kwargs)
            if self.fail_on == name:
                raise N.NetworkError("injected failure", step=name)
            return result
        return call

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


def _row_state(table: str, where: str) -> str | None:
    row = state.db().execute(f"SELECT state FROM {table} WHERE {where}").fetchone()
    return None if row is None else row[0]


@pytest.fixture
def rec(state_root: Path, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    r = Recorder()

    def bridge_recorded(name: str, **_: Any) -> None:
        assert _row_state("net_networks", f"bridge = '{name}'") == state.CREATING

    def endpoint_recorded(host_name: str, *_: Any, **__: Any) -> None:
        assert _row_state("net_endpoints", f"host_ifname = '{host_name}'") == state.CREATING

    monkeypatch.setattr(link, "host_route_networks",
                        lambda: [ipaddress.ip_network("172.16.0.0/20")])
    monkeypatch.setattr(link, "ensure_bridge", r.fake("ensure_bridge", 7, bridge_recorded))
    monkeypatch.setattr(link, "create_veth", r.fake("create_veth", None, endpoint_recorded))
    monkeypatch.setattr(link, "configure_peer", r.fake("configure_peer"))
    monkeypatch.setattr(link, "replace_default_route", r.fake("replace_default_route"))
    monkeypatch.setattr(link, "delete_link", r.fake("delete_link", True))
    monkeypatch.setattr(link, "link_exists", lambda name: True)
    monkeypatch.setattr(sysctl, "prepare_bridge", r.fake("prepare_bridge"))
    monkeypatch.setattr(sysctl, "ensure_bridge_netfilter", r.fake("bridge_netfilter"))
    monkeypatch.setattr(sysctl, "enable_ip_forward", r.fake("ip_forward"))
    monkeypatch.setattr(firewall, "replace_rules", r.fake("replace_rules"))
    monkeypatch.setattr(firewall, "remove_tags", r.fake("remove_tags"))
    monkeypatch.setattr(firewall, "published", lambda proto: set())
    monkeypatch.setattr(netns, "create_netns", r.fake("create_netns"))
    monkeypatch.setattr(netns, "remove_netns", r.fake("remove_netns"))
    monkeypatch.setattr(dns_control, "sync", r.fake("dns_sync"))
    monkeypatch.setattr(dns_control, "start_early", lambda: None)
    monkeypatch.setattr(network, "IPAM_LOCK", state_root / "ipam.lock")
    return r


def test_create_network_records_first_then_bridge_then_rules(rec: Recorder) -> None:
    info = N.create_network(N.NetworkSpec(name="p_default"))
    assert rec.names() == ["ensure_bridge", "prepare_bridge", "bridge_netfilter", "ip_forward",
                           "replace_rules"]
    assert info.subnet4 == "172.16.16.0/20"  # the host route 172.16.0.0/20 was skipped
    assert _row_state("net_networks", "name = 'p_default'") == state.READY


def test_internal_network_leaves_ip_forward_alone(rec: Recorder) -> None:
    N.create_network(N.NetworkSpec(name="p_internal", internal=True))
    assert "ip_forward" not in rec.names()


def test_failed_bridge_is_undone(rec: Recorder) -> None:
    rec.fail_on = "ensure_bridge"
    with pytest.raises(N.NetworkError, match="injected"):
        N.create_network(N.NetworkSpec(name="p_broken"))
    assert not N.network_exists("p_broken")
    assert "remove_tags" in rec.names() and "delete_link" in rec.names()


def test_connect_order_default_route_and_dns(rec: Recorder) -> None:
    first = N.create_network(N.NetworkSpec(name="p_a"))
    second = N.create_network(N.NetworkSpec(name="p_b"))
    N.create_sandbox("c1")
    rec.calls.clear()
    ep = N.connect("c1", "p_a", N.EndpointSpec(dns_names=("web",)))
    assert rec.names() == ["create_veth", "configure_peer", "dns_sync"]
    kwargs = rec.calls[1][1][1]
    assert kwargs["gateways"] == [first.gateway4]
    assert kwargs["addrs"] == [(ep.ipv4, 20)]
    rec.calls.clear()
    N.connect("c1", "p_b")  # lower priority, later: the default route stays on p_a
    assert rec.calls[1][1][1]["gateways"] == []
    assert [e.ifname for e in N.endpoints("c1")] == ["eth0", "eth1"]
    with pytest.raises(Conflict):
        N.remove_network(second.name)


def test_failed_connect_removes_veth_and_record(rec: Recorder) -> None:
    N.create_network(N.NetworkSpec(name="p_c"))
    N.create_sandbox("c2")
    rec.fail_on = "configure_peer"
    with pytest.raises(N.NetworkError):
        N.connect("c2", "p_c")
    assert N.endpoints("c2") == []
    assert rec.names()[-1] == "delete_link"


def test_remove_sandbox_closes_dns_before_unmounting(rec: Recorder) -> None:
    N.create_network(N.NetworkSpec(name="p_d"))
    N.create_sandbox("c3")
    N.connect("c3", "p_d")
    rec.calls.clear()
    N.remove_sandbox("c3")
    assert rec.names() == ["delete_link", "dns_sync", "remove_netns"]
    assert state.sandbox_row(state.db(), "c3") is None


def test_ports_of_internal_only_container_are_not_published(rec: Recorder) -> None:
    N.create_network(N.NetworkSpec(name="p_int", internal=True))
    N.create_sandbox("c4")
    N.connect("c4", "p_int")
    rec.calls.clear()
    assert N.publish_ports("c4", [N.PortBinding(80, 8080)]) == []
    assert rec.names() == [] and N.published_ports("c4") == []


def test_publish_records_ports_and_applies_one_batch(rec: Recorder,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.networks import ports

    monkeypatch.setattr(ports, "_bindable", lambda *a: True)
    N.create_network(N.NetworkSpec(name="p_pub"))
    N.create_sandbox("c5")
    ep = N.connect("c5", "p_pub")
    rec.calls.clear()
    got = N.publish_ports("c5", [N.PortBinding(80, 8080), N.PortBinding(53, 5353, protocol="udp")])
    assert [(b.host_port, b.protocol) for b in got] == [(8080, "tcp"), (5353, "udp")]
    assert rec.names() == ["replace_rules"]  # both ports in one batch
    tag, rules = rec.calls[0][1][0]
    assert tag == rules_mod.container_tag("c5") and {r.to for r in rules if r.to} == {
        f"{ep.ipv4}:80", f"{ep.ipv4}:53"}
    with pytest.raises(Conflict, match="already allocated"):
        N.publish_ports("c5", [N.PortBinding(81, 8080)])


def test_remove_network_deletes_the_bridge_and_its_rules_at_once(rec: Recorder) -> None:
    """The rules' removal runs while the bridge is deleted, told that bridge is going (so it
    still tears our base chains down when no other pycompose bridge is left)."""
    info = N.create_network(N.NetworkSpec(name="p_r"))
    rec.calls.clear()
    N.remove_network("p_r")
    assert sorted(rec.names()) == ["delete_link", "remove_tags"]
    calls = dict(rec.calls)
    assert calls["delete_link"] == ((info.bridge,), {})
    assert calls["remove_tags"] == (([rules_mod.network_tag(info.id)],),
                                    {"going": (info.bridge,)})
    assert not N.network_exists("p_r")


def test_a_failed_bridge_deletion_keeps_the_network_recorded(rec: Recorder) -> None:
    N.create_network(N.NetworkSpec(name="p_f"))
    rec.fail_on = "delete_link"
    with pytest.raises(N.NetworkError, match="injected"):
        N.remove_network("p_f")
    assert "remove_tags" in rec.names()  # ran meanwhile; a later remove finishes
    assert N.network_exists("p_f")


def test_container_tags_are_unique_per_key_and_state_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # names of one project share long prefixes; a prefix-based tag made them collide
    monkeypatch.setenv("PYCOMPOSE_ROOT", str(tmp_path / "a"))
    web, other = (rules_mod.container_tag(f"longprojectname1-{s}-1") for s in ("web", "any"))
    assert web != other
    monkeypatch.setenv("PYCOMPOSE_ROOT", str(tmp_path / "b"))
    assert rules_mod.container_tag("longprojectname1-web-1") != web
