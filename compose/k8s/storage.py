"""Volumes, tmpfs, configs and secrets: PersistentVolumeClaims, emptyDirs, ConfigMaps and
Secrets, and the pod volumes and mounts that use them."""
from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from compose.config.model import FileObject, Service, ServiceFileRef
from compose.k8s.context import DEFAULT_VOLUME_SIZE, Context, ConvertError
from compose.k8s.names import metadata, to_dns_label

SIZE_LABEL = "com.pycompose.kubernetes.size"


def pod_storage(ctx: Context, svc: Service) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(pod volumes, container volume mounts) of one service."""
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []

    def add(name: str, source: dict[str, Any], target: str, read_only: bool = False,
            sub_path: str | None = None) -> None:
        if all(v["name"] != name for v in volumes):
            volumes.append({"name": name, **source})
        mount: dict[str, Any] = {"name": name, "mountPath": target}
        if read_only:
            mount["readOnly"] = True
        if sub_path:
            mount["subPath"] = sub_path
        mounts.append(mount)

    for idx, m in enumerate(svc.volumes):
        if m.type == "volume" and m.source:
            vol = ctx.project.volumes[m.source]
            add(f"vol-{to_dns_label(m.source)}"[:63],
                {"persistentVolumeClaim": {"claimName": claim_name(vol.name)}}, m.target,
                m.read_only, m.volume.subpath if m.volume else None)
        elif m.type == "volume":
            add(f"anon-{idx}", {"emptyDir": {}}, m.target, m.read_only)
        elif m.type == "tmpfs":
            size = m.tmpfs.size if m.tmpfs else None
            add(f"tmpfs-{idx}", {"emptyDir": {"medium": "Memory",
                                              **({"sizeLimit": str(size)} if size else {})}},
                m.target)
        elif m.type == "bind" and ctx.hint(svc, "bind") == "hostPath":
            add(f"bind-{idx}", {"hostPath": {"path": m.source}}, m.target, m.read_only)
        else:
            ctx.lossy(ctx.where(svc), "volumes", f"{m.type} mount of {m.source!r} at "
                      f"{m.target}: no cluster form (a bind mount needs x-kubernetes: "
                      "{bind: hostPath})" if m.type == "bind" else
                      f"{m.type} mount at {m.target} has no cluster form")
    for idx, text in enumerate(svc.tmpfs):
        add(f"tmpfs-opt-{idx}", {"emptyDir": {"medium": "Memory"}}, text.split(":")[0])
    if svc.shm_size:
        add("dshm", {"emptyDir": {"medium": "Memory", "sizeLimit": str(svc.shm_size)}},
            "/dev/shm")
    for kind, refs, base in (("configs", svc.configs, "/"), ("secrets", svc.secrets,
                                                              "/run/secrets/")):
        for ref in refs:
            obj = getattr(ctx.project, kind)[ref.source]
            target = ref.target if ref.target and ref.target.startswith("/") else \
                base + (ref.target or ref.source)
            add(f"{kind[:-1]}-{to_dns_label(ref.source)}"[:63],
                _file_source(kind, obj, ref), target, True, "content")
    return volumes, mounts


def _file_source(kind: str, obj: FileObject, ref: ServiceFileRef) -> dict[str, Any]:
    items = [{"key": "content", "path": "content",
              **({"mode": ref.mode} if ref.mode is not None else {})}]
    if kind == "configs":
        return {"configMap": {"name": object_name(obj), "items": items}}
    return {"secret": {"secretName": object_name(obj), "items": items}}


def claim_name(volume_name: str) -> str:
    return to_dns_label(volume_name)


def object_name(obj: FileObject) -> str:
    return to_dns_label(obj.name)


def claims(ctx: Context, used: dict[str, int]) -> list[dict[str, Any]]:
    """A PersistentVolumeClaim per named volume; ``used`` counts pods per volume (more than
    one needs ReadWriteMany)."""
    out = []
    for key, vol in ctx.project.volumes.items():
        if key not in used:
            continue
        if vol.external:
            continue  # an existing claim of that name is used as it is
        if vol.driver not in (None, "local") or vol.driver_opts:
            ctx.lossy(f'volume "{key}"', "driver", "volume drivers are storage classes")
        size = vol.labels.get(SIZE_LABEL) or DEFAULT_VOLUME_SIZE
        mode = "ReadWriteMany" if used[key] > 1 else "ReadWriteOnce"
        out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": metadata(claim_name(vol.name), ctx.project.name),
                    "spec": {"accessModes": [mode],
                             "resources": {"requests": {"storage": size}}}})
    return out


def file_objects(ctx: Context, used: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """ConfigMaps and Secrets for the configs and secrets services use (from their file,
    environment variable or inline content; external ones are expected to exist)."""
    out = []
    for kind, key in sorted(used):
        obj = getattr(ctx.project, kind)[key]
        if obj.external:
            continue
        data = _content(ctx, kind, key, obj)
        meta = metadata(object_name(obj), ctx.project.name)
        if kind == "configs":
            try:
                body: dict[str, Any] = {"data": {"content": data.decode()}}
            except UnicodeDecodeError:
                body = {"binaryData": {"content": base64.b64encode(data).decode()}}
            out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, **body})
        else:
            out.append({"apiVersion": "v1", "kind": "Secret", "metadata": meta,
                        "type": "Opaque", "data": {"content": base64.b64encode(data).decode()}})
    return out


def _content(ctx: Context, kind: str, key: str, obj: FileObject) -> bytes:
    if obj.file is not None:
        try:
            return Path(obj.file).read_bytes()
        except OSError as exc:
            raise ConvertError(f'{kind[:-1]} "{key}": file: cannot read {obj.file}: '
                               f"{exc.strerror}") from None
    if obj.environment is not None:
        return os.environ.get(obj.environment, "").encode()
    return (obj.content or "").encode()
