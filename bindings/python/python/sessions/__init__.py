"""Bearer-token sessions for Python, backed by the ``sessions`` Rust core.

Create, validate, rotate, revoke and purge sessions::

    from datetime import timedelta
    import sessions

    manager = sessions.SessionManager(sessions.SessionConfig())
    session = manager.create(sessions.CreateSessionOptions(user_id="alice"))
    result = manager.validate(session.token)          # ValidationResult(valid=True, ...)
    session = manager.refresh(session.token)          # new token; the old one is refused
    manager.destroy_all_for_user("alice")             # sign out everywhere

Everything documented here comes from the Rust library through UniFFI: the classes,
functions and their docstrings are generated at build time (in ``sessions._native``)
and re-exported unchanged. This package adds only a thin layer:

* ``Clock`` and ``SessionStore`` are the base classes to subclass for a clock or a store
  written in Python. They check what your code hands back to Rust: a naive ``datetime``
  (no ``tzinfo``), a non-``datetime`` from ``Clock.now()`` or a negative ``timedelta``
  becomes a ``ClockError.Failed`` / ``SessionError.Store`` whose ``reason`` says what is
  wrong, and any other exception raised inside your clock or store is reported the same
  way, naming the class and method. The caller of the library gets
  ``SessionError.Clock`` / ``SessionError.Store``.
* Records print without secrets: ``repr()`` and ``str()`` of a ``Session`` show every
  field but the raw token (``"<redacted>"``) and only the start of its hash.
* Functions and methods that take records (``Session``, ``CreateSessionOptions``,
  ``SessionConfig``, ...) check them first, and raise ``ValueError`` naming the field for
  a naive ``datetime`` or a negative ``timedelta`` (instead of UniFFI's
  ``TypeError: can't compare offset-naive and offset-aware datetimes``).

Timestamps returned by the library are timezone-aware UTC ``datetime`` values; durations
are ``timedelta`` values (microsecond precision). Every failure is a subclass of
``SessionError`` (``SessionError.InvalidToken``, ``SessionError.Store``, ...).
"""

from __future__ import annotations

import dataclasses as _dataclasses
import datetime as _dt
import functools as _functools
import inspect as _inspect
from importlib import metadata as _metadata

from ._native import sessions as _generated
from ._native.sessions import *  # noqa: F401,F403  (the generated public names)

try:
    __version__ = _metadata.version("sessions")
except _metadata.PackageNotFoundError:  # pragma: no cover - not installed as a wheel
    __version__ = "0+unknown"

SessionError = _generated.SessionError
ClockError = _generated.ClockError

# --------------------------------------------------------------------------------------
# Checks on values handed to Rust
# --------------------------------------------------------------------------------------

_RECORD_TYPES = tuple(
    obj
    for obj in (getattr(_generated, name) for name in _generated.__all__)
    if isinstance(obj, type) and _dataclasses.is_dataclass(obj)
)


def _problem(value, where):
    """What is wrong with ``value`` (named ``where``) for Rust, or ``None``."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return (
                f"{where} is a naive datetime ({value.isoformat()}, no tzinfo); "
                "sessions needs timezone-aware datetimes, e.g. "
                "datetime.now(timezone.utc) or value.replace(tzinfo=timezone.utc)"
            )
        return None
    if isinstance(value, _dt.timedelta):
        if value < _dt.timedelta(0):
            return (
                f"{where} is a negative timedelta ({value.total_seconds():g} seconds); "
                "durations must not be negative"
            )
        return None
    if isinstance(value, _RECORD_TYPES):
        name = type(value).__name__
        for field, item in vars(value).items():
            found = _problem(item, f"{name}.{field}")
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _problem(item, f"{where}[{i}]")
            if found:
                return found
    return None


# The generated records print as `Session()` (repr) and print the raw bearer token
# (str). Give them one readable repr instead that, like the Rust `Debug`, never shows a
# token: `token` as "<redacted>" and `token_hash` by its first 8 digits.
def _record_repr(self):
    parts = []
    for field, value in vars(self).items():
        if field == "token" and value:
            value = "<redacted>"
        elif field == "token_hash" and isinstance(value, str):
            value = value[:8] + "…"
        parts.append(f"{field}={value!r}")
    return f"{type(self).__name__}({', '.join(parts)})"


for _record in _RECORD_TYPES:
    _record.__repr__ = _record_repr
    _record.__str__ = _record_repr


def _takes_checked_values(fn):
    """Whether ``fn`` has a parameter that may carry a datetime or a timedelta."""
    try:
        params = _inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover
        return False
    names = ("Timestamp", "Duration", "datetime", "timedelta") + tuple(
        t.__name__ for t in _RECORD_TYPES
    )
    return any(
        any(n in str(p.annotation) for n in names)
        for p in params
        if p.annotation is not _inspect.Parameter.empty
    )


def _check_arguments(fn, skip_first=False):
    """``fn`` raising ValueError for a naive datetime or negative timedelta argument."""

    @_functools.wraps(fn)
    def checked(*args, **kwargs):
        for i, arg in enumerate(args[1:] if skip_first else args):
            found = _problem(arg, f"argument {i + 1} of {fn.__name__}()")
            if found:
                raise ValueError(found)
        for key, arg in kwargs.items():
            found = _problem(arg, f"argument {key!r} of {fn.__name__}()")
            if found:
                raise ValueError(found)
        return fn(*args, **kwargs)

    return checked


for _name in _generated.__all__:
    _obj = getattr(_generated, _name)
    if _inspect.isfunction(_obj) and _takes_checked_values(_obj):
        globals()[_name] = _check_arguments(_obj)


class SessionManager(_generated.SessionManager):
    __doc__ = _generated.SessionManager.__doc__


def _wrap_manager_methods():
    base = _generated.SessionManager
    for name, attr in vars(base).items():
        if name.startswith("_") and name != "__init__":
            continue
        if isinstance(attr, classmethod):
            if _takes_checked_values(attr.__func__):
                setattr(SessionManager, name, classmethod(_check_arguments(attr.__func__, True)))
        elif _inspect.isfunction(attr) and _takes_checked_values(attr):
            setattr(SessionManager, name, _check_arguments(attr, skip_first=True))


_wrap_manager_methods()
SessionManager.__module__ = __name__


# --------------------------------------------------------------------------------------
# Base classes for a clock or a store written in Python
# --------------------------------------------------------------------------------------


def _guard_callback(method, fn, declared, error, check_result):
    """Wraps a callback method so that Rust only ever sees a value it can read, or an
    error of the method's ``declared`` type that says what went wrong."""

    @_functools.wraps(fn)
    def guarded(self, *args, **kwargs):
        label = f"{type(self).__name__}.{method}()"
        try:
            value = fn(self, *args, **kwargs)
        except declared:
            raise
        except Exception as e:  # any other host failure becomes a declared error
            raise error(reason=f"{label} raised {type(e).__name__}: {e}") from e
        found = check_result(value, f"the value returned by {label}")
        if found:
            if label not in found:
                found = f"{label} returned an unusable value: {found}"
            raise error(reason=found)
        return value

    guarded._sessions_guarded = True
    return guarded


def _check_clock_result(value, where):
    if not isinstance(value, _dt.datetime):
        return f"{where} is a {type(value).__name__}, not a datetime"
    return _problem(value, where)


class Clock(_generated.Clock):
    __doc__ = (_generated.Clock.__doc__ or "") + """
    Subclass this and implement ``now()`` returning a timezone-aware ``datetime``; raise
    ``ClockError.Failed(reason=...)`` when it cannot tell the time. That, a naive or
    non-``datetime`` value, or any other exception reaches the caller of the library as
    ``SessionError.Clock`` with a clear reason.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        fn = cls.__dict__.get("now")
        if fn is not None and not getattr(fn, "_sessions_guarded", False):
            cls.now = _guard_callback("now", fn, ClockError, ClockError.Failed, _check_clock_result)


Clock.__module__ = __name__

def _check_store_result(value, where):
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return f"{where} is negative ({value}); counts must not be negative"
    return _problem(value, where)


_STORE_METHODS = tuple(
    name
    for name, attr in vars(_generated.SessionStore).items()
    if not name.startswith("_") and callable(attr)
)


class SessionStore(_generated.SessionStore):
    __doc__ = (_generated.SessionStore.__doc__ or "") + """
    Subclass this to keep sessions in Python (a dict, a database, ...); pass an instance
    to ``SessionManager.with_store``. Sessions handed back must carry timezone-aware
    datetimes; anything else, or an exception other than ``SessionError``, reaches the
    caller of the library as ``SessionError.Store`` naming the class and method.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in _STORE_METHODS:
            fn = cls.__dict__.get(name)
            if _inspect.isfunction(fn) and not getattr(fn, "_sessions_guarded", False):
                setattr(
                    cls,
                    name,
                    _guard_callback(name, fn, SessionError, SessionError.Store, _check_store_result),
                )


SessionStore.__module__ = __name__


def _not_implemented(name):
    def method(self, *args, **kwargs):
        raise SessionError.Store(reason=f"{type(self).__name__} does not implement {name}()")

    method.__name__ = name
    method.__doc__ = getattr(_generated.SessionStore, name).__doc__
    method._sessions_guarded = True
    return method


for _name in _STORE_METHODS:
    setattr(SessionStore, _name, _not_implemented(_name))

__all__ = list(_generated.__all__)
