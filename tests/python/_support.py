"""Helpers shared by the Python tests: a clock you move by hand and a dict-based store,
both implemented in Python on top of the package's base classes."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import sessions

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


class ManualClock(sessions.Clock):
    """A clock that only moves when told to."""

    def __init__(self, at: datetime = START):
        self._lock = threading.Lock()
        self._at = at

    def now(self) -> datetime:
        with self._lock:
            return self._at

    def advance(self, seconds: float = 0, **delta) -> None:
        with self._lock:
            self._at += timedelta(seconds=seconds, **delta)

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at = at


class DictStore(sessions.SessionStore):
    """A session store in Python dicts; one lock makes every method atomic. It keeps the
    store contract: versions checked by compare-and-swap and bumped by every change it
    makes itself, revocation final, batch inserts all or nothing."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_id: dict[str, sessions.Session] = {}
        self._id_by_hash: dict[str, str] = {}
        self._id_by_previous: dict[str, str] = {}  # previous token hash -> id
        self.calls: dict[str, int] = {}

    def _called(self, name):
        self.calls[name] = self.calls.get(name, 0) + 1

    def insert(self, session):
        with self._lock:
            self._called("insert")
            self._insert_all([session])

    def insert_all(self, sessions_):
        with self._lock:
            self._called("insert_all")
            self._insert_all(sessions_)

    def _insert_all(self, sessions_):
        ids = {s.id for s in sessions_}
        hashes = {s.token_hash for s in sessions_}
        if (
            len(ids) != len(sessions_)
            or len(hashes) != len(sessions_)
            or ids & self._by_id.keys()
            or hashes & self._id_by_hash.keys()
        ):
            raise sessions.SessionError.Store(reason="duplicate session id or token hash")
        for session in sessions_:
            self._by_id[session.id] = session
            self._id_by_hash[session.token_hash] = session.id
            if session.previous_token_hash is not None:
                self._id_by_previous[session.previous_token_hash] = session.id

    def get(self, session_id):
        with self._lock:
            self._called("get")
            return self._by_id.get(session_id)

    def find_by_token_hash(self, token_hash):
        with self._lock:
            self._called("find_by_token_hash")
            session_id = self._id_by_hash.get(token_hash) or self._id_by_previous.get(token_hash)
            return self._by_id.get(session_id) if session_id is not None else None

    def compare_and_swap(self, expected_token_hash, expected_version, session):
        with self._lock:
            self._called("compare_and_swap")
            current = self._by_id.get(session.id)
            if (
                current is None
                or current.token_hash != expected_token_hash
                or current.version != expected_version
                or current.revoked_at is not None
            ):
                return False
            if session.token_hash != current.token_hash and session.token_hash in self._id_by_hash:
                raise sessions.SessionError.Store(reason="duplicate token hash")
            del self._id_by_hash[current.token_hash]
            if current.previous_token_hash is not None:
                self._id_by_previous.pop(current.previous_token_hash, None)
            self._by_id[session.id] = session
            self._id_by_hash[session.token_hash] = session.id
            if session.previous_token_hash is not None:
                self._id_by_previous[session.previous_token_hash] = session.id
            return True

    def list_for_user(self, user_id):
        with self._lock:
            self._called("list_for_user")
            mine = [s for s in self._by_id.values() if s.user_id == user_id]
            return sorted(mine, key=lambda s: s.created_at)

    def revoke_all_for_user(self, user_id, at):
        with self._lock:
            self._called("revoke_all_for_user")
            ids = []
            for s in self._by_id.values():
                if s.user_id == user_id and s.revoked_at is None:
                    s.revoked_at = at
                    s.version += 1
                    ids.append(s.id)
            return ids

    def insert_limited(self, session, max_active, now, revoke_oldest):
        with self._lock:
            self._called("insert_limited")
            active = sorted(
                (s for s in self._by_id.values()
                 if s.user_id == session.user_id and s.revoked_at is None and s.expires_at > now),
                key=lambda s: (s.created_at, s.id))
            excess = max(0, len(active) + 1 - max_active)
            if excess and not revoke_oldest:
                raise sessions.SessionError.SessionLimitReached(limit=max_active)
            self._insert_all([session])
            for s in active[:excess]:
                s.revoked_at = now
                s.version += 1
            return [s.id for s in active[:excess]]

    def purge_expired(self, now):
        with self._lock:
            self._called("purge_expired")
            gone = [s for s in self._by_id.values() if s.expires_at <= now]
            for s in gone:
                del self._by_id[s.id]
                del self._id_by_hash[s.token_hash]
                if s.previous_token_hash is not None:
                    self._id_by_previous.pop(s.previous_token_hash, None)
            return len(gone)

    def all_sessions(self):
        with self._lock:
            self._called("all_sessions")
            ordered = sorted(self._by_id.values(), key=lambda s: s.created_at)
            return sessions.SessionScan(sessions=ordered, damaged=[])

    def count(self):
        with self._lock:
            self._called("count")
            return len(self._by_id)


def options(user_id="alice", **kwargs) -> sessions.CreateSessionOptions:
    return sessions.CreateSessionOptions(user_id=user_id, **kwargs)


def make_manager(kind: str, clock=None, store=None, **config) -> sessions.SessionManager:
    """A manager over the in-memory Rust store (`kind == "memory"`) or a Python store
    (`kind == "python_dict"`: `store`, a fresh DictStore by default)."""
    cfg = sessions.SessionConfig(**config)
    if kind == "memory":
        return sessions.SessionManager(cfg, clock)
    if kind == "python_dict":
        return sessions.SessionManager.with_store(cfg, store if store is not None else DictStore(), clock)
    raise ValueError(kind)


# The fast path's two implementations (sessions._fast): the compiled extension
# (sessions._fastpath, the default where it loads) and the ctypes fallback. Tests that
# take the `fast_path` fixture run once through each. SESSIONS_FAST_PATH=ctypes (set when
# the package is used without the extension) leaves only the fallback; otherwise the
# extension must be there: a wheel without it fails the tests.
def fast_paths() -> list[str]:
    import os

    return ["ctypes"] if os.environ.get("SESSIONS_FAST_PATH") == "ctypes" else ["extension", "ctypes"]


class EntryCalls:
    """Counts the validations that reach the C entry point through the active path."""

    def __init__(self, monkeypatch, path: str):
        from sessions import _fast

        self.path = path
        self.count = 0
        if path == "ctypes":
            entry = _fast._entry

            def counting(*args):
                self.count += 1
                return entry(*args)

            monkeypatch.setattr(_fast, "_entry", counting)
        else:
            self.start = _fast._extension.entered()

    def __getitem__(self, index: int) -> int:
        from sessions import _fast

        assert index == 0
        if self.path == "ctypes":
            return self.count
        return _fast._extension.entered() - self.start
