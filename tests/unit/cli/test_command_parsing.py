"""Argument parsing of scale, commit --change, --pull and restart's dependents (pure)."""
from __future__ import annotations

import pytest
import typer

from compose.cli.commands.commit import parse_changes
from compose.cli.commands.restart import restart_dependents
from compose.cli.commands.scale import parse_replicas
from compose.cli.options import apply_pull_flag
from compose.config.model import DependsOn, Project, Service
from compose.errors import ComposeError


def test_scale_specifiers() -> None:
    assert parse_replicas(["web=3", "db=0"]) == {"web": 3, "db": 0}
    for bad, text in (("web", "invalid scale specifier: web"), ("=2", "invalid scale"),
                      ("web=x", "can't parse replica value as int"), ("web=-1", ">= 0")):
        with pytest.raises(ComposeError, match=text):
            parse_replicas([bad])


def test_commit_changes() -> None:
    assert parse_changes(['CMD ["a", "b"]', "ENTRYPOINT run me", "ENV A=1 B=two",
                          "LABEL k=v", "EXPOSE 80 53/udp", "USER app", "WORKDIR /w",
                          "VOLUME /data", "STOPSIGNAL SIGINT", "env LEGACY some value"]) == {
        "Cmd": ["a", "b"], "Entrypoint": ["/bin/sh", "-c", "run me"],
        "Env": ["A=1", "B=two", "LEGACY=some value"], "Labels": {"k": "v"},
        "ExposedPorts": {"80/tcp": {}, "53/udp": {}}, "User": "app", "WorkingDir": "/w",
        "Volumes": {"/data": {}}, "StopSignal": "SIGINT"}
    with pytest.raises(ComposeError, match="HEALTHCHECK is not supported"):
        parse_changes(["HEALTHCHECK NONE"])
    with pytest.raises(ComposeError, match="USER needs an argument"):
        parse_changes(["USER"])


def _project() -> Project:
    return Project(name="p", working_dir="/", services={
        "db": Service(name="db", image="x", pull_policy="always"),
        "api": Service(name="api", image="y", depends_on={"db": DependsOn("service_started",
                                                                         True, True)}),
        "web": Service(name="web", image="z", depends_on={"api": DependsOn("service_started",
                                                                          True, True)}),
        "cron": Service(name="cron", image="z", depends_on={"db": DependsOn("service_started",
                                                                           False, True)}),
    })


def test_pull_flag_replaces_every_pull_policy() -> None:
    project = _project()
    assert apply_pull_flag(project, "policy") is project
    pulled = apply_pull_flag(project, "never")
    assert {s.pull_policy for s in pulled.services.values()} == {"never"}
    assert apply_pull_flag(project, "if_not_present").services["db"].pull_policy == "missing"
    with pytest.raises(typer.BadParameter, match="invalid --pull option"):
        apply_pull_flag(project, "sometimes")


def test_restart_takes_dependents_with_restart_true() -> None:
    assert restart_dependents(_project(), ["db"]) == ["db", "api", "web"]
    assert restart_dependents(_project(), ["web"]) == ["web"]


def test_a_bare_build_arg_takes_the_project_environment() -> None:
    """docker compose: ``--build-arg FOO`` resolves FOO from the project environment and is
    left out when that has no FOO."""
    from compose.cli.commands.build import build_args

    env = {"FOO": "BAR", "EMPTY": ""}
    assert build_args(["FOO", "X=1", "EMPTY", "UNSET", "Y="], env) == {
        "FOO": "BAR", "X": "1", "EMPTY": "", "Y": ""}


def test_ps_takes_the_docker_cli_configs_ps_format(tmp_path, monkeypatch) -> None:
    """docker compose's PsHonorsPsFormat: ``psFormat`` of config.json when no --format."""
    from compose.cli.commands.ps import _configured_format

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert _configured_format() == ""  # no config.json
    (tmp_path / "config.json").write_text('{"psFormat": "table {{.Name}}"}')
    assert _configured_format() == "table {{.Name}}"
    (tmp_path / "config.json").write_text("not json")
    assert _configured_format() == ""
