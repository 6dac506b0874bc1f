"""``AsyncSessionManager``: the session manager for asyncio (internal; the public name
is re-exported by ``sessions``).

The class UniFFI generates already has coroutine methods (and plain methods for what
does no store work: ``add_listener``, ``prefix``, ``to_public_session``): each call hands
the Rust future to the running event loop, and the library runs the blocking store work on its
own pool of at most 8 threads, so the loop never waits for SQLite or a store written in
Python. This module adds what the synchronous ``SessionManager`` has on top of the
generated class: arguments checked before Rust sees them (the same ``TypeError`` /
``ValueError`` messages, raised when the call is awaited), signatures naming the
package's classes, and ``SessionManager.as_async()`` returning this class.

Finished calls wake their task from the loop's own thread (the library signals a socket
the loop watches), so the library's threads never wait for the GIL to hand a result
over. Cancelling an await (``task.cancel()``, ``asyncio.timeout``) never leaves half a change:
the operation either ran in full or never started. A store or clock written in Python
is called on the library's threads (UniFFI takes the GIL for each call); an exception
it raises reaches the awaiting caller as ``SessionError.Store`` / ``SessionError.Clock``
as with the synchronous manager, but a ``KeyboardInterrupt`` or other
``BaseException`` raised inside one, which happens on a library thread and not in the
awaiting task, is only reported as that error.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import functools
import inspect
import sys
import typing
import weakref

from ._native import sessions as _generated

Checked = typing.Callable[..., typing.Callable[..., typing.Any]]

# Event-loop wake-ups: a finished call does not wake its task from the library's thread
# (which would make that thread and the busy loop take turns on the GIL, a stall of
# several milliseconds per call on a loaded machine); the library writes to a socket the
# loop watches, and the loop wakes the tasks itself (src/asynchronous/wakeups.rs). The
# loop's reader is the free function ``run_loop_wakeups``: it keeps no manager alive.
_Generated = _generated.AsyncSessionManager
# The loop integration's own method: taken off the generated class and its protocol, so
# that it is not part of the package's API (``help()``, ``dir()``, the stub) through
# inheritance.
_set_loop_wakeups = _Generated.set_loop_wakeups
for _cls in _Generated.__mro__:
    if "set_loop_wakeups" in vars(_cls):
        delattr(_cls, "set_loop_wakeups")
_fd: int | None = None
_watched: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def _enable(manager: typing.Any) -> typing.Any:
    """Turns loop wake-ups on for a new manager (where the platform has them)."""
    global _fd
    try:
        _fd = _set_loop_wakeups(manager, True)
    except _generated.SessionError:  # not Unix: wake-ups stay direct
        return manager
    return manager


def _watch(manager: typing.Any) -> None:
    """Makes the running loop watch the wake-up socket (once per loop); a loop that
    cannot watch sockets gets direct wake-ups for this manager instead."""
    if _fd is None:
        return
    loop = asyncio.get_running_loop()
    if loop in _watched:
        return
    try:
        loop.add_reader(_fd, _generated.run_loop_wakeups)
    except (NotImplementedError, RuntimeError):  # e.g. a proactor loop
        _set_loop_wakeups(manager, False)
        return
    _watched.add(loop)


# --------------------------------------------------------------------------------------
# Finished calls whose loop is gone, and interpreter exit
# --------------------------------------------------------------------------------------
#
# UniFFI's generated ``_uniffi_continuation_callback`` is what the library calls when a
# Rust future can make progress, and also when a pending one is freed (the coroutine was
# closed or garbage-collected): it hands the result to the awaiting future with
# ``loop.call_soon_threadsafe``. Two faults come from it:
#
# * on a closed loop that raises ``RuntimeError``, which ctypes prints as one traceback
#   per call that was in flight when the loop was closed;
# * at interpreter exit, the garbage collector closes the coroutines still pending after
#   the module dictionaries were cleared, and freeing their Rust futures called the
#   callback's ctypes thunk, already freed with its module: a segfault.
#
# The package installs its own callback in place of the generated one (the generated
# code calls it by its module-level name): the same hand-over, except that the result
# of a call whose loop is closed is dropped quietly (nothing can await it any more), as
# is anything the loop's machinery raises while the interpreter is being finalized. Its
# thunk is never freed (one reference is leaked on purpose) and it needs no module
# global, so it can run at any point of the interpreter's exit. At exit, before the
# garbage collection of the modules, ``_shut_down`` stops the library's worker pool: no
# queued call starts any more and no worker calls into Python again (a worker taking
# the GIL of a finalizing interpreter aborts the process), after waiting a bounded time
# for the calls that are running (a running call is never cut in half).


def _quiet_continuation() -> typing.Any:
    """The package's continuation callback (a ctypes thunk), or ``None`` if the
    generated module does not have the callback this was written for."""
    kind = getattr(_generated, "_UNIFFI_RUST_FUTURE_CONTINUATION_CALLBACK", None)
    handles = getattr(_generated, "_UniffiContinuationHandleMap", None)
    set_result = getattr(_generated, "_uniffi_set_future_result", None)
    if kind is None or handles is None or set_result is None:
        return None
    if not isinstance(getattr(_generated, "_uniffi_continuation_callback", None), kind):
        return None
    is_finalizing = sys.is_finalizing
    ignored = Exception

    def continuation(future_ptr: int, poll_code: int) -> None:
        loop = None
        try:
            loop, future = handles.remove(future_ptr)
            if not loop.is_closed():
                loop.call_soon_threadsafe(set_result, future, poll_code)
        except ignored:
            # Closed meanwhile (from another thread), or the interpreter is tearing the
            # loop down: the call's result is dropped.
            if not (is_finalizing() or (loop is not None and loop.is_closed())):
                raise

    thunk = kind(continuation)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(thunk))  # never freed, see above
    return thunk


_CONTINUATION = _quiet_continuation()
if _CONTINUATION is not None:
    _generated._uniffi_continuation_callback = _CONTINUATION

#: How long interpreter exit waits for the library's running calls (milliseconds).
EXIT_DRAIN_MS = 5_000


def _shut_down() -> None:
    """``atexit``: stops the library's worker pool before the interpreter is finalized
    (see above). A call still running after ``EXIT_DRAIN_MS`` is left to finish."""
    if not _generated.shutdown_async_pool(EXIT_DRAIN_MS):
        sys.stderr.write(
            f"sessions: a store call was still running {EXIT_DRAIN_MS} ms into interpreter exit\n"
        )


atexit.register(_shut_down)


def public_class(checked: Checked, public_types: dict[type, type]) -> type:
    """The package's ``AsyncSessionManager``: the generated class with every constructor
    and coroutine method checking its arguments (``checked(fn, qualname)`` is the
    package's argument checker). It is added to ``public_types`` (generated class ->
    the package's) first, so that signatures name it."""

    class AsyncSessionManager(_generated.AsyncSessionManager):  # type: ignore[misc]
        __doc__ = _generated.AsyncSessionManager.__doc__

    AsyncSessionManager.__module__ = "sessions"
    AsyncSessionManager.__qualname__ = "AsyncSessionManager"
    public_types[_generated.AsyncSessionManager] = AsyncSessionManager
    for name, obj in vars(_generated.AsyncSessionManager).items():
        if name.startswith("_") and name != "__init__":
            continue
        label = "AsyncSessionManager()" if name == "__init__" else f"AsyncSessionManager.{name}()"
        if isinstance(obj, classmethod):
            setattr(AsyncSessionManager, name, classmethod(_constructor(checked(obj.__func__, label))))
        elif name == "__init__":
            setattr(AsyncSessionManager, name, _initializer(checked(obj, label)))
        elif inspect.iscoroutinefunction(obj):
            setattr(AsyncSessionManager, name, _watching(checked(obj, label)))
        elif inspect.isfunction(obj):  # no store work (add_listener, prefix, ...): plain
            setattr(AsyncSessionManager, name, checked(obj, label))
    return AsyncSessionManager



def _constructor(fn: typing.Callable[..., typing.Any]) -> typing.Callable[..., typing.Any]:
    @functools.wraps(fn)
    def construct(*args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        return _enable(fn(*args, **kwargs))

    construct.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
    return construct


def _initializer(fn: typing.Callable[..., typing.Any]) -> typing.Callable[..., typing.Any]:
    @functools.wraps(fn)
    def __init__(self: typing.Any, *args: typing.Any, **kwargs: typing.Any) -> None:
        fn(self, *args, **kwargs)
        _enable(self)

    __init__.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
    return __init__


def _watching(fn: typing.Callable[..., typing.Any]) -> typing.Callable[..., typing.Any]:
    @functools.wraps(fn)
    async def method(self: typing.Any, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        _watch(self)
        return await fn(self, *args, **kwargs)

    method.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
    return method


def add_as_async(sync_class: type, async_class: typing.Any) -> None:
    """``sync_class.as_async()`` returning the package's ``async_class`` (the generated
    method would return the generated class, without the argument checks)."""
    generated = _generated.SessionManager.as_async

    def as_async(self: typing.Any) -> typing.Any:
        return async_class.from_manager(self)

    as_async.__doc__ = generated.__doc__
    as_async.__qualname__ = f"{sync_class.__name__}.as_async"
    as_async.__module__ = "sessions"
    as_async.__signature__ = inspect.signature(generated).replace(  # type: ignore[attr-defined]
        return_annotation=async_class
    )
    sync_class.as_async = as_async  # type: ignore[attr-defined]
