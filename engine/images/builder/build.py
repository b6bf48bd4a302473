"""Run a Dockerfile: stages, FROM, ARG, WORKDIR, COPY/ADD and RUN; cache layer-making steps."""
from __future__ import annotations

import copy
import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from engine.errors import NotFound
from engine.images import blobstore, catalog, imagestore, layers
from engine.images.builder import cache, copier, shellvars
from engine.images.builder.buildnet import BuildNetwork
from engine.images.builder.dockerignore import Matcher
from engine.images.builder.errors import BuildError
from engine.images.builder.parser import Dockerfile, Instruction, parse, parse_trigger
from engine.images.builder.stage import (
    DEFAULT_PATH,
    METADATA,
    StageState,
    apply_metadata,
    config_document,
    history_entry,
)
from engine.images.catalog import LayerBlob
from engine.images.model import BuildSpec, Image, Progress
from engine.images.reference import InvalidReference

log = logging.getLogger(__name__)
ProgressFn = Callable[[Progress], None]


def build_image(spec: BuildSpec, *, progress: ProgressFn | None = None) -> Image:
    """Build ``spec`` and return the tagged image."""
    context = Path(spec.context)
    if not context.is_dir():
        raise BuildError("build context is not a directory", file=str(context),
                         step="read context")
    if spec.dockerfile_inline is not None:
        text, name = spec.dockerfile_inline, "Dockerfile (inline)"
    else:
        path = context / spec.dockerfile if not Path(spec.dockerfile).is_absolute() \
            else Path(spec.dockerfile)
        try:
            text, name = path.read_text(), spec.dockerfile
        except OSError as exc:
            raise BuildError(f"cannot read Dockerfile: {exc.strerror}", file=str(path),
                             step="read Dockerfile") from None
    return Builder(spec, parse(text, name), progress).run()


def platform_args() -> dict[str, str]:
    """BuildKit's automatic platform ARGs; build and target are both this host."""
    arch = imagestore.host_arch()
    out = {}
    for prefix in ("BUILD", "TARGET"):
        out.update({f"{prefix}PLATFORM": f"linux/{arch}", f"{prefix}OS": "linux",
                    f"{prefix}ARCH": arch, f"{prefix}VARIANT": ""})
    return out


class Builder:
    """Builds the stages of one Dockerfile on demand (the target and what it needs)."""

    def __init__(self, spec: BuildSpec, dockerfile: Dockerfile,
                 progress: ProgressFn | None) -> None:
        self.spec = spec
        self.df = dockerfile
        self.file = dockerfile.file
        self.progress = progress
        self.context = Path(spec.context)
        df_path = None if spec.dockerfile_inline is not None else self.context / spec.dockerfile
        self.matcher = Matcher.for_context(self.context, df_path)
        self.build_args = {k: v for k, v in spec.args if v is not None}
        self.meta_args: dict[str, str] = platform_args()
        self.stages: list[tuple[str | None, Instruction, list[Instruction]]] = []
        self.built: dict[int, StageState] = {}
        self._reported = False
        self.network = BuildNetwork()
        self.named = dict(spec.additional_contexts)
        self._cache_images: list[tuple[list[str], list[dict[str, object]], list[LayerBlob]]] \
            | None = None
        self._split_stages()

    def _split_stages(self) -> None:
        for ins in self.df.instructions:
            if ins.cmd == "FROM":
                words = ins.args.split()
                name = words[2].lower() if len(words) == 3 and words[1].lower() == "as" else None
                if len(words) not in (1, 3) or (len(words) == 3 and name is None):
                    raise BuildError("FROM takes: image [AS name]", line=ins.line,
                                     file=self.file)
                self.stages.append((name, ins, []))
            elif not self.stages:
                if ins.cmd != "ARG":
                    raise BuildError(f"{ins.cmd} before the first FROM (only ARG may come "
                                     "first)", line=ins.line, file=self.file)
                self._arg_into(self.meta_args, ins, self.meta_args)
            else:
                self.stages[-1][2].append(ins)
        if not self.stages:
            raise BuildError("no FROM instruction", file=self.file)

    def _arg_into(self, scope: dict[str, str], ins: Instruction, env: dict[str, str]) -> None:
        for word in shellvars.lex(ins.args, env, self.df.escape):
            key, sep, default = word.partition("=")
            if key in self.build_args:
                scope[key] = self.build_args[key]
            elif sep:
                scope[key] = default
            elif key in self.meta_args:
                scope[key] = self.meta_args[key]

    def run(self) -> Image:
        try:
            state = self.build_stage(self._target_index())
        finally:
            self.network.close()
        cfg = copy.deepcopy(state.config)
        if self.spec.labels:
            cfg["Labels"] = {**(cfg.get("Labels") or {}), **dict(self.spec.labels)}
        state.config = cfg
        created = self._last_created(state)
        image = imagestore.create_image(config_document(state, created), state.layers,
                                        list(self.spec.tags))
        self._report("image", f"built {image.id}")
        return image

    def _target_index(self) -> int:
        if not self.spec.target:
            return len(self.stages) - 1
        for idx, (name, _, _) in enumerate(self.stages):
            if name == self.spec.target.lower():
                return idx
        raise BuildError(f"target stage {self.spec.target!r} not found", file=self.file)

    def _report(self, what: str, status: str) -> None:
        if self.progress:
            self.progress(Progress(what, status))

    def stage_index(self, ref: str) -> int | None:
        for idx, (name, _, _) in enumerate(self.stages):
            if name == ref.lower():
                return idx
        return int(ref) if ref.isdigit() and int(ref) < len(self.stages) else None

    def build_stage(self, idx: int) -> StageState:
        if idx in self.built:
            return self.built[idx]
        name, from_ins, body = self.stages[idx]
        state = self._from(from_ins, name, idx)
        for ins in body:
            self._execute(state, ins)
        self.built[idx] = state
        return state

    def _execute(self, state: StageState, ins: Instruction) -> None:
        label = f"[{state.name or len(self.built)}] {ins.original[:70]}"
        self._reported = False
        if ins.cmd in METADATA:
            apply_metadata(state, ins, self.file)
            state.history.append(history_entry(ins, True, self._last_created(state)))
        elif ins.cmd == "ARG":
            self._arg_into(state.args, ins, state.subst_env())
            state.history.append(history_entry(ins, True, self._last_created(state)))
        elif ins.cmd == "WORKDIR":
            self._workdir(state, ins)
        elif ins.cmd in ("COPY", "ADD"):
            self._copy(state, ins)
        elif ins.cmd == "RUN":
            self._run(state, ins)
        else:
            raise BuildError(f"{ins.cmd} is not supported here", line=ins.line, file=self.file)
        if not self._reported:
            self._report(label, "done")

    # --- FROM ---------------------------------------------------------------------------

    def _from(self, ins: Instruction, name: str | None, idx: int) -> StageState:
        platform = shellvars.expand(ins.flags.get("platform") or "", self.meta_args,
                                    self.df.escape)
        if platform and platform.split("/")[1:2] != [imagestore.host_arch()]:
            raise BuildError(f"FROM --platform={platform}: only the host platform "
                             f"(linux/{imagestore.host_arch()}) can be built",
                             line=ins.line, file=self.file)
        base = shellvars.expand(ins.args.split()[0], self.meta_args, self.df.escape)
        state = StageState(name=name, architecture=imagestore.host_arch(),
                           escape=self.df.escape)
        if base.lower() == "scratch":
            state.config["Env"] = [DEFAULT_PATH]  # as BuildKit does for images from scratch
            return state
        prev = self.stage_index(base) if base not in self.named else None
        if prev is not None and prev < idx:
            parent = self.build_stage(prev)
            state.layers = list(parent.layers)
            state.config = copy.deepcopy(parent.config)
            state.history = copy.deepcopy(parent.history)
            state.architecture, state.os = parent.architecture, parent.os
        elif base in self.named:
            target = self.named[base]
            if not target.startswith("docker-image://"):
                raise BuildError(f"FROM {base}: the named context {base!r} is a directory; "
                                 "only docker-image:// contexts can be a base", line=ins.line,
                                 file=self.file)
            self._from_image(state, target.removeprefix("docker-image://"), ins)
        else:
            self._from_image(state, base, ins)
        self._run_triggers(state, ins)
        return state

    def _from_image(self, state: StageState, ref: str, ins: Instruction) -> None:
        image_id = self.image_id_for(ref, ins)
        doc = json.loads(catalog.config_bytes_of(image_id))
        state.layers = catalog.layer_blobs_of(image_id)
        for lb in state.layers:
            layers.ensure_unpacked(lb.digest, lb.diff_id)
        state.config = doc.get("config") or {}
        state.history = list(doc.get("history") or [])
        state.architecture = doc.get("architecture") or state.architecture
        state.os = doc.get("os") or "linux"

    def _run_triggers(self, state: StageState, from_ins: Instruction) -> None:
        """Run the base's ONBUILD triggers right after FROM; the new image has none."""
        triggers = state.config.pop("OnBuild", None) or []
        for text in triggers:
            ins = parse_trigger(str(text), self.file, from_ins.line)
            if ins.cmd in ("ONBUILD", "FROM", "MAINTAINER"):
                raise BuildError(f"ONBUILD {ins.cmd} is not allowed", line=from_ins.line,
                                 file=self.file)
            self._execute(state, ins)

    # --- named contexts, stages and images as sources ---------------------------------------

    def named_context_dir(self, name: str) -> Path:
        """The directory of an ``additional_contexts`` entry that is a local path."""
        return Path(self.named[name])

    def layers_for(self, ref: str, ins: Instruction) -> list[Path] | None:
        """Layer dirs of a stage, an image or a ``docker-image://`` named context; None for a
        named context that is a directory."""
        if ref in self.named:
            target = self.named[ref]
            if not target.startswith("docker-image://"):
                return None
            ref = target.removeprefix("docker-image://")
        else:
            idx = self.stage_index(ref)
            if idx is not None:
                return self.build_stage(idx).layer_dirs
        image_id = self.image_id_for(ref, ins)
        blobs = catalog.layer_blobs_of(image_id)
        for lb in blobs:
            layers.ensure_unpacked(lb.digest, lb.diff_id)
        return [layers.layer_path(lb.diff_id) for lb in blobs]

    def source_identity(self, ref: str, ins: Instruction) -> str:
        """What a ``--from`` source is, for cache keys: layer ids, or a directory's content."""
        dirs = self.layers_for(ref, ins)
        if dirs is None:
            root = self.named_context_dir(ref)
            return copier.hash_sources(copier.resolve_sources(root, ["."], None), None)
        return ",".join(str(d.name) for d in dirs)

    def secret_value(self, secret_id: str) -> bytes | None:
        """A build secret's content (from its file or environment variable), or None."""
        import os

        for sec in self.spec.secrets:
            if sec.id != secret_id:
                continue
            if sec.file is not None:
                try:
                    return Path(sec.file).read_bytes()
                except OSError as exc:
                    raise BuildError(f"secret {secret_id!r}: cannot read {sec.file}: "
                                     f"{exc.strerror}", file=self.file) from None
            value = os.environ.get(sec.env or "")
            return None if value is None else value.encode()
        return None

    def image_id_for(self, ref: str, ins: Instruction) -> str:
        from engine.images.registry.pull import pull

        try:
            if not self.spec.pull:
                return catalog.find_image_id(ref)
        except NotFound:
            pass
        except InvalidReference as exc:
            raise BuildError(str(exc), line=ins.line, file=self.file) from None
        try:
            self._report(ref, "pulling")
            return pull(ref).id
        except Exception as exc:  # any engine error: say which line needed the image
            raise BuildError(f"base image {ref!r} is not available locally and cannot be "
                             f"pulled: {exc}", line=ins.line, file=self.file) from None

    # --- layer-making steps ---------------------------------------------------------------

    def _last_created(self, state: StageState) -> str:
        for h in reversed(state.history):
            if h.get("created"):
                return str(h["created"])
        return "1970-01-01T00:00:00Z"

    def layer_step(self, state: StageState, ins: Instruction, text: str, extra: str,
                    fill: Callable[[Path], object]) -> None:
        """Make a layer with ``fill`` unless the cache has one for the same inputs."""
        key = cache.cache_key(state.diff_ids, state.config, text,
                              extra + json.dumps(sorted(state.args.items())))
        hit = None if self.spec.no_cache else (cache.lookup(key)
                                               or self._from_cache_images(state, ins))
        if hit is not None:
            lb, created = hit
            self._report(f"[{state.name or len(self.built)}] {ins.original[:70]}", "CACHED")
            self._reported = True
        else:
            work = Path(tempfile.mkdtemp(prefix=".build-", dir=blobstore.tmp_dir()))
            try:
                (work / "layer").mkdir(mode=0o755)
                fill(work / "layer")
                digest, size = layers.store_dir_as_blob(work / "layer")
                layers.adopt_dir(work / "layer", digest)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            lb = LayerBlob(digest, imagestore.OCI_LAYER, size, digest)
            created = cache.remember(key, lb)
        state.layers.append(lb)
        state.history.append(history_entry(ins, False, created))

    def _from_cache_images(self, state: StageState,
                           ins: Instruction) -> tuple[LayerBlob, str] | None:
        """A layer of a ``cache_from`` image made by the same instruction after the same
        history on the same parent layers (the classic builder's rule)."""
        if self._cache_images is None:
            self._cache_images = []
            for ref in self.spec.cache_from:
                try:
                    image_id = catalog.find_image_id(ref)
                except (NotFound, InvalidReference):
                    log.info("cache_from %s: not in the local store", ref)
                    continue
                doc = json.loads(catalog.config_bytes_of(image_id))
                hist = list(doc.get("history") or [])
                self._cache_images.append(([str(h.get("created_by", "")) for h in hist], hist,
                                           catalog.layer_blobs_of(image_id)))
        want = [str(h.get("created_by", "")) for h in state.history] + [ins.original]
        for created_by, hist, blobs in self._cache_images:
            if created_by[:len(want)] != want or hist[len(want) - 1].get("empty_layer"):
                continue
            n = sum(1 for h in hist[:len(want)] if not h.get("empty_layer"))
            if n <= len(blobs) and [b.diff_id for b in blobs[:n - 1]] == state.diff_ids:
                layers.ensure_unpacked(blobs[n - 1].digest, blobs[n - 1].diff_id)
                return blobs[n - 1], str(hist[len(want) - 1].get("created") or "")
        return None

    def _workdir(self, state: StageState, ins: Instruction) -> None:
        path = shellvars.expand(ins.args, state.subst_env(), self.df.escape)
        if not path.startswith("/"):
            path = str(Path(state.config.get("WorkingDir") or "/") / path)
        state.config["WorkingDir"] = path
        from engine.images.builder import rootview

        if path == "/" or rootview.lookup(state.layer_dirs, path) is not None:
            state.history.append(history_entry(ins, True, self._last_created(state)))
            return
        lower = state.layer_dirs
        self.layer_step(state, ins, f"WORKDIR {path}", "", lambda root: copier._ensure_dir(
            root, path, lower, None))

    def _copy(self, state: StageState, ins: Instruction) -> None:
        from engine.images.builder.copysteps import run_copy

        run_copy(self, state, ins)

    def _run(self, state: StageState, ins: Instruction) -> None:
        from engine.images.builder.runinstr import run_instruction

        run_instruction(self, state, ins)
