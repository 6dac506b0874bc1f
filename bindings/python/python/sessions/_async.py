"""``AsyncSessionManager``: the session manager for asyncio (internal; the public name
is re-exported by ``sessions``).

The class UniFFI generates already has coroutine methods: each call hands the Rust
future to the running event loop, and the library runs the blocking store work on its
own pool of at most 8 threads, so the loop never waits for SQLite or a store written in
Python. This module adds what the synchronous ``SessionManager`` has on top of the
generated class: arguments checked before Rust sees them (the same ``TypeError`` /
``ValueError`` messages, raised when the call is awaited), signatures naming the
package's classes, and ``SessionManager.as_async()`` returning this class.

Cancelling an await (``task.cancel()``, ``asyncio.timeout``) never leaves half a change:
the operation either ran in full or never started. A store or clock written in Python
is called on the library's threads (UniFFI takes the GIL for each call); an exception
it raises reaches the awaiting caller as ``SessionError.Store`` / ``SessionError.Clock``
as with the synchronous manager, but a ``KeyboardInterrupt`` or other
``BaseException`` raised inside one, which happens on a library thread and not in the
awaiting task, is only reported as that error.
"""

from __future__ import annotations

import inspect
import typing

from ._native import sessions as _generated

Checked = typing.Callable[..., typing.Callable[..., typing.Any]]


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
            setattr(AsyncSessionManager, name, classmethod(checked(obj.__func__, label)))
        elif inspect.isfunction(obj):
            setattr(AsyncSessionManager, name, checked(obj, label))
    return AsyncSessionManager


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
