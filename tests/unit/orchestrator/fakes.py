"""Fakes for orchestrator unit tests: a container engine that runs nothing."""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext


class FakeOps:
    """Containers that run until `exit_container` is called; probes answer from a script."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.running: dict[str, bool] = {}
        self.codes: dict[str, int] = {}
        self.runs: dict[str, int] = {}
        self.probe_results: list[tuple[int, str]] = []
        self.starts: list[str] = []
        self.removed: list[str] = []
        self.prepared = False

    def prepare(self) -> None:
        self.prepared = True

    def add(self, cid: str, running: bool = True) -> None:
        with self.cond:
            self.running[cid] = running
            self.runs[cid] = 0

    def exit_container(self, cid: str, code: int) -> None:
        with self.cond:
            self.running[cid] = False
            self.codes[cid] = code
            self.runs[cid] += 1
            self.cond.notify_all()

    def wait(self, cid: str) -> int:
        with self.cond:
            seen = self.runs[cid]
            if self.running[cid]:
                self.cond.wait_for(lambda: self.runs[cid] > seen)
            return self.codes.get(cid, 0)

    def start(self, cid: str) -> None:
        with self.cond:
            self.running[cid] = True
            self.starts.append(cid)
            self.cond.notify_all()

    def is_running(self, cid: str) -> bool:
        with self.cond:
            return self.running[cid]

    def note_restart(self, cid: str) -> None:
        pass

    def remove(self, cid: str) -> None:
        with self.cond:
            self.removed.append(cid)
            self.cond.notify_all()

    def probe(self, cid: str, argv: tuple[str, ...], timeout: float) -> tuple[int, str] | None:
        with self.cond:
            return self.probe_results.pop(0) if self.probe_results else (0, "ok")


class FakeBackend:
    """A Backend whose containers live in FakeOps; records every call in order."""

    def __init__(self, ops: FakeOps) -> None:
        from compose.orchestrator.backend import ContainerRef, ImageInfo

        self._ref = ContainerRef
        self._image = ImageInfo
        self.ops = ops
        self.calls: list[tuple[str, str]] = []
        self.containers: dict[str, dict] = {}
        self.networks: set[str] = set()
        self.volumes: set[str] = set()
        self.volume_hashes: dict[str, str] = {}
        self.image_calls: list[tuple[str, str, bool, bool]] = []  # service, pull, build, has build
        self.exit_on_start: dict[str, int] = {}  # service -> exit code right after start
        self.anon_targets: dict[str, tuple[str, ...]] = {}  # service -> anonymous volume targets
        self.lock = threading.Lock()
        self.n = 0

    def _call(self, what: str, obj: str) -> None:
        with self.lock:
            self.calls.append((what, obj))

    def ensure_image(self, project, service, *, pull, build, progress):  # type: ignore[no-untyped-def]
        from engine.images.model import Healthcheck, ImageConfig

        self._call("image", service.name)
        with self.lock:
            self.image_calls.append((service.name, pull, build, service.build is not None))
        hc = Healthcheck(test=("CMD", "true")) if service.name == "imgcheck" else None
        return self._image("sha256:" + service.name, ImageConfig(cmd=("sh",), healthcheck=hc), ())

    def remove_image(self, ref: str) -> None:
        self._call("rmi", ref)

    def ensure_network(self, project, network) -> bool:  # type: ignore[no-untyped-def]
        self._call("network", network.name)
        created = network.name not in self.networks
        self.networks.add(network.name)
        return created

    def remove_network(self, name: str) -> None:
        self._call("rm-network", name)
        self.networks.discard(name)

    def list_networks(self, project: str) -> list[str]:
        return sorted(self.networks)

    def ensure_volume(self, project, volume) -> bool:  # type: ignore[no-untyped-def]
        self._call("volume", volume.name)
        created = volume.name not in self.volumes
        self.volumes.add(volume.name)
        if created:
            from compose.orchestrator.labels import volume_hash

            self.volume_hashes[volume.name] = volume_hash(volume)
        return created

    def volume_config_hash(self, name: str) -> str | None:
        return self.volume_hashes.get(name, "") if name in self.volumes else None

    def remove_volume(self, name: str) -> None:
        self._call("rm-volume", name)
        self.volumes.discard(name)

    def list_volumes(self, project: str) -> list[str]:
        return sorted(self.volumes)

    def anonymous_volumes(self, cid: str) -> dict[str, str]:
        with self.lock:
            return dict(self.containers[cid]["anon"])

    def list_containers(self, project, all=True):  # type: ignore[no-untyped-def]
        with self.lock:
            rows = list(self.containers.values())
        return [self._ref(r["id"], r["name"],
                          "running" if self.ops.is_running(r["id"]) else "exited", r["labels"])
                for r in rows]

    def create_container(self, req) -> str:  # type: ignore[no-untyped-def]
        with self.lock:
            self.n += 1
            cid = f"{req.service.name}-{self.n}"
            anon = {t: req.anon_volumes.get(t) or f"anon-{cid}{t.replace('/', '-')}"
                    for t in self.anon_targets.get(req.service.name, ())}
            self.volumes |= set(anon.values())
            self.containers[cid] = {"id": cid, "name": req.name, "labels": dict(req.labels),
                                    "service": req.service.name, "anon": anon}
        self.ops.add(cid, running=False)
        self._call("create", req.name)
        return cid

    def prepare_starts(self, sandboxes: bool) -> Callable[[], None]:
        self._call("prepare-starts", "sandboxes" if sandboxes else "")
        return lambda: self._call("helpers-settled", "")

    def start_container(self, cid: str) -> None:
        self._call("start", self.containers[cid]["name"])
        self.ops.start(cid)
        code = self.exit_on_start.get(self.containers[cid]["service"])
        if code is not None:
            threading.Timer(0.05, self.ops.exit_container, (cid, code)).start()

    def stop_container(self, cid: str, timeout, *,  # type: ignore[no-untyped-def]
                       removing: bool = False) -> None:
        self._call("stop", self.containers[cid]["name"])
        if removing:  # down: the removal that follows withdraws them
            self.names_kept = [*getattr(self, "names_kept", []), self.containers[cid]["name"]]
        if self.ops.is_running(cid):
            self.ops.exit_container(cid, 137)

    def exec_output(self, cid: str, argv: list[str], *, env: tuple[str, ...], user: str,
                    workdir: str) -> tuple[int, bytes, bytes]:
        """Hooks: recorded as ("exec", "<container> <argv...>"); ``exec_results`` maps the
        first word to (code, stdout, stderr)."""
        self._call("exec", " ".join([self.containers[cid]["name"], *argv]))
        return getattr(self, "exec_results", {}).get(argv[0], (0, b"", b""))

    def release_default_bridge(self) -> bool:
        return False

    def stop_idle_helpers(self) -> None:
        self.idle_helpers_stopped = getattr(self, "idle_helpers_stopped", 0) + 1

    def removing_together(self) -> AbstractContextManager[_Removals]:
        return nullcontext(_Removals(self))

    def remove_container(self, cid: str) -> None:
        self._call("rm", self.containers[cid]["name"])
        with self.lock:
            del self.containers[cid]


class _Removals:
    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend

    def flush_in_background(self) -> None:
        self.backend.removal_flushes = getattr(self.backend, "removal_flushes", 0) + 1


def serve_in_thread(ops: FakeOps, project: str = "proj") -> threading.Thread:
    """Run ``project``'s supervisor (over ``ops``) in a thread of this process; returns the
    thread once the supervisor listens. Stop it with ``client.stop_supervisor``."""
    from compose.orchestrator import daemon

    ready_r, ready_w = os.pipe()
    try:
        t = threading.Thread(target=daemon.serve, args=(project, ops, ready_w), daemon=True)
        t.start()
        assert os.read(ready_r, 1) == b"1"
    finally:
        os.close(ready_r)
    return t
