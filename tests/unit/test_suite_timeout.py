"""The suite's per-test timeout: a test that never ends fails with its name instead of stalling the
run, and slow tests get the longer limit."""

from __future__ import annotations

import pytest

from tests.conftest import SLOW_TEST_TIMEOUT_S


def test_an_endless_test_is_stopped_and_named_by_the_timeout(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_spins="""
        import threading

        def test_waits_for_a_lock_nobody_releases():
            lock = threading.Lock()
            lock.acquire()
            lock.acquire()  # a deadlock
        """
    )
    result = pytester.runpytest_subprocess("-p", "timeout", "--timeout=2", "--timeout-method=thread")
    assert result.ret != 0
    out = result.stdout.str() + result.stderr.str()
    assert "Timeout" in out
    assert "test_waits_for_a_lock_nobody_releases" in out


@pytest.mark.slow
def test_a_slow_test_gets_the_longer_timeout(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("timeout")
    assert marker is not None
    assert marker.args == (SLOW_TEST_TIMEOUT_S,)


def test_other_tests_keep_the_suite_timeout_from_pyproject(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("timeout") is None
    assert request.config.getini("timeout") == "120"
