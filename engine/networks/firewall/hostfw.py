"""Our bridges' traffic accepted in the host's iptables-nft ``filter FORWARD`` chain, when there
is one (docker, ufw... next to us; see rules.py, ``HOST`` rules).

Why there and how: a DROP verdict in any nf_tables base chain is final, so docker's FORWARD
policy DROP cannot be overridden from our own table (legacy or ``inet pycompose``); the accept
must sit in that very chain. Docker and the other tools drive that table with iptables-nft and
refuse tables holding rules iptables cannot parse, so we write it with the same tool
(``iptables-nft-save``/``iptables-nft-restore --noflush``: one transaction per change, our own
chain ``PYCOMPOSE-ALLOW`` re-written whole), never with native nft expressions. The subprocess
runs only on hosts that have that chain (probe.py answers in ~0.2 ms without one), and only
when a network is created or removed -- never per container.
"""
from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from engine.networks.firewall import probe
from engine.networks.firewall.common import all_orphaned, host_lock
from engine.networks.model import NetworkError
from engine.networks.rules import ALLOW, BASE_TAG, TAG_PREFIX, Rule, host_base_rules
from engine.paths import lock_path

log = logging.getLogger(__name__)

HOST_LOCK = Path("/run/pycompose-hostfw.lock")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.@+-]{1,28}")
_COMMENT = re.compile(r'--comment "?([^"\s]+)"?')


def _chains() -> set[str]:
    return {c.name for c in probe.nft_chains() if c.family == "ip" and c.table == "filter"}


def has_forward() -> bool:
    return "FORWARD" in _chains()


def replace(tag: str, rules: Sequence[Rule]) -> None:
    """Put ``rules`` (tagged ``tag``) in place of that tag's rules, if the host has an
    iptables-nft filter FORWARD chain; otherwise nothing (and no subprocess)."""
    chains = _chains()
    if "FORWARD" not in chains:
        return
    if shutil.which("iptables-nft-restore") is None:
        log.warning("the host has an nf_tables ip filter FORWARD chain but no iptables-nft to "
                    "accept our bridges there: a DROP in it drops their forwarded traffic")
        return
    parent = "DOCKER-USER" if "DOCKER-USER" in chains else "FORWARD"
    with host_lock(lock_path(HOST_LOCK)):
        ours, jumps = _current()
        keep = [line for line in ours if _tag(line) not in (tag, BASE_TAG)]
        base = host_base_rules(parent)
        lines = [render(r) for r in base[1:]] + keep + [render(r) for r in rules]
        script = [f":{ALLOW} - [0:0]", *lines]
        if not jumps:
            script.append(render(base[0]))
        _restore(script)
    log.debug("accepted %s's traffic in the host's iptables-nft %s chain", tag, parent)


def remove(tags: Iterable[str], *, teardown_if_empty: bool = True,
           going: Collection[str] = ()) -> None:
    """Remove the rules of ``tags``; drop our chain and its jump when nothing else is left."""
    if ALLOW not in _chains():
        return
    wanted = set(tags)
    with host_lock(lock_path(HOST_LOCK)):
        ours, jumps = _current()
        left = [line for line in ours if _tag(line) not in wanted | {BASE_TAG}]
        if teardown_if_empty and (
                not left or all_orphaned(lambda: _interfaces(left), "iptables-nft", going)):
            _restore([f":{ALLOW} - [0:0]", *("-D" + j[2:] for j in jumps), f"-X {ALLOW}"])
        else:
            base = [line for line in ours if _tag(line) == BASE_TAG]
            _restore([f":{ALLOW} - [0:0]", *base, *left])


def tags() -> set[str]:
    """Owner tags in our chain of the host's table (for leak checks)."""
    if ALLOW not in _chains():
        return set()
    found = {_tag(line) for line in _current()[0]}
    return {t for t in found if t and t.startswith(TAG_PREFIX)} - {BASE_TAG}


def _tag(line: str) -> str | None:
    match = _COMMENT.search(line)
    return match.group(1) if match else None


def _interfaces(lines: list[str]) -> list[str]:
    return re.findall(r"-[io] (\S+)", " ".join(lines))


def _current() -> tuple[list[str], list[str]]:
    """(our chain's rules, the jumps into it) as iptables-save lines."""
    out = subprocess.run(["iptables-nft-save", "-t", "filter"], capture_output=True, text=True)
    if out.returncode != 0:
        raise NetworkError(out.stderr.strip() or "iptables-nft-save failed",
                           step="read the host's iptables-nft filter table")
    lines = out.stdout.splitlines()
    ours = [line for line in lines if line.startswith(f"-A {ALLOW} ")]
    jumps = [line for line in lines if line.startswith("-A ") and line.endswith(f"-j {ALLOW}")]
    return ours, jumps


def _restore(lines: list[str]) -> None:
    text = "*filter\n" + "\n".join(lines) + "\nCOMMIT\n"
    out = subprocess.run(["iptables-nft-restore", "--noflush"], input=text,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise NetworkError(out.stderr.strip() or "iptables-nft-restore failed",
                           step="accept our bridges in the host's iptables-nft FORWARD chain")


def render(rule: Rule) -> str:
    """One rule as an iptables-restore line."""
    parts = ["-I" if rule.first else "-A", rule.chain]
    for flag, value in (("-i", rule.in_if), ("-o", rule.out_if), ("-s", rule.src),
                        ("-d", rule.dst)):
        if value:
            parts += [*(["!"] if value.startswith("!") else []), flag, _safe(value.lstrip("!"))]
    if rule.proto:
        parts += ["-p", rule.proto]
        if rule.dport is not None:
            parts += ["--dport", str(rule.dport)]
    if rule.ctstate:
        parts += ["-m", "conntrack", "--ctstate", rule.ctstate]
    parts += ["-m", "comment", "--comment", _safe(rule.tag), "-j", rule.target]
    return " ".join(parts)


def _safe(value: str) -> str:
    if not _SAFE_NAME.fullmatch(value.replace("/", "").replace(":", "")):
        raise NetworkError(f"cannot write {value!r} into an iptables rule",
                           step="accept our bridges in the host's iptables-nft FORWARD chain")
    return value
