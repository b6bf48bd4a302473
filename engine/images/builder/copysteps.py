"""COPY and ADD as build steps (sources from the context, a stage or an image)."""
from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from engine.images import blobstore
from engine.images.builder import rootview, shellvars
from engine.images.builder.copier import (
    CopyError,
    CopyOptions,
    copy_sources,
    hash_sources,
    resolve_sources,
)
from engine.images.builder.errors import BuildError
from engine.images.builder.parser import Instruction
from engine.images.builder.stage import StageState

if TYPE_CHECKING:
    from engine.images.builder.build import Builder


def _words(builder: Builder, state: StageState, ins: Instruction) -> list[str]:
    form = ins.exec_form()
    env = state.subst_env()
    if form is not None:
        return [shellvars.expand(w, env, builder.df.escape) for w in form]
    return shellvars.lex(ins.args, env, builder.df.escape)


def _options(builder: Builder, state: StageState, ins: Instruction) -> CopyOptions:
    chown = None
    if "chown" in ins.flags:
        spec = shellvars.expand(ins.flags["chown"], state.subst_env(), builder.df.escape)
        try:
            chown = rootview.resolve_user(state.layer_dirs, spec)
        except (LookupError, ValueError) as exc:
            raise BuildError(f"--chown={spec}: {exc}", line=ins.line,
                             file=builder.file) from None
    chmod = None
    if "chmod" in ins.flags:
        try:
            chmod = int(ins.flags["chmod"], 8)
        except ValueError:
            raise BuildError(f"--chmod={ins.flags['chmod']}: expected an octal mode",
                             line=ins.line, file=builder.file) from None
    return CopyOptions(chown=chown, chmod=chmod, extract_archives=ins.cmd == "ADD")


def _dest(state: StageState, dest: str) -> str:
    if dest.startswith("/"):
        return dest
    base = state.config.get("WorkingDir") or "/"
    joined = str(Path(base) / dest)
    return joined + "/" if dest.endswith("/") or dest in (".", "./") else joined


def run_copy(builder: Builder, state: StageState, ins: Instruction) -> None:
    """Execute one COPY/ADD instruction."""
    words = _words(builder, state, ins)
    if len(words) < 2:
        raise BuildError(f"{ins.cmd} needs at least one source and a destination",
                         line=ins.line, file=builder.file)
    patterns, dest = words[:-1], _dest(state, words[-1])
    opts = _options(builder, state, ins)
    staging: Path | None = None
    try:
        if ins.heredocs:
            staging = Path(tempfile.mkdtemp(prefix=".heredoc-", dir=blobstore.tmp_dir()))
            patterns = _write_heredocs(builder, state, ins, patterns, staging)
            root, matcher, extra = staging, None, "heredoc"
        elif "from" in ins.flags:
            ref = shellvars.expand(ins.flags["from"], state.subst_env(), builder.df.escape)
            identity = builder.source_identity(ref, ins)
            from_dirs = builder.layers_for(ref, ins)
            if from_dirs is None:
                root, matcher = builder.named_context_dir(ref), None
            else:
                staging = Path(tempfile.mkdtemp(prefix=".from-", dir=blobstore.tmp_dir()))
                for p in patterns:
                    rootview.materialize(from_dirs, _static_prefix(p), staging /
                                         _static_prefix(p))
                root, matcher = staging, None
            extra = "from:" + hashlib.sha256(identity.encode()).hexdigest()
        else:
            root, matcher = builder.context, builder.matcher
            extra = ""
        sources = resolve_sources(root, patterns, matcher)
        extra += ":" + hash_sources(sources, matcher)
        lower = state.layer_dirs
        text = f"{ins.cmd} {ins.flags} {patterns} {dest}"
        builder.layer_step(state, ins, text, extra, lambda layer_root: copy_sources(
            sources, dest, layer_root, lower, matcher, opts))
    except CopyError as exc:
        raise BuildError(f"{ins.cmd} failed: {exc}", line=ins.line, file=builder.file) from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _write_heredocs(builder: Builder, state: StageState, ins: Instruction,
                    patterns: list[str], staging: Path) -> list[str]:
    """Write each here-document source as a file named after its delimiter; the sources of
    such an instruction are all here-documents (BuildKit's rule for COPY <<EOF)."""
    docs = {d.name: d for d in ins.heredocs}
    names = []
    for p in patterns:
        name = p.removeprefix("<<").removeprefix("-").strip("\"'")
        if not p.startswith("<<") or name not in docs:
            raise BuildError(f"{ins.cmd}: here-documents cannot be mixed with other sources "
                             f"({p!r})", line=ins.line, file=builder.file)
        doc = docs[name]
        body = doc.body
        if doc.expand:
            try:
                body = shellvars.expand_vars(body, state.subst_env())
            except shellvars.SubstitutionError as exc:
                raise BuildError(str(exc), line=ins.line, file=builder.file) from None
        (staging / name).write_text(body)
        (staging / name).chmod(0o644)
        names.append(name)
    return names


def _static_prefix(pattern: str) -> str:
    """The part of a path before its first glob character, cut at a directory boundary."""
    parts = []
    for part in [p for p in pattern.split("/") if p not in ("", ".")]:
        if set(part) & set("*?["):
            break
        parts.append(part)
    return "/".join(parts)
