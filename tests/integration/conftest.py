"""Fixtures of the integration tests: a PostgreSQL primary with a synchronous standby of the test's own.

Module-scoped: a module gets one pair, started once and torn down after its last test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.pg_pair import PgPair, why_not


@pytest.fixture(scope="module")
def pg_pair() -> Iterator[PgPair]:
    """A primary and a synchronous streaming standby (``synchronous_commit = remote_apply``)."""
    reason = why_not()
    if reason:
        pytest.skip(reason)
    pair = PgPair.start()
    try:
        yield pair
    finally:
        pair.stop()
