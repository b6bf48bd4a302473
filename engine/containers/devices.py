"""Host devices given to a container (docker ``--device``, compose ``devices:``), and the block
devices named by blkio settings.

Each mapping becomes a node in ``linux.devices`` (created in the container's /dev by the runtime)
and an allow rule in ``linux.resources.devices`` for exactly that type, major and minor with the
mapping's permissions, appended after docker's default list. A directory gives every device
below it, at the same relative path under the target (like docker).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from engine.containers.spec import DeviceMapping, Resources
from engine.errors import EngineError


def valid_permissions(perms: str) -> bool:
    """``r``, ``w``, ``m`` each at most once, at least one (docker's rule)."""
    return bool(perms) and len(set(perms)) == len(perms) and set(perms) <= set("rwm")


def oci_devices(mappings: tuple[DeviceMapping, ...]
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(``linux.devices`` entries, ``linux.resources.devices`` allow rules) for ``mappings``."""
    nodes: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    for m in mappings:
        for source, target in _expand(m):
            node = _node(source, target)
            nodes.append(node)
            rules.append({"allow": True, "type": node["type"], "major": node["major"],
                          "minor": node["minor"], "access": m.permissions})
    return nodes, rules


def _expand(m: DeviceMapping) -> list[tuple[str, str]]:
    if not valid_permissions(m.permissions):
        raise EngineError(f"invalid device permissions {m.permissions!r} (a combination of "
                          "r, w and m)", step="device", obj=m.source)
    if not m.target.startswith("/"):
        raise EngineError(f"device target {m.target!r} is not an absolute path", step="device",
                          obj=m.source)
    source = os.path.realpath(m.source)
    if not os.path.isdir(source):
        return [(source, m.target)]
    found = []
    for dirpath, _, files in os.walk(source):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            if _is_device(path):
                found.append((path, str(Path(m.target) / os.path.relpath(path, source))))
    if not found:
        raise EngineError("no device nodes in this directory", step="device", obj=m.source)
    return found


def _is_device(path: str) -> bool:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


def _node(source: str, target: str) -> dict[str, Any]:
    try:
        st = os.stat(source)
    except OSError as e:
        raise EngineError(f"error gathering device information: {e.strerror}", step="device",
                          obj=source) from e
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        raise EngineError("not a device node", step="device", obj=source)
    return {"path": target, "type": kind, "major": os.major(st.st_rdev),
            "minor": os.minor(st.st_rdev), "fileMode": stat.S_IMODE(st.st_mode),
            "uid": st.st_uid, "gid": st.st_gid}


def oci_block_io(res: Resources) -> dict[str, Any]:
    """OCI ``blockIO`` from docker's blkio settings (device paths → major:minor)."""
    out: dict[str, Any] = {}
    if res.blkio_weight:
        out["weight"] = res.blkio_weight
    if res.blkio_weight_device:
        out["weightDevice"] = [{**_block_numbers(path), "weight": weight}
                               for path, weight in res.blkio_weight_device]
    for key, rates in (("throttleReadBpsDevice", res.device_read_bps),
                       ("throttleWriteBpsDevice", res.device_write_bps),
                       ("throttleReadIOPSDevice", res.device_read_iops),
                       ("throttleWriteIOPSDevice", res.device_write_iops)):
        if rates:
            out[key] = [{**_block_numbers(path), "rate": rate} for path, rate in rates]
    return out


def _block_numbers(path: str) -> dict[str, int]:
    try:
        st = os.stat(path)
    except OSError as e:
        raise EngineError(f"blkio device: {e.strerror}", step="create", obj=path) from e
    if not stat.S_ISBLK(st.st_mode):
        raise EngineError("blkio device is not a block device", step="create", obj=path)
    return {"major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev)}
