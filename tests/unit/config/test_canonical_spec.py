"""``pycompose config`` on the constructs of issue 15 prints what docker compose prints.

No docker compose binary is available here: the expected text follows compose-go's source
(loader/normalize.go, types/types.go field order, types/hooks.go, types/options.go
MultiOptions, types/hostList.go, template/template.go) and its canonical style: values with
'$' re-escaped as '$$', implicit depends_on for ``ipc: service:``, hook commands split into
words, provider options as lists of strings, extra_hosts split at commas and sorted, the
project name available as ${COMPOSE_PROJECT_NAME}."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.cli.main import main

SOURCE = """\
name: canon
services:
  web:
    image: busybox:${COMPOSE_PROJECT_NAME}
    build:
      context: .
      dockerfile_inline: |
        FROM busybox
        RUN echo $$HOME $(id -u) > /x
      secrets: [s]
    network_mode: bridge
    ipc: service:db
    pull_policy: daily
    logging:
      driver: none
    security_opt: [no-new-privileges:true]
    ports: ["8080:80/udp"]
    volumes:
      - type: image
        source: db
        target: /data
        image: {subpath: srv}
    post_start:
      - command: sh -c 'echo $$(date)'
        user: app
        environment: [A=1, B]
    pre_stop:
      - command: ["sh", "-c", "echo bye"]
  db:
    image: postgres
    extra_hosts: ["h=1.1.1.1,2.2.2.2"]
  ai:
    provider:
      type: model
      options:
        model: ai/smollm2
        flags: [a, 1]
secrets:
  s:
    file: ./s.txt
"""

EXPECTED = """\
name: canon
services:
  ai:
    provider:
      type: model
      options:
        flags:
          - a
          - "1"
        model:
          - ai/smollm2
  db:
    extra_hosts:
      - h=1.1.1.1
      - h=2.2.2.2
    image: postgres
    networks:
      default: null
  web:
    build:
      context: {dir}
      dockerfile_inline: |
        FROM busybox
        RUN echo $$HOME $$(id -u) > /x
      secrets:
        - source: s
    depends_on:
      db:
        condition: service_started
        restart: true
        required: true
    image: busybox:canon
    ipc: service:db
    logging:
      driver: none
    network_mode: bridge
    ports:
      - mode: ingress
        target: 80
        published: "8080"
        protocol: udp
    pull_policy: daily
    security_opt:
      - no-new-privileges:true
    volumes:
      - type: image
        source: db
        target: /data
        image:
          subpath: srv
    post_start:
      - command:
          - sh
          - -c
          - echo $$(date)
        user: app
        environment:
          A: "1"
          B: null
    pre_stop:
      - command:
          - sh
          - -c
          - echo bye
networks:
  default:
    name: canon_default
secrets:
  s:
    name: canon_s
    file: {dir}/s.txt
"""


def test_config_matches_compose_go(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "compose.yaml").write_text(SOURCE)
    code = main(["-f", str(tmp_path / "compose.yaml"), "config"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out == EXPECTED.format(dir=tmp_path)


def test_config_output_loads_back_to_the_same(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES"):
        monkeypatch.delenv(var, raising=False)
    first = tmp_path / "compose.yaml"
    first.write_text(SOURCE)
    assert main(["-f", str(first), "config"]) == 0
    printed = capsys.readouterr().out
    again = tmp_path / "again.yaml"
    again.write_text(printed)
    assert main(["-f", str(again), "--project-directory", str(tmp_path), "config"]) == 0
    assert capsys.readouterr().out == printed
