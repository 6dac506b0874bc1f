"""The durability setting of the SQLite store, from Python: both settings keep every
returned write across a restart, writes from many threads share commits without losing
any, and a wrong argument is a TypeError."""

from __future__ import annotations

import threading

import pytest

import sessions
from _support import options

CONFIG = sessions.SessionConfig()


@pytest.mark.parametrize("durability", [sessions.Durability.FULL, sessions.Durability.NORMAL])
def test_writes_from_many_threads_survive_a_restart(tmp_path, durability):
    db = str(tmp_path / "sessions.db")
    manager = sessions.SessionManager.open_with_durability(db, CONFIG, durability)
    tokens: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(20):
            token = manager.create(options()).token
            with lock:
                tokens.append(token)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    del manager
    reopened = sessions.SessionManager.open(db, CONFIG)
    assert reopened.count() == 160
    assert all(reopened.validate(token).valid for token in tokens)


def test_a_wrong_durability_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="durability"):
        sessions.SessionManager.open_with_durability(
            str(tmp_path / "s.db"), CONFIG, "full"  # type: ignore[arg-type]
        )
    assert not (tmp_path / "s.db").exists()
