"""Field faults (issue 10) as a Python host meets them: stale writes from a Python store,
data entering through import or a Python store, instants at the edges of the range."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

import sessions
from _support import START, DictStore, ManualClock, make_manager, options

MINUTE = timedelta(minutes=1)


class HookedStore(DictStore):
    """A DictStore that runs a scripted hook before its next compare-and-swap, so a
    test can land another change between a caller's read and its write."""

    def __init__(self):
        super().__init__()
        self.hooks = []

    def compare_and_swap(self, expected_token_hash, expected_version, session):
        if self.hooks:
            self.hooks.pop(0)()
        return super().compare_and_swap(expected_token_hash, expected_version, session)


def test_a_stale_slide_from_a_python_store_never_moves_the_expiry_back():
    clock = ManualClock()
    store = HookedStore()
    m = make_manager("python_dict", clock, store=store)
    s = m.create(options(expires_in=timedelta(hours=1), sliding_expiration=True))
    clock.advance(minutes=40)  # validate A reads here: a slide to 01:40 is due

    def validate_b():
        clock.advance(minutes=10)
        assert m.validate(s.token).valid  # slides to 01:50

    store.hooks.append(validate_b)
    assert m.validate(s.token).valid
    stored = m.get(s.id)
    assert stored.expires_at == START + timedelta(hours=1, minutes=50)
    assert stored.version == 2


def test_a_refresh_losing_to_a_revocation_reports_session_revoked():
    store = HookedStore()
    m = make_manager("python_dict", ManualClock(), store=store)
    s = m.create(options())
    store.hooks.append(lambda: m.destroy(s.id))
    with pytest.raises(sessions.SessionError.SessionRevoked):
        m.refresh(s.token)


def test_concurrent_slides_from_python_threads_never_move_an_expiry_back():
    clock = ManualClock()
    store = DictStore()
    m = make_manager("python_dict", clock, store=store)
    s = m.create(options(expires_in=timedelta(seconds=2), sliding_expiration=True))
    seen = []
    done = threading.Event()

    def validator():
        for _ in range(100):
            r = m.validate(s.token)
            assert r.valid or r.error == sessions.ValidationError.SESSION_EXPIRED

    def ticker():
        while not done.is_set():
            clock.advance(0.3)
            seen.append(m.get(s.id).expires_at)

    threads = [threading.Thread(target=validator) for _ in range(4)]
    tick = threading.Thread(target=ticker)
    tick.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    tick.join()
    assert seen == sorted(seen)


def _entry(**fields):
    entry = {
        "id": "imported",
        "userId": "u",
        "tokenHash": sessions.hash_token("tok"),
        "createdAt": "2026-01-01T00:00:00.000Z",
        "expiresAt": "2026-01-01T01:00:00.000Z",
        "slidingExpiration": True,
    }
    entry.update(fields)
    return json.dumps([entry])


@pytest.mark.parametrize("kind", ["memory", "python_dict"])
def test_import_applies_the_configured_cap(kind):
    m = make_manager(kind, ManualClock(), max_lifetime=timedelta(hours=2),
                     default_expires_in=timedelta(hours=1))
    with pytest.raises(sessions.SessionError.Import) as info:
        m.import_json(_entry(absoluteExpiresAt="2027-01-01T00:00:00.000Z"))
    assert info.value.entry == 0 and info.value.field == "absoluteExpiresAt"
    with pytest.raises(sessions.SessionError.Import) as info:
        m.import_json(_entry(absoluteExpiresAt="2026-01-01T00:30:00.000Z"))
    assert info.value.field == "absoluteExpiresAt"
    assert m.count() == 0


def test_a_damaged_session_from_a_python_store_is_never_valid_and_hides_nothing():
    class Damaging(DictStore):
        bad = None

        def _damaged(self, s):
            if s is not None and s.id == self.bad:
                s = sessions.Session(**{**vars(s), "absolute_expires_at": s.created_at + timedelta(seconds=1)})
            return s

        def find_by_token_hash(self, token_hash):
            return self._damaged(super().find_by_token_hash(token_hash))

        def list_for_user(self, user_id):
            return [self._damaged(s) for s in super().list_for_user(user_id)]

    store = Damaging()
    m = make_manager("python_dict", ManualClock(), store=store)
    bad = m.create(options())
    good = m.create(options())
    store.bad = bad.id
    with pytest.raises(sessions.SessionError.Store) as info:
        m.validate(bad.token)
    assert "absolute_expires_at" in info.value.reason
    assert [s.id for s in m.list_for_user("alice")] == [good.id]
    assert m.validate(good.token).valid


def test_microseconds_survive_export_and_import():
    at = datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=timezone.utc)
    a = make_manager("memory", ManualClock(at))
    s = a.create(options(expires_in=timedelta(hours=1, microseconds=7)))
    text = a.export_json()
    assert "2026-01-01T00:00:00.123456Z" in text
    b = make_manager("python_dict", ManualClock(at))
    assert b.import_json(text) == 1
    assert b.get(s.id) == a.get(s.id)
    assert b.export_json() == text


def test_a_revocation_stamped_before_the_creation_is_a_revoked_session_not_a_damaged_one():
    # Two processes' clocks 5 ms apart on one store: the one behind revokes everything of
    # a user, including a session the other created "later" (new-user trial: 415 Store
    # errors "damaged session ... revoked_at: before created_at" from 8 threads).
    store = DictStore()
    early_clock, late_clock = ManualClock(), ManualClock(START + timedelta(milliseconds=5))
    early = sessions.SessionManager.with_store(sessions.SessionConfig(), store, early_clock)
    late = sessions.SessionManager.with_store(sessions.SessionConfig(), store, late_clock)
    s = late.create(options(user_id="alice"))
    assert early.destroy_all_for_user("alice") == 1
    stored = late.get(s.id)
    assert stored is not None and stored.revoked_at < stored.created_at
    for m in (early, late):
        assert m.validate(s.token).error == sessions.ValidationError.SESSION_REVOKED
        assert m._validate_regular(s.token).error == sessions.ValidationError.SESSION_REVOKED
        export = m.export_sessions()
        assert (export.exported, export.damaged) == (1, [])
