"""engine.digest: the same SHA-256 as hashlib, without loading OpenSSL."""
from __future__ import annotations

import hashlib
import subprocess
import sys

from engine.digest import sha256_hex


def test_the_digest_is_hashlibs() -> None:
    for data in (b"", b"abc", "pcv:näme".encode(), bytes(range(256)) * 100):
        assert sha256_hex(data) == hashlib.sha256(data).hexdigest()
    assert sha256_hex("näme") == hashlib.sha256("näme".encode()).hexdigest()


def test_naming_a_veth_loads_no_openssl() -> None:
    code = ("import sys; from engine import naming, unixaddr; from engine.networks import rules; "
            "naming.veth_name('a' * 64, 'b' * 64); naming.new_id(); "
            "print(sorted(m for m in ('hashlib', '_hashlib', 'secrets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
