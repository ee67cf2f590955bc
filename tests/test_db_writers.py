"""SQLite writers in one process take turns on a lock instead of sleeping in SQLite's busy handler:
every write lands, and a transaction that fails or is dropped hands the turn on."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from firstlast.db import Database


def _rows(db: Database) -> int:
    with db.session() as s:
        return int(s.execute(text("SELECT count(*) FROM t")).scalar_one())


def test_concurrent_writers_all_land_and_a_failed_or_dropped_write_hands_the_turn_on(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))

    with pytest.raises(RuntimeError), db.session() as s:  # fails after writing: rolled back
        s.execute(text("INSERT INTO t VALUES (-1)"))
        raise RuntimeError("the unit of work failed")
    dropped = db.engine.connect()  # writes, then goes back to the pool without commit or rollback
    dropped.execute(text("INSERT INTO t VALUES (-2)"))
    dropped.close()

    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(25):
                with db.session() as s:
                    s.execute(text("INSERT INTO t VALUES (:n)"), {"n": 100 * k + i})
                    s.execute(text("UPDATE t SET n = n WHERE n = :n"), {"n": 100 * k + i})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _rows(db) == 200  # neither the failed nor the dropped write was kept


def test_writers_of_two_processes_on_one_file_take_turns_on_the_shared_lock(tmp_path: Path) -> None:
    """Two Database objects on one file stand for two API processes (each opens its own lock file
    descriptor): a writer of the second waits on the shared lock while the first holds its turn,
    and goes on as soon as it commits, without SQLite's busy handler."""
    import fcntl
    import time

    first = Database(f"sqlite:///{tmp_path / 'w.db'}")
    with first.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    second = Database(f"sqlite:///{tmp_path / 'w.db'}")
    assert (tmp_path / "w.db.writer").exists() is False  # opened on the first write

    landed: list[float] = []

    def write_from_second() -> None:
        with second.session() as s:
            s.execute(text("INSERT INTO t VALUES (2)"))
        landed.append(time.monotonic())

    with first.session() as s:
        s.execute(text("INSERT INTO t VALUES (1)"))  # the first process's turn
        with open(tmp_path / "w.db.writer") as probe, pytest.raises(BlockingIOError):
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held while the turn lasts
        other = threading.Thread(target=write_from_second)
        other.start()
        time.sleep(0.3)
        assert not landed  # waiting for the turn
        committed = time.monotonic()
    other.join(10)
    assert landed and landed[0] - committed < 0.2  # went on right after the commit
    assert _rows(first) == 2
    with open(tmp_path / "w.db.writer") as probe:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # every turn handed back
