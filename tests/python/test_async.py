"""AsyncSessionManager from asyncio: every coroutine method, the same typed errors and
argument checks, the event loop left free while the store works, a Python store and
clock called on the library's threads, cancellation (a cancelled await happened in full
or not at all; the store's invariants hold after many cancelled creates and refreshes)
and many tasks at once."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from datetime import datetime, timedelta

import pytest

import sessions
from _support import START, DictStore, ManualClock, options

WORKERS = 8  # the library's worker pool bound (src/asynchronous/pool.rs)


def make_async(kind: str, clock=None, store=None, **config) -> sessions.AsyncSessionManager:
    cfg = sessions.SessionConfig(**config)
    if kind == "memory":
        return sessions.AsyncSessionManager(cfg, clock)
    return sessions.AsyncSessionManager.with_store(cfg, store if store is not None else DictStore(), clock)


class GatedStore(DictStore):
    """A DictStore that can hold `insert` until released, record the threads it runs
    on, pause a little in each write (so cancellations land mid-flight), and make
    `count` wait until `WORKERS` callers are inside it (to drain the worker pool)."""

    def __init__(self, pause: float = 0.0):
        super().__init__()
        self.pause = pause
        self.hold = threading.Event()
        self.hold.set()
        self.inside_insert = threading.Semaphore(0)
        self.threads: set[int] = set()
        self.barrier: threading.Barrier | None = None

    def insert(self, session):
        self.threads.add(threading.get_ident())
        self.inside_insert.release()
        assert self.hold.wait(30), "held for 30 s"
        time.sleep(self.pause)
        super().insert(session)

    def compare_and_swap(self, expected_token_hash, expected_version, session):
        self.threads.add(threading.get_ident())
        time.sleep(self.pause)
        return super().compare_and_swap(expected_token_hash, expected_version, session)

    def count(self):
        barrier = self.barrier
        if barrier is not None:
            barrier.wait(30)
        return super().count()


async def drain(manager: sessions.AsyncSessionManager, store: GatedStore) -> None:
    """Returns once every job queued on the library's pool before it has finished: all
    of the pool's workers meet in `count` at once, which its FIFO queue only allows when
    no earlier job is left."""
    store.barrier = threading.Barrier(WORKERS)
    try:
        await asyncio.gather(*(manager.count() for _ in range(WORKERS)))
    finally:
        store.barrier = None


def run(coroutine):
    return asyncio.run(coroutine)


class Recorder(sessions.SessionListener):
    def __init__(self):
        self.events = []

    def on_event(self, event):
        self.events.append(event)


# -- every method ------------------------------------------------------------------------


PLAIN = {"add_listener", "prefix", "to_public_session"}  # no store work: not awaitable


def test_every_public_method_with_store_work_is_a_coroutine_function():
    sync_methods = {n for n, v in vars(sessions.SessionManager).items() if inspect.isfunction(v) and not n.startswith("_")}
    sync_methods.discard("as_async")
    sync_methods.discard("fast_path_handle")  # machinery of the sync fast path (sessions._fast)
    assert PLAIN <= sync_methods
    for name in sync_methods:
        method = getattr(sessions.AsyncSessionManager, name)
        assert inspect.iscoroutinefunction(method) == (name not in PLAIN), name
        sync_params = list(inspect.signature(getattr(sessions.SessionManager, name)).parameters)
        assert list(inspect.signature(method).parameters) == sync_params, name


def test_every_method(kind):
    clock = ManualClock()

    async def main():
        m = make_async(kind, clock)
        recorder = Recorder()
        m.add_listener(recorder)
        assert m.prefix() == sessions.SessionConfig().prefix
        s = await m.create(options("alice", metadata={"role": "admin"}, sliding_expiration=True))
        assert s.token and s.user_id == "alice"
        result = await m.validate(s.token)
        assert result.valid and result.session.id == s.id
        assert (await m.get(s.id)).token == ""
        assert m.to_public_session(s).id == s.id
        updated = await m.update_metadata(s.id, {"role": None, "theme": "dark"})
        assert updated.metadata == {"theme": "dark"}
        clock.advance(1)
        rotated = await m.refresh(s.token)
        assert rotated.token != s.token
        assert (await m.refresh(s.token)).token == rotated.token  # within the grace
        second = await m.create(options("alice"))
        assert [x.id for x in await m.list_for_user("alice")] == [s.id, second.id]
        assert await m.count() == 2
        export = await m.export_sessions()
        assert export.exported == 2 and export.damaged == []
        other = make_async("memory", clock)
        assert await other.import_json(await m.export_json()) == 2
        assert await m.destroy(second.id) is True
        assert await m.destroy(second.id) is False
        assert await m.destroy_all_for_user("alice") == 1
        assert (await m.validate(rotated.token)).error == sessions.ValidationError.SESSION_REVOKED
        clock.advance(hours=25)
        assert await m.purge_expired() == 2
        assert await m.count() == 0
        kinds = [type(e).__name__.rsplit(".", 1)[-1] for e in recorder.events]
        assert kinds == ["CREATED", "METADATA_UPDATED", "ROTATED", "CREATED", "REVOKED", "REVOKED", "PURGED"]

    run(main())


def test_open_and_sharing_with_the_sync_manager(tmp_path):
    path = str(tmp_path / "sessions.sqlite")

    async def main():
        m = sessions.AsyncSessionManager.open(path, sessions.SessionConfig())
        assert isinstance(m, sessions.AsyncSessionManager)
        s = await m.create(options("bob"))
        sync = sessions.SessionManager.open(path, sessions.SessionConfig())
        assert sync.validate(s.token).valid
        shared = sync.as_async()
        assert isinstance(shared, sessions.AsyncSessionManager)
        also = sessions.AsyncSessionManager.from_manager(sync)
        recorder = Recorder()
        sync.add_listener(recorder)
        assert await shared.destroy(s.id) is True
        assert (await also.validate(s.token)).error == sessions.ValidationError.SESSION_REVOKED
        assert len(recorder.events) == 1  # one manager behind both faces

    run(main())


# -- errors and arguments ------------------------------------------------------------------


def test_errors_are_the_same_typed_exceptions(kind):
    async def main():
        m = make_async(kind)
        with pytest.raises(sessions.SessionError.InvalidToken):
            await m.refresh("not-a-token")
        with pytest.raises(sessions.SessionError.SessionNotFound) as info:
            await m.destroy("nope")
        assert info.value.session_id == "nope"
        with pytest.raises(sessions.SessionError.InvalidUserId):
            await m.create(options(""))
        with pytest.raises(sessions.SessionError.InvalidUserId):
            await m.list_for_user("")
        with pytest.raises(sessions.SessionError.Import):
            await m.import_json("[{}]")
        assert (await m.validate("")).error == sessions.ValidationError.INVALID_TOKEN

    run(main())
    with pytest.raises(sessions.SessionError.InvalidConfig):
        sessions.AsyncSessionManager(sessions.SessionConfig(prefix=""))


def test_arguments_are_checked_as_in_the_sync_manager():
    async def main():
        m = sessions.AsyncSessionManager(sessions.SessionConfig())
        with pytest.raises(TypeError, match=r"AsyncSessionManager.create\(\) argument 'options'"):
            await m.create("alice")
        with pytest.raises(TypeError, match="user_agent"):
            await m.validate("t", user_agent=3)
        with pytest.raises(ValueError, match="lone surrogate"):
            await m.create(options("\ud800x"))
        negative = options("a")
        negative.expires_in = timedelta(seconds=-1)  # changed after the record checked it
        with pytest.raises(ValueError, match="negative timedelta"):
            await m.create(negative)
        # A token that is not valid Unicode is simply not a valid token.
        assert (await m.validate("\ud800")).error == sessions.ValidationError.INVALID_TOKEN
        with pytest.raises(sessions.SessionError.InvalidToken):
            await m.refresh("\ud800")

    run(main())
    with pytest.raises(TypeError, match=r"AsyncSessionManager\(\) argument 'config'"):
        sessions.AsyncSessionManager("config")
    with pytest.raises(TypeError, match="store"):
        sessions.AsyncSessionManager.with_store(sessions.SessionConfig(), object())
    with pytest.raises(TypeError, match="manager"):
        sessions.AsyncSessionManager.from_manager(object())


# -- host code on the library's threads ----------------------------------------------------


def test_a_python_store_and_clock_run_on_library_threads_not_the_loop():
    store = GatedStore()
    clock_threads: set[int] = set()

    class ThreadClock(sessions.Clock):
        def now(self) -> datetime:
            clock_threads.add(threading.get_ident())
            return START

    async def main():
        m = sessions.AsyncSessionManager.with_store(sessions.SessionConfig(), store, ThreadClock())
        s = await m.create(options("carol"))
        assert (await m.validate(s.token)).valid
        await m.refresh(s.token)
        return threading.get_ident()

    loop_thread = run(main())
    assert store.threads and loop_thread not in store.threads
    assert clock_threads and loop_thread not in clock_threads


def test_the_loop_keeps_running_while_a_store_call_waits():
    store = GatedStore()
    store.hold.clear()

    async def main():
        m = sessions.AsyncSessionManager.with_store(sessions.SessionConfig(), store)
        call = asyncio.ensure_future(m.create(options("dan")))
        ticks = 0
        while ticks < 5:  # the loop runs other work while the insert is held
            await asyncio.sleep(0.001)
            ticks += 1
        assert not call.done()
        store.hold.set()
        session = await call
        assert (await m.validate(session.token)).valid

    run(main())


def test_host_failures_reach_the_awaiting_caller():
    class Failing(DictStore):
        def __init__(self, error):
            super().__init__()
            self.error = error

        def insert(self, session):
            raise self.error

    class BrokenClock(sessions.Clock):
        def now(self) -> datetime:
            raise sessions.ClockError.Failed(reason="no time")

    async def main():
        m = sessions.AsyncSessionManager.with_store(sessions.SessionConfig(), Failing(OSError("disk full")))
        with pytest.raises(sessions.SessionError.Store, match="disk full"):
            await m.create(options())
        # An interrupt raised on a library thread fails the call; it is never a success.
        m = sessions.AsyncSessionManager.with_store(sessions.SessionConfig(), Failing(KeyboardInterrupt()))
        with pytest.raises(sessions.SessionError.Store, match="KeyboardInterrupt"):
            await m.create(options())
        assert await m.count() == 0
        m = sessions.AsyncSessionManager(sessions.SessionConfig(), BrokenClock())
        with pytest.raises(sessions.SessionError.Clock):
            await m.create(options())

    run(main())


# -- cancellation --------------------------------------------------------------------------


def test_a_cancelled_create_that_started_is_stored_in_full():
    store = GatedStore()
    store.hold.clear()

    async def main():
        m = sessions.AsyncSessionManager.with_store(sessions.SessionConfig(), store)
        task = asyncio.ensure_future(m.create(options("erin")))
        while not store.inside_insert.acquire(blocking=False):
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        store.hold.set()
        await drain(m, store)
        assert len(await m.list_for_user("erin")) == 1
        assert await m.count() == 1

    run(main())


def test_a_cancelled_create_that_had_not_started_never_runs():
    store = GatedStore()
    store.hold.clear()

    async def main():
        m = sessions.AsyncSessionManager.with_store(sessions.SessionConfig(), store)
        held = [asyncio.ensure_future(m.create(options(f"held{i}"))) for i in range(WORKERS)]
        for _ in range(WORKERS):  # every worker is inside an insert
            while not store.inside_insert.acquire(blocking=False):
                await asyncio.sleep(0.001)
        queued = asyncio.ensure_future(m.create(options("never")))
        await asyncio.sleep(0.01)  # it has reached Rust and waits in the queue
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        store.hold.set()
        await asyncio.gather(*held)
        await drain(m, store)
        assert await m.list_for_user("never") == []
        assert await m.count() == WORKERS

    run(main())


@pytest.mark.parametrize("backend", ["python_dict", "sqlite"])
def test_many_cancelled_creates_and_refreshes_leave_the_store_consistent(backend, tmp_path):
    store = GatedStore(pause=0.0005)

    async def main():
        cfg = sessions.SessionConfig()
        if backend == "sqlite":
            sync = sessions.SessionManager.open(str(tmp_path / "s.sqlite"), cfg)
            m = sync.as_async()
        else:
            m = sessions.AsyncSessionManager.with_store(cfg, store)
        originals = [await m.create(options(f"user{i % 5}")) for i in range(40)]
        tasks = []
        for i in range(200):
            if i % 2 == 0:
                call = m.create(options(f"user{i % 5}"))
            else:
                call = m.refresh(originals[(i * 7) % len(originals)].token)
            tasks.append(asyncio.ensure_future(call))
        # Cancel them at different moments: before they start, while they run, after.
        for i, task in enumerate(tasks):
            if i % 3 == 0:
                await asyncio.sleep(0.0005)
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        unexpected = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, asyncio.CancelledError)]
        assert unexpected == []
        cancelled = sum(isinstance(o, asyncio.CancelledError) for o in outcomes)
        assert cancelled > 0
        if backend == "sqlite":
            # The pool is drained by 8 blocked count calls on a Python store.
            await drain(sessions.AsyncSessionManager.with_store(cfg, store), store)
        else:
            await drain(m, store)

        export = await m.export_sessions()
        assert export.damaged == []
        count = await m.count()
        assert export.exported == count
        listed = sum([len(await m.list_for_user(f"user{u}")) for u in range(5)])
        assert listed == count
        assert len(originals) <= count <= len(originals) + 100
        for original in originals:
            stored = await m.get(original.id)
            assert stored is not None and stored.revoked_at is None
            assert stored.version <= 2, "concurrent refreshes of one token rotate it once"
            assert (await m.validate(original.token)).valid  # current, or within the grace

    run(main())


# -- many tasks ----------------------------------------------------------------------------


def test_eight_tasks_at_once_on_sqlite(tmp_path):
    async def main():
        m = sessions.AsyncSessionManager.open(str(tmp_path / "s.sqlite"), sessions.SessionConfig())

        async def worker(n: int) -> None:
            for _ in range(10):
                s = await m.create(options(f"u{n}"))
                assert (await m.validate(s.token)).valid
                new = await m.refresh(s.token)
                assert (await m.validate(new.token)).valid

        await asyncio.gather(*(worker(n) for n in range(8)))
        assert await m.count() == 80

    run(main())


def test_sync_callers_on_threads_and_async_tasks_share_one_manager(tmp_path):
    sync = sessions.SessionManager.open(str(tmp_path / "s.sqlite"), sessions.SessionConfig())
    m = sync.as_async()
    errors: list[BaseException] = []

    def thread_worker():
        try:
            for _ in range(20):
                s = sync.create(options("threads"))
                assert sync.validate(s.token).valid
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    async def main():
        threads = [threading.Thread(target=thread_worker) for _ in range(2)]
        for t in threads:
            t.start()
        await asyncio.gather(*(m.create(options("tasks")) for _ in range(40)))
        await asyncio.to_thread(lambda: [t.join() for t in threads])
        assert len(await m.list_for_user("threads")) == 40
        assert len(await m.list_for_user("tasks")) == 40

    run(main())
    assert errors == []


def test_readme_async_example_runs(tmp_path, monkeypatch):
    import contextlib
    import io
    import pathlib
    import runpy

    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(pathlib.Path(__file__).parent / "typing" / "async_example.py"), run_name="readme")
    lines = out.getvalue().splitlines()
    assert lines == ["True", str(sessions.SessionError.InvalidToken()), str(sessions.ValidationError.SESSION_REVOKED)]


def test_finished_calls_reach_the_loop_through_its_own_wakeup_socket():
    from sessions import _async

    async def main():
        m = sessions.AsyncSessionManager(sessions.SessionConfig())
        s = await m.create(options("gina"))
        assert asyncio.get_running_loop() in _async._watched
        assert (await m.validate(s.token)).valid

    run(main())
    assert _async._fd is not None
    assert "set_loop_wakeups" not in vars(sessions.AsyncSessionManager)  # internal, not in the stub


def test_a_loop_that_cannot_watch_sockets_gets_direct_wakeups():
    class NoReaders(asyncio.SelectorEventLoop):
        def add_reader(self, fd, callback, *args):
            raise NotImplementedError

    loop = NoReaders()
    try:
        m = sessions.AsyncSessionManager(sessions.SessionConfig())
        s = loop.run_until_complete(asyncio.wait_for(m.create(options("hank")), 30))
        assert loop.run_until_complete(asyncio.wait_for(m.validate(s.token), 30)).valid
    finally:
        loop.close()


def test_open_documents_and_takes_every_location_kind(tmp_path):
    """`AsyncSessionManager.open` takes what `SessionManager.open` takes (its doc used to
    name SQLite files only)."""
    doc = sessions.AsyncSessionManager.open.__doc__
    for location in (":memory:", "redis://", "rediss://", "redis+cluster://", "rediss+cluster://"):
        assert location in doc, location

    async def main():
        for path in (":memory:", str(tmp_path / "a.sqlite")):
            m = sessions.AsyncSessionManager.open(path, sessions.SessionConfig())
            s = await m.create(options("olga"))
            assert (await m.validate(s.token)).valid, path

    run(main())
