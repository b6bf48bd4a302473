"""``pycompose images`` and ``pycompose image ...`` (ls, rm, inspect, history, load, save,
import, tag, pull, push, build)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from compose.cli import terminal
from compose.cli.commands._imageutil import human_size, progress_printer, since


def register(app: typer.Typer) -> None:
    """Add ``images`` and the ``image`` command group to ``app``."""
    app.command("images", help="List images used by the project's services.")(images_command)
    group = typer.Typer(help="Manage local images.", no_args_is_help=True)
    group.command("ls", help="List local images.")(ls_command)
    group.command("rm", help="Remove local images.")(rm_command)
    group.command("inspect", help="Show an image's details as JSON.")(inspect_command)
    group.command("history", help="Show an image's layers and the steps that made them.")(
        history_command)
    group.command("load", help="Load images from a docker-archive or OCI tarball.")(load_command)
    group.command("save", help="Save images to a tarball.")(save_command)
    group.command("import", help="Import a root filesystem tarball as an image.")(
        import_command)
    group.command("tag", help="Give an image another name.")(tag_command)
    group.command("pull", help="Pull an image from a registry.")(pull_command)
    group.command("push", help="Push an image to a registry.")(push_command)
    group.command("build", help="Build an image from a Dockerfile.")(build_command)
    group.command("prune", help="Remove unused images (and the build cache).")(prune_command)
    app.add_typer(group, name="image")


def _split(tag: str) -> tuple[str, str]:
    from engine.images import normalize_reference

    ref = normalize_reference(tag)
    repo = ref.familiar().rsplit(":", 1)[0] if ref.tag else ref.familiar()
    return repo, ref.tag or "<none>"


def _rows(images: list) -> list[list[str]]:  # type: ignore[type-arg]
    rows = []
    for img in images:
        names = [_split(t) for t in img.repo_tags] or [("<none>", "<none>")]
        for repo, tag in names:
            rows.append([repo, tag, img.short_id, since(img.created), human_size(img.size)])
    return rows


def ls_command(quiet: Annotated[bool, typer.Option("-q", "--quiet",
                                                   help="Only image ids.")] = False) -> None:
    """List local images like ``docker images``."""
    from engine.images import list_images

    images = list_images()
    if quiet:
        for img in images:
            terminal.line(img.short_id)
        return
    terminal.write(terminal.table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
                                  _rows(images)))


def images_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only image ids.")] = False,
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT",
                                     help="table, json or a Go template.")] = "table",
) -> None:
    """List the images of the project's containers (stopped and one-off ones too), like docker
    compose: one row per container."""
    from compose.cli.commands._orch import (
        backend,
        check_services,
        containers_of,
        project_and_name,
    )

    project, name = project_and_name(ctx, services or (), need_file=False)
    check_services(project, services or ())
    rows = [_image_row(project, c) for c in containers_of(backend(), name, services or (),
                                                          all=True, oneoff=True)]
    if quiet:
        for image_id in dict.fromkeys(r["ID"].removeprefix("sha256:") for r in rows):
            terminal.line(image_id)
        return
    _print_images(fmt, sorted(rows, key=lambda r: r["ContainerName"]))


def _image_row(project: Any, c: Any) -> dict[str, Any]:
    """docker compose's image summary of one container: the reference it was created from
    (repository and tag), and the local image's id, platform, size and creation time."""
    from compose.orchestrator import labels as L
    from compose.orchestrator.imagespec import image_name
    from engine.images import resolve

    service = c.labels.get(L.SERVICE, "")
    image_id = c.labels.get(L.IMAGE, "")
    ref = (image_name(project, project.services[service])
           if project is not None and service in project.services else "")
    try:
        img = resolve(image_id or ref)
    except Exception:  # the image was removed since: report what the container knows
        img = None
    if not ref and img is not None and img.repo_tags:
        ref = img.repo_tags[0]
    repo, tag = _split(ref) if ref else ("", "")
    row: dict[str, Any] = {"ID": img.id if img else image_id, "ContainerName": c.name,
                           "Repository": repo, "Tag": "" if tag == "<none>" else tag,
                           "Platform": f"{img.os}/{img.architecture}" if img else "",
                           "Size": img.size if img else 0}
    # docker compose v2 reports the image's last tag time, else its creation time
    row["LastTagTime"] = img.created if img is not None and img.created else _ZERO_TIME
    return row


_ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, as docker prints it


_IMAGE_HEADERS = {"ContainerName": "CONTAINER", "Repository": "REPOSITORY", "Tag": "TAG",
                  "Platform": "PLATFORM", "ID": "IMAGE ID", "Size": "SIZE",
                  "LastTagTime": "CREATED"}


def _print_images(fmt: str, rows: list[dict[str, Any]]) -> None:
    from compose.cli.gotemplate import Row, format_rows, is_template

    if fmt in ("table", "pretty", ""):
        table = [[r["ContainerName"], r["Repository"] or "<none>", r["Tag"] or "<none>",
                  r["Platform"], r["ID"].removeprefix("sha256:")[:12], human_size(r["Size"]),
                  since(r["LastTagTime"]) if r["LastTagTime"] != _ZERO_TIME else "N/A"]
                 for r in rows]
        terminal.write(terminal.table(list(_IMAGE_HEADERS.values()), table))
    elif fmt == "json":
        terminal.line(json.dumps(rows, ensure_ascii=False, separators=(",", ":")))
    elif is_template(fmt):
        objs = [Row(**r) for r in rows]
        terminal.write(format_rows(fmt, objs, _IMAGE_HEADERS))
    else:
        raise typer.BadParameter(f"format value {fmt!r} could not be parsed (table, json or "
                                 "a Go template)", param_hint="--format")


def rm_command(refs: Annotated[list[str], typer.Argument(metavar="IMAGE...")],
               force: Annotated[bool, typer.Option("-f", "--force")] = False) -> None:
    """Remove images (untag when other names remain)."""
    from engine.images import remove

    for ref in refs:
        for line in remove(ref, force=force):
            terminal.line(line)


def _inspect_doc(ref: str) -> dict:  # type: ignore[type-arg]
    from engine.images import catalog, resolve
    from engine.images.registry.config import load_settings  # noqa: F401 (keeps import light)

    img = resolve(ref)
    config = json.loads(catalog.config_bytes_of(img.id))
    return {"Id": img.id, "RepoTags": [_familiar(t) for t in img.repo_tags],
            "RepoDigests": list(img.repo_digests), "Created": img.created,
            "Architecture": img.architecture, "Os": img.os, "Size": img.size,
            "Config": config.get("config") or {}, "RootFS": config.get("rootfs") or {},
            "Metadata": {"ManifestDigest": img.manifest_digest},
            "GraphDriver": {"Name": "overlay", "Data": {
                "LowerDirs": [str(p) for p in img.layer_dirs]}}}


def _familiar(tag: str) -> str:
    from engine.images import normalize_reference

    return normalize_reference(tag).familiar()


def inspect_command(refs: Annotated[list[str], typer.Argument(metavar="IMAGE...")]) -> None:
    """Print image details as a JSON list, like ``docker image inspect``."""
    terminal.line(json.dumps([_inspect_doc(r) for r in refs], indent=4))


def history_command(ref: Annotated[str, typer.Argument(metavar="IMAGE")]) -> None:
    """Show the image's history, newest first."""
    from engine.images import history, resolve

    img = resolve(ref)
    rows = []
    for i, h in enumerate(history(ref)):
        rows.append([img.short_id if i == 0 else "<missing>", since(h.created),
                     h.created_by[:60], human_size(h.size), h.comment])
    terminal.write(terminal.table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], rows))


def load_command(
    input_path: Annotated[str, typer.Option("-i", "--input", metavar="FILE",
                                            help="Tarball to read.")],
    tag: Annotated[str | None, typer.Option("--tag", help="Name for an unnamed image.")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
) -> None:
    """Load a docker-archive or OCI-layout tarball."""
    from engine.images import load

    for img in load(Path(input_path), tag=tag):
        if quiet:
            continue
        names = [_familiar(t) for t in img.repo_tags]
        for name in names or [img.id]:
            terminal.line(f"Loaded image: {name}" if names else f"Loaded image ID: {name}")


def save_command(
    refs: Annotated[list[str], typer.Argument(metavar="IMAGE...")],
    output: Annotated[str, typer.Option("-o", "--output", metavar="FILE")],
    fmt: Annotated[str, typer.Option("--format", help="docker-archive or oci-archive.")]
    = "docker-archive",
) -> None:
    """Save images into one tarball."""
    from engine.images import save

    save(refs, Path(output), format=fmt)


def import_command(
    path: Annotated[str, typer.Argument(metavar="FILE")],
    ref: Annotated[str | None, typer.Argument(metavar="[REPOSITORY[:TAG]]")] = None,
    message: Annotated[str, typer.Option("-m", "--message")] = "",
) -> None:
    """Import a root filesystem tarball as a one-layer image; print its id."""
    from engine.images import import_rootfs

    terminal.line(import_rootfs(Path(path), ref, message=message).id)


def tag_command(src: Annotated[str, typer.Argument(metavar="SOURCE")],
                dst: Annotated[str, typer.Argument(metavar="TARGET")]) -> None:
    """Point TARGET at the image SOURCE names."""
    from engine.images import tag

    tag(src, dst)


def pull_command(ref: Annotated[str, typer.Argument(metavar="IMAGE")],
                 platform: Annotated[str | None, typer.Option("--platform")] = None,
                 quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False) -> None:
    """Pull one image."""
    from engine.images import pull

    img = pull(ref, progress=progress_printer("", quiet), platform=platform)
    terminal.line(f"Digest: {img.manifest_digest}" if not quiet else img.id)


def push_command(ref: Annotated[str, typer.Argument(metavar="IMAGE")],
                 quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False) -> None:
    """Push one image."""
    from engine.images import push

    terminal.line(f"Digest: {push(ref, progress=progress_printer('', quiet))}")


def build_command(
    context: Annotated[str, typer.Argument(metavar="CONTEXT")],
    tags: Annotated[list[str] | None, typer.Option("-t", "--tag")] = None,
    file: Annotated[str, typer.Option("-f", "--file")] = "Dockerfile",
    build_args: Annotated[list[str] | None, typer.Option("--build-arg", metavar="K=V")] = None,
    target: Annotated[str | None, typer.Option("--target")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
) -> None:
    """Build an image from CONTEXT (like ``docker build``)."""
    from engine.images import BuildSpec, build

    args = tuple((k, v) for k, _, v in (a.partition("=") for a in build_args or ()))
    spec = BuildSpec(context=Path(context), dockerfile=file, args=args, target=target,
                     tags=tuple(tags or ()), no_cache=no_cache)
    img = build(spec, progress=progress_printer("", quiet))
    terminal.line(img.id)


def prune_command(
    all_unused: Annotated[bool, typer.Option("-a", "--all",
                                             help="Every image no container uses.")] = False,
    build_cache: Annotated[bool, typer.Option("--build-cache",
                                              help="Forget the build cache too.")] = False,
) -> None:
    """Remove dangling images (``-a``: all unused ones), like ``docker image prune``."""
    from engine.images import prune

    for image_id in prune(all_unused=all_unused):
        terminal.line(f"Deleted: {image_id}")
    if build_cache:
        from engine.images.builder import cache

        terminal.line(f"Build cache entries removed: {cache.prune()}")
