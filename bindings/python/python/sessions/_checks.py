"""Run-time checks of Python values against the API's type hints (internal).

``checker(hint)`` compiles a type hint of the generated API (``str``, ``int``, ``bool``,
``datetime``, ``timedelta``, ``X | None``, ``dict[str, str]``, ``list[X]``, records,
enums, the ``Clock`` and ``SessionStore`` interfaces) into a function that returns
quietly for a value Rust can take, and otherwise raises ``Bad``: a ``TypeError`` (wrong
type) or a ``ValueError`` (a naive datetime, a negative timedelta, text that is not
valid Unicode) with the path of the value at fault. ``Bad.message(top)`` words it for
the caller, e.g. ``SessionManager.create() argument 'options':
CreateSessionOptions.expires_in must be datetime.timedelta or None, not int``.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime as _dt
import enum
import re
import types
import typing

_NONE = type(None)
_ZERO = _dt.timedelta(0)


class Bad(Exception):
    """A value Rust cannot take: what is wrong, and where inside the value."""

    def __init__(self, kind: type[Exception], what: str):
        super().__init__(what)
        self.kind = kind
        self.what = what
        self.root: str | None = None  # the outermost record type on the path
        self.path: list[str] = []  # ".field", "[3]", "['key']", " key 'k'"

    def within(self, segment: str, root: str | None) -> Bad:
        self.path.insert(0, segment)
        self.root = root
        return self

    def message(self, top: str) -> str:
        inner = "".join(self.path)
        if self.root is not None:
            return f"{top}: {self.root}{inner} {self.what}"
        return f"{top}{inner} {self.what}"

    def error(self, top: str) -> Exception:
        return self.kind(self.message(top))


def describe(hint: typing.Any) -> str:
    """The type as a reader would write it: ``datetime.timedelta or None``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        names = [describe(a) for a in args if a is not _NONE]
        text = " or ".join(names)
        return f"{text} or None" if _NONE in args else text
    if origin is not None:
        inner = ", ".join(describe(a) for a in typing.get_args(hint))
        return f"{origin.__name__}[{inner}]"
    if hint is _NONE:
        return "None"
    if hint in (_dt.datetime, _dt.timedelta):
        return f"datetime.{hint.__name__}"
    return getattr(hint, "__qualname__", str(hint))


def annotation(hint: typing.Any) -> typing.Any:
    """``hint`` with ``typing.Optional``/``Union``/``List``/``Dict`` written the modern
    way (``X | None``, ``list[X]``), as ``help()`` and ``inspect.signature`` show it."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        parts = [annotation(a) for a in typing.get_args(hint)]
        result = parts[0]
        for p in parts[1:]:
            result = result | p
        return result
    if origin in (list, dict):
        return origin[tuple(annotation(a) for a in typing.get_args(hint))]
    return hint


def surrogate_problem(text: str) -> str | None:
    """Why ``text`` cannot be encoded as UTF-8 (a lone surrogate), or ``None``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return (
            f"is not valid Unicode: it contains a lone surrogate ({text[e.start]!r} at "
            f"index {e.start}), which cannot be encoded as UTF-8"
        )
    return None


def _is_text_ok(text: str) -> bool:
    return text.isascii() or surrogate_problem(text) is None


def _wrong_type(expected: str, value: object) -> Bad:
    return Bad(TypeError, f"must be {expected}, not {type(value).__name__}")


_cache: dict[typing.Any, typing.Callable[[object], None]] = {}


def checker(hint: typing.Any) -> typing.Callable[[object], None]:
    """A function raising ``Bad`` for a value that does not fit ``hint``."""
    try:
        return _cache[hint]
    except KeyError:
        pass
    except TypeError:  # an unhashable hint
        return _compile(hint)
    # Records may refer to each other: register a forwarder first.
    compiled: list[typing.Callable[[object], None]] = []
    _cache[hint] = lambda value: compiled[0](value)
    compiled.append(_compile(hint))
    _cache[hint] = compiled[0]
    return compiled[0]


def _compile(hint: typing.Any) -> typing.Callable[[object], None]:
    expected = describe(hint)
    origin = typing.get_origin(hint)

    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        others = [a for a in args if a is not _NONE]
        if _NONE in args and len(others) == 1:
            inner = checker(others[0])

            def check_optional(value: object) -> None:
                if value is None:
                    return
                try:
                    inner(value)
                except Bad as bad:
                    if bad.kind is TypeError and not bad.path:
                        raise _wrong_type(expected, value) from None
                    raise

            return check_optional
        raise NotImplementedError(f"sessions cannot check values of type {hint!r}")

    if origin is dict:
        key_hint, value_hint = typing.get_args(hint)
        check_key, check_value = checker(key_hint), checker(value_hint)

        def check_dict(value: object) -> None:
            if not isinstance(value, collections.abc.Mapping):
                raise _wrong_type(expected, value)
            for k, v in value.items():
                try:
                    check_key(k)
                except Bad as bad:
                    raise bad.within(f" key {k!r}", None) from None
                try:
                    check_value(v)
                except Bad as bad:
                    raise bad.within(f"[{k!r}]", None) from None

        return check_dict

    if origin is list:
        (item_hint,) = typing.get_args(hint)
        check_item = checker(item_hint)

        def check_list(value: object) -> None:
            if not isinstance(value, (list, tuple)):
                raise _wrong_type(expected, value)
            for i, item in enumerate(value):
                try:
                    check_item(item)
                except Bad as bad:
                    raise bad.within(f"[{i}]", None) from None

        return check_list

    if hint is str:

        def check_str(value: object) -> None:
            if type(value) is not str and not isinstance(value, str):
                raise _wrong_type(expected, value)
            if not value.isascii():
                problem = surrogate_problem(value)
                if problem:
                    raise Bad(ValueError, problem)

        return check_str

    if hint is bool:

        def check_bool(value: object) -> None:
            if value is not True and value is not False:
                raise _wrong_type(expected, value)

        return check_bool

    if hint is int:

        def check_int(value: object) -> None:
            if not isinstance(value, int):
                raise _wrong_type(expected, value)

        return check_int

    if hint is float:

        def check_float(value: object) -> None:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise _wrong_type(expected, value)

        return check_float

    if hint is _dt.datetime:

        def check_datetime(value: object) -> None:
            if not isinstance(value, _dt.datetime):
                raise _wrong_type(expected, value)
            if value.tzinfo is None or value.utcoffset() is None:
                raise Bad(
                    ValueError,
                    f"is a naive datetime ({value.isoformat()}, no tzinfo); sessions needs "
                    "timezone-aware datetimes, e.g. datetime.now(timezone.utc) or "
                    "value.replace(tzinfo=timezone.utc)",
                )

        return check_datetime

    if hint is _dt.timedelta:

        def check_timedelta(value: object) -> None:
            if not isinstance(value, _dt.timedelta):
                raise _wrong_type(expected, value)
            if value < _ZERO:
                raise Bad(
                    ValueError,
                    f"is a negative timedelta ({value.total_seconds():g} seconds); "
                    "durations must not be negative",
                )

        return check_timedelta

    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        name = hint.__name__
        fields = [(f.name, checker(f.type)) for f in dataclasses.fields(hint)]

        def check_record(value: object) -> None:
            if not isinstance(value, hint):
                raise _wrong_type(expected, value)
            attrs = value.__dict__
            for field, check in fields:
                try:
                    item = attrs[field]
                except KeyError:
                    raise Bad(TypeError, "is missing").within(f".{field}", name) from None
                try:
                    check(item)
                except Bad as bad:
                    raise bad.within(f".{field}", name) from None

        return check_record

    if isinstance(hint, type):  # enums, interfaces

        def check_instance(value: object) -> None:
            if not isinstance(value, hint):
                raise _wrong_type(expected, value)

        return check_instance

    raise NotImplementedError(f"sessions cannot check values of type {hint!r}")


_RANGE = re.compile(r"requires (-?\d+) <= value < (-?\d+)")


def out_of_range(
    error: ValueError, values: dict[str, tuple[object, typing.Any]]
) -> tuple[str, str, str] | None:
    """For the generated code's "u32 requires 0 <= value < 4294967296" ValueError: which
    of ``values`` (name -> (value, hint)) holds the integer out of range, as
    ``(name, path inside it, what is wrong)``; ``None`` if none does."""
    m = _RANGE.search(str(error))
    if not m:
        return None
    low, high = int(m.group(1)), int(m.group(2))
    for name, (value, hint) in values.items():
        for path, number in _ints(value, hint):
            if not low <= number < high:
                return name, path, f"must be between {low} and {high - 1}, not {number}"
    return None


def _ints(value: object, hint: typing.Any, path: str = "") -> typing.Iterator[tuple[str, int]]:
    origin = typing.get_origin(hint)
    if value is None:
        return
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if arg is not _NONE:
                yield from _ints(value, arg, path)
    elif origin is list and isinstance(value, (list, tuple)):
        (item,) = typing.get_args(hint)
        for i, v in enumerate(value):
            yield from _ints(v, item, f"{path}[{i}]")
    elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
        for f in dataclasses.fields(hint):
            sub = f"{path}.{f.name}" if path else f": {hint.__name__}.{f.name}"
            yield from _ints(getattr(value, f.name, None), f.type, sub)
    elif hint is int and isinstance(value, int) and not isinstance(value, bool):
        yield path, value


_UTC = _dt.timezone.utc


def fast_test(hint: typing.Any, var: str, names: dict[str, object]) -> str:
    """A Python expression that is true when ``var`` plainly fits ``hint`` (exact types,
    ASCII text, UTC datetimes: what the library itself hands out), so that building
    records costs little; when it is false, ``checker(hint)`` decides. ``names`` gets
    the objects the expression refers to."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        others = [a for a in args if a is not _NONE]
        if _NONE in args and len(others) == 1:
            return f"({var} is None or {fast_test(others[0], var, names)})"
        return "False"
    if origin is dict and typing.get_args(hint) == (str, str):
        return (
            f"(type({var}) is dict and all(type(k) is str and k.isascii() and type(v) is str "
            f"and v.isascii() for k, v in {var}.items()))"
        )
    if hint is str:
        return f"(type({var}) is str and {var}.isascii())"
    if hint is bool:
        return f"({var} is True or {var} is False)"
    if hint is int:
        return f"type({var}) is int"
    if hint is _dt.datetime:
        names["_datetime"], names["_utc"] = _dt.datetime, _UTC
        return f"(type({var}) is _datetime and {var}.tzinfo is _utc)"
    if hint is _dt.timedelta:
        names["_timedelta"], names["_zero"] = _dt.timedelta, _ZERO
        return f"(type({var}) is _timedelta and {var} >= _zero)"
    if isinstance(hint, type) and (dataclasses.is_dataclass(hint) or issubclass(hint, enum.Enum)):
        # Records of the library were checked when they were built; a changed one is
        # checked in full where it is handed to the library.
        key = f"_type_{hint.__name__}"
        names[key] = hint
        return f"type({var}) is {key}"
    return "False"
