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
functions and their docstrings are generated at build time (in ``sessions._native``).
This package re-exports them with a thin layer that makes them behave like Python:

* **Records** (``Session``, ``PublicSession``, ``CreateSessionOptions``,
  ``SessionConfig``, ``ValidationResult``, ...) are dataclasses with their fields:
  ``dataclasses.fields``, ``asdict``, ``replace`` and ``==`` work, and so do pydantic
  and FastAPI. ``repr()`` shows every field but the raw token (``'<redacted>'``) and
  shows only the first 8 digits of its hash; ``str()`` is the Rust library's own
  one-line form, with the same redaction.
* **Errors** are ``SessionError`` subclasses (``SessionError.InvalidToken``,
  ``SessionError.Store``, ...) whose ``str()`` is one sentence saying what happened;
  their fields (``reason``, ``session_id``, ...) are attributes.
* **Arguments are checked** before Rust sees them, from the type hints: a wrong type is
  a ``TypeError`` naming the parameter (and the field inside a record) and the expected
  type; a naive ``datetime``, a negative ``timedelta``, an integer out of range or text
  that is not valid Unicode (a lone surrogate such as ``"\\ud800"``) is a
  ``ValueError`` saying the same. A token that is not valid Unicode is simply not a
  valid token: ``validate`` returns an ``INVALID_TOKEN`` result and ``refresh`` raises
  ``SessionError.InvalidToken``.
* **Clocks and stores written in Python** subclass ``Clock`` / ``SessionStore``. What
  they return is checked (types of every field, time zones, counts); an exception they
  raise reaches the caller as ``SessionError.Clock`` / ``SessionError.Store`` naming the
  class and method; ``KeyboardInterrupt``, ``SystemExit`` or ``asyncio.CancelledError``
  raised inside one makes the library call fail, and then reaches the caller itself.

Timestamps returned by the library are timezone-aware UTC ``datetime`` values; durations
are ``timedelta`` values (microsecond precision).
"""

from __future__ import annotations

import dataclasses as _dataclasses
import enum as _enum
import functools as _functools
import inspect as _inspect
import os as _os
import types as _types
import typing as _typing
from importlib import metadata as _metadata

from . import _async, _checks, _fast, _host
from ._native import sessions as _generated

try:
    __version__ = _metadata.version("sessions")
except _metadata.PackageNotFoundError:  # pragma: no cover - not installed as a wheel
    __version__ = "0+unknown"

_G = vars(_generated)
_NAMESPACE = _generated.__name__.rsplit(".", 1)[-1]
_MACHINERY = {  # exported, not the API proper
    "InternalError",
    "take_fast_path_error",
    "run_loop_wakeups",
    "shutdown_async_pool",
}
_PUBLIC = [
    name
    for name in _generated.__all__
    if not name.endswith(("Impl", "Protocol")) and name not in _MACHINERY
]
InternalError = _generated.InternalError


def _rust_text(type_name: str, kind: str) -> _typing.Callable[[object], str] | None:
    """A function returning Rust's ``Display``/``Debug`` text of a value of the record or
    error ``type_name``, when the library exports one."""
    symbol = f"uniffi_{_NAMESPACE}_fn_method_{type_name.lower()}_uniffi_trait_{kind}"
    converter = _G.get(f"_UniffiFfiConverterType{type_name}")
    try:
        function = getattr(_generated._UniffiLib, symbol)
    except AttributeError:
        return None
    if converter is None or function.restype is not _generated._UniffiRustBuffer:
        return None  # not declared by the generated module: not an export it knows
    lift = _generated._UniffiFfiConverterString.lift
    call = _generated._uniffi_rust_call_with_error

    def text(value: object) -> str:
        return lift(call(None, function, converter.lower(value)))  # type: ignore[no-any-return]

    return text


# --------------------------------------------------------------------------------------
# Records: real dataclasses
# --------------------------------------------------------------------------------------

_RECORDS: list[type] = [
    obj
    for obj in (getattr(_generated, name) for name in _PUBLIC)
    if isinstance(obj, type) and _dataclasses.is_dataclass(obj)
]


def _clean(hint: _typing.Any) -> _typing.Any:
    """A generated parameter hint without UniFFI's ``object`` (``Union[object, X]`` marks
    a parameter with a default), written the modern way."""
    if _typing.get_origin(hint) is _typing.Union:
        args = [a for a in _typing.get_args(hint) if a is not object]
        hint = _typing.Union[tuple(args)] if len(args) > 1 else args[0]
    return _checks.annotation(hint)


def _record_repr(self: object) -> str:
    parts = []
    for field in _dataclasses.fields(self):  # type: ignore[arg-type]
        value = getattr(self, field.name, "<missing>")
        if field.name == "token" and value:
            text = "'<redacted>'"
        elif field.name in ("token_hash", "previous_token_hash") and isinstance(value, str) and value:
            text = repr(value[:8] + "…")
        elif field.name == "json" and isinstance(value, str):
            text = f"<{len(value)} characters of JSON>"
        else:
            text = repr(value)
        parts.append(f"{field.name}={text}")
    return f"{type(self).__name__}({', '.join(parts)})"


def _record_str(display: _typing.Callable[[object], str] | None) -> _typing.Callable[[object], str]:
    def __str__(self: object) -> str:
        """The Rust library's text (for a record, one line with the raw token shown as
        ``<redacted>``)."""
        if display is not None:
            try:
                return display(self)
            except Exception:  # noqa: BLE001 - a field Rust cannot take: say it the Python way
                pass
        return _record_repr(self)

    return __str__


def _make_dataclass(cls: type) -> None:
    generated_init = cls.__init__  # type: ignore[misc]
    hints = _typing.get_type_hints(generated_init, _G)
    params = [p for p in _inspect.signature(generated_init).parameters.values() if p.name != "self"]
    cls.__annotations__ = {p.name: _clean(hints[p.name]) for p in params}
    for p in params:
        if p.default is not p.empty:
            setattr(cls, p.name, p.default)
    for name in ("__eq__", "__repr__", "__str__"):
        if name in cls.__dict__:
            delattr(cls, name)
    _dataclasses.dataclass(cls, init=False, repr=False, eq=True, kw_only=True)
    cls.__repr__ = _record_repr  # type: ignore[assignment]
    cls.__str__ = _record_str(_rust_text(cls.__name__, "display"))  # type: ignore[assignment]
    cls.__module__ = __name__


def _check_record_init(cls: type) -> None:
    """Once every record is a dataclass (records refer to each other): ``__init__``
    checks its arguments. Records are built for every value the library returns, so the
    common case (exact types, what Rust hands out) is one generated expression; anything
    else goes through the full check, which raises or lets it pass."""
    generated_init = cls.__init__  # type: ignore[misc]
    full = _checked(generated_init, f"{cls.__name__}()", cls.__annotations__)
    fields = _dataclasses.fields(cls)  # type: ignore[arg-type]
    names: dict[str, object] = {"_full": full, "_init": generated_init}
    tests = " and ".join(_checks.fast_test(f.type, f.name, names) for f in fields) or "True"
    params = ", ".join(
        f.name if f.default is _dataclasses.MISSING else f"{f.name}={f.name}_default" for f in fields
    )
    for f in fields:
        if f.default is not _dataclasses.MISSING:
            names[f"{f.name}_default"] = f.default
    passed = ", ".join(f"{f.name}={f.name}" for f in fields)
    source = (
        f"def __init__(self, *, {params}):\n"
        f"    if {tests}:\n"
        f"        _init(self, {passed})\n"
        f"    else:\n"
        f"        _full(self, {passed})\n"
    )
    exec(source, names)  # noqa: S102 - like dataclasses: a specialised __init__ per record
    init = names["__init__"]
    _functools.update_wrapper(init, full)  # type: ignore[arg-type]
    init.__signature__ = full.__signature__  # type: ignore[attr-defined]
    init.__module__ = __name__
    cls.__init__ = init  # type: ignore[misc]


# --------------------------------------------------------------------------------------
# Functions and methods: checked arguments, precise signatures
# --------------------------------------------------------------------------------------

# What a token that is not valid Unicode (it cannot be any session's token) gives.
_UNICODE_TOKEN = {
    "validate": lambda: _generated.ValidationResult(
        valid=False, session=None, error=_generated.ValidationError.INVALID_TOKEN
    ),
    "validate_session": lambda: _generated.ValidationResult(
        valid=False, session=None, error=_generated.ValidationError.INVALID_TOKEN
    ),
    "refresh": lambda: _raise(_generated.SessionError.InvalidToken()),
}


def _raise(error: BaseException) -> _typing.NoReturn:
    raise error


_PUBLIC_TYPES: dict[type, type] = {}  # generated interface -> the package's subclass


def _shown(hint: _typing.Any) -> _typing.Any:
    """``hint`` naming the package's classes instead of the generated ones."""
    origin = _typing.get_origin(hint)
    if origin is not None and _typing.get_args(hint):
        args = tuple(_shown(a) for a in _typing.get_args(hint))
        if origin in (_typing.Union, _types.UnionType):
            result = args[0]
            for a in args[1:]:
                result = result | a
            return result
        return origin[args]
    return _PUBLIC_TYPES.get(hint, hint)


def _checked(
    fn: _typing.Callable[..., _typing.Any],
    qualname: str,
    hints: dict[str, _typing.Any] | None = None,
    relay: bool = False,
) -> _typing.Callable[..., _typing.Any]:
    """``fn`` (generated) checking its arguments first, with a readable signature."""
    raw = _inspect.signature(fn)
    if hints is None:
        hints = {k: _clean(v) for k, v in _typing.get_type_hints(fn, _G).items()}
    params = []
    checks: list[_typing.Callable[[object], None] | None] = []
    adapters: dict[str, _typing.Callable[[object], object]] = {}
    names: list[str] = []
    for p in raw.parameters.values():
        hint = hints.get(p.name)
        default = p.default
        if default is not p.empty and not isinstance(default, (str, int, float, bool, type(None))):
            default = None  # UniFFI's `_DEFAULT` sentinel stands for None here
        params.append(p.replace(default=default, annotation=_shown(hint) if hint is not None else p.empty))
        names.append(p.name)
        checks.append(_checks.checker(hint) if hint is not None else None)
        for generated, public in _PUBLIC_TYPES.items():
            host_implemented = hasattr(public, "_sessions_methods")  # Clock, SessionStore
            if host_implemented and generated in (hint, *_typing.get_args(hint)):
                rust_impl = _G[f"{generated.__name__}Impl"]
                adapters[p.name] = _functools.partial(_host.adapt, base=public, rust_impl=rust_impl)
    returns = hints.get("return", raw.return_annotation)
    signature = raw.replace(
        parameters=params,
        return_annotation=_shown(returns) if returns is not raw.empty else raw.empty,
    )
    index = {name: i for i, name in enumerate(names)}
    on_bad_token = _UNICODE_TOKEN.get(fn.__name__)
    # A file path (`SessionManager.open`) may be any `os.PathLike[str]`, as for `open()`.
    paths = {name for name in names if name == "path" and hints.get(name) is str}
    if paths:
        params = [p.replace(annotation=str | _os.PathLike[str]) if p.name in paths else p for p in params]
        signature = signature.replace(parameters=params)

    def fspath(name: str, value: object) -> object:
        if name not in paths or isinstance(value, str):
            return value
        if isinstance(value, _os.PathLike):
            path = _os.fspath(value)
            if isinstance(path, str):
                return path
        raise TypeError(
            f"{qualname} argument {name!r} must be str | os.PathLike[str], not {type(value).__name__}"
        )

    def check(name: str, i: int, value: object) -> bool:
        """Raises for a bad argument; False for a token that is not valid Unicode."""
        check_value = checks[i]
        if check_value is None:
            return True
        try:
            check_value(value)
        except _checks.Bad as bad:
            if name == "token" and on_bad_token is not None and bad.kind is ValueError:
                return False
            raise bad.error(f"{qualname} argument {name!r}") from None
        return True

    def prepare(args: tuple[_typing.Any, ...], kwargs: dict[str, _typing.Any]) -> tuple[_typing.Any, ...] | None:
        """The arguments checked and adapted, as ``(args, kwargs)``; None for a token
        that is not valid Unicode."""
        token_ok = True
        if len(args) > len(names):
            signature.bind(*args, **kwargs)  # raises the usual TypeError
        if paths:
            args = tuple(fspath(names[i], a) for i, a in enumerate(args))
            kwargs = {k: fspath(k, v) for k, v in kwargs.items()}
        for i, value in enumerate(args):
            token_ok &= check(names[i], i, value)
        for name, value in kwargs.items():
            i = index.get(name, -1)
            if i < 0:
                signature.bind(*args, **kwargs)  # raises the usual TypeError
            token_ok &= check(name, i, value)
        if not token_ok:
            return None
        if adapters:
            args = tuple(adapters[names[i]](a) if names[i] in adapters and a is not None else a for i, a in enumerate(args))
            kwargs = {k: adapters[k](v) if k in adapters and v is not None else v for k, v in kwargs.items()}
        return args, kwargs

    def out_of_range(e: ValueError, args: tuple[_typing.Any, ...], kwargs: dict[str, _typing.Any]) -> ValueError | None:
        """The generated code's range error, naming the argument; None if it is another."""
        given = dict(zip(names, args))
        given.update(kwargs)
        found = _checks.out_of_range(e, {n: (v, hints.get(n)) for n, v in given.items() if n in hints})
        if found is None:
            return None
        name, path, what = found
        return ValueError(f"{qualname} argument {name!r}{path} {what}")

    checked: _typing.Callable[..., _typing.Any]
    if _inspect.iscoroutinefunction(fn):  # AsyncSessionManager: checked before the await

        async def checked_async(*args: _typing.Any, **kwargs: _typing.Any) -> _typing.Any:
            prepared = prepare(args, kwargs)
            if prepared is None:
                return on_bad_token()  # type: ignore[misc]
            try:
                return await fn(*prepared[0], **prepared[1])
            except ValueError as e:
                better = out_of_range(e, *prepared)
                if better is None:
                    raise
                raise better from None

        checked = _functools.wraps(fn)(checked_async)
    else:

        def checked_sync(*args: _typing.Any, **kwargs: _typing.Any) -> _typing.Any:
            prepared = prepare(args, kwargs)
            if prepared is None:
                return on_bad_token()  # type: ignore[misc]
            try:
                return fn(*prepared[0], **prepared[1])
            except ValueError as e:
                better = out_of_range(e, *prepared)
                if better is None:
                    raise
                raise better from None

        checked = _functools.wraps(fn)(checked_sync)

    checked.__signature__ = signature  # type: ignore[attr-defined]
    checked.__module__ = __name__
    if relay:
        checked = _host.relay_interrupts(checked)
    return checked


# --------------------------------------------------------------------------------------
# Errors: one sentence each
# --------------------------------------------------------------------------------------


def _variants(base: type) -> list[type]:
    return [v for v in vars(base).values() if isinstance(v, type) and issubclass(v, base)]


def _field_names(variant: type) -> list[str]:
    init = variant.__dict__.get("__init__")
    if init is None:
        return []
    return [p for p in _inspect.signature(init).parameters if p != "self"]


def _fix_error(base: type) -> None:
    display = _rust_text(base.__name__, "display")

    def fallback(self: BaseException) -> str:
        doc = (type(self).__doc__ or type(self).__name__).strip().split("\n\n")[0]
        doc = " ".join(doc.split()).rstrip(".")
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{doc} ({fields})" if fields else doc

    def __str__(self: BaseException) -> str:
        if display is not None:
            try:
                return display(self)
            except Exception:  # noqa: BLE001 - a field of the wrong type: say it the Python way
                pass
        return fallback(self)

    def __repr__(self: BaseException) -> str:
        fields = ", ".join(f"{k}={getattr(self, k, None)!r}" for k in _field_names(type(self)))
        return f"{type(self).__qualname__}({fields})"

    def __reduce__(self: BaseException) -> tuple[object, ...]:
        return (type(self), tuple(getattr(self, k) for k in _field_names(type(self))))

    base.__str__ = __str__  # type: ignore[method-assign,assignment]
    base.__module__ = __name__
    for variant in _variants(base):
        variant.__repr__ = __repr__  # type: ignore[method-assign,assignment]
        variant.__reduce__ = __reduce__  # type: ignore[method-assign,assignment]
        variant.__module__ = __name__
        variant.__qualname__ = f"{base.__name__}.{variant.__name__}"


# --------------------------------------------------------------------------------------
# Enums whose variants carry fields (SessionEvent): variants with their fields
# --------------------------------------------------------------------------------------


def _fix_tagged_union(base: type) -> None:
    """UniFFI makes each variant a nested dataclass without fields (``repr()`` was
    ``SessionEvent.CREATED()``): each gets its fields (``dataclasses.fields``, ``asdict``,
    ``match`` with keyword patterns) and a ``repr()`` showing them. Events carry ids and
    reasons, never a token."""
    base.__module__ = __name__
    for name, variant in list(vars(base).items()):
        if not (isinstance(variant, type) and issubclass(variant, base)):
            continue
        init = variant.__init__
        hints = _typing.get_type_hints(init, _G)
        params = [p for p in _inspect.signature(init).parameters if p != "self"]
        variant.__annotations__ = {p: _clean(hints[p]) for p in params}
        doc = variant.__doc__  # (dataclass() would write the signature into an empty one)
        _dataclasses.dataclass(variant, init=False, repr=False, eq=False)
        variant.__doc__ = doc
        variant.__repr__ = _record_repr  # type: ignore[assignment]
        variant.__module__ = __name__
        variant.__qualname__ = f"{base.__name__}.{name}"


# --------------------------------------------------------------------------------------
# Assembling the package
# --------------------------------------------------------------------------------------

SessionError = _generated.SessionError
ClockError = _generated.ClockError
ListenerError = _generated.ListenerError

_display = None
for _obj in (getattr(_generated, n) for n in _PUBLIC):
    if isinstance(_obj, type) and issubclass(_obj, Exception):
        _fix_error(_obj)
    elif isinstance(_obj, type) and issubclass(_obj, _enum.Enum):
        _obj.__module__ = __name__
        _display = _rust_text(_obj.__name__, "display")
        if _display is not None:  # ValidationError: the sentence of the matching SessionError
            _obj.__str__ = _record_str(_display)  # type: ignore[method-assign,assignment]
    elif isinstance(_obj, type) and not _dataclasses.is_dataclass(_obj) and any(
        isinstance(v, type) and issubclass(v, _obj) and v is not _obj for v in vars(_obj).values()
    ):
        _fix_tagged_union(_obj)

for _obj in _RECORDS:
    _make_dataclass(_obj)
for _obj in _RECORDS:
    _check_record_init(_obj)


def _check_config_init(cls: type) -> None:
    """``SessionConfig(...)`` is refused where it is written, not later where a manager is
    built from it: the library checks it as a manager would (a throwaway in-memory one),
    so an out-of-range value (a negative or zero ``max_sessions_per_user``, a negative
    metadata limit, an empty ``prefix``, ...) raises ``SessionError.InvalidConfig`` or
    ``SessionError.InvalidLifetime``, whose sentence names the field."""
    init = cls.__init__  # type: ignore[misc]

    @_functools.wraps(init)
    def __init__(self: object, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)
        try:
            _generated.SessionManager(self)
        except ValueError as e:  # an integer out of the library's range: name the field
            fields = {f.name: (getattr(self, f.name), f.type) for f in _dataclasses.fields(cls)}  # type: ignore[arg-type]
            found = _checks.out_of_range(e, fields)
            if found is None:
                raise
            name, path, what = found
            raise ValueError(f"{cls.__name__}() argument {name!r}{path} {what}") from None

    __init__.__signature__ = init.__signature__  # type: ignore[attr-defined]
    cls.__init__ = __init__  # type: ignore[misc]


_check_config_init(_generated.SessionConfig)

Clock = _host.guarded_base(
    _generated.Clock,
    ClockError,
    ClockError.Failed,
    """
    Subclass this and implement ``now()`` returning a timezone-aware ``datetime``; raise
    ``ClockError.Failed(reason=...)`` when it cannot tell the time. That, a naive or
    non-``datetime`` value, or any other exception reaches the caller of the library as
    ``SessionError.Clock`` with a clear reason.
    """,
)
SessionStore = _host.guarded_base(
    _generated.SessionStore,
    SessionError,
    SessionError.Store,
    """
    Subclass this to keep sessions in Python (a dict, a database, ...); pass an instance
    to ``SessionManager.with_store``. What a method returns is checked against its type
    hint (every field of a ``Session``, timezone-aware datetimes, counts) and a method a
    subclass does not define raises ``SessionError.Store``; anything wrong, or an
    exception other than ``SessionError``, reaches the caller of the library as
    ``SessionError.Store`` naming the class and method.
    """,
)


class SessionManager(_generated.SessionManager):
    __doc__ = _generated.SessionManager.__doc__


SessionManager.__module__ = __name__
SessionListener = _host.guarded_base(
    _generated.SessionListener,
    ListenerError,
    ListenerError.Failed,
    """
    Subclass this and implement ``on_event(event)`` to receive lifecycle events; register
    an instance with ``SessionManager.add_listener``. An exception it raises is logged by
    the library and never changes the operation that caused the event.
    """,
)
_PUBLIC_TYPES.update(
    {
        _generated.Clock: Clock,
        _generated.SessionStore: SessionStore,
        _generated.SessionListener: SessionListener,
        _generated.SessionManager: SessionManager,
    }
)

for _name, _obj in vars(_generated.SessionManager).items():
    if _name.startswith("_") and _name != "__init__":
        continue
    if isinstance(_obj, classmethod):
        setattr(SessionManager, _name, classmethod(_checked(_obj.__func__, f"SessionManager.{_name}()", relay=True)))
    elif _inspect.isfunction(_obj):
        _label = "SessionManager()" if _name == "__init__" else f"SessionManager.{_name}()"
        setattr(SessionManager, _name, _checked(_obj, _label, relay=True))
_fast.install(SessionManager, (_generated.Clock, _generated.SessionStore))  # validate's per-request fast path

AsyncSessionManager = _async.public_class(_checked, _PUBLIC_TYPES)
_async.add_as_async(SessionManager, AsyncSessionManager)

_exports: dict[str, object] = {}
for _name in _PUBLIC:
    _obj = getattr(_generated, _name)
    if _inspect.isfunction(_obj):
        _obj = _checked(_obj, f"{_name}()")
    _exports[_name] = _obj
_exports.update(
    Clock=Clock,
    SessionStore=SessionStore,
    SessionListener=SessionListener,
    SessionManager=SessionManager,
    AsyncSessionManager=AsyncSessionManager,
)
globals().update(_exports)

__all__ = sorted(_exports)
del _name, _obj, _label, _display, _exports
