"""What host code does inside a Python clock or store (issue 10, point 5): an interrupt,
an exit or a cancellation makes the library call fail (never a success for an operation
that did not happen) and then reaches the caller as itself; what the host returns is
checked, field by field, before Rust sees it."""

import asyncio
import dataclasses
import re
import threading
from datetime import timedelta

import pytest

import sessions
from _support import START, DictStore, ManualClock, make_manager, options

INTERRUPTS = [KeyboardInterrupt, SystemExit, asyncio.CancelledError, GeneratorExit]


class InterruptingStore(DictStore):
    """Raises `error` (once) from `method` while `armed`."""

    def __init__(self):
        super().__init__()
        self.method, self.error = None, None

    def arm(self, method, error):
        self.method, self.error = method, error

    def _called(self, name):
        super()._called(name)
        if name == self.method and self.error is not None:
            error, self.error = self.error, None
            raise error


# Each store method, the manager call that reaches it, and what must not have happened.
CALLS = {
    "insert": lambda m, s: m.create(options("bob")),
    "insert_all": lambda m, s: m.import_json(_exported_bob()),
    "get": lambda m, s: m.get(s.id),
    "find_by_token_hash": lambda m, s: m.validate(s.token),
    "compare_and_swap": lambda m, s: m.refresh(s.token),
    "list_for_user": lambda m, s: m.list_for_user("alice"),
    "revoke_all_for_user": lambda m, s: m.destroy_all_for_user("alice"),
    "purge_expired": lambda m, s: m.purge_expired(),
    "count": lambda m, s: m.count(),
    "all_sessions": lambda m, s: m.export_json(),
    "insert_limited": lambda m, s: m.create(options("carol")),
}


def _exported_bob():
    other = make_manager("memory", ManualClock())
    other.create(options("bob"))
    return other.export_json()


def test_every_store_method_is_covered():
    methods = {n for n, a in vars(sessions.SessionStore).items() if not n.startswith("_") and callable(a)}
    assert set(CALLS) == methods


@pytest.mark.parametrize("method", sorted(CALLS))
@pytest.mark.parametrize("kind", INTERRUPTS, ids=lambda k: k.__name__)
def test_interrupt_in_a_store_fails_the_call_and_reaches_the_caller(method, kind, clock):
    store = InterruptingStore()
    # `create` calls insert_limited instead of insert when a per-user limit is set.
    limit = {"max_sessions_per_user": 5} if method == "insert_limited" else {}
    m = make_manager("python_dict", clock, store=store, **limit)
    s = m.create(options())
    before = dict(store._by_id)
    raised = kind()
    store.arm(method, raised)
    with pytest.raises(kind) as info:
        CALLS[method](m, s)
    assert info.value is raised  # the original object, not a copy or a SessionError
    assert isinstance(info.value.__context__, (type(None), sessions.SessionError))
    assert store._by_id == before  # nothing happened
    # The manager goes on working, and nothing is left over for the next call.
    assert m.validate(s.token).valid
    assert m.count() == 1


def test_cancelled_insert_gives_no_token(clock):
    # The example of issue 10: `create` returned a token for a session never stored.
    store = InterruptingStore()
    m = make_manager("python_dict", clock, store=store)
    store.arm("insert", asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        m.create(options())
    assert m.count() == 0 and store._by_id == {}


def test_cancelled_compare_and_swap_keeps_the_old_token(clock):
    store = InterruptingStore()
    m = make_manager("python_dict", clock, store=store)
    s = m.create(options())
    store.arm("compare_and_swap", asyncio.CancelledError("client went away"))
    with pytest.raises(asyncio.CancelledError, match="client went away"):
        m.refresh(s.token)
    assert m.validate(s.token).valid  # the rotation did not happen
    assert m.refresh(s.token).token != s.token


class InterruptingClock(ManualClock):
    def __init__(self):
        super().__init__()
        self.error = None

    def now(self):
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return super().now()


@pytest.mark.parametrize("kind_", INTERRUPTS, ids=lambda k: k.__name__)
def test_interrupt_in_a_clock_reaches_the_caller(kind, kind_):
    clock = InterruptingClock()
    m = make_manager(kind, clock)
    raised = kind_("stop")
    clock.error = raised
    with pytest.raises(kind_) as info:
        m.create(options())
    assert info.value is raised
    assert m.count() == 0
    s = m.create(options())
    clock.advance(seconds=1)
    clock.error = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        m.validate(s.token)
    assert m.validate(s.token).valid


def test_interrupt_during_a_purge_inside_create_still_reaches_the_caller(clock):
    # With auto_purge_interval, create purges first; a purge that fails is logged and the
    # create goes on. An interrupt there is not swallowed: the session is created, and
    # the caller gets the interrupt once the call returns.
    store = InterruptingStore()
    m = make_manager("python_dict", clock, store=store, auto_purge_interval=timedelta(seconds=1))
    m.create(options())
    clock.advance(seconds=2)
    store.arm("purge_expired", KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        m.create(options())
    assert store.calls["purge_expired"] == 1 and m.count() == 2


def test_an_interrupt_is_relayed_on_its_own_thread_only(clock):
    store = InterruptingStore()
    m = make_manager("python_dict", clock, store=store)
    s = m.create(options())
    store.arm("get", KeyboardInterrupt())
    caught = []

    def other():
        try:
            m.get(s.id)
        except BaseException as e:  # noqa: BLE001
            caught.append(e)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert len(caught) == 1 and isinstance(caught[0], KeyboardInterrupt)
    assert m.get(s.id).id == s.id  # nothing left for this thread


def test_interrupt_from_a_store_that_bypasses_the_base_class(clock):
    # A store implementing the generated interface directly (not sessions.SessionStore)
    # is wrapped by the same guard when handed to the library.
    generated = sessions._native.sessions.SessionStore

    class Direct(generated):
        def insert(self, session):
            raise asyncio.CancelledError()

        def count(self):
            return 0

    m = sessions.SessionManager.with_store(sessions.SessionConfig(), Direct(), clock)
    with pytest.raises(asyncio.CancelledError):
        m.create(options())
    assert m.count() == 0


# --- what a host store returns --------------------------------------------------------

BAD_FIELDS = {
    "id": (b"id", "must be str, not bytes"),
    "user_id": (7, "must be str, not int"),
    "token": (None, "must be str, not NoneType"),
    "token_hash": ("\udcff", "is not valid Unicode"),
    "created_at": ("2026-01-01", "must be datetime.datetime, not str"),
    "expires_at": (START.replace(tzinfo=None), "is a naive datetime"),
    "metadata": ({"k": 1}, r"\['k'\] must be str, not int"),
    "revoked_at": (0, "must be datetime.datetime or None, not int"),
    "sliding_expiration": ("yes", "must be bool or None, not str"),
    "bound_user_agent": (["ua"], "must be str or None, not list"),
    "lifetime": (3600, "must be datetime.timedelta, not int"),
    "absolute_expires_at": (None, "must be datetime.datetime, not NoneType"),
    "version": ("2", "must be int, not str"),
    "previous_token_hash": (b"h", "must be str or None, not bytes"),
    "rotated_at": ("2026-01-01", "must be datetime.datetime or None, not str"),
    "rotation_key": (5, "must be str or None, not int"),
}


def test_every_session_field_is_covered():
    assert set(BAD_FIELDS) == {f.name for f in dataclasses.fields(sessions.Session)}


@pytest.mark.parametrize("field", sorted(BAD_FIELDS))
def test_each_field_of_a_returned_session_is_checked(field, clock):
    value, words = BAD_FIELDS[field]

    class BadStore(DictStore):
        def get(self, session_id):
            s = dataclasses.replace(super().get(session_id))
            setattr(s, field, value)
            return s

    m = make_manager("python_dict", clock, store=BadStore())
    s = m.create(options())
    with pytest.raises(sessions.SessionError.Store) as info:
        m.get(s.id)
    assert re.match(rf"the value returned by BadStore\.get\(\): Session\.{field}.*{words}", info.value.reason)


def test_other_returned_values_are_checked(clock):
    class BadStore(DictStore):
        def list_for_user(self, user_id):
            return [*super().list_for_user(user_id), {"id": "x"}]

        def compare_and_swap(self, *args):
            super().compare_and_swap(*args)
            return "yes"

        def count(self):
            return 2**64

        def purge_expired(self, now):
            return 1.0

        def all_sessions(self):
            scan = super().all_sessions()
            scan.sessions = (s for s in scan.sessions)
            return scan

    m = make_manager("python_dict", clock, store=BadStore())
    s = m.create(options())
    with pytest.raises(sessions.SessionError.Store) as info:
        m.list_for_user("alice")
    assert re.search(r"^the value returned by BadStore\.list_for_user\(\)\[1\] must be Session, not dict$", info.value.reason), info.value.reason
    with pytest.raises(sessions.SessionError.Store) as info:
        m.refresh(s.token)
    assert re.search(r"compare_and_swap\(\) must be bool, not str$", info.value.reason), info.value.reason
    with pytest.raises(sessions.SessionError.Store) as info:
        m.count()
    assert re.search(r"count\(\) is too large \(18446744073709551616\)", info.value.reason), info.value.reason
    with pytest.raises(sessions.SessionError.Store) as info:
        m.purge_expired()
    assert re.search(r"purge_expired\(\) must be int, not float$", info.value.reason), info.value.reason
    with pytest.raises(sessions.SessionError.Store) as info:
        m.export_json()
    assert info.value.reason == (
        "the value returned by BadStore.all_sessions(): SessionScan.sessions must be list[Session], not generator")


def test_integers_out_of_range_in_a_returned_session_are_refused(clock):
    class BadStore(DictStore):
        def get(self, session_id):
            return dataclasses.replace(super().get(session_id), version=2**63)

    m = make_manager("python_dict", clock, store=BadStore())
    s = m.create(options())
    with pytest.raises(sessions.SessionError.Store) as info:
        m.get(s.id)
    assert info.value.reason == ("the value returned by BadStore.get(): Session.version must be between "
                                 "-9223372036854775808 and 9223372036854775807, not 9223372036854775808")


def test_a_void_method_may_return_anything(clock):
    class ChattyStore(DictStore):
        def insert(self, session):
            super().insert(session)
            return "ok"

    m = make_manager("python_dict", clock, store=ChattyStore())
    s = m.create(options())
    assert m.validate(s.token).valid


def test_errors_raised_by_a_store_are_checked_too(clock):
    class Store(DictStore):
        def get(self, session_id):
            raise sessions.SessionError.SessionNotFound(session_id=123)

        def count(self):
            raise sessions.SessionError.Store(reason="bad \udc80 text")

    m = make_manager("python_dict", clock, store=Store())
    with pytest.raises(sessions.SessionError.Store) as info:
        m.get("x")
    assert info.value.reason.startswith(
        "Store.get() raised SessionError.SessionNotFound, but a field has the wrong type"), info.value.reason
    with pytest.raises(sessions.SessionError.Store) as info:
        m.count()
    assert info.value.reason.startswith(
        "Store.count() raised SessionError.Store, but its field 'reason' is not valid Unicode"), info.value.reason
