"""The per-request fast path (`SessionManager.validate` through the C entry point
`sessions_fast_validate`) gives exactly what the regular UniFFI path gives, through each
of its two implementations: the compiled extension sessions._fastpath and the ctypes
fallback in sessions._fast (every test here runs once per path: the autouse fixture)."""

from __future__ import annotations

import gc
import threading
from datetime import timedelta

import pytest

import sessions
from sessions import _fast
from _support import DictStore, EntryCalls, ManualClock, make_manager, options


@pytest.fixture(autouse=True)
def path(fast_path):
    return fast_path


@pytest.fixture
def calls(monkeypatch, path):
    """Counts the calls that reach the C entry point."""
    return EntryCalls(monkeypatch, path)


def both(m, *args, **kwargs):
    """(fast result, regular result) of one presentation, on the same state."""
    return m.validate(*args, **kwargs), m._validate_regular(*args, **kwargs)


def test_valid_token_same_session_and_the_fast_path_is_taken(kind, clock, calls):
    m = make_manager(kind, clock)
    s = m.create(options(metadata={"k": "v", "ключ": "значение ✓"}, sliding_expiration=True))
    fast, regular = both(m, s.token)
    assert calls[0] == 1
    assert fast == regular and fast.valid and fast.session.id == s.id
    assert type(fast) is sessions.ValidationResult and type(fast.session) is sessions.Session
    assert fast.session.metadata == {"k": "v", "ключ": "значение ✓"}
    assert fast.session.created_at.tzinfo is not None
    # Text forms (one metadata entry: a map's order is Rust's, not fixed between calls).
    one = m.create(options(metadata={"k": "v"}))
    fast_one, regular_one = both(m, one.token)
    assert repr(fast_one) == repr(regular_one) and str(fast_one) == str(regular_one)
    # Fields can be replaced and compared like any record the library returns.
    assert sessions.Session(**vars(fast.session)) == fast.session


def test_every_outcome_matches_the_regular_path(kind, clock):
    m = make_manager(kind, clock, bind_to_user_agent=True, rotation_grace=timedelta(seconds=10))
    s = m.create(options(metadata={"userAgent": "UA/1"}))
    for args in ((s.token, "UA/1"), (s.token, "UA/2"), (s.token,), ("nope",), ("",),
                 ("x" * 1_000_000,), (s.token + "x", "UA/1")):
        fast, regular = both(m, *args)
        assert fast == regular, args
    assert both(m, s.token, "UA/2")[0].error == sessions.ValidationError.USER_AGENT_MISMATCH
    # Rotated, presented again within the grace: still valid, same answer.
    new = m.refresh(s.token, "UA/1")
    fast, regular = both(m, s.token, "UA/1")
    assert fast == regular and fast.valid
    # Expired.
    clock.advance(seconds=2 * 24 * 3600)
    fast, regular = both(m, new.token, "UA/1")
    assert fast == regular and fast.error == sessions.ValidationError.SESSION_EXPIRED
    # Revoked.
    t = m.create(options(metadata={"userAgent": "UA/1"}))
    m.destroy(t.id)
    fast, regular = both(m, t.token, "UA/1")
    assert fast == regular and fast.error == sessions.ValidationError.SESSION_REVOKED


def test_a_reused_token_is_reported_once_then_revoked_on_both_paths(kind, clock):
    for path in ("validate", "_validate_regular"):
        m = make_manager(kind, clock, rotation_grace=timedelta(seconds=1))
        s = m.create(options())
        m.refresh(s.token)
        clock.advance(seconds=5)
        first = getattr(m, path)(s.token)
        assert first.error == sessions.ValidationError.TOKEN_REUSED, path
        after = both(m, s.token)
        assert after[0] == after[1], path


def test_bad_arguments_behave_as_on_the_regular_path(manager):
    s = manager.create(options())
    # A token that is not valid Unicode is no token: INVALID_TOKEN, not an exception.
    assert both(manager, "\ud800") == (both(manager, "nope")[0],) * 2
    for bad in ((b"bytes",), (None,), (7,), (s.token, 5), (s.token, "\udcff"), ("\ud800", 5),
                ("\ud800", "\udcff")):
        with pytest.raises((TypeError, ValueError)) as regular:
            manager._validate_regular(*bad)
        with pytest.raises(type(regular.value)) as fast:
            manager.validate(*bad)
        assert str(fast.value) == str(regular.value)
    with pytest.raises(TypeError):
        manager.validate()
    with pytest.raises(TypeError):
        manager.validate(s.token, None, 3)
    with pytest.raises(TypeError):
        manager.validate(s.token, agent="x")
    assert manager.validate(token=s.token, user_agent=None) == manager.validate(s.token)
    assert manager.validate(s.token, user_agent=None).valid


def test_large_and_non_ascii_results_grow_the_buffer(clock):
    m = make_manager("memory", clock, max_metadata_entries=4096, max_metadata_bytes=1_048_576)
    metadata = {f"κ{n}": "v✓" * 100 for n in range(2000)}
    s = m.create(options(user_id="usér", metadata=metadata))
    fast, regular = both(m, s.token)
    assert fast == regular and fast.session.metadata == metadata and fast.session.user_id == "usér"
    # ASCII with a NUL inside a string, and several entries.
    nul = m.create(options(user_id="a\0b", metadata={"k\0": "\0", "x": "", "": "y"}))
    fast, regular = both(m, nul.token)
    assert fast == regular and fast.session.metadata == {"k\0": "\0", "x": "", "": "y"}
    assert fast.session.user_id == "a\0b"


def test_store_and_clock_errors_are_the_regular_errors(kind):
    class Failing(ManualClock):
        fail = False

        def now(self):
            if self.fail:
                raise RuntimeError("clock broke")
            return super().now()

    clock = Failing()
    m = make_manager(kind, clock)
    s = m.create(options())
    clock.fail = True
    with pytest.raises(sessions.SessionError.Clock) as regular:
        m._validate_regular(s.token)
    with pytest.raises(sessions.SessionError.Clock) as fast:
        m.validate(s.token)
    assert str(fast.value) == str(regular.value)
    clock.fail = False
    assert m.validate(s.token).valid
    assert sessions._native.sessions.take_fast_path_error() is None  # nothing left over


def test_an_interrupt_in_a_host_clock_reaches_the_caller(kind):
    class Interrupting(ManualClock):
        error = None

        def now(self):
            if self.error is not None:
                error, self.error = self.error, None
                raise error
            return super().now()

    clock = Interrupting()
    m = make_manager(kind, clock)
    s = m.create(options())
    clock.error = KeyboardInterrupt("stop")
    with pytest.raises(KeyboardInterrupt, match="stop"):
        m.validate(s.token)
    assert m.validate(s.token).valid


def test_an_interrupt_in_a_host_store_is_raised_as_the_regular_path_raises_it(clock):
    class Interrupting(DictStore):
        error = None

        def find_by_token_hash(self, token_hash):
            if self.error is not None:
                error, self.error = self.error, None
                raise error
            return super().find_by_token_hash(token_hash)

    store = Interrupting()
    m = sessions.SessionManager.with_store(sessions.SessionConfig(), store, clock)
    s = m.create(options())
    raised = []
    for validate in (m.validate, m._validate_regular):
        store.error = KeyboardInterrupt("stop")
        with pytest.raises(KeyboardInterrupt, match="stop") as caught:
            validate(s.token)
        raised.append(caught.value)
    fast, regular = raised
    # The very object the store raised, with no context added (the store's failure the
    # library reported meanwhile is not chained onto it).
    assert fast.__context__ is None and regular.__context__ is None
    assert fast.__cause__ is None and regular.__cause__ is None
    assert m.validate(s.token).valid


def test_a_dropped_managers_handle_is_an_error_not_a_crash(clock, path):
    m = make_manager("memory", clock)
    s = m.create(options())
    assert m.validate(s.token).valid
    handle = m.fast_path_handle()
    assert handle and m.fast_path_handle() == handle
    del m
    gc.collect()
    if path == "ctypes":
        assert _fast.validate(handle, s.token, None) is NotImplemented
        assert _fast.validate(0, s.token, None) is NotImplemented
    else:
        class Stale:  # what the extension reads of a manager: its handle
            pass

        for stale in (handle, 0):
            fake = Stale()
            fake._fast_handle = stale
            assert _fast._extension.validate(fake, (s.token,), {}) is NotImplemented
    other = make_manager("memory", clock)
    assert other.fast_path_handle() != handle


def test_threads_share_a_manager(kind):
    m = make_manager(kind, None)
    made = [m.create(options(user_id=f"u{n}", metadata={"n": str(n) * (n * 50)})) for n in range(8)]
    errors = []

    def work(n):
        try:
            for _ in range(300):
                r = m.validate(made[n].token)
                assert r.valid and r.session.user_id == f"u{n}", r
                assert r.session.metadata == {"n": str(n) * (n * 50)}
                assert not m.validate(made[n].token + "x").valid
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_bad_input_gives_the_regular_answer(kind, clock, calls):
    m = make_manager(kind, clock, bind_to_user_agent=True)
    s = m.create(options(user_id="usér ✓", metadata={"userAgent": "UA/ü", "ключ": "значение\0✓"}))
    tokens = ("\ud800", "a\udcffb", "a\0b", s.token + "\0", "\0" * 64, "ключ", "x" * 5_000_000,
              s.token.upper(), " " + s.token, "")
    for token in tokens:
        for ua in (None, "UA/ü", "UA/\0", ""):
            fast, regular = both(m, token, ua)
            assert fast == regular, (token[:20], ua)
            assert fast.error == sessions.ValidationError.INVALID_TOKEN
    fast, regular = both(m, s.token, "UA/ü")
    assert fast == regular and fast.valid
    assert fast.session.metadata == {"userAgent": "UA/ü", "ключ": "значение\0✓"}
    assert fast.session.user_id == "usér ✓" and fast.session.bound_user_agent == "UA/ü"
    assert both(m, s.token, "UA/\0")[0].error == sessions.ValidationError.USER_AGENT_MISMATCH
    entered = calls[0]
    # Arguments the fast path does not take reach the regular path, which refuses them.
    for bad in ((b"token",), (bytearray(b"t"),), (memoryview(b"t"),), (None,), (s.token, b"UA"),
                (s.token, 1.5), (s.token, "\ud800")):
        with pytest.raises((TypeError, ValueError)):
            m.validate(*bad)
    assert calls[0] == entered, "refused arguments never reach the C entry point"

    class Text(str):  # a str subclass: the regular path's conversion, not the fast path's
        pass

    assert m.validate(Text(s.token), Text("UA/ü")) == m._validate_regular(s.token, "UA/ü")
    assert calls[0] == entered


def test_every_field_matches_after_rotation_revocation_and_sliding(kind, clock):
    m = make_manager(kind, clock, rotation_grace=timedelta(seconds=30), bind_to_user_agent=True)
    s = m.create(options(metadata={"userAgent": "UA", "a": "1", "b": "✓"}, sliding_expiration=True,
                         expires_in=timedelta(hours=1)))
    clock.advance(seconds=1800.000_000_7)  # sub-microsecond: the rounding must match
    fast, regular = both(m, s.token, "UA")  # slides
    assert fast == regular and fast.session.version == regular.session.version
    new = m.refresh(s.token, "UA")
    for token in (s.token, new.token):  # the old one within the grace, then the new one
        fast, regular = both(m, token, "UA")
        assert fast == regular and fast.valid
        session = fast.session
        assert session.previous_token_hash is not None and session.rotated_at is not None
        assert session.sliding_expiration is True
        for name, value in vars(regular.session).items():
            assert getattr(session, name) == value, name
            assert type(getattr(session, name)) is type(value), name
    m.destroy(s.id)
    fast, regular = both(m, new.token, "UA")
    assert fast == regular and fast.error == sessions.ValidationError.SESSION_REVOKED


def test_threads_validate_while_another_rotates_and_revokes(kind):
    # (With the default rotation grace a rotated token stays valid while the threads
    # present it, so no presentation is reuse and the changes are all the changer's.)
    m = make_manager(kind, None)
    owners = {}
    for n in range(40):
        s = m.create(options(user_id=f"u{n}", metadata={"n": str(n), "ü": "✓" * n}))
        owners[s.token] = (s.id, f"u{n}", n)
    tokens = list(owners)
    done = threading.Event()
    errors: list[BaseException] = []
    seen = {"valid": 0, "refused": 0}
    lock = threading.Lock()

    def validating():
        try:
            while not done.is_set():
                for token in tokens:
                    r = m.validate(token)
                    sid, user, n = owners[token]
                    if r.valid:
                        assert r.session.id == sid and r.session.user_id == user, r
                        assert r.session.metadata == {"n": str(n), "ü": "✓" * n}, r
                        assert r.error is None
                    else:
                        assert r.session is None, r
                        assert r.error == sessions.ValidationError.SESSION_REVOKED, r
                    with lock:
                        seen["valid" if r.valid else "refused"] += 1
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def changing():
        try:
            for n, token in enumerate(tokens):
                if n % 2:
                    new = m.refresh(token)
                    with lock:
                        owners[new.token] = owners[token]
                else:
                    m.destroy(owners[token][0])
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
        finally:
            done.set()

    threads = [threading.Thread(target=validating) for _ in range(8)]
    threads.append(threading.Thread(target=changing))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and not any(t.is_alive() for t in threads)
    assert seen["valid"] and seen["refused"]
    valid = 0
    for token in list(owners):  # afterwards, both paths agree on every token
        fast, regular = both(m, token)
        assert fast == regular
        valid += fast.valid
    assert valid == 40  # 20 rotated tokens within the grace and their 20 successors


def test_a_store_error_is_the_regular_error_and_nothing_is_left_over(clock, calls):
    class Failing(DictStore):
        fail = False

        def find_by_token_hash(self, token_hash):
            if self.fail:
                raise sessions.SessionError.Store(reason="disk on fire")
            return super().find_by_token_hash(token_hash)

    store = Failing()
    m = make_manager("python_dict", clock, store=store)
    s = m.create(options())
    store.fail = True
    with pytest.raises(sessions.SessionError.Store) as regular:
        m._validate_regular(s.token)
    with pytest.raises(sessions.SessionError.Store) as fast:
        m.validate(s.token)
    assert str(fast.value) == str(regular.value) and "disk on fire" in str(fast.value)
    assert calls[0] == 1
    assert sessions._native.sessions.take_fast_path_error() is None
    store.fail = False
    assert m.validate(s.token) == m._validate_regular(s.token)


def test_a_manager_without_a_handle_takes_the_regular_path(clock, calls):
    m = make_manager("memory", clock)
    s = m.create(options())
    del m.__dict__["_fast_handle"]  # as a manager not built by the wrapped constructors
    assert m.validate(s.token).valid and calls[0] == 0
    m._fast_handle = None  # handle fetched again on the next call
    assert m.validate(s.token) == m._validate_regular(s.token) and calls[0] == 1
    assert m._fast_handle == m.fast_path_handle()


def test_the_extension_is_the_default_where_it_loads():
    if _fast._extension is None:
        pytest.skip("the compiled fast path is not built here (SESSIONS_FAST_PATH=ctypes)")
    import os

    assert os.environ.get("SESSIONS_FAST_PATH") == "ctypes" or _fast.PATH in ("extension", "ctypes")
    assert type(_fast._extension.entered()) is int
    with pytest.raises(RuntimeError, match="configured already"):
        _fast._extension.configure(1, 1, sessions.Session, sessions.ValidationResult,
                                   tuple(_fast._ERRORS[1:]), _fast._convert_times, _fast._take_error,
                                   sessions._host.take_interrupt)
    with pytest.raises(ValueError):
        _fast.use("nonsense")


class CountingClock(ManualClock):
    """A clock written in Python that counts its reads; from read number `switch_after`
    on (when set) it answers `later` instead of the time it was set to."""

    def __init__(self):
        super().__init__()
        self.reads = 0
        self.switch_after = None
        self.later = None

    def now(self):
        with self._lock:
            self.reads += 1
            if self.switch_after is not None and self.reads > self.switch_after:
                return self.later
            return self._at

    def counted(self, call):
        """(what `call()` returned, how many times it read the clock)."""
        self.reads = 0
        value = call()
        return value, self.reads


def on_a_fresh_thread(call):
    """`call()` on a new thread: its fast-path buffer is at its initial 4 KiB."""
    out = {}

    def run():
        try:
            out["value"] = call()
        except BaseException as e:  # noqa: BLE001 - re-raised below
            out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join(timeout=120)
    assert not t.is_alive()
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_a_result_larger_than_the_buffer_is_validated_once(kind, calls):
    clock = CountingClock()
    m = make_manager(kind, clock, max_metadata_bytes=1_048_576)
    s = m.create(options(metadata={"big": "x" * 6_000, "ü": "✓" * 100}, sliding_expiration=True))
    clock.advance(seconds=60)  # the session slides on the next validation
    fast, fast_reads = on_a_fresh_thread(lambda: clock.counted(lambda: m.validate(s.token)))
    assert calls[0] == 1
    regular, regular_reads = clock.counted(lambda: m._validate_regular(s.token))
    assert fast_reads == regular_reads, "validated more than once on the fast path"
    assert fast == regular and fast.valid
    assert fast.session.metadata == {"big": "x" * 6_000, "ü": "✓" * 100}


def test_a_large_result_for_a_predecessor_at_the_end_of_its_grace_is_its_answer(kind):
    clock = CountingClock()
    m = make_manager(kind, clock, max_metadata_bytes=1_048_576,
                     rotation_grace=timedelta(seconds=10))
    s = m.create(options(metadata={"big": "y" * 6_000}))
    m.refresh(s.token)
    clock.advance(seconds=9)  # within the grace ...
    _, per_validation = clock.counted(lambda: m._validate_regular(s.token))
    assert per_validation >= 1
    # ... and past it for any read after one validation's own reads: a second
    # validation of the same presentation would count it as reuse and revoke.
    clock.later = clock.now() + timedelta(seconds=5)
    clock.reads, clock.switch_after = 0, per_validation
    fast = on_a_fresh_thread(lambda: m.validate(s.token))
    clock.switch_after = None
    assert fast.valid and fast.error is None, fast.error
    assert clock.reads == per_validation
    regular = m._validate_regular(s.token)
    assert fast == regular  # not revoked meanwhile


def test_large_metadata_on_fresh_threads_is_the_regular_result(kind, calls):
    clock = CountingClock()
    m = make_manager(kind, clock, max_metadata_entries=4096, max_metadata_bytes=1_048_576)
    metadata = {f"k{n}": "v✓" * 200 + str(n) for n in range(170)}  # about 100 KB
    assert sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items()) > 100_000
    s = m.create(options(metadata=metadata, sliding_expiration=True))
    for _ in range(2):  # each time a fresh thread
        clock.advance(seconds=30)
        fast, fast_reads = on_a_fresh_thread(lambda: clock.counted(lambda: m.validate(s.token)))
        regular, regular_reads = clock.counted(lambda: m._validate_regular(s.token))
        assert fast == regular and fast.session.metadata == metadata
        assert fast_reads == regular_reads
    assert calls[0] == 2


@pytest.mark.parametrize("outer_size, nested_size", [(6_000, 1), (1, 9_000), (6_000, 20_000)])
def test_a_validation_made_by_a_store_during_validate_does_not_disturb_the_outer_one(
    clock, calls, outer_size, nested_size
):
    """A store written in Python validating another token on the same thread, inside
    `validate` (the Kotlin fast path shared its buffers with such a nested call and
    returned the other user's session: a new-user trial). Results on both sides larger
    than the thread's first buffer, on a fresh thread."""

    class Nesting(DictStore):
        hook = None

        def find_by_token_hash(self, token_hash):
            hook, self.hook = self.hook, None
            if hook is not None:
                hook()
            return super().find_by_token_hash(token_hash)

    store = Nesting()
    m = sessions.SessionManager.with_store(
        sessions.SessionConfig(max_metadata_bytes=1_048_576), store, clock
    )
    alice = m.create(options(user_id="alice", metadata={"k": "a" * outer_size}))
    mallory = m.create(options(user_id="mallory", metadata={"k": "m" * nested_size}))
    nested = []
    store.hook = lambda: nested.append(m.validate(mallory.token))
    outer = on_a_fresh_thread(lambda: m.validate(alice.token))
    assert calls[0] == 2, "both validations took the fast path"
    assert outer.session.user_id == "alice" and len(outer.session.metadata["k"]) == outer_size
    assert [r.session.user_id for r in nested] == ["mallory"]
    assert len(nested[0].session.metadata["k"]) == nested_size
    assert outer == m._validate_regular(alice.token)
