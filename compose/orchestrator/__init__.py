"""Orchestration: plan (convergence), walk the graph (executor), supervise (health, restarts).

Pure parts (no engine, unit-tested without root):

- :mod:`.executor` — one dependency-aware executor, forward for ``up`` (a dependent starts the
  moment its ``depends_on`` conditions hold; conditions fed by events), reverse for
  ``down``/``stop``; failures propagate as reasons, never abort the walk.
- :mod:`.convergence` — (desired config hashes, observed labelled containers) → plan
  (create / recreate / start / restart / noop / remove), cascades, orphans.
- :mod:`.labels` — docker compose's labels and the config hash.
- :mod:`.health`, :mod:`.restart` — docker's healthcheck state machine and restart policies.
- :mod:`.translate` — Service + image config → engine ContainerSpec; unsupported keys rejected.
- :mod:`.gates` — compose's ``Waiting``/``Healthy``/``Exited`` progress for dependency
  conditions, and what ``up --wait`` waits for per service.
- :mod:`.project` — glue between the model, labels and the planners.

Engine-facing parts:

- :mod:`.backend` (interface) / :mod:`.engine_backend` (implementation) — every engine call
  ``up``/``down`` and the CLI make.
- :mod:`.up`, :mod:`.down` — the two walks; :mod:`.prepare` — images (once per distinct
  name), networks and volumes before containers (``up`` and ``run``).
- :mod:`.state` — per-container supervision rows in the engine store (health status, restart
  count, stopped-by-user), read by ``ps`` and by a re-adopting supervisor.
- :mod:`.supervisor` (threads), :mod:`.daemon` (process, socket, pid file), :mod:`.client`
  (CLI side), :mod:`.engine_ops` — the per-project supervisor. It is not the containers' parent
  (each has an engine shim), so SIGKILL of it leaves them running; any later ``up``/``ps``/
  ``start``/``run``/``events`` starts a new one, which re-adopts them from the store.
"""
