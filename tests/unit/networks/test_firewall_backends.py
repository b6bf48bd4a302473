"""The firewall package without the kernel: backend choice, the nftables translation of rule
data, the iptables-nft lines of the host chain, and the split between backend and host chain."""
from __future__ import annotations

import struct
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from engine.networks import firewall, rules
from engine.networks.firewall import common, hostfw, nftrules, probe
from engine.networks.model import NetworkError
from engine.networks.rules import Rule


def test_backend_choice_env_wins_then_legacy_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "legacy_xtables", lambda: True)
    monkeypatch.delenv("PYCOMPOSE_FIREWALL", raising=False)
    assert firewall.backend_name() == "iptables"
    monkeypatch.setattr(probe, "legacy_xtables", lambda: False)
    assert firewall.backend_name() == "nftables"
    monkeypatch.setenv("PYCOMPOSE_FIREWALL", "IPTABLES")
    assert firewall.backend_name() == "iptables"
    monkeypatch.setenv("PYCOMPOSE_FIREWALL", "pf")
    with pytest.raises(NetworkError, match="PYCOMPOSE_FIREWALL='pf'"):
        firewall.backend_name()


def test_forward_rule_translates_to_nft_json() -> None:
    rule = Rule("filter", rules.ISOLATION1, rules.ISOLATION2, "pycompose:net:x",
                in_if="pcbr-a", out_if="!pcbr-a")
    cmd = nftrules.rule_command(rule)["add"]["rule"]
    assert (cmd["family"], cmd["table"], cmd["chain"]) == ("inet", "pycompose", rules.ISOLATION1)
    assert cmd["comment"] == "pycompose:net:x"
    assert cmd["expr"] == [
        {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "pcbr-a"}},
        {"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": "pcbr-a"}},
        {"jump": {"target": rules.ISOLATION2}},
    ]


def test_base_rules_go_to_base_chains_at_iptables_priorities() -> None:
    cmds = [nftrules.rule_command(r) for r in rules.base_rules()]
    assert all("insert" in c for c in cmds)  # first=True: at the top of the chain
    chains = [c["insert"]["rule"]["chain"] for c in cmds]
    assert chains == ["forward", rules.FORWARD, rules.ISOLATION1, "prerouting", "output",
                      "postrouting"]
    iso_return = cmds[2]["insert"]["rule"]["expr"]
    assert iso_return[0]["match"]["left"] == {"ct": {"key": "status"}}
    assert iso_return[-1] == {"return": None}
    local = cmds[3]["insert"]["rule"]["expr"][0]["match"]
    assert local["left"] == {"fib": {"result": "type", "flags": ["daddr"]}}
    assert local["right"] == "local"
    made = {c["add"]["chain"]["name"]: c["add"]["chain"] for c in nftrules.table_commands()
            if "chain" in c["add"]}
    assert (made["forward"]["hook"], made["forward"]["prio"]) == ("forward", 0)
    assert (made["prerouting"]["type"], made["prerouting"]["prio"]) == ("nat", -100)
    assert (made["postrouting"]["type"], made["postrouting"]["prio"]) == ("nat", 100)
    assert set(rules.OUR_CHAINS["filter"]) | set(rules.OUR_CHAINS["nat"]) <= set(made)


def test_port_rules_translate_and_dnat_binding_reads_them_back() -> None:
    dnat, accept, hairpin = rules.port_rules("c" * 64, "pcbr-c", "10.213.4.2",
                                             host_ip="127.0.0.1", host_port=8080,
                                             container_port=80, protocol="tcp")
    expr = nftrules.expressions(dnat)
    assert expr[-1] == {"dnat": {"family": "ip", "addr": "10.213.4.2", "port": 80}}
    assert nftrules.dnat_binding(expr, "tcp") == ("127.0.0.1", 8080)
    assert nftrules.dnat_binding(expr, "udp") is None
    any_ip = rules.port_rules("c" * 64, "pcbr-c", "10.213.4.2", host_ip="0.0.0.0",
                              host_port=53, container_port=53, protocol="udp")[0]
    assert nftrules.dnat_binding(nftrules.expressions(any_ip), "udp") == ("0.0.0.0", 53)
    assert nftrules.interfaces(nftrules.expressions(accept)) == ["pcbr-c", "pcbr-c"]
    assert {"masquerade": None} in nftrules.expressions(hairpin)


def test_addresses_states_and_masquerade() -> None:
    net = rules.network_rules("d" * 64, "pcbr-d", "10.213.5.0/24", internal=False)
    out = next(r for r in net if r.target == "MASQUERADE" and r.src == "10.213.5.0/24")
    expr = nftrules.expressions(out)
    assert expr[1]["match"]["right"] == {"prefix": {"addr": "10.213.5.0", "len": 24}}
    est = next(r for r in net if r.ctstate == "RELATED,ESTABLISHED" and r.table == "filter")
    state = nftrules.expressions(est)[1]["match"]
    assert state == {"op": "in", "left": {"ct": {"key": "state"}},
                     "right": ["related", "established"]}
    dns = rules.dns_redirect_rules(40001, 40002)[0]
    dns_expr = nftrules.expressions(dns)
    assert dns_expr[0]["match"]["right"] == "127.0.0.11"  # a /32 is a plain address
    assert dns_expr[1]["match"]["left"] == {"payload": {"protocol": "udp", "field": "dport"}}
    assert nftrules.chain_name(dns.table, dns.chain) == "output"


def test_host_rules_accept_only_our_bridge_and_leave_docker_bridges_to_docker() -> None:
    net = rules.network_rules("e" * 64, "pcbr-e", "10.213.6.0/24", internal=False)
    host = [hostfw.render(r) for r in net if r.table == rules.HOST]
    tag = "-m comment --comment pycompose:net:eeeeeeeeeeee"
    assert host == [
        f"-A PYCOMPOSE-ALLOW -i pcbr-e -o pcbr-e {tag} -j ACCEPT",
        f"-A PYCOMPOSE-ALLOW -o pcbr-e -m conntrack --ctstate RELATED,ESTABLISHED {tag} -j ACCEPT",
        f"-A PYCOMPOSE-ALLOW -o pcbr-e -m conntrack --ctstate DNAT {tag} -j ACCEPT",
        f"-A PYCOMPOSE-ALLOW -i pcbr-e {tag} -j ACCEPT",
    ]
    internal = [r for r in rules.network_rules("f" * 64, "pcbr-f", None, internal=True)
                if r.table == rules.HOST]
    assert [(r.in_if, r.out_if, r.target) for r in internal] == [("pcbr-f", "pcbr-f", "ACCEPT")]
    base = [hostfw.render(r) for r in rules.host_base_rules("DOCKER-USER")]
    assert base == [
        "-I DOCKER-USER -m comment --comment pycompose:base -j PYCOMPOSE-ALLOW",
        "-A PYCOMPOSE-ALLOW -o docker0 -m comment --comment pycompose:base -j RETURN",
        "-A PYCOMPOSE-ALLOW -o br-+ -m comment --comment pycompose:base -j RETURN",
    ]
    with pytest.raises(NetworkError, match="cannot write"):
        hostfw.render(Rule(rules.HOST, rules.ALLOW, "ACCEPT", "t", in_if='a"b -j x'))


def test_host_rules_go_to_the_host_chain_the_rest_to_the_backend(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, Any]] = []
    fake = SimpleNamespace(
        __name__="engine.networks.firewall.iptables",
        replace_rules=lambda tag, rs: calls.append(("backend", [r.table for r in rs])),
        remove_tags=lambda tags, teardown_if_empty, going: calls.append(
            ("backend-rm", tags, going)))
    monkeypatch.setitem(firewall._chosen, "module", fake)
    monkeypatch.setattr(probe, "nft_rules", lambda family, table: [])  # nothing in nftables
    monkeypatch.setattr(hostfw, "replace", lambda tag, rs: calls.append(
        ("host", [r.table for r in rs])))
    monkeypatch.setattr(hostfw, "remove", lambda tags, teardown_if_empty, going: calls.append(
        ("host-rm", tags, going)))
    firewall.replace_rules("t", rules.network_rules("a" * 64, "pcbr-a", "10.0.0.0/24",
                                                    internal=False))
    calls.sort(key=lambda c: c[0])  # the backend and the host chain are written at once
    assert calls[0][0] == "backend" and rules.HOST not in calls[0][1]
    assert calls[1] == ("host", [rules.HOST] * 4)
    calls.clear()
    firewall.replace_rules("p", rules.port_rules("a" * 64, "pcbr-a", "10.0.0.2", host_ip="",
                                                 host_port=1, container_port=2,
                                                 protocol="tcp"))
    assert [c[0] for c in calls] == ["backend"]  # ports need nothing in the host chain
    firewall.remove_tags(["t"], going=("pcbr-a",))
    assert sorted(calls[1:]) == [("backend-rm", ["t"], ("pcbr-a",)),
                                 ("host-rm", ["t"], ("pcbr-a",))]


def test_probe_parses_a_chain_dump() -> None:
    def attr(kind: int, payload: bytes) -> bytes:
        raw = struct.pack("=HH", 4 + len(payload), kind) + payload
        return raw + b"\0" * (-len(raw) % 4)

    body = (struct.pack("=BBH", 2, 0, 0) + attr(1, b"filter\0") + attr(3, b"FORWARD\0")
            + attr(4 | 0x8000, attr(1, struct.pack("!I", 2))) + attr(5, struct.pack("!I", 0)))
    msg = struct.pack("=IHHII", 16 + len(body), 0xA04, 2, 1, 0) + body
    done = struct.pack("=IHHII", 20, 3, 2, 1, 0) + b"\0" * 4

    class FakeSock:
        def __init__(self) -> None:
            self.chunks = [msg, done]

        def recv(self, size: int) -> bytes:
            return self.chunks.pop(0)

    got = probe._read_dump(FakeSock())  # type: ignore[arg-type]
    assert [probe._chain(*g) for g in got] == [probe.Chain("ip", "filter", "FORWARD", True,
                                                           "drop")]


def test_probe_reads_a_rule_comment_from_user_data() -> None:
    udata = bytes([1, 2, 0xAA, 0xBB, 0, 15]) + b"pycompose:base\0"
    assert probe._comment(udata) == "pycompose:base"
    assert probe._comment(bytes([1, 1, 0])) is None and probe._comment(None) is None


def test_host_chain_rewrite_keeps_other_owners_and_goes_with_the_last(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(hostfw, "HOST_LOCK", tmp_path / "lock")
    monkeypatch.setattr(hostfw.shutil, "which", lambda name: f"/usr/sbin/{name}")
    table: dict[str, list[str]] = {"ours": [], "jumps": []}
    scripts: list[list[str]] = []
    monkeypatch.setattr(hostfw, "_chains", lambda: {"FORWARD", "DOCKER-USER", rules.ALLOW})
    monkeypatch.setattr(hostfw, "_current", lambda: (list(table["ours"]), list(table["jumps"])))

    def restore(lines: list[str]) -> None:  # what iptables-nft-restore --noflush would leave
        scripts.append(lines)
        if f"-X {rules.ALLOW}" in lines:
            table["ours"], table["jumps"] = [], []
            return
        table["ours"] = [line for line in lines if line.startswith(f"-A {rules.ALLOW}")]
        table["jumps"] += ["-A" + line[2:] for line in lines if line.startswith("-I ")]

    monkeypatch.setattr(hostfw, "_restore", restore)
    links = {"lo", "pcbr-a", "pcbr-b"}  # the host's links, not this machine's: no other run counts
    monkeypatch.setattr(common, "host_links", lambda: sorted(links))
    net_a = [r for r in rules.network_rules("a" * 64, "pcbr-a", "10.0.0.0/24", internal=False)
             if r.table == rules.HOST]
    net_b = [r for r in rules.network_rules("b" * 64, "pcbr-b", None, internal=True)
             if r.table == rules.HOST]
    hostfw.replace(net_a[0].tag, net_a)
    assert scripts[0][0] == f":{rules.ALLOW} - [0:0]"
    assert scripts[0][1].endswith("-o docker0 -m comment --comment pycompose:base -j RETURN")
    assert scripts[0][-1].startswith("-I DOCKER-USER -m comment --comment pycompose:base")
    hostfw.replace(net_b[0].tag, net_b)
    assert not any(line.startswith("-I ") for line in scripts[1])  # the jump exists already
    assert len(table["ours"]) == 2 + 4 + 1  # base returns, network a, network b
    hostfw.remove([net_a[0].tag])
    links.discard("pcbr-a")
    assert [hostfw._tag(line) for line in table["ours"]].count(net_b[0].tag) == 1
    assert not any(hostfw._tag(line) == net_a[0].tag for line in table["ours"])
    hostfw.remove([net_b[0].tag])
    assert scripts[-1][-2:] == [
        f"-D DOCKER-USER -m comment --comment pycompose:base -j {rules.ALLOW}",
        f"-X {rules.ALLOW}"]


def test_host_chain_left_by_crashed_runs_goes_when_no_bridge_is_left(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Rules whose bridges are all gone (their owners were killed) do not keep the chain."""
    monkeypatch.setattr(hostfw, "HOST_LOCK", tmp_path / "lock")
    monkeypatch.setattr(common, "host_links", lambda: ["lo", "eth0"])
    ghost = [r for r in rules.network_rules("c" * 64, "pcbr-ghost0", None, internal=True)
             if r.table == rules.HOST]
    mine = [r for r in rules.network_rules("d" * 64, "pcbr-mine0", None, internal=True)
            if r.table == rules.HOST]
    lines = [hostfw.render(r) for r in ghost + mine]
    assert all(line.startswith(f"-A {rules.ALLOW} ") for line in lines)
    jump = f"-A DOCKER-USER -m comment --comment pycompose:base -j {rules.ALLOW}"
    monkeypatch.setattr(hostfw, "_chains", lambda: {"FORWARD", "DOCKER-USER", rules.ALLOW})
    monkeypatch.setattr(hostfw, "_current", lambda: (lines, [jump]))
    scripts: list[list[str]] = []
    monkeypatch.setattr(hostfw, "_restore", scripts.append)
    hostfw.remove([mine[0].tag])
    assert scripts == [[f":{rules.ALLOW} - [0:0]", "-D" + jump[2:], f"-X {rules.ALLOW}"]]
