"""The durable SQLite store and JSON interchange, from Python: persistence across
restarts, two processes on one file, crashes, bad files, export and import."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

import sessions
from _support import options

CONFIG = sessions.SessionConfig()


def _open(path) -> sessions.SessionManager:
    return sessions.SessionManager.open(str(path), CONFIG)


def test_sessions_survive_a_restart(tmp_path):
    db = tmp_path / "sessions.db"
    manager = _open(db)
    created = manager.create(options(metadata={"device": "laptop"}))
    del manager
    reopened = _open(db)
    result = reopened.validate(created.token)
    assert result.valid
    assert result.session.id == created.id
    assert result.session.metadata == {"device": "laptop"}
    assert result.session.token == ""
    assert [s.id for s in reopened.list_for_user("alice")] == [created.id]


def test_two_managers_on_one_file_see_each_other_at_once(tmp_path):
    db = tmp_path / "shared.db"
    a, b = _open(db), _open(db)
    s = a.create(options())
    assert b.validate(s.token).valid
    assert b.destroy(s.id) is True
    assert a.validate(s.token).error == sessions.ValidationError.SESSION_REVOKED
    bob = a.create(options("bob"))
    rotated = b.refresh(bob.token)
    # Within the rotation grace the other manager gives the same new token.
    assert a.refresh(bob.token).token == rotated.token
    assert a.validate(rotated.token).valid


def test_a_revocation_in_another_process_is_seen_at_once(tmp_path):
    db = tmp_path / "procs.db"
    manager = _open(db)
    s = manager.create(options())
    child = textwrap.dedent(
        f"""
        import sessions
        m = sessions.SessionManager.open({str(db)!r}, sessions.SessionConfig())
        print(m.destroy_all_for_user("alice"))
        """
    )
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
    assert manager.validate(s.token).error == sessions.ValidationError.SESSION_REVOKED


CHILD = textwrap.dedent(
    """
    import sys, sessions
    m = sessions.SessionManager.open(sys.argv[1], sessions.SessionConfig())
    while True:
        s = m.create(sessions.CreateSessionOptions(user_id="crash"))
        sys.stdout.write(s.token + "\\n")
        sys.stdout.flush()
    """
)


def test_sigkill_at_random_moments_loses_no_returned_session(tmp_path):
    db = tmp_path / "crash.db"
    _open(db)  # create the schema before the first child races to do it
    tokens: list[str] = []
    rng = random.Random(7)
    for _ in range(20):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, text=True
        )
        # Wait until the child is creating sessions (its start-up time depends on the
        # machine's load), then kill it at a random moment.
        first = child.stdout.readline()
        assert first.endswith("\n"), "the child died before creating a session"
        time.sleep(rng.random() * 0.05)
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        # Only lines printed in full were returned by create() before the kill.
        tokens.append(first.strip())
        tokens.extend(line for line in out.split("\n")[:-1] if line)
        manager = _open(db)
        for token in tokens:
            assert manager.validate(token).valid, "a created session was lost"
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(tokens) > 20


def test_a_file_that_is_not_a_database_is_refused_and_untouched(tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_bytes(b"these are my notes, not a database\n" * 100)
    before = bogus.read_bytes()
    with pytest.raises(sessions.SessionError.Store) as err:
        _open(bogus)
    assert "notes.txt" in str(err.value)
    assert bogus.read_bytes() == before


def test_a_directory_path_is_a_store_error(tmp_path):
    with pytest.raises(sessions.SessionError.Store):
        _open(tmp_path)


def test_a_bad_config_is_refused_before_creating_the_file(tmp_path):
    db = tmp_path / "never.db"
    import datetime as dt

    with pytest.raises(sessions.SessionError.InvalidLifetime):
        sessions.SessionConfig(default_expires_in=dt.timedelta(0))  # refused where it is written
    bad = sessions.SessionConfig()
    bad.default_expires_in = dt.timedelta(0)  # records are mutable: the manager checks again
    with pytest.raises(sessions.SessionError.InvalidLifetime):
        sessions.SessionManager.open(str(db), bad)
    assert not db.exists()


def test_export_then_import_round_trips(tmp_path):
    source = _open(tmp_path / "a.db")
    keep = source.create(options(metadata={"k": "v"}))
    gone = source.create(options("bob"))
    source.destroy(gone.id)
    exported = source.export_json()
    entries = json.loads(exported)
    assert {e["id"] for e in entries} == {keep.id, gone.id}
    assert all("token" not in e for e in entries)
    assert {"userId", "tokenHash", "createdAt", "expiresAt"} <= set(entries[0])

    target = sessions.SessionManager(CONFIG)
    assert target.import_json(exported) == 2
    assert target.validate(keep.token).valid
    assert target.validate(gone.token).error == sessions.ValidationError.SESSION_REVOKED
    assert target.get(keep.id).metadata == {"k": "v"}


def test_seed_form_json_imports():
    token = sessions.generate_secure_token()
    entry = {
        "id": "2b8f0c2e-1d3a-4a4e-9f7a-0c1d2e3f4a5b",
        "userId": "carol",
        "tokenHash": sessions.hash_token(token),
        "createdAt": "2099-01-01T00:00:00.000Z",
        "expiresAt": "2099-01-02T00:00:00.000Z",
    }
    manager = sessions.SessionManager(CONFIG)
    # Created in the future relative to the system clock: it is valid until expiresAt.
    assert manager.import_json(json.dumps([entry])) == 1
    assert manager.get(entry["id"]).user_id == "carol"
