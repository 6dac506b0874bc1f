"""Clocks and stores written in Python (internal; the public names are re-exported by
``sessions``).

Rust calls a host clock or store through UniFFI's callback code, which turns an
``Exception`` into an error but lets a ``BaseException`` (``KeyboardInterrupt``,
``SystemExit``, ``asyncio.CancelledError``) escape into ctypes, which prints it and
reports *success* to Rust with no value: a ``create`` whose ``insert`` was cancelled
returned a token for a session that was never stored. The guard here stands between
Rust and every host method:

* an ``Exception`` of the method's declared error type passes (after its fields are
  checked), any other ``Exception`` becomes that type's catch-all variant with a reason
  naming the class and method;
* a ``BaseException`` is kept for this thread and Rust gets the same declared error,
  so the library call fails; once it has unwound, ``sessions`` raises the original
  exception itself to the caller (``relay_interrupts``);
* what the method returns is checked against its type hint (every field of a returned
  ``Session``, counts, datetimes with a time zone, text that is valid Unicode) before
  Rust sees it.
"""

from __future__ import annotations

import functools
import inspect
import threading
import typing

from . import _checks
from ._native import sessions as _generated

_pending = threading.local()


def take_interrupt() -> BaseException | None:
    """The ``BaseException`` a host callback raised on this thread since the last call,
    if any (and forget it)."""
    exc = getattr(_pending, "exc", None)
    if exc is not None:
        _pending.exc = None
    return exc


def _keep_interrupt(exc: BaseException) -> None:
    if getattr(_pending, "exc", None) is None:  # the first one is the cause
        _pending.exc = exc


def relay_interrupts(fn: typing.Callable[..., typing.Any]) -> typing.Callable[..., typing.Any]:
    """``fn`` (a library call that may run host callbacks) raising, after it returns or
    fails, the ``BaseException`` a callback raised during it."""

    @functools.wraps(fn)
    def relayed(*args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        take_interrupt()  # a stale one, from a call made around this layer
        try:
            result = fn(*args, **kwargs)
        except BaseException:
            interrupt = take_interrupt()
            if interrupt is None:
                raise
        else:
            interrupt = take_interrupt()
            if interrupt is None:
                return result
        raise interrupt

    return relayed


def _record_converter(record: object) -> typing.Any:
    return getattr(_generated, f"_UniffiFfiConverterType{type(record).__name__}", None)


def _records_in(value: object) -> typing.Iterator[object]:
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _records_in(item)
    elif value is not None and _record_converter(value) is not None:
        yield value


def _error_fields_problem(error: BaseException, converter: typing.Any) -> str | None:
    for field, value in vars(error).items():
        if isinstance(value, str):
            problem = _checks.surrogate_problem(value)
            if problem:
                return f"its field {field!r} {problem}"
    try:
        converter.check_lower(error)
    except Exception as e:  # noqa: BLE001 - the generated check's own words
        return f"a field has the wrong type or range ({type(e).__name__}: {e})"
    return None


class _Method:
    """What the guard needs to know about one method of a callback interface."""

    def __init__(self, base: type, name: str, declared: type[Exception], catch_all: typing.Any):
        fn = getattr(base, name)
        hints = typing.get_type_hints(fn, vars(_generated))
        ret = hints.get("return", type(None))
        self.name = name
        self.doc = fn.__doc__
        self.declared = declared
        self.catch_all = catch_all
        self.declared_converter = getattr(_generated, f"_UniffiFfiConverterType{declared.__name__}")
        # What a method declared to return nothing returns is ignored, as Rust does.
        self.void = ret is type(None)
        self.check_result = _checks.checker(ret) if not self.void else _ignore
        self.is_count = ret is int
        raw = inspect.signature(fn)
        self.signature = raw.replace(
            parameters=[
                p.replace(annotation=_checks.annotation(hints[p.name])) if p.name in hints else p
                for p in raw.parameters.values()
            ],
            return_annotation=_checks.annotation(ret),
        )


def _ignore(value: object) -> None:
    pass


def _guard(method: _Method, fn: typing.Callable[..., typing.Any]) -> typing.Callable[..., typing.Any]:
    name, declared, catch_all = method.name, method.declared, method.catch_all

    @functools.wraps(fn)
    def guarded(self: typing.Any, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        try:
            value = fn(self, *args, **kwargs)
        except declared as e:
            problem = _error_fields_problem(e, method.declared_converter)
            if problem:
                raise catch_all(reason=f"{_label(self, name)} raised {type(e).__qualname__}, but {problem}") from e
            raise
        except Exception as e:  # any other host failure becomes a declared error
            raise catch_all(reason=f"{_label(self, name)} raised {type(e).__name__}: {e}") from e
        except BaseException as e:  # KeyboardInterrupt, SystemExit, CancelledError, ...
            _keep_interrupt(e)
            raise catch_all(
                reason=f"{_label(self, name)} was interrupted by {type(e).__name__}; the caller gets it once the call has unwound"
            ) from None
        if method.void:
            return None
        try:
            method.check_result(value)
        except _checks.Bad as bad:
            raise catch_all(reason=bad.message(f"the value returned by {_label(self, name)}")) from None
        if method.is_count and not 0 <= value < 2**64:
            raise catch_all(
                reason=f"the value returned by {_label(self, name)} is {'negative' if value < 0 else 'too large'} "
                f"({value}); counts are 0 to 2**64 - 1"
            )
        for record in _records_in(value):
            try:
                _record_converter(record).check_lower(record)
            except Exception as e:  # noqa: BLE001 - e.g. an integer out of range
                found = _checks.out_of_range(e, {"": (record, type(record))}) if isinstance(e, ValueError) else None
                what = f"{found[1]} {found[2]}" if found else f" cannot be used: {type(e).__name__}: {e}"
                raise catch_all(reason=f"the value returned by {_label(self, name)}{what}") from None
        return value

    guarded._sessions_guarded = True  # type: ignore[attr-defined]
    return guarded


def _label(obj: object, method: str) -> str:
    return f"{getattr(obj, '_sessions_label', type(obj).__name__)}.{method}()"


def _not_implemented(method: _Method) -> typing.Callable[..., typing.Any]:
    def missing(self: typing.Any, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        raise method.catch_all(reason=f"{getattr(self, '_sessions_label', type(self).__name__)} does not implement {method.name}()")

    missing.__name__ = missing.__qualname__ = method.name
    missing.__doc__ = method.doc
    missing.__signature__ = method.signature  # type: ignore[attr-defined]
    return missing


def guarded_base(generated: type, declared: type[Exception], catch_all: typing.Any, doc: str) -> typing.Any:
    """The public base class for host implementations of the callback interface
    ``generated``: every method a subclass defines is guarded; a missing one raises
    ``catch_all`` naming it."""
    methods = {
        name: _Method(generated, name, declared, catch_all)
        for name, attr in vars(generated).items()
        if not name.startswith("_") and callable(attr)
    }

    def __init_subclass__(cls: type, **kwargs: typing.Any) -> None:
        super(base, cls).__init_subclass__(**kwargs)
        for name, method in methods.items():
            fn = cls.__dict__.get(name)
            if fn is not None and callable(fn) and not getattr(fn, "_sessions_guarded", False):
                setattr(cls, name, _guard(method, fn))

    namespace: dict[str, typing.Any] = {
        "__doc__": (generated.__doc__ or "") + doc,
        "__module__": "sessions",
        "__qualname__": generated.__name__,
        "__init_subclass__": classmethod(__init_subclass__),
        "_sessions_methods": methods,
    }
    for name, method in methods.items():
        fn = _not_implemented(method)
        fn._sessions_guarded = True  # type: ignore[attr-defined]
        namespace[name] = fn
    base: typing.Any = type(generated.__name__, (generated,), namespace)
    return base


def adapt(value: object, base: type, rust_impl: type) -> object:
    """``value`` if it is guarded already (a subclass of the public ``base``) or lives in
    Rust; otherwise a guarded stand-in calling it (for an object that implements the
    generated interface directly)."""
    if isinstance(value, (base, rust_impl)):
        return value
    label = type(value).__name__
    namespace: dict[str, typing.Any] = {"_sessions_label": label, "__module__": "sessions"}
    for name in base._sessions_methods:  # type: ignore[attr-defined]
        namespace[name] = _forward(name)
    stand_in = type(f"Guarded{label}", (base,), namespace)()
    stand_in._sessions_inner = value  # type: ignore[attr-defined]
    return stand_in


def _forward(name: str) -> typing.Callable[..., typing.Any]:
    def forward(self: typing.Any, *args: typing.Any) -> typing.Any:
        return getattr(self._sessions_inner, name)(*args)

    forward.__name__ = name
    return forward
