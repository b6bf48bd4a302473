from __future__ import annotations

import pytest

from engine.images.reference import InvalidReference, is_loopback, normalize_reference

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(("text", "expected"), [
    ("busybox", "docker.io/library/busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest"),
    ("user/app:v1", "docker.io/user/app:v1"),
    ("index.docker.io/user/app", "docker.io/user/app:latest"),
    ("localhost:5000/x", "localhost:5000/x:latest"),
    ("localhost/x:2", "localhost/x:2"),
    ("127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t"),
    ("ghcr.io/org/img", "ghcr.io/org/img:latest"),
    (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}"),
    (f"busybox:1@{DIGEST}", f"docker.io/library/busybox:1@{DIGEST}"),
    ("my_app__x.y-z", "docker.io/library/my_app__x.y-z:latest"),
])
def test_normalize(text: str, expected: str) -> None:
    assert str(normalize_reference(text)) == expected


@pytest.mark.parametrize(("text", "why"), [
    ("", "empty"),
    ("Busybox", "lowercase"),
    ("busybox:", "invalid tag"),
    ("busybox@sha256:abc", "invalid digest"),
    ("a//b", "component"),
    ("busybox:bad tag", "invalid tag"),
    ("-x", "component"),
    (f"busybox@sha256:{'a' * 63}", "digest"),
])
def test_invalid(text: str, why: str) -> None:
    with pytest.raises(InvalidReference, match=why):
        normalize_reference(text)


def test_familiar_and_reference() -> None:
    ref = normalize_reference("busybox")
    assert ref.familiar() == "busybox:latest"
    assert ref.reference == "latest"
    assert normalize_reference("localhost:5000/x:1").familiar() == "localhost:5000/x:1"
    pinned = normalize_reference(f"busybox:1@{DIGEST}")
    assert pinned.reference == DIGEST


def test_loopback() -> None:
    assert is_loopback("localhost:5000")
    assert is_loopback("127.0.0.1:5000")
    assert is_loopback("[::1]:5000")
    assert not is_loopback("docker.io")
    assert not is_loopback("10.0.0.1:5000")
