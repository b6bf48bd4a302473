from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import pytest

import engine.images as im
from engine.errors import EngineError
from engine.images.reference import normalize_reference
from engine.images.registry import config
from engine.images.registry.pull import endpoints_for
from tests.unit.images.fakeregistry import FakeRegistry, serve
from tests.unit.images.test_registry_pull import _publish


def test_endpoints_default_insecure_and_mirrors(state_root: Path) -> None:
    assert endpoints_for(normalize_reference("busybox")) == ["https://registry-1.docker.io"]
    assert endpoints_for(normalize_reference("localhost:5000/x")) == ["http://localhost:5000"]
    assert endpoints_for(normalize_reference("reg.example:5000/x")) == [
        "https://reg.example:5000"]
    (state_root / "registries.json").write_text(json.dumps({
        "mirrors": {"docker.io": ["http://127.0.0.1:9"]}, "insecure": ["reg.example:5000"]}))
    assert endpoints_for(normalize_reference("reg.example:5000/x")) == [
        "https://reg.example:5000"]  # insecure: https unverified first, http as fallback
    assert endpoints_for(normalize_reference("busybox")) == [
        "http://127.0.0.1:9", "https://registry-1.docker.io"]
    # pushes never go to a mirror
    assert endpoints_for(normalize_reference("busybox"), for_push=True) == [
        "https://registry-1.docker.io"]


def test_bad_settings_file(state_root: Path) -> None:
    (state_root / "registries.json").write_text("{nope")
    with pytest.raises(EngineError, match="invalid registries file"):
        config.load_settings()


def test_credentials_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    hub = base64.b64encode(b"hubuser:hubpw").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": hub},
        "https://reg.example:5000/v2/": {"username": "u", "password": "p"},
    }}))
    assert config.credentials_for("docker.io") == ("hubuser", "hubpw")
    assert config.credentials_for("reg.example:5000") == ("u", "p")
    assert config.credentials_for("other:1") is None


def test_pull_by_digest_and_concurrently(state_root: Path) -> None:
    with serve(FakeRegistry()) as reg:
        info = _publish(reg, "app", "v1")
        ref = f"127.0.0.1:{reg.port}/app@{info['manifest']}"
        results: list[im.Image] = []
        errors: list[BaseException] = []

        def pull() -> None:
            try:
                results.append(im.pull(ref))
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=pull) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert len({r.id for r in results}) == 1
        image = results[0]
        assert image.repo_tags == ()  # pulled by digest: no tag
        assert im.resolve(ref).id == image.id
        assert list((state_root / "images/tmp").iterdir()) == []


def test_multi_image_archive(state_root: Path, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.images.test_store import _rootfs_tar

    a = im.import_rootfs(_rootfs_tar(tmp_path, {"a": b"1"}), "multi/a:1")
    b = im.import_rootfs(_rootfs_tar(tmp_path, {"b": b"22"}), "multi/b:1")
    out = tmp_path / "both.tar"
    im.save(["multi/a:1", "multi/b:1"], out)
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("PYCOMPOSE_ROOT", str(other))
    loaded = im.load(out)
    assert [i.id for i in loaded] == [a.id, b.id]
    assert im.resolve("multi/b:1").id == b.id


def test_insecure_registry_falls_back_to_http(state_root: Path) -> None:
    """An insecure registry gets https without certificate checks first; when it cannot
    speak https at all (the plain-http fake here), the client switches to http."""
    with serve(FakeRegistry()) as reg:
        _publish(reg, "app", "v1")
        host = f"127.0.0.1:{reg.port}"
        ref = normalize_reference(f"{host}/app:v1")
        (state_root / "registries.json").write_text(json.dumps({"insecure": [host]}))
        from engine.images.registry.pull import make_client

        client = make_client(f"https://{host}", ref)
        assert client.insecure
        with client.request("GET", "/v2/app/manifests/v1",
                            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}):
            pass
        assert client.endpoint == f"http://{host}"
        # a registry not listed as insecure never drops to http
        (state_root / "registries.json").write_text("{}")
        strict = make_client(f"https://{host}", ref)
        with pytest.raises(im.RegistryError, match="cannot reach registry https://"):
            strict.request("GET", "/v2/")
