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
