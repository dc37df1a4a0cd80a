"""SQLite's writer turn between processes (``serve --workers N``): it passes on when the COMMIT
returned, not before, and at once, while the committing connection stays checked out."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from ledger.db import _ProcessLock, make_engine


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[tuple[Engine, Engine, str]]:
    """Two engines on one file: two writer queues, each with its own descriptor of the lock file, so
    they exclude each other as two server processes do."""
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    first, second = make_engine(url), make_engine(url)
    with first.begin() as c:
        c.execute(text("CREATE TABLE note (n INTEGER)"))
    yield first, second, str(tmp_path / "reg.db-writer.lock")
    first.dispose()
    second.dispose()


def _locked_by_someone(lock_file: str) -> bool:
    probe = _ProcessLock(lock_file)
    try:
        probe.acquire(time.monotonic() + 0.05)
    except Exception:
        return True
    probe.release()
    return False


def test_the_turn_is_held_until_sqlite_s_commit_returned(two_processes: tuple[Engine, Engine, str]) -> None:
    """SQLAlchemy's ``commit`` event comes before the COMMIT: the turn must still be held then (the
    next writer would meet SQLite's own lock, and sleep in its busy handler), and free after."""
    first, _, lock_file = two_processes
    seen: list[bool] = []

    def at_commit(_conn: Any) -> None:
        seen.append(_locked_by_someone(lock_file))

    event.listen(first, "commit", at_commit)
    with first.connect() as c:
        c.begin()
        c.execute(text("INSERT INTO note VALUES (1)"))
        c.commit()
        assert seen == [True], "held while the COMMIT runs"
        assert not _locked_by_someone(lock_file), "passed on once it returned, the connection still out"


def test_another_process_writes_at_once_after_a_commit_while_the_connection_stays_out(
    two_processes: tuple[Engine, Engine, str],
) -> None:
    """The sequencer keeps its connection between groups: the other process's writer must not wait
    for that connection to go back to the pool (it waited out the 30 s busy timeout)."""
    first, second, _ = two_processes
    with first.connect() as kept:
        kept.begin()
        kept.execute(text("INSERT INTO note VALUES (1)"))
        kept.commit()
        done = threading.Event()

        def other() -> None:
            with second.begin() as c:
                c.execute(text("INSERT INTO note VALUES (2)"))
            done.set()

        t = threading.Thread(target=other, daemon=True)
        t.start()
        assert done.wait(5), "the other process's writer still waits for the turn"
        t.join()
        kept.begin()  # and the turn comes back
        kept.execute(text("INSERT INTO note VALUES (3)"))
        kept.rollback()
        assert not _locked_by_someone(two_processes[2]), "a rollback passes the turn on too"
    with second.connect() as c:
        assert c.execute(text("SELECT count(*) FROM note")).scalar() == 2
