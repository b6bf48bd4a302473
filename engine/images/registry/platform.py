"""Choose one manifest from a manifest list / OCI index by platform."""
from __future__ import annotations

from typing import Any

from engine.errors import NotFound
from engine.images.imagestore import host_arch


def parse_platform(text: str | None) -> tuple[str, str, str]:
    """``"linux/arm64/v8"`` → (os, arch, variant); default is this host (linux/<arch>)."""
    if not text:
        return "linux", host_arch(), ""
    parts = text.split("/")
    os_name = parts[0] or "linux"
    arch = parts[1] if len(parts) > 1 else host_arch()
    variant = parts[2] if len(parts) > 2 else ""
    return os_name, arch, variant


def select_platform(index: dict[str, Any], platform: str | None) -> dict[str, Any]:
    """Return the descriptor of ``index`` matching ``platform`` (default: the host's)."""
    os_name, arch, variant = parse_platform(platform)
    candidates = []
    for desc in index.get("manifests", []):
        plat = desc.get("platform") or {}
        if plat.get("os") == os_name and plat.get("architecture") == arch:
            if variant and plat.get("variant") not in (variant, None):
                continue
            candidates.append(desc)
    if not candidates:
        available = sorted({f"{(d.get('platform') or {}).get('os')}/"
                            f"{(d.get('platform') or {}).get('architecture')}"
                            for d in index.get("manifests", [])})
        raise NotFound(f"no manifest for platform {os_name}/{arch}"
                       f"{'/' + variant if variant else ''} (available: "
                       f"{', '.join(available) or 'none'})", step="select platform")
    # Prefer an exact variant match, then the first listed (registries list the default first).
    candidates.sort(key=lambda d: (d.get("platform") or {}).get("variant") != variant)
    return dict(candidates[0])
