"""SHA-256 of short texts (names, tags, cache keys) without loading OpenSSL.

``hashlib`` picks OpenSSL's implementation, and importing it loads ``libcrypto``: ~3 ms of every
process that names a veth, a socket or a firewall tag (the CLI, the project supervisor, the DNS
daemon, the shim fork server). CPython's own SHA-256 module gives the same digest without that
library. Large data (image layers, build contexts) keeps ``hashlib``: OpenSSL's code is several
times faster per byte.
"""
from __future__ import annotations

from typing import Any

try:  # the builtin module: _sha2 from Python 3.12, _sha256 before
    from _sha2 import sha256 as _builtin
except ImportError:
    try:
        from _sha256 import sha256 as _builtin
    except ImportError:  # pragma: no cover - an interpreter built without them
        from hashlib import sha256 as _builtin
_sha256: Any = _builtin


def sha256_hex(data: bytes | str) -> str:
    """The hex SHA-256 digest of ``data`` (a str is taken as UTF-8)."""
    return str(_sha256(data.encode() if isinstance(data, str) else data).hexdigest())
