"""The legacy backend reads rule tags and interfaces straight from libiptc's entries (not through
python-iptables' Rule objects, ~1 ms a rule): checked against iptables-legacy itself, in a
private network namespace (legacy tables are per namespace)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[3]

SCRIPT = r"""
import json, subprocess, sys
def ipt(*args):
    subprocess.run(["iptables-legacy", "-w", *args], check=True)
ipt("-N", "PCTEST")
ipt("-A", "PCTEST", "-i", "pcbr-a", "!", "-o", "pcbr-a", "-m", "comment", "--comment", "pc:one",
    "-j", "ACCEPT")
ipt("-A", "PCTEST", "-o", "eth9", "-j", "DROP")  # no comment
ipt("-A", "PCTEST", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-m", "comment",
    "--comment", "pc:two words", "-j", "ACCEPT")  # the comment after another match
ipt("-A", "PCTEST", "-p", "tcp", "--dport", "80", "-m", "comment", "--comment", "x" * 200,
    "-j", "RETURN")
ipt("-A", "PCTEST", "-m", "comment", "--comment", "pc:one", "-j", "ACCEPT")
from engine.networks.firewall import iptables as ipt_mod
batch = ipt_mod._Batch()
read = [[e.tag, e.in_interface, e.out_interface]
        for e in ipt_mod._entries(batch.table("filter"), "PCTEST")]
ipt_mod._delete_tagged(batch, "filter", ["PCTEST", "FORWARD"], {"pc:one"})
batch.commit()
left = subprocess.run(["iptables-legacy-save", "-t", "filter"], capture_output=True, text=True,
                      check=True).stdout
print(json.dumps({"read": read, "left": [l for l in left.splitlines() if "PCTEST" in l]}))
"""


def test_tags_and_interfaces_read_from_entries_and_deleted_by_number() -> None:
    out = subprocess.run(["unshare", "--net", sys.executable, "-c", SCRIPT], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout)
    assert got["read"] == [["pc:one", "pcbr-a", "pcbr-a"], [None, "", "eth9"],
                           ["pc:two words", "", ""], ["x" * 200, "", ""],
                           ["pc:one", "", ""]]
    assert got["left"] == [  # both pc:one rules went, the others stayed in order
        ":PCTEST - [0:0]",
        "-A PCTEST -o eth9 -j DROP",
        '-A PCTEST -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "pc:two words"'
        " -j ACCEPT",
        f"-A PCTEST -p tcp -m tcp --dport 80 -m comment --comment {'x' * 200} -j RETURN",
    ]


CACHED = r"""
import json, subprocess
from engine.networks.firewall import iptables as ipt_mod
from engine.networks.rules import Rule, dns_redirect_rules
built = []
real = ipt_mod._to_iptc
ipt_mod._to_iptc = lambda rule: built.append(rule) or real(rule)
rules = [*dns_redirect_rules(40001, 40002),
         Rule("filter", "PCT2", "ACCEPT", "pc:c", in_if="pcbr-c", out_if="!pcbr-c",
              ctstate="RELATED,ESTABLISHED"),
         Rule("filter", "PCT2", "RETURN", "pc:c", proto="tcp", dport=8080, first=True)]
for _ in range(3):  # the same rules again: built once, added each time
    batch = ipt_mod._Batch()
    ipt_mod._add(batch, rules)
    batch.commit()
save = lambda t: [l for l in subprocess.run(["iptables-legacy-save", "-t", t],
                  capture_output=True, text=True, check=True).stdout.splitlines()
                  if l.startswith("-A")]
print(json.dumps({"built": len(built), "nat": save("nat"), "filter": save("filter")}))
"""


def test_a_rule_is_built_once_and_added_as_iptables_would() -> None:
    """_add keeps each rule's libiptc entry (python-iptables builds one in ~1 ms): the same
    rules added again are not built again, and read back as iptables-legacy writes them."""
    out = subprocess.run(["unshare", "--net", sys.executable, "-c", CACHED], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout)
    assert got["built"] == 4
    dns = [f"-A OUTPUT -d 127.0.0.11/32 -p {p} -m {p} --dport 53 -m comment --comment "
           f"\"pycompose:dns\" -j DNAT --to-destination 127.0.0.11:{port}"
           for p, port in (("udp", 40001), ("tcp", 40002))]
    assert got["nat"] == dns * 3
    inserted = "-A PCT2 -p tcp -m tcp --dport 8080 -m comment --comment \"pc:c\" -j RETURN"
    appended = ("-A PCT2 -i pcbr-c ! -o pcbr-c -m conntrack --ctstate RELATED,ESTABLISHED "
                "-m comment --comment \"pc:c\" -j ACCEPT")
    assert got["filter"] == [inserted] * 3 + [appended] * 3
