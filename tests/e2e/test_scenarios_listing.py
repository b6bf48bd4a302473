"""Scenarios: the listings scripts parse — ``ps --format json``, ``images`` (table, json, -q) and
``ls --format json`` — in the shapes docker compose prints, on a real running stack."""
from __future__ import annotations

import json

import pytest

from tests.e2e.scenarios import IMAGE, SLEEPER, Scenario, scenario

__all__ = ["scenario"]
pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_ps_images_and_ls_listings(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  db:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    volumes: [data:/data]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
  job:
    image: {IMAGE}
    command: ["sh", "-c", "exit 4"]
volumes:
  data:
""")
    sc.up("-d", "--wait", "db")
    sc.run("up", "-d", "job", check=False)
    rows = {str(r["Service"]): r for r in sc.ps()}
    db, job = rows["db"], rows["job"]
    volume = f"{sc.name}_data"
    shown = volume if len(volume) <= 15 else volume[:14] + "…"  # docker cuts mount names
    assert (db["Health"], db["Mounts"], db["LocalVolumes"]) == ("healthy", shown, "1")
    assert db["Networks"] == f"{sc.name}_default" and db["Publishers"] == []
    assert len(str(db["ID"])) == 12 and str(db["Command"]).startswith('"sh -c')
    assert f"com.docker.compose.project={sc.name}" in str(db["Labels"]).split(",")
    assert (job["State"], job["ExitCode"], job["Health"]) == ("exited", 4, "")

    top = sc.run("top").stdout.splitlines()  # only the running container, ps -ef columns
    assert top[0] == f"{sc.name}-db-1"
    assert top[1].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert any(r.split()[0] == "root" and r.endswith("sleep 300") for r in top[2:])

    sc.run("pause", "db")  # a second pause or an unpause of a running one fails, like docker
    again = sc.run("pause", "db", check=False)
    assert again.returncode == 1 and "is already paused" in again.stderr
    sc.run("unpause", "db")
    assert sc.run("unpause", "db", check=False).returncode == 1

    stopped = sc.run("stop", "job")  # already exited: docker still reports it stopped
    assert f"Container {sc.name}-job-1 Stopped" in stopped.stderr

    restarted = sc.run("restart", "db").stderr  # docker's events: Restarting, Started
    assert f"Container {sc.name}-db-1 Restarting" in restarted
    assert f"Container {sc.name}-db-1 Started" in restarted and "Stopping" not in restarted

    table = sc.run("images").stdout.splitlines()
    assert table[0].split() == ["CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE", "ID",
                                "SIZE", "CREATED"]
    assert [r.split()[:3] for r in table[1:]] == [[f"{sc.name}-db-1", "pctest/busybox", "1"],
                                                  [f"{sc.name}-job-1", "pctest/busybox", "1"]]
    images = json.loads(sc.run("images", "--format", "json").stdout)
    assert [i["ContainerName"] for i in images] == [f"{sc.name}-db-1", f"{sc.name}-job-1"]
    assert str(images[0]["ID"]).startswith("sha256:") and images[0]["Tag"] == "1"
    assert list(images[0]) == ["ID", "ContainerName", "Repository", "Tag", "Platform", "Size",
                               "LastTagTime"]  # docker compose v2's image summary
    assert sc.run("images", "-q").stdout.split() == [str(images[0]["ID"]).removeprefix("sha256:")]

    listed = json.loads(sc.run("ls", "--format", "json").stdout)
    mine = [p for p in listed if p["Name"] == sc.name]
    assert mine == [{"Name": sc.name, "Status": "exited(1), running(1)",
                     "ConfigFiles": str(sc.dir / "compose.yaml")}]
