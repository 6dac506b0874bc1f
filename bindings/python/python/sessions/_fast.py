"""The per-request fast path: ``SessionManager.validate`` without UniFFI's per-call code.

``validate`` runs on every request, and UniFFI's generated Python code (argument
buffers, a call-status object per call, a ``struct.unpack`` per scalar) costs far more
than the Rust call itself. The library exports one primitive-only C function,
``sessions_fast_validate(handle, token, token_len, user_agent, user_agent_len, out,
out_cap)``, that calls the manager's own ``validate`` and writes the result into a
caller-owned buffer in a small documented layout (``src/fast_path.rs``); a result too
large for the buffer is kept for the calling thread and fetched with its companion
``sessions_fast_take_pending(out, out_cap)``, so a token is validated once. This module
calls it with ``ctypes`` (standard library; the very library object the generated
module loaded) and builds the same ``ValidationResult`` / ``Session`` records.

Nothing is cached: every call validates in Rust, in the same manager (same store,
rules and clock). Behaviour is the regular path's: an argument the fast path does not
take goes to the regular path (which raises exactly as before); an error the library
reports is fetched through UniFFI (``take_fast_path_error``) and raised as the regular
path raises it; with a clock, store or listener written in Python, a
``KeyboardInterrupt``/``SystemExit`` one raises is relayed as ``relay_interrupts``
does for every other call.

Where the package's compiled accelerator ``sessions._fastpath`` (a small PyO3
extension, ``bindings/python/native/``) loads, it does all of this per call instead
of the Python code here: the argument handling, the call through the same C entry
point (its address, and that of ``sessions_fast_take_pending``, read from the
generated module's library, are handed over at import: one library, loaded once) and
the building of the same records. This module's
ctypes path is then the fallback only: for interpreters that cannot load the abi3
extension, and when ``SESSIONS_FAST_PATH=ctypes`` is set in the environment.
``use("extension" | "ctypes")`` switches the path taken (the tests run both).
"""

from __future__ import annotations

import ctypes
import datetime
import os
import struct
import threading
import typing

from . import _host
from ._native import sessions as _generated

_lib = _generated._UniffiLib
_entry = _lib.sessions_fast_validate
_entry.argtypes = (
    ctypes.c_uint64,
    ctypes.c_char_p,
    ctypes.c_size_t,
    ctypes.c_char_p,
    ctypes.c_size_t,
    ctypes.c_void_p,
    ctypes.c_size_t,
)
_entry.restype = ctypes.c_int32
# ``sessions_fast_take_pending(out, out_cap)``: the result ``sessions_fast_validate``
# kept for this thread because it did not fit ``out_cap``, written without validating
# again (its length; ``_NO_PENDING`` when nothing is kept).
_take_pending = _lib.sessions_fast_take_pending
_take_pending.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
_take_pending.restype = ctypes.c_int32

# The layout's fixed part (src/fast_path.rs): status, flags, text flags, entries,
# version, five (seconds, nanoseconds) timestamps, the lifetime.
_HEADER = struct.Struct("<BBHIq" + "qI" * 5 + "QI")
_HEADER_LEN = 88
assert _HEADER.size == _HEADER_LEN
_LENGTHS: dict[int, struct.Struct] = {}
_OPTIONAL_STRINGS = (16, 32, 128)  # bound_user_agent, previous_token_hash, rotation_key

_EPOCH = datetime.datetime.fromtimestamp(0, tz=datetime.timezone.utc)
_td = datetime.timedelta
_Session = _generated.Session
_Result = _generated.ValidationResult
_new = object.__new__
_ERRORS = (None, *(_generated.ValidationError[name] for name in (
    "INVALID_TOKEN", "SESSION_EXPIRED", "SESSION_REVOKED", "USER_AGENT_MISMATCH", "TOKEN_REUSED",
)))
_INVALID = _ERRORS[1]

_FAILED = -3
_NO_PENDING = -6
_take_error = _generated.take_fast_path_error
_MISSING = object()
_NAMES = ("token", "user_agent")
_local = threading.local()
_INITIAL_CAPACITY = 4096


def _buffer(size: int) -> tuple[int, int, memoryview]:
    """This thread's output buffer, at least ``size`` bytes: (address, capacity, view)."""
    raw = ctypes.create_string_buffer(size)
    state = (ctypes.addressof(raw), size, memoryview(raw).cast("B"), raw)
    _local.buffer = state
    return state[:3]


def _time(key: tuple[int, int]) -> datetime.datetime:
    """A timestamp as UniFFI's own conversion makes it (microseconds as a float, rounded
    by ``timedelta``)."""
    return _EPOCH + _td(0, key[0], key[1] / 1000)


def _duration(key: tuple[int, int]) -> datetime.timedelta:
    """A duration as UniFFI's own conversion makes it."""
    return _td(0, key[0], key[1] / 1e3)


def _lengths(count: int) -> struct.Struct:
    layout = _LENGTHS.get(count)
    if layout is None:
        layout = _LENGTHS[count] = struct.Struct(f"<{count}I")
    return layout


_HEAD = struct.Struct("<BBHIq")  # status, flags, text flags, entries, version
_TIMES = struct.Struct("<" + "qI" * 5 + "QI")  # the five timestamps and the lifetime
# How many of the optional strings (bits 16, 32, 128) each flags byte announces.
_OPTIONAL_COUNT = tuple(bool(f & 16) + bool(f & 32) + bool(f & 128) for f in range(256))
# The converted timestamps and lifetime by the exact bytes of their block: values, not
# validity (datetime and timedelta are immutable), so a session's unchanged times cost
# one lookup instead of ten allocations. Bounded: emptied when it reaches _CACHE_LIMIT.
_CACHE_LIMIT = 1 << 16
_blocks: dict[bytes, tuple[typing.Any, ...]] = {}


def _convert_times(block: bytes) -> tuple[typing.Any, ...]:
    """The five timestamps (created, expires, absolute expiry, revoked, rotated) and the
    lifetime in a result's bytes 16..88, as UniFFI's own conversion makes them (the
    extension calls this too, so both paths round alike)."""
    c_s, c_n, e_s, e_n, a_s, a_n, r_s, r_n, t_s, t_n, l_s, l_n = _TIMES.unpack(block)
    return (
        _time((c_s, c_n)), _time((e_s, e_n)), _time((a_s, a_n)), _time((r_s, r_n)),
        _time((t_s, t_n)), _duration((l_s, l_n)),
    )


def _times_of(block: bytes) -> tuple[typing.Any, ...]:
    value = _convert_times(block)
    if len(_blocks) >= _CACHE_LIMIT:
        _blocks.clear()
    _blocks[block] = value
    return value


def _decode(view: memoryview, size: int) -> object:
    """The ``ValidationResult`` in ``view[:size]`` (layout in ``src/fast_path.rs``)."""
    status = view[0]
    result = _new(_Result)
    if status:
        result.__dict__ = {"valid": False, "session": None, "error": _ERRORS[status]}
        return result
    _, flags, ascii_only, entries, version = _HEAD.unpack_from(view)
    block = bytes(view[16:_HEADER_LEN])
    times = _blocks.get(block) or _times_of(block)
    count = 4 + 2 * entries + _OPTIONAL_COUNT[flags]
    at = _HEADER_LEN + 4 * count
    if ascii_only:  # ASCII without NUL: the area splits at the NUL after each string
        strings = str(view[at : size - 1], "ascii").split("\0")
    else:
        strings = []
        for n in _lengths(count).unpack_from(view, _HEADER_LEN):
            strings.append(str(view[at : at + n], "utf-8"))
            at += n + 1
    i = 4
    bound = previous = key = None
    if flags & 176:  # any optional string
        if flags & 16:
            bound = strings[i]
            i += 1
        if flags & 32:
            previous = strings[i]
            i += 1
        if flags & 128:
            key = strings[i]
            i += 1
    metadata = None
    if flags & 1:
        if entries == 1:
            metadata = {strings[i]: strings[i + 1]}
        else:
            metadata = dict(zip(strings[i::2], strings[i + 1 :: 2]))
    session = _new(_Session)
    session.__dict__ = {
        "id": strings[0],
        "user_id": strings[1],
        "token": strings[2],
        "token_hash": strings[3],
        "created_at": times[0],
        "expires_at": times[1],
        "metadata": metadata,
        "revoked_at": times[3] if flags & 2 else None,
        "sliding_expiration": bool(flags & 8) if flags & 4 else None,
        "bound_user_agent": bound,
        "lifetime": times[5],
        "absolute_expires_at": times[2],
        "version": version,
        "previous_token_hash": previous,
        "rotated_at": times[4] if flags & 64 else None,
        "rotation_key": key,
    }
    result.__dict__ = {"valid": True, "session": session, "error": None}
    return result


def validate(handle: int, token: object, user_agent: object) -> object:
    """``validate`` through the C entry point; ``NotImplemented`` when the regular path
    must answer (an argument it does not take, a handle it does not know)."""
    if type(token) is not str:
        return NotImplemented
    # The user agent first: a wrong one is an error even with a token that is no token.
    if user_agent is None:
        ua_bytes = None
    elif type(user_agent) is str:
        try:
            ua_bytes = user_agent.encode()
        except UnicodeEncodeError:
            return NotImplemented
    else:
        return NotImplemented
    try:
        token_bytes = token.encode()
    except UnicodeEncodeError:  # not valid Unicode: no issued token is
        result = _new(_Result)
        result.__dict__ = {"valid": False, "session": None, "error": _INVALID}
        return result
    try:
        address, capacity, view = _local.buffer[:3]
    except AttributeError:
        address, capacity, view = _buffer(_INITIAL_CAPACITY)
    size = _entry(handle, token_bytes, len(token_bytes), ua_bytes,
                  0 if ua_bytes is None else len(ua_bytes), address, capacity)
    while size > capacity:
        # A larger result than ever before on this thread: the library kept it for this
        # thread, fetched here into a larger buffer without validating again (a second
        # validation could slide the session again, or count a predecessor token at the
        # very end of its grace as reuse).
        address, capacity, view = _buffer(max(size, 2 * capacity))
        size = _take_pending(address, capacity)
    if size >= 0:
        return _decode(view, size)
    if size == _FAILED:
        _take_error()  # raises the SessionError validate failed with
    if size == _NO_PENDING:
        # Only if Python code ran on this thread between the two calls (a signal handler)
        # and took the kept result with a validation of its own.
        raise RuntimeError("sessions_fast_take_pending: the result kept for this thread is gone")
    return NotImplemented


def install(manager: typing.Any, host_bases: tuple[type, ...]) -> None:
    """Makes ``manager.validate`` take the fast path. Managers built by its constructors
    with a clock or store written in Python (``host_bases``), or given a listener,
    relay interrupts their callbacks raise, as the regular path does."""
    regular = manager.validate

    def eligible(args: tuple[object, ...], kwargs: dict[str, object]) -> bool:
        return not any(isinstance(a, host_bases) for a in (*args, *kwargs.values()))

    def wrap_init(init: typing.Callable[..., None]) -> typing.Callable[..., None]:
        def __init__(self: typing.Any, *args: object, **kwargs: object) -> None:
            init(self, *args, **kwargs)
            self._fast_handle = None
            if not eligible(args, kwargs):
                self._fast_relay = True

        __init__.__dict__.update(init.__dict__)
        for attr in ("__doc__", "__name__", "__qualname__", "__module__", "__wrapped__"):
            if hasattr(init, attr):
                setattr(__init__, attr, getattr(init, attr))
        return __init__

    def wrap_constructor(ctor: typing.Callable[..., typing.Any]) -> typing.Callable[..., typing.Any]:
        def constructor(cls: type, *args: object, **kwargs: object) -> typing.Any:
            made = ctor(cls, *args, **kwargs)
            made._fast_handle = None
            if not eligible(args, kwargs):
                made._fast_relay = True
            return made

        constructor.__dict__.update(ctor.__dict__)
        for attr in ("__doc__", "__name__", "__qualname__", "__module__", "__wrapped__"):
            if hasattr(ctor, attr):
                setattr(constructor, attr, getattr(ctor, attr))
        return constructor

    manager.__init__ = wrap_init(manager.__init__)
    for name, obj in list(vars(manager).items()):
        if isinstance(obj, classmethod):
            setattr(manager, name, classmethod(wrap_constructor(obj.__func__)))

    regular_add_listener = manager.add_listener

    def add_listener(self: typing.Any, *args: object, **kwargs: object) -> typing.Any:
        self._fast_relay = True  # a listener written in Python may raise an interrupt
        return regular_add_listener(self, *args, **kwargs)

    add_listener.__dict__.update(regular_add_listener.__dict__)
    for attr in ("__doc__", "__name__", "__qualname__", "__module__", "__wrapped__"):
        setattr(add_listener, attr, getattr(regular_add_listener, attr))

    relayed = _host.relay_interrupts(validate)

    def fast_validate(self: typing.Any, *args: object, **kwargs: object) -> typing.Any:
        handle = self.__dict__.get("_fast_handle", 0)
        if handle is None:
            handle = self._fast_handle = self.fast_path_handle()
        if handle:
            n = len(args)
            if kwargs:
                token = kwargs.get("token", args[0] if n else _MISSING)
                user_agent = kwargs.get("user_agent", args[1] if n > 1 else None)
                simple = n + len(kwargs) <= 2 and all(k in _NAMES[n:] for k in kwargs)
            else:
                token = args[0] if n else _MISSING
                user_agent = args[1] if n > 1 else None
                simple = 1 <= n <= 2
            if simple and token is not _MISSING:
                if "_fast_relay" in self.__dict__:
                    result = relayed(handle, token, user_agent)
                else:
                    result = validate(handle, token, user_agent)
                if result is not NotImplemented:
                    return result
        return regular(self, *args, **kwargs)

    fast_validate.__dict__.update(regular.__dict__)
    for attr in ("__doc__", "__name__", "__qualname__", "__module__", "__wrapped__"):
        setattr(fast_validate, attr, getattr(regular, attr))

    def extension_validate(self: typing.Any, *args: object, **kwargs: object) -> typing.Any:
        result = _extension_validate(self, args, kwargs)
        if result is NotImplemented:
            return regular(self, *args, **kwargs)
        return result

    for path in (extension_validate,):
        path.__dict__.update(regular.__dict__)
        for attr in ("__doc__", "__name__", "__qualname__", "__module__", "__wrapped__"):
            setattr(path, attr, getattr(regular, attr))

    _PATHS["ctypes"] = fast_validate
    if _extension is not None:
        _PATHS["extension"] = extension_validate
    _installed.append(manager)
    manager._validate_regular = regular
    manager.add_listener = add_listener
    use(PATH)


def _load_extension() -> typing.Any:
    """The compiled accelerator, configured; ``None`` where it is absent or turned off."""
    if os.environ.get("SESSIONS_FAST_PATH") == "ctypes":
        return None
    try:
        from . import _fastpath  # type: ignore[attr-defined]
    except ImportError:  # not built for this interpreter: the ctypes path serves
        return None
    _fastpath.configure(
        ctypes.cast(_entry, ctypes.c_void_p).value,
        ctypes.cast(_take_pending, ctypes.c_void_p).value,
        _Session,
        _Result,
        _ERRORS[1:],
        _convert_times,
        _take_error,
        _host.take_interrupt,
    )
    return _fastpath


_extension = _load_extension()
_extension_validate: typing.Any = getattr(_extension, "validate", None)
# The path SessionManager.validate takes: "extension" where the accelerator loaded,
# else "ctypes".
PATH = "extension" if _extension is not None else "ctypes"
_PATHS: dict[str, typing.Callable[..., typing.Any]] = {}
_installed: list[typing.Any] = []


def use(path: str) -> None:
    """Makes ``SessionManager.validate`` take ``path``: ``"extension"`` (the compiled
    accelerator; ``ValueError`` where it did not load) or ``"ctypes"``."""
    global PATH
    if path not in ("extension", "ctypes"):
        raise ValueError(f"unknown fast path {path!r}")
    if path == "extension" and _extension is None:
        raise ValueError("the compiled fast path (sessions._fastpath) is not loaded")
    PATH = path
    for manager in _installed:
        manager.validate = _PATHS[path]
