"""AsyncSessionManager at the edges of an event loop's life: the interpreter exiting with
calls still in flight (on a loop never closed, a closed loop, SQLite, a Python store,
direct wake-ups, many calls), a loop closed while calls are in flight (their results are
dropped quietly), the worker pool shut down at exit, and managers that can be
collected. Each exit shape runs in its own interpreter (`subprocess`), several times:
before the fix they crashed (SIGSEGV, SIGILL, or "FATAL: exception not rethrown") in
most runs."""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import pydoc
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

import pytest

import sessions
from _support import options

HERE = Path(__file__).resolve().parent
RUNS = 3  # each shape crashed in most runs before the fix

PRELUDE = textwrap.dedent(
    f"""
    import asyncio, os, sys, time
    sys.path.insert(0, {str(HERE)!r})
    import sessions
    from _support import DictStore

    class SlowStore(DictStore):
        def insert(self, session):
            time.sleep(0.005)
            super().insert(session)

    class NoReaders(asyncio.SelectorEventLoop):
        def add_reader(self, fd, callback, *args):
            raise NotImplementedError

    def manager(kind, directory):
        config = sessions.SessionConfig()
        if kind == "sqlite":
            return sessions.AsyncSessionManager.open(os.path.join(directory, "s.sqlite"), config)
        if kind == "python-store":
            return sessions.AsyncSessionManager.with_store(config, SlowStore())
        return sessions.AsyncSessionManager(config)

    async def work(m, i):
        s = await m.create(sessions.CreateSessionOptions(user_id=f"u{{i % 7}}"))
        await m.validate(s.token)
        await m.refresh(s.token)
        return i
    """
)

# (store, loop, what happens to the loop, how many tasks)
SHAPES = {
    "memory-loop-never-closed": ("memory", "default", "open", 50),
    "memory-loop-closed-with-pending-tasks": ("memory", "default", "close", 50),
    "sqlite-loop-never-closed": ("sqlite", "default", "open", 50),
    "sqlite-loop-closed-with-pending-tasks": ("sqlite", "default", "close", 50),
    "sqlite-many-calls": ("sqlite", "default", "open", 500),
    "python-store": ("python-store", "default", "open", 50),
    "direct-wakeups": ("memory", "no-readers", "open", 200),
    "python-store-direct-wakeups": ("python-store", "no-readers", "open", 50),
}


def run_script(body: str, tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", PRELUDE + textwrap.dedent(body)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
    )


def noise(stderr: str) -> list[str]:
    """stderr without asyncio's own report of tasks the script left pending (the
    script's fault, printed for any pending task, not the library's)."""
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and not line.startswith(("Task was destroyed but it is pending!", "task: <Task pending"))
    ]


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_interpreter_exits_cleanly_with_calls_in_flight(shape, tmp_path):
    kind, loop_kind, ending, tasks = SHAPES[shape]
    body = f"""
        m = manager({kind!r}, {str(tmp_path)!r})
        loop = NoReaders() if {loop_kind!r} == "no-readers" else asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        pending = [loop.create_task(work(m, i)) for i in range({tasks})]
        loop.run_until_complete(pending[0])
        if {ending!r} == "close":
            loop.close()
        print("exiting", flush=True)
        """
    for attempt in range(RUNS):
        done = run_script(body, tmp_path)
        assert done.returncode == 0, f"run {attempt}: exit status {done.returncode}\n{done.stderr[-3000:]}"
        assert done.stdout == "exiting\n"
        assert noise(done.stderr) == [], f"run {attempt}:\n{done.stderr[-3000:]}"


def test_exit_inside_a_running_loop_with_calls_in_flight(tmp_path):
    body = f"""
        m = manager("sqlite", {str(tmp_path)!r})

        async def main():
            for i in range(100):
                asyncio.get_running_loop().create_task(work(m, i))
            await asyncio.sleep(0.01)
            print("exiting", flush=True)
            sys.exit(0)  # SystemExit out of asyncio.run: it cancels the tasks first

        asyncio.run(main())
        """
    for attempt in range(RUNS):
        done = run_script(body, tmp_path)
        assert done.returncode == 0, f"run {attempt}: exit status {done.returncode}\n{done.stderr[-3000:]}"
        assert noise(done.stderr) == [], done.stderr[-3000:]


def test_a_loop_closed_with_calls_in_flight_drops_their_results_quietly(tmp_path):
    """Before the fix: one 'Exception ignored on calling ctypes callback function ...
    RuntimeError: Event loop is closed' traceback per call in flight, printed when the
    calls finished (here: when another loop ran the wake-ups)."""
    body = f"""
        m = manager("sqlite", {str(tmp_path)!r})
        loop = asyncio.new_event_loop()

        async def create(i):
            return await m.create(sessions.CreateSessionOptions(user_id=f"u{{i}}"))

        tasks = [loop.create_task(create(i)) for i in range(20)]
        loop.run_until_complete(asyncio.sleep(0))  # every call is in flight
        loop.close()
        time.sleep(0.3)
        # Another loop runs the wake-ups (and the results of the closed loop's calls).
        count = asyncio.run(m.count())
        # Each call happened in full or not at all: every stored session is whole.
        stored = asyncio.run(m.list_for_user("u0")) if count else []
        assert all(s.user_id == "u0" and s.token == "" for s in stored)
        del tasks, loop
        import gc; gc.collect()
        print("count", count, flush=True)
        """
    done = run_script(body, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("count ")
    assert 0 <= int(done.stdout.split()[1]) <= 20
    assert noise(done.stderr) == [], done.stderr[-3000:]


def test_after_the_exit_shutdown_new_calls_fail_without_running(tmp_path):
    """What `atexit` does (sessions._async._shut_down): the pool stops for good, a call
    made afterwards (say by an atexit handler that runs later) fails with
    SessionError.Store instead of hanging, and nothing is stored."""
    body = """
        from sessions import _async
        sync = sessions.SessionManager(sessions.SessionConfig())
        m = sync.as_async()
        asyncio.run(m.count())
        _async._shut_down()
        try:
            asyncio.run(asyncio.wait_for(m.create(sessions.CreateSessionOptions(user_id="late")), 10))
        except sessions.SessionError.Store as e:
            print("refused:", e, flush=True)
        print("stored", sync.count(), flush=True)
        """
    done = run_script(body, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "refused:" in done.stdout and "shut down" in done.stdout, done.stdout
    assert done.stdout.endswith("stored 0\n"), done.stdout
    assert noise(done.stderr) == [], done.stderr[-3000:]


def test_a_user_atexit_handler_registered_after_import_can_still_await():
    """atexit handlers run last-registered first: one registered after importing
    sessions runs before the package's shutdown, so its calls work."""
    body = """
        import atexit
        m = manager("memory", None)

        @atexit.register
        def last_words():
            s = asyncio.run(m.create(sessions.CreateSessionOptions(user_id="bye")))
            print("created at exit", s.user_id, flush=True)
        """
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(body)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == "created at exit bye\n"
    assert noise(done.stderr) == [], done.stderr


# -- a manager can be collected ---------------------------------------------------------------


def test_an_async_manager_that_was_awaited_can_be_collected():
    """Before the fix, the first manager was kept forever as the loop's wake-up runner."""
    first = sessions.AsyncSessionManager(sessions.SessionConfig())
    asyncio.run(first.count())
    second = sessions.AsyncSessionManager(sessions.SessionConfig())
    asyncio.run(second.count())
    refs = [weakref.ref(first), weakref.ref(second)]
    del first, second
    gc.collect()
    assert [r() for r in refs] == [None, None]
    # Wake-ups still reach a new manager's calls on a new loop.
    third = sessions.AsyncSessionManager(sessions.SessionConfig())
    assert asyncio.run(asyncio.wait_for(third.count(), 30)) == 0


# -- no store work: plain methods ---------------------------------------------------------------


def test_methods_without_store_work_are_plain_and_take_effect_without_an_await():
    """Before the fix add_listener was a coroutine: `m.add_listener(l)` without `await`
    registered nothing, silently."""
    for name in ("add_listener", "prefix", "to_public_session"):
        assert not inspect.iscoroutinefunction(getattr(sessions.AsyncSessionManager, name)), name

    events = []

    class Recorder(sessions.SessionListener):
        def on_event(self, event):
            events.append(event)

    m = sessions.AsyncSessionManager(sessions.SessionConfig(prefix="app:"))
    assert m.add_listener(Recorder()) is None  # registered now, nothing to await
    assert m.prefix() == "app:"

    async def main():
        s = await m.create(options("ivy"))
        return s, m.to_public_session(s)

    s, public = asyncio.run(main())
    assert public.id == s.id and not hasattr(public, "token")
    assert [type(e).__name__.rsplit(".", 1)[-1] for e in events] == ["CREATED"]
    with pytest.raises(TypeError, match="listener"):
        m.add_listener(object())  # checked like the synchronous manager's


# -- machinery is not API ---------------------------------------------------------------------


MACHINERY = ("set_loop_wakeups", "run_loop_wakeups", "shutdown_async_pool")


def test_the_loop_integration_is_not_part_of_the_public_surface():
    for name in MACHINERY:
        assert name not in dir(sessions), name
        assert name not in getattr(sessions, "__all__", ()), name
        assert not hasattr(sessions.AsyncSessionManager, name), name
    text = pydoc.render_doc(sessions) + pydoc.render_doc(sessions.AsyncSessionManager)
    for name in MACHINERY:
        assert name not in text, name
    stub = (Path(sessions.__file__).parent / "__init__.pyi").read_text()
    for name in MACHINERY:
        assert name not in stub, name
