"""scale, version, volumes, ps/ls Go templates and filters, logs --until, events --since,
and the deterministic exit code of --abort-on-container-exit, through the CLI as root."""
from __future__ import annotations

import json

import pytest

from tests.integration.orchestrator.conftest import IMAGE, SLEEPER, Stack


@pytest.mark.root
def test_scale_ps_templates_and_volumes(stack: Stack) -> None:
    stack.write(f"""
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "echo hello; {SLEEPER}"]
    volumes: [data:/data]
  db:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
volumes:
  data:
""")
    stack.run("up", "-d", "--wait")
    stack.run("scale", "web=3")
    names = stack.run("ps", "--format", "{{.Name}}").stdout.split()
    assert names == [f"{stack.name}-db-1"] + [f"{stack.name}-web-{i}" for i in (1, 2, 3)]
    table = stack.run("ps", "--format", "table {{.Service}}\t{{.State}}").stdout.splitlines()
    assert table[0].split() == ["SERVICE", "STATE"] and table[1].split() == ["db", "running"]
    stack.run("scale", "web=1")
    assert stack.run("ps", "--services").stdout.split() == ["db", "web"]
    assert len(stack.run("ps", "-q").stdout.split()) == 2
    assert stack.run("ps", "--filter", "status=exited", "-q").stdout == ""
    bad = stack.run("ps", "--filter", "foo=bar", check=False)
    assert bad.returncode == 1 and "unknown filter foo" in bad.stderr
    bad = stack.run("ps", "--format", "{{if .Name}}x{{end}}", check=False)
    assert bad.returncode == 1 and "'if' is not supported" in bad.stderr
    assert stack.run("volumes", "-q").stdout.split() == [f"{stack.name}_data"]
    assert stack.run("volumes", "-q", "db").stdout == ""
    vols = stack.run("volumes", "--format", "json").stdout.splitlines()
    assert json.loads(vols[0])["Name"] == f"{stack.name}_data"
    assert stack.run("volumes").stdout.splitlines()[0].split() == ["DRIVER", "VOLUME", "NAME"]
    ls = stack.run("ls", "--filter", f"name={stack.name}", "--format", "{{.Name}}").stdout
    assert ls.split() == [stack.name]
    logs = stack.run("logs", "--until", "1970-01-02T00:00:00Z", "web").stdout
    assert logs == ""
    assert "hello" in stack.run("logs", "--until", "0s", "web").stdout
    events = stack.run("events", "--json", "--since", "10m", "--until", "0s").stdout
    assert "start" in {json.loads(e)["action"] for e in events.splitlines()}


@pytest.mark.root
def test_version_shapes(stack: Stack) -> None:
    assert stack.run("version").stdout.startswith("pycompose version v")
    short = stack.run("version", "--short").stdout.strip()
    assert short[0].isdigit() and not short.startswith("v")
    assert json.loads(stack.run("version", "--format", "json").stdout) == {"version": "v" + short}
    assert stack.run("--version").stdout == stack.run("version").stdout
    assert stack.run("version", "-f", "{{.Version}}").stdout.strip() == "v" + short


@pytest.mark.root
def test_abort_on_container_exit_code_is_deterministic(stack: Stack) -> None:
    stack.write(f"""
services:
  a:
    image: {IMAGE}
    command: ["sh", "-c", "exit 0"]
  b:
    image: {IMAGE}
    command: ["sh", "-c", "exit 3"]
""")
    codes = {stack.run("up", "--abort-on-container-exit", check=False).returncode
             for _ in range(3)}
    assert codes == {3}  # exiting together: the failure wins, every run


@pytest.mark.root
def test_abort_returns_the_earliest_exit_not_one_that_started_after_it(stack: Stack) -> None:
    """docker compose's TestCascadeStop: ``fail`` starts only once ``exit`` completed, so
    the stack aborts on exit's 0, not on fail's 111."""
    stack.write(f"""
services:
  running:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
  exit:
    image: {IMAGE}
    command: ["sh", "-c", "true"]
    depends_on: [running]
  fail:
    image: {IMAGE}
    command: ["sh", "-c", "exit 111"]
    depends_on:
      exit: {{condition: service_completed_successfully}}
""")
    up = stack.run("up", "--abort-on-container-exit", "-t", "1", check=False)
    assert up.returncode == 0, up.stdout + up.stderr


@pytest.mark.root
def test_rejected_flags_say_so(stack: Stack) -> None:
    stack.write(f"services:\n  a:\n    image: {IMAGE}\n")
    out = stack.run("up", "--menu", check=False)
    assert out.returncode == 1 and "not supported by pycompose" in out.stderr
    out = stack.run("up", "--pull", "sometimes", check=False)
    assert out.returncode == 1 and "invalid --pull option" in out.stderr


@pytest.mark.root
def test_cp_creates_a_new_target_file_and_owner_rules(stack: Stack) -> None:
    import os

    stack.write(f"""
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
""")
    stack.run("up", "-d", "--wait")
    src = stack.dir / "f.txt"
    src.write_text("content\n")
    os.chown(src, 1234, 1234)
    stack.run("cp", str(src), "app:/tmp/new-name.txt")  # no such file yet: created
    assert stack.run("exec", "-T", "app", "cat", "/tmp/new-name.txt").stdout == "content\n"
    owner = stack.run("exec", "-T", "app", "stat", "-c", "%u", "/tmp/new-name.txt").stdout
    assert owner.strip() == "0"  # like docker: root unless -a
    stack.run("cp", "-a", str(src), "app:/tmp/")  # an existing directory: copied into it
    owner = stack.run("exec", "-T", "app", "stat", "-c", "%u", "/tmp/f.txt").stdout
    assert owner.strip() == "1234"
    link = stack.dir / "link"
    link.symlink_to(src)
    stack.run("cp", "-L", str(link), "app:/tmp/followed")
    assert stack.run("exec", "-T", "app", "cat", "/tmp/followed").stdout == "content\n"
    bad = stack.run("cp", str(src), "app:/nowhere/x", check=False)
    assert bad.returncode == 1 and "/nowhere" in bad.stderr
    bad = stack.run("cp", str(src), "app:/nodir/", check=False)
    assert bad.returncode == 1 and "does not exist" in bad.stderr


@pytest.mark.root
def test_start_wait_run_label_and_caps(stack: Stack) -> None:
    stack.write(f"""
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "sleep 0.5; touch /tmp/ok; {SLEEPER}"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 200ms
""")
    stack.run("create")
    stack.run("start", "--wait", "--wait-timeout", "30")
    assert json.loads(stack.run("ps", "--format", "json").stdout)["Health"] == "healthy"
    out = stack.run("run", "--rm", "-T", "-l", "extra=yes", "--cap-drop", "CHOWN", "app",
                    "sh", "-c", "grep CapEff /proc/self/status")
    caps = int(out.stdout.split()[-1], 16)
    assert not caps & 1  # CAP_CHOWN is bit 0
    out = stack.run("run", "-d", "-T", "-l", "extra=yes", "app", "sleep", "30")
    cname = out.stdout.strip()
    label = stack.run("ps", "-a", "--format", '{{.Name}} {{.Label "extra"}}').stdout
    assert f"{cname} yes" in label.splitlines()


@pytest.mark.root
def test_start_of_a_service_starts_its_dependencies_and_nothing_else(stack: Stack) -> None:
    """docker compose's TestStartSingleServiceAndDependency: ``create`` then ``start app``
    starts app's dependency chain; a service outside it stays created."""
    stack.write(f"""
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    depends_on: [mid]
  mid:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    depends_on: [base]
  base:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
  other:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
""")
    stack.run("create")
    stack.run("start", "app")
    rows = [json.loads(r) for r in stack.run("ps", "-a", "--format", "json").stdout.splitlines()]
    assert {r["Service"]: r["State"] for r in rows} == {
        "app": "running", "mid": "running", "base": "running", "other": "created"}


@pytest.mark.root
def test_commands_without_services_act_on_the_files_services_only(stack: Stack) -> None:
    """docker compose's TestStartStopMultipleFiles: two files brought up in one project; a
    ``stop`` with the first file stops its services and leaves the other file's running."""
    (stack.dir / "other.yaml").write_text(f"""
services:
  extra:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
""")
    stack.write(f"""
services:
  main:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
""")
    stack.run("-f", "compose.yaml", "up", "-d")
    stack.run("-f", "other.yaml", "up", "-d")
    stopped = stack.run("-f", "compose.yaml", "stop")
    assert f"{stack.name}-extra-1" not in stopped.stderr
    rows = [json.loads(r) for r in stack.run("ps", "-a", "--format", "json").stdout.splitlines()]
    assert {r["Service"]: r["State"] for r in rows} == {"main": "exited", "extra": "running"}
    stack.run("-f", "compose.yaml", "-f", "other.yaml", "down", "-t", "1")


@pytest.mark.root
def test_a_detached_run_rm_container_is_removed_when_it_exits(stack: Stack) -> None:
    """docker compose's TestComposeRunRmStopSignal: ``run --rm -d`` leaves no container once
    the one-off exits (docker's AutoRemove)."""
    import time

    stack.write(f"""
services:
  job:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
""")
    name = stack.run("run", "--rm", "-d", "job", "sh", "-c", "sleep 1").stdout.strip()
    listed = stack.run("ps", "-a", "--format", "{{.Name}}").stdout.split()
    assert name in listed
    deadline = time.monotonic() + 20
    while name in listed and time.monotonic() < deadline:
        time.sleep(0.2)
        listed = stack.run("ps", "-a", "--format", "{{.Name}}").stdout.split()
    assert name not in listed
    stack.run("down", "-t", "1")


@pytest.mark.root
def test_run_command_replaces_the_command_and_keeps_the_entrypoint(stack: Stack) -> None:
    """``run SERVICE COMMAND``: COMMAND replaces the service's command (the CMD); the
    entrypoint stays, as in docker compose."""
    stack.write(f"""
services:
  app:
    image: {IMAGE}
    entrypoint: ["echo", "entry"]
    command: ["default"]
""")
    assert stack.run("run", "--rm", "-T", "app", "given", "args").stdout == "entry given args\n"
    assert stack.run("run", "--rm", "-T", "app").stdout == "entry default\n"
    assert stack.run("run", "--rm", "-T", "--entrypoint", "echo", "app", "x").stdout == "x\n"
    stack.run("down", "-t", "1")


@pytest.mark.root
def test_attach_dependencies_up_ends_with_the_named_service(stack: Stack) -> None:
    """docker compose's StopWithDependenciesAttached: ``up --attach-dependencies foo`` shows
    bar's output too, returns once foo exits, and leaves bar running (it stops the named
    services only)."""
    stack.write(f"""
services:
  foo:
    image: {IMAGE}
    command: ["sh", "-c", "echo hello"]
    depends_on: [bar]
  bar:
    image: {IMAGE}
    command: ["sh", "-c", "echo bar-up; {SLEEPER}"]
""")
    up = stack.run("--ansi", "never", "up", "--attach-dependencies", "foo", timeout=60)
    assert "foo-1  | hello" in up.stdout and "bar-1  | bar-up" in up.stdout, up.stdout
    assert "foo-1 exited with code 0" in up.stdout
    rows = [json.loads(r) for r in stack.run("ps", "-a", "--format", "json").stdout.splitlines()]
    assert {r["Service"]: r["State"] for r in rows} == {"foo": "exited", "bar": "running"}
    stack.run("down", "-t", "1")


@pytest.mark.root
def test_export_and_commit(stack: Stack) -> None:
    import tarfile

    stack.write(f"""
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "echo made > /made.txt; rm /bin/true; {SLEEPER}"]
""")
    stack.run("up", "-d", "--wait")
    out = stack.dir / "fs.tar"
    for _ in range(2):  # running, then stopped (a read-only view of its layers)
        stack.run("export", "-o", str(out), "app")
        with tarfile.open(out) as tar:
            names = set(tar.getnames())
            member = tar.extractfile("made.txt")
            assert member is not None and member.read() == b"made\n"
        assert "bin/sh" in names and "bin/true" not in names  # the deletion is seen
        stack.run("stop", "-t", "1")
    image = stack.run("commit", "-a", "me <me@example.com>", "-m", "snapshot",
                      "-c", 'CMD ["cat", "/made.txt"]', "-c", "ENV GREETING=hi",
                      "-c", "LABEL stage=two", "app", "pctest/committed:1").stdout.strip()
    assert image.startswith("sha256:")
    stack.write("""
services:
  app:
    image: pctest/committed:1
""")
    run = stack.run("run", "--rm", "-T", "app")
    assert run.stdout == "made\n"
    env = stack.run("run", "--rm", "-T", "app", "sh", "-c", "echo $GREETING; ls /bin/true",
                    check=False)
    assert env.stdout.startswith("hi\n") and env.returncode != 0  # /bin/true still deleted
    bad = stack.run("commit", "-c", "ONBUILD RUN x", "app", check=False)
    assert bad.returncode == 1 and "ONBUILD is not supported" in bad.stderr


@pytest.mark.root
def test_down_service_restart_dependents_kill_orphans(stack: Stack) -> None:
    stack.write(f"""
services:
  db:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    volumes: [dbdata:/data]
  api:
    image: {IMAGE}
    command: ["sh", "-c", "date +%s%N >> /tmp/starts; {SLEEPER}"]
    depends_on:
      db: {{condition: service_started, restart: true}}
  other:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    volumes: [otherdata:/data]
volumes:
  dbdata:
  otherdata:
""")
    stack.run("up", "-d", "--wait")
    ids = dict(line.split() for line in stack.run("ps", "--format", "{{.Service}} {{.ID}}")
               .stdout.splitlines())
    stack.run("restart", "--no-deps", "db")
    assert stack.run("exec", "-T", "api", "cat", "/tmp/starts").stdout.count("\n") == 1
    stack.run("restart", "db")  # api depends on db with restart: true: restarted too
    assert stack.run("exec", "-T", "api", "cat", "/tmp/starts").stdout.count("\n") == 2
    # down db: db and its dependent api go; other, the network and other's volume stay
    stack.run("down", "-v", "-t", "1", "db")
    assert stack.run("ps", "--services").stdout.split() == ["other"]
    assert stack.run("volumes", "-q").stdout.split() == [f"{stack.name}_otherdata"]
    assert stack.run("ps", "--format", "{{.ID}}").stdout.split() == [ids["other"]]
    bad = stack.run("down", "nosuch", check=False)
    assert bad.returncode == 1 and "no such service: nosuch" in bad.stderr
    # `other` leaves the file: kill --remove-orphans removes its container
    stack.write(f"""
services:
  db:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
""")
    stack.run("kill", "--remove-orphans")
    assert stack.run("ps", "-a", "-q").stdout == ""


@pytest.mark.root
def test_pull_flag_wins_over_pull_policy_parallel_and_stats(stack: Stack) -> None:
    stack.write(f"""
services:
  a:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    pull_policy: always
  b:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
""")
    # no registry is reachable: `always` from the file would fail; the flag wins
    failed = stack.run("up", "-d", check=False, timeout=120)
    assert failed.returncode != 0
    stack.run("--parallel", "1", "up", "-d", "--wait", "--pull", "never")
    assert stack.run("ps", "--services").stdout.split() == ["a", "b"]
    out = stack.run("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}").stdout
    assert sorted(line.split()[0] for line in out.splitlines()) == [
        f"{stack.name}-a-1", f"{stack.name}-b-1"]
    stack.run("stop", "-t", "1", "b")
    rows = stack.run("stats", "--no-stream", "-a", "--no-trunc", "--format", "json").stdout
    by_name = {json.loads(r)["Name"]: json.loads(r) for r in rows.splitlines()}
    assert by_name[f"{stack.name}-b-1"]["CPUPerc"] == "0.00%"
    assert len(by_name[f"{stack.name}-a-1"]["ID"]) == 64


@pytest.mark.root
def test_up_watch_quiet_build_and_attach_dependencies(stack: Stack) -> None:
    import subprocess
    import sys
    import time

    ctx = stack.dir / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {IMAGE}\nCOPY msg.txt /msg.txt\n")
    (ctx / "msg.txt").write_text("built\n")
    (stack.dir / "src").mkdir()
    stack.write(f"""
services:
  dep:
    image: {IMAGE}
    command: ["sh", "-c", "echo dep-says-hi; {SLEEPER}"]
  app:
    build: ./ctx
    depends_on: [dep]
    command: ["sh", "-c", "cat /msg.txt; until cat /app/x.txt 2>/dev/null; do sleep 0.1;
              done; {SLEEPER}"]
    develop:
      watch:
        - path: ./src
          action: sync
          target: /app
""")
    proc = subprocess.Popen([sys.executable, "-m", "compose.cli.main", "-p", stack.name,
                             "--progress", "plain", "up", "--build", "--quiet-build",
                             "--watch", "app"], cwd=stack.dir, env=stack.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Watch enabled" in line:
            break
    (stack.dir / "src" / "x.txt").write_text("synced-by-watch\n")
    deadline = time.monotonic() + 20
    for line in proc.stdout:
        lines.append(line)
        if "synced-by-watch" in line or time.monotonic() > deadline:
            break
    proc.send_signal(2)
    _out, err = proc.communicate(timeout=60)
    text = "".join(lines)
    assert "synced-by-watch" in text and "built" in text
    assert "dep-says-hi" not in text  # only the named service is attached
    assert "Building" not in err and "Built" not in err  # --quiet-build


@pytest.mark.root
def test_commit_a_running_container_pauses_it_and_resumes(stack: Stack) -> None:
    stack.write(f"""
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "echo live > /live.txt; {SLEEPER}"]
""")
    stack.run("up", "-d", "--wait")
    stack.run("commit", "app", "pctest/live:1")  # paused while its layer is packed
    stack.run("commit", "--pause=false", "app", "pctest/live:2")
    assert json.loads(stack.run("ps", "--format", "json").stdout)["State"] == "running"
    stack.write("""
services:
  app:
    image: pctest/live:2
""")
    assert stack.run("run", "--rm", "-T", "app", "cat", "/live.txt").stdout == "live\n"
