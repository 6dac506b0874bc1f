"""``AsyncSessionManager``: the session manager for asyncio (internal; the public name
is re-exported by ``sessions``).

The class UniFFI generates already has coroutine methods: each call hands the Rust
future to the running event loop, and the library runs the blocking store work on its
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
import functools
import inspect
import typing
import weakref

from ._native import sessions as _generated

Checked = typing.Callable[..., typing.Callable[..., typing.Any]]

# Event-loop wake-ups: a finished call does not wake its task from the library's thread
# (which would make that thread and the busy loop take turns on the GIL, a stall of
# several milliseconds per call on a loaded machine); the library writes to a socket the
# loop watches, and the loop wakes the tasks itself (src/asynchronous/wakeups.rs).
_Generated = _generated.AsyncSessionManager
_fd: int | None = None
_drainer: typing.Any = None  # any manager with loop wake-ups: its method runs them all
_watched: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def _run_loop_wakeups() -> None:
    _Generated.run_loop_wakeups(_drainer)


def _enable(manager: typing.Any) -> typing.Any:
    """Turns loop wake-ups on for a new manager (where the platform has them)."""
    global _fd, _drainer
    try:
        _fd = _Generated.set_loop_wakeups(manager, True)
    except _generated.SessionError:  # not Unix: wake-ups stay direct
        return manager
    if _drainer is None:
        _drainer = manager
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
        loop.add_reader(_fd, _run_loop_wakeups)
    except (NotImplementedError, RuntimeError):  # e.g. a proactor loop
        _Generated.set_loop_wakeups(manager, False)
        return
    _watched.add(loop)


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
        if (name.startswith("_") and name != "__init__") or name in _MACHINERY:
            continue
        label = "AsyncSessionManager()" if name == "__init__" else f"AsyncSessionManager.{name}()"
        if isinstance(obj, classmethod):
            setattr(AsyncSessionManager, name, classmethod(_constructor(checked(obj.__func__, label))))
        elif name == "__init__":
            setattr(AsyncSessionManager, name, _initializer(checked(obj, label)))
        elif inspect.iscoroutinefunction(obj):
            setattr(AsyncSessionManager, name, _watching(checked(obj, label)))
    return AsyncSessionManager


# The loop integration's own methods (used above), not part of the package's API: they
# are left out of the public class, its signatures and its stub.
_MACHINERY = ("set_loop_wakeups", "run_loop_wakeups")


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
