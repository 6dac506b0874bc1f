"""What is specific to Python: the package itself, datetimes and timedeltas, odd input,
and clocks and stores implemented in Python that misbehave or raise."""

import importlib.resources
import inspect
import pathlib
from datetime import datetime, timedelta, timezone

import pytest

import sessions
from _support import START, DictStore, ManualClock, make_manager, options

VE = sessions.ValidationError
REPO = pathlib.Path(__file__).resolve().parents[2]


# --- the package ----------------------------------------------------------------------

def test_imported_from_the_installed_wheel():
    where = pathlib.Path(sessions.__file__).resolve()
    assert "site-packages" in where.parts, where
    assert REPO / "bindings" / "python" not in where.parents  # not the source tree
    assert (where.parent / "_native" / "libsessions.so").is_file()


def test_package_has_docstring_py_typed_and_all_names():
    assert sessions.__doc__ and "SessionManager" in sessions.__doc__
    assert importlib.resources.files("sessions").joinpath("py.typed").is_file()
    for name in sessions.__all__:
        assert getattr(sessions, name) is not None, name
    for name in ["SessionManager", "SessionError", "Session", "PublicSession", "SessionConfig",
                 "CreateSessionOptions", "ValidationResult", "ValidationError", "Clock", "ClockError",
                 "SessionStore", "generate_secure_token", "hash_token", "create_session",
                 "validate_session", "destroy_session", "refresh_session", "to_public_session"]:
        assert name in sessions.__all__, name


def test_rust_doc_comments_reach_python_docstrings():
    doc = inspect.getdoc(sessions.SessionManager.validate)
    assert "Validates a token presented by a client" in doc
    assert "Creates, validates, rotates" in inspect.getdoc(sessions.SessionManager)
    assert "lowercase hex SHA-256" in inspect.getdoc(sessions.hash_token)
    assert "bearer token" in inspect.getdoc(sessions.Session)
    assert "A manager over a store implemented by the host" in inspect.getdoc(sessions.SessionManager.with_store)
    assert "current time" in inspect.getdoc(sessions.Clock.now)
    assert "atomic step" in inspect.getdoc(sessions.SessionStore.compare_and_swap)
    # wrapped functions keep their docs
    assert "Checks a presented token against one session" in inspect.getdoc(sessions.validate_session)
    assert "Creates and stores a session" in inspect.getdoc(sessions.SessionManager.create)


def test_records_print_without_the_token(manager):
    s = manager.create(options(metadata={"ip": "10.0.0.1"}))
    for text in (repr(s), str(s), f"{s}", repr([s]), repr(manager.validate(s.token))):
        assert s.token not in text and s.token_hash not in text
        assert s.id in text and "10.0.0.1" in text
    assert "token='<redacted>'" in repr(s) and "token: <redacted>" in str(s)
    assert "token=''" in repr(manager.get(s.id))
    assert repr(sessions.to_public_session(s)).startswith("PublicSession(id=")
    assert repr(sessions.SessionConfig()).startswith("SessionConfig(")


def test_events_print_their_fields_without_the_token(manager):
    seen = []

    class Collect(sessions.SessionListener):
        def on_event(self, event: sessions.SessionEvent) -> None:
            seen.append(event)

    manager.add_listener(Collect())
    s = manager.create(options())
    new = manager.refresh(s.token)
    manager.destroy(s.id)
    assert [type(e).__name__ for e in seen[:2]] == ["SessionEvent.CREATED", "SessionEvent.ROTATED"]
    created = seen[0]
    assert repr(created) == f"SessionEvent.CREATED(session_id={s.id!r}, user_id='alice')"
    assert repr(seen[-1]).startswith(f"SessionEvent.REVOKED(session_id={s.id!r}, user_id='alice', reason=")
    for event in seen:
        for text in (repr(event), str(event), f"{event!r}", "%s" % (event,)):
            assert s.token not in text and new.token not in text and s.token_hash not in text
    # The variants are dataclasses with their fields (asdict, match, ==).
    import dataclasses
    assert dataclasses.asdict(created) == {"session_id": s.id, "user_id": "alice"}
    match created:
        case sessions.SessionEvent.CREATED(user_id=user):
            assert user == "alice"
        case _:
            raise AssertionError(created)
    assert created == sessions.SessionEvent.CREATED(session_id=s.id, user_id="alice")
    assert repr(sessions.SessionEvent.PURGED(count=3)) == "SessionEvent.PURGED(count=3)"
    assert type(created).__module__ == "sessions"


def test_errors_are_one_hierarchy():
    for name in ["InvalidUserId", "InvalidLifetime", "MetadataTooLarge", "InvalidConfig",
                 "InvalidTokenLength", "InvalidToken", "SessionExpired", "SessionRevoked",
                 "UserAgentMismatch", "SessionNotFound", "Random", "Store", "Clock", "Import"]:
        cls = getattr(sessions.SessionError, name)
        assert issubclass(cls, sessions.SessionError) and issubclass(cls, Exception)


# --- datetimes and timedeltas ---------------------------------------------------------

def test_timestamps_come_back_aware_utc(manager):
    s = manager.create(options())
    r = manager.refresh(s.token)
    manager.destroy(s.id)
    got = manager.get(s.id)
    for t in (s.created_at, s.expires_at, s.absolute_expires_at, r.expires_at,
              got.revoked_at, got.created_at):
        assert t.tzinfo is not None and t.utcoffset() == timedelta(0), t


def test_clock_in_another_timezone_is_converted_to_utc(kind):
    plus2 = timezone(timedelta(hours=2))
    m = make_manager(kind, ManualClock(datetime(2026, 1, 1, 2, 0, tzinfo=plus2)))
    s = m.create(options())
    assert s.created_at == START and s.created_at.tzinfo == timezone.utc


def test_sub_second_precision_round_trips(manager, clock):
    clock.advance(0.123456)
    s = manager.create(options(expires_in=timedelta(seconds=1.5)))
    assert s.created_at == START + timedelta(microseconds=123456)
    assert s.expires_at - s.created_at == timedelta(seconds=1.5)
    assert manager.get(s.id).created_at == s.created_at


@pytest.mark.parametrize("at", [
    datetime(1960, 6, 1, 12, 0, 0, 250000, tzinfo=timezone.utc),
    # UniFFI would carry this across as 1970-01-01T00:00:00.5Z (the sign of a
    # sub-second offset is lost), so the supported range starts at 00:00:01.
    datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=timezone.utc),
    datetime(1970, 1, 1, 0, 0, 0, 500000, tzinfo=timezone.utc),
    datetime(2100, 1, 1, tzinfo=timezone.utc),
])
def test_clock_readings_outside_the_supported_range_are_clock_errors(kind, at):
    m = make_manager(kind, ManualClock(at))
    with pytest.raises(sessions.SessionError.Clock) as info:
        m.create(options())
    assert "outside the supported range" in info.value.reason
    assert m.count() == 0


def test_a_lifetime_too_long_for_any_host_type_is_refused_at_configuration():
    # Before: create stored the session, then Python raised OverflowError converting it.
    with pytest.raises(sessions.SessionError.InvalidLifetime):
        sessions.SessionManager(sessions.SessionConfig(max_lifetime=timedelta(days=2_920_000)))


def test_first_supported_instant_round_trips(kind):
    first = datetime(1970, 1, 1, 0, 0, 1, tzinfo=timezone.utc)
    m = make_manager(kind, ManualClock(first))
    s = m.create(options())
    assert s.created_at == first
    assert m.validate(s.token).valid


class NaiveClock(sessions.Clock):
    def now(self):
        return datetime(2026, 1, 1)  # no tzinfo


class StringClock(sessions.Clock):
    def now(self):
        return "2026-01-01T00:00:00Z"


def test_naive_datetime_from_a_python_clock_is_a_clear_error(kind):
    m = make_manager(kind, NaiveClock())
    with pytest.raises(sessions.SessionError.Clock) as info:
        m.create(options())
    assert "naive datetime" in info.value.reason and "NaiveClock.now()" in info.value.reason
    with pytest.raises(sessions.SessionError.Clock):
        m.purge_expired()


def test_non_datetime_from_a_python_clock_is_a_clear_error(kind):
    with pytest.raises(sessions.SessionError.Clock) as info:
        make_manager(kind, StringClock()).create(options())
    assert info.value.reason == "the value returned by StringClock.now() must be datetime.datetime, not str"


def test_naive_datetime_in_a_record_is_a_value_error():
    s = sessions.create_session(options())
    s.expires_at = datetime(2030, 1, 1)
    for call in (lambda: sessions.validate_session(s.token, s), lambda: sessions.destroy_session(s),
                 lambda: sessions.refresh_session(s), lambda: sessions.to_public_session(s),
                 lambda: sessions.SessionManager(sessions.SessionConfig()).to_public_session(s)):
        with pytest.raises(ValueError, match=r"Session\.expires_at is a naive datetime"):
            call()


def test_negative_timedelta_is_a_value_error(manager):
    # Refused when the record is built ...
    with pytest.raises(ValueError, match=r"^CreateSessionOptions\(\) argument 'expires_in' is a negative timedelta"):
        options(expires_in=timedelta(seconds=-1))
    with pytest.raises(ValueError, match=r"^SessionConfig\(\) argument 'max_lifetime' is a negative"):
        sessions.SessionConfig(max_lifetime=timedelta(days=-1))
    # ... and when a record changed since is handed in.
    opts = options()
    opts.expires_in = timedelta(microseconds=-1)
    for call in (lambda: manager.create(opts), lambda: sessions.create_session(opts)):
        with pytest.raises(ValueError, match=r"argument 'options': CreateSessionOptions\.expires_in is a negative"):
            call()
    config = sessions.SessionConfig()
    config.default_expires_in = timedelta(hours=-1)
    for call in (lambda: sessions.SessionManager(config),
                 lambda: sessions.SessionManager.with_store(config, DictStore()),
                 lambda: sessions.SessionManager.open("/nonexistent/never-created.db", config)):
        with pytest.raises(ValueError, match=r"argument 'config': SessionConfig\.default_expires_in is a negative"):
            call()
    s = sessions.create_session(options())
    s.lifetime = timedelta(seconds=-5)
    with pytest.raises(ValueError, match=r"^refresh_session\(\) argument 'session': Session\.lifetime is a negative"):
        sessions.refresh_session(s)


# --- odd input: never a crash ---------------------------------------------------------

@pytest.mark.parametrize("token", [
    "", "x" * (1024 * 1024), "a\x00b", "\x00" * 43, "héllo wörld ✓ 🎉", "ü" * 43,
    "' OR 1=1 --", " " * 43, "\n", "z" * 2048, "z" * 2049,
], ids=["empty", "1MB", "nul-inside", "nuls", "non-ascii", "umlauts", "sql", "spaces",
        "newline", "2048", "2049"])
def test_bad_tokens_are_invalid_not_crashes(manager, token):
    manager.create(options())
    r = manager.validate(token)
    assert not r.valid and r.error == VE.INVALID_TOKEN and r.session is None
    r = manager.validate(token, token)
    assert r.error == VE.INVALID_TOKEN
    with pytest.raises(sessions.SessionError.InvalidToken):
        manager.refresh(token)
    assert not sessions.validate_session(token, sessions.create_session(options())).valid


def test_token_with_nul_appended_is_not_the_token(manager):
    s = manager.create(options())
    assert manager.validate(s.token + "\x00").error == VE.INVALID_TOKEN
    assert manager.validate(s.token[:-1]).error == VE.INVALID_TOKEN
    assert manager.validate(s.token).valid


def test_odd_user_ids_and_metadata(manager):
    for uid in ["a\x00b", "ünïcode ✓", "x" * 256]:
        s = manager.create(options(uid, metadata={"k\x00": "v\x00", "ключ": "значение"}))
        got = manager.get(s.id)
        assert got.user_id == uid and got.metadata == {"k\x00": "v\x00", "ключ": "значение"}
        assert [x.id for x in manager.list_for_user(uid)] == [s.id]


def test_wrong_argument_types_raise_type_errors(manager):
    with pytest.raises(TypeError):
        manager.validate(b"bytes")
    with pytest.raises(TypeError):
        sessions.SessionManager(sessions.SessionConfig(), clock=object())
    with pytest.raises(TypeError):
        sessions.SessionManager.with_store(sessions.SessionConfig(), store={})
    with pytest.raises(ValueError):
        sessions.generate_secure_token(2**31)
    with pytest.raises(TypeError):
        sessions.generate_secure_token(32.0)


# --- clocks and stores in Python that fail --------------------------------------------

class FailingClock(sessions.Clock):
    def __init__(self, error):
        self.error = error

    def now(self):
        raise self.error


def test_clock_raising_clock_error_failed():
    m = sessions.SessionManager(sessions.SessionConfig(),
                                FailingClock(sessions.ClockError.Failed(reason="ntp down")))
    with pytest.raises(sessions.SessionError.Clock) as info:
        m.create(options())
    assert info.value.reason == "ntp down"


@pytest.mark.parametrize("error", [RuntimeError("boom"), sessions.SessionError.Store(reason="boom")])
def test_clock_raising_any_other_exception_becomes_session_error_clock(error):
    m = sessions.SessionManager(sessions.SessionConfig(), FailingClock(error))
    with pytest.raises(sessions.SessionError.Clock) as info:
        m.create(options())
    assert f"FailingClock.now() raised {type(error).__name__}" in info.value.reason
    assert "boom" in info.value.reason
    for call in (m.purge_expired, lambda: m.list_for_user("u"), lambda: m.destroy_all_for_user("u")):
        with pytest.raises(sessions.SessionError.Clock):
            call()
    assert m.validate("unknown").error == VE.INVALID_TOKEN  # no clock needed for that


class UnguardedFailingClock(sessions._native.sessions.Clock):
    """Implements the generated interface directly, without the thin layer's guard."""

    def now(self):
        raise RuntimeError("tick")


def test_any_exception_from_an_unguarded_clock_is_a_clock_error():
    m = sessions.SessionManager(sessions.SessionConfig(), UnguardedFailingClock())
    with pytest.raises(sessions.SessionError.Clock) as info:
        m.create(options())
    assert "tick" in info.value.reason


class FailingStore(DictStore):
    """Raises `error` from `method` once `armed`."""

    def __init__(self, method, error):
        super().__init__()
        self.method, self.error, self.armed = method, error, False

    def _called(self, name):
        super()._called(name)
        if self.armed and name == self.method:
            raise self.error


STORE_CALLS = {
    "insert": lambda m, s: m.create(options()),
    "get": lambda m, s: m.get(s.id),
    "find_by_token_hash": lambda m, s: m.validate(s.token),
    "compare_and_swap": lambda m, s: m.refresh(s.token),
    "list_for_user": lambda m, s: m.list_for_user("alice"),
    "revoke_all_for_user": lambda m, s: m.destroy_all_for_user("alice"),
    "purge_expired": lambda m, s: m.purge_expired(),
    "count": lambda m, s: m.count(),
    "all_sessions": lambda m, s: m.export_json(),
}


@pytest.mark.parametrize("method", sorted(STORE_CALLS))
@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyError("k"), ZeroDivisionError()],
                         ids=["RuntimeError", "KeyError", "ZeroDivisionError"])
def test_exception_in_a_python_store_reaches_the_caller_as_store_error(method, error, clock):
    store = FailingStore(method, error)
    m = make_manager("python_dict", clock, store=store)
    s = m.create(options())
    store.armed = True
    with pytest.raises(sessions.SessionError.Store) as info:
        STORE_CALLS[method](m, s)
    assert f"FailingStore.{method}() raised {type(error).__name__}" in info.value.reason
    store.armed = False
    assert m.count() >= 1  # still usable afterwards


def test_store_raising_session_error_passes_through(clock):
    store = FailingStore("get", sessions.SessionError.Store(reason="db locked"))
    m = make_manager("python_dict", clock, store=store)
    store.armed = True
    with pytest.raises(sessions.SessionError.Store) as info:
        m.get("x")
    assert info.value.reason == "db locked"
    store.method = "count"
    store.error = sessions.SessionError.SessionNotFound(session_id="y")
    with pytest.raises(sessions.SessionError.SessionNotFound):
        m.count()


def test_duplicate_insert_in_python_store_is_store_error(clock):
    class CollidingStore(DictStore):
        def insert(self, session):
            super().insert(session)
            super().insert(session)

    m = make_manager("python_dict", clock, store=CollidingStore())
    with pytest.raises(sessions.SessionError.Store, match="duplicate"):
        m.create(options())


def test_store_returning_naive_datetimes_is_a_clear_store_error(clock):
    class NaiveStore(DictStore):
        def get(self, session_id):
            s = super().get(session_id)
            if s is not None:
                s.created_at = s.created_at.replace(tzinfo=None)
            return s

    m = make_manager("python_dict", clock, store=NaiveStore())
    s = m.create(options())
    with pytest.raises(sessions.SessionError.Store) as info:
        m.get(s.id)
    assert "Session.created_at is a naive datetime" in info.value.reason
    assert "NaiveStore.get()" in info.value.reason


def test_store_returning_garbage_is_a_store_error(clock):
    class GarbageStore(DictStore):
        def find_by_token_hash(self, token_hash):
            return {"id": "not a Session"}

        def count(self):
            return -1

    m = make_manager("python_dict", clock, store=GarbageStore())
    s = m.create(options())
    with pytest.raises(sessions.SessionError.Store):
        m.validate(s.token)
    with pytest.raises(sessions.SessionError.Store, match=r"GarbageStore.count\(\) .*negative"):
        m.count()


def test_store_missing_a_method_is_a_clear_store_error(clock):
    class HalfStore(sessions.SessionStore):
        def insert(self, session):
            pass

    m = make_manager("python_dict", clock, store=HalfStore())
    m.create(options())
    with pytest.raises(sessions.SessionError.Store, match=r"HalfStore does not implement count\(\)"):
        m.count()


def test_store_that_matches_loosely_cannot_let_a_wrong_token_in(clock):
    class LooseStore(DictStore):
        def find_by_token_hash(self, token_hash):
            return next(iter(self._by_id.values()), None)  # any session at all

    m = make_manager("python_dict", clock, store=LooseStore())
    s = m.create(options())
    assert m.validate(s.token).valid
    assert m.validate("wrong").error == VE.INVALID_TOKEN
    with pytest.raises(sessions.SessionError.InvalidToken):
        m.refresh("wrong")


def test_python_store_sees_aware_datetimes_and_timedeltas(clock):
    store = DictStore()
    m = make_manager("python_dict", clock, store=store)
    s = m.create(options(expires_in=timedelta(hours=2)))
    m.destroy(s.id)
    stored = store._by_id[s.id]
    assert stored.created_at == START and stored.created_at.tzinfo is not None
    assert stored.revoked_at == START and stored.lifetime == timedelta(hours=2)
