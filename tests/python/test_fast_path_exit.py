"""The interpreter exiting while daemon threads are inside the compiled fast path's
``validate``. During shutdown CPython 3.11-3.13 ends such a thread when it takes the GIL
back (``pthread_exit``), whose forced unwind walks the thread's stack. The extension
takes the GIL back from C frames without unwind information
(``bindings/python/native/c/no_unwind_info.c``), where that walk ends; before, it
reached the extension's frames, whose personality routine (the zig-linked wheels carry
an unwinder of their own) crashed the process: SIGSEGV (exit code -11) in every run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from sessions import _fast

RUNS = 3  # every run crashed before the fix (3.11, 3.12 and 3.13)

CHILD = textwrap.dedent(
    """
    import threading, time
    import sessions
    from sessions import _fast

    assert _fast._extension is not None, "the compiled fast path did not load"
    manager = sessions.SessionManager(sessions.SessionConfig())
    token = manager.create(sessions.CreateSessionOptions(user_id="alice")).token
    entered = _fast._extension.entered()

    def loop():
        while True:
            manager.validate(token)

    for _ in range(2):
        threading.Thread(target=loop, daemon=True).start()
    time.sleep(0.2)
    assert _fast._extension.entered() > entered, "validate did not take the extension"
    print("main thread done", flush=True)
    """
)


@pytest.mark.skipif(_fast._extension is None, reason="the compiled fast path is not installed")
@pytest.mark.parametrize("run", range(RUNS))
def test_exit_with_daemon_threads_inside_validate_is_clean(run: int) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k != "SESSIONS_FAST_PATH"},
    )
    assert child.returncode == 0, (child.returncode, child.stderr[-2000:])
    assert child.stdout.strip() == "main thread done"
