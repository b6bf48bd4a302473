"""Restart policies and docker's back-off."""
from __future__ import annotations

import pytest

from compose.config.model import Deploy, Service
from compose.config.model import RestartPolicy as DeployRestart
from compose.errors import ComposeError
from compose.orchestrator.restart import (
    PolicyName,
    RestartPolicy,
    RestartState,
    decide_restart,
    parse_restart,
    policy_for_service,
    restarts_on_adoption,
)


def test_parse() -> None:
    assert parse_restart(None).name is PolicyName.NO
    assert parse_restart("always").name is PolicyName.ALWAYS
    assert parse_restart("on-failure:3") == RestartPolicy(PolicyName.ON_FAILURE, 3)
    with pytest.raises(ComposeError):
        parse_restart("sometimes")
    with pytest.raises(ComposeError):
        parse_restart("always:3")


def test_deploy_restart_policy_mapping() -> None:
    svc = Service("w", deploy=Deploy(restart_policy=DeployRestart("on-failure", 2.0, 4, None)))
    assert policy_for_service(svc) == RestartPolicy(PolicyName.ON_FAILURE, 4, 2.0, 0.0)
    svc = Service("w", deploy=Deploy(restart_policy=DeployRestart()))
    assert policy_for_service(svc).name is PolicyName.ALWAYS
    svc = Service("w", restart="no", deploy=Deploy(restart_policy=DeployRestart()))
    assert policy_for_service(svc).name is PolicyName.NO


def test_on_failure_limits_and_exit_zero() -> None:
    p = RestartPolicy(PolicyName.ON_FAILURE, 2)
    assert not decide_restart(p, RestartState(), 0, 1.0, False).restart
    d1 = decide_restart(p, RestartState(), 1, 1.0, False)
    d2 = decide_restart(p, d1.state, 1, 1.0, False)
    d3 = decide_restart(p, d2.state, 1, 1.0, False)
    assert d1.restart and d2.restart and not d3.restart
    assert d2.state.count == 2


def test_backoff_doubles_caps_and_resets() -> None:
    p = RestartPolicy(PolicyName.ALWAYS)
    st = RestartState()
    delays = []
    for _ in range(12):
        d = decide_restart(p, st, 0, 0.5, False)
        delays.append(d.delay)
        st = d.state
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays[-1] == 60.0
    assert decide_restart(p, st, 0, 11.0, False).delay == 0.1
    assert st.count == 12


def test_user_stop_never_restarts() -> None:
    for name in PolicyName:
        assert not decide_restart(RestartPolicy(name), RestartState(), 1, 1, True).restart
    assert restarts_on_adoption(RestartPolicy(PolicyName.UNLESS_STOPPED))
    assert not restarts_on_adoption(RestartPolicy(PolicyName.ON_FAILURE))
