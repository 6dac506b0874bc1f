"""A second SQLite in the same process (Python's own `sqlite3` module) on the sessions
file: it can neither lose the library's acknowledged writes nor pull the WAL from
under it (field report: 20 sessions silently lost, then "disk I/O error")."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import sessions
from _support import options


def test_the_hosts_own_sqlite_cannot_lose_acknowledged_writes(tmp_path):
    path = str(tmp_path / "sessions.sqlite")
    m = sessions.SessionManager.open(path, sessions.SessionConfig())
    first = m.create(options())

    host = sqlite3.connect(path, isolation_level=None, timeout=10)
    host.execute("BEGIN IMMEDIATE")
    host.execute("CREATE TABLE host_notes (note TEXT)")
    host.execute("INSERT INTO host_notes VALUES ('mine')")

    created = []
    errors = []

    def create_twenty():
        try:
            for _ in range(20):
                created.append(m.create(options()))
        except Exception as e:  # reported below
            errors.append(e)

    worker = threading.Thread(target=create_twenty)
    worker.start()
    time.sleep(0.3)
    # While the host's transaction holds the write lock, the library waits for it
    # instead of writing alongside it.
    assert created == []
    host.execute("COMMIT")
    worker.join(30)
    assert not worker.is_alive() and errors == []
    assert len(created) == 20
    assert m.count() == 21
    assert host.execute("SELECT note FROM host_notes").fetchall() == [("mine",)]

    # Closing the host's connection must not delete the WAL under the library.
    host.close()
    assert os.path.exists(path + "-wal")
    assert m.count() == 21
    for s in [first, *created]:
        assert m.validate(s.token).valid
    m.create(options())

    # Everything acknowledged is on disk: a fresh manager on the file sees it.
    again = sessions.SessionManager.open(path, sessions.SessionConfig())
    assert again.count() == 22


def test_the_hosts_sqlite_reading_and_closing_repeatedly_breaks_nothing(tmp_path):
    path = str(tmp_path / "sessions.sqlite")
    m = sessions.SessionManager.open(path, sessions.SessionConfig())
    tokens = []
    for i in range(30):
        tokens.append(m.create(options()).token)
        host = sqlite3.connect(path)
        assert host.execute("SELECT count(*) FROM sessions").fetchone()[0] == i + 1
        host.close()
    assert all(m.validate(t).valid for t in tokens)
