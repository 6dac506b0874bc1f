"""Arguments are checked before Rust sees them, for every public function, method and
record constructor, from their signatures: a wrong type is a TypeError naming the
parameter and the expected type; a value Rust cannot take (a naive datetime, a negative
timedelta, an integer out of range, text that is not valid Unicode) is a ValueError
naming it. A token that is not valid Unicode is an invalid token."""

import dataclasses
import enum
import inspect
import pydoc
import types
import typing
from datetime import datetime, timedelta, timezone

import pytest

import sessions
from _support import DictStore, ManualClock, make_manager, options

NoneType = type(None)


def _parts(hint):
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(hint) if a is not NoneType]
    return [hint]


def good_value(hint):
    """A value of type `hint` that passes the checks."""
    hint = _parts(hint)[0]
    origin = typing.get_origin(hint)
    if origin is dict:
        return {"k": "v"}
    if origin is list:
        return []
    simple = {str: "x", int: 32, bool: False, datetime: datetime(2026, 1, 1, tzinfo=timezone.utc),
              timedelta: timedelta(hours=1)}
    if hint in simple:
        return simple[hint]
    if hint is sessions.Session:
        return sessions.create_session(options())
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return next(iter(hint))
    if hint is sessions.Clock:
        return ManualClock()
    if hint is sessions.SessionStore:
        return DictStore()
    if hint is sessions.SessionListener:
        class Quiet(sessions.SessionListener):
            def on_event(self, event):
                pass
        return Quiet()
    if dataclasses.is_dataclass(hint):
        return hint(**{f.name: good_value(f.type) for f in dataclasses.fields(hint)
                       if f.default is dataclasses.MISSING})
    raise AssertionError(hint)


def wrong_value(hint):
    """A value of the wrong type for `hint`, and the words the error must use."""
    parts = _parts(hint)
    first = parts[0]
    origin = typing.get_origin(first)
    if origin is dict:
        wrong = [("k", "v")]
    elif origin is list:
        wrong = "not a list"
    else:
        wrong = {str: b"bytes", int: "32", bool: 1, datetime: 1767225600, timedelta: 3600}.get(first, object())
    expected = {datetime: "datetime.datetime", timedelta: "datetime.timedelta"}.get(first)
    if expected is None:
        expected = f"{origin.__name__}[" if origin else first.__name__
    return wrong, expected


def public_callables():
    """(id, signature owner, how to call it with keyword arguments) for every public
    function, SessionManager method and record constructor."""
    found = []
    for name in sessions.__all__:
        obj = getattr(sessions, name)
        if inspect.isfunction(obj):
            found.append((name, obj, obj))
        elif dataclasses.is_dataclass(obj):
            found.append((f"{name}()", obj, obj))
    manager = sessions.SessionManager(sessions.SessionConfig())
    found.append(("SessionManager()", sessions.SessionManager, sessions.SessionManager))
    for name, attr in vars(sessions.SessionManager).items():
        if name.startswith("_"):
            continue
        if isinstance(attr, classmethod):
            fn = getattr(sessions.SessionManager, name)
        else:
            fn = getattr(manager, name)
        found.append((f"SessionManager.{name}", fn, fn))
    return found


CASES = [
    pytest.param(call, p.name, p.annotation, id=f"{label}-{p.name}")
    for label, owner, call in public_callables()
    for p in inspect.signature(owner).parameters.values()
]


def test_every_public_callable_is_covered():
    labels = {c.id.rsplit("-", 1)[0] for c in CASES}
    for expected in ["SessionManager.validate", "SessionManager.refresh", "SessionManager.create",
                     "SessionManager.open", "SessionManager.with_store", "SessionManager()",
                     "CreateSessionOptions()", "SessionConfig()", "Session()", "PublicSession()",
                     "ValidationResult()", "generate_secure_token", "validate_session"]:
        assert expected in labels, expected
    assert len(CASES) > 50


def test_signatures_are_precise_and_readable():
    for label, owner, _ in public_callables():
        sig = inspect.signature(owner)
        for p in sig.parameters.values():
            assert p.annotation is not p.empty, (label, p)
            assert "object" not in str(p.annotation), (label, p)  # UniFFI's `object | X | None`
            assert not repr(p.default).startswith("<object"), (label, p)
    text = pydoc.render_doc(sessions.SessionManager, renderer=pydoc.plaintext)
    assert "clock: sessions.Clock | None = None" in text
    assert "validate(self, token: str, user_agent: str | None = None) -> sessions.ValidationResult" in text
    assert "open(path: str | os.PathLike[str], config: sessions.SessionConfig, clock: sessions.Clock | None = None)" \
        " -> sessions.SessionManager" in text
    assert "object at 0x" not in text
    text = pydoc.render_doc(sessions.SessionConfig, renderer=pydoc.plaintext)
    assert "prefix: str = 'session:'" in text and "max_lifetime: datetime.timedelta | None = None" in text


@pytest.mark.parametrize("call, name, hint", CASES)
def test_wrong_type_is_a_type_error_naming_parameter_and_type(call, name, hint):
    sig = inspect.signature(call)
    args = {p.name: good_value(p.annotation) for p in sig.parameters.values()
            if p.default is p.empty}
    wrong, expected = wrong_value(hint)
    args[name] = wrong
    with pytest.raises(TypeError) as info:
        call(**args)
    message = str(info.value)
    assert f"argument '{name}' must be {expected}" in message, message
    assert message.endswith(f"not {type(wrong).__name__}"), message


def test_examples_from_the_issue():
    with pytest.raises(TypeError, match=r"^CreateSessionOptions\(\) argument 'expires_in' must be "
                                        r"datetime\.timedelta or None, not int$"):
        sessions.CreateSessionOptions(user_id="a", expires_in=3600)
    manager = sessions.SessionManager(sessions.SessionConfig())
    with pytest.raises(TypeError, match=r"^SessionManager\.validate\(\) argument 'user_agent' must be "
                                        r"str or None, not int$"):
        manager.validate("t", user_agent=123)
    with pytest.raises(TypeError, match=r"^SessionManager\(\) argument 'clock' must be Clock or None, not object$"):
        sessions.SessionManager(sessions.SessionConfig(), clock=object())
    with pytest.raises(TypeError, match=r"^SessionManager\.with_store\(\) argument 'store' must be SessionStore, not dict$"):
        sessions.SessionManager.with_store(sessions.SessionConfig(), store={})
    with pytest.raises(TypeError, match=r"^SessionManager\.validate\(\) argument 'token' must be str, not bytes$"):
        manager.validate(b"bytes")


def test_fields_of_records_handed_in_are_checked_with_their_path(kind, clock):
    manager = make_manager(kind, clock)
    opts = options()
    opts.expires_in = 3600
    with pytest.raises(TypeError, match=r"^SessionManager\.create\(\) argument 'options': "
                                        r"CreateSessionOptions\.expires_in must be datetime\.timedelta or None, not int$"):
        manager.create(opts)
    opts = options()
    opts.metadata = {"k": 1}
    with pytest.raises(TypeError, match=r"CreateSessionOptions\.metadata\['k'\] must be str, not int$"):
        manager.create(opts)
    opts.metadata = {2: "v"}
    with pytest.raises(TypeError, match=r"CreateSessionOptions\.metadata key 2 must be str, not int$"):
        sessions.create_session(opts)
    s = sessions.create_session(options())
    s.sliding_expiration = "yes"
    with pytest.raises(TypeError, match=r"^to_public_session\(\) argument 'session': "
                                        r"Session\.sliding_expiration must be bool or None, not str$"):
        sessions.to_public_session(s)
    del s.token
    with pytest.raises(TypeError, match=r"Session\.token is missing$"):
        sessions.destroy_session(s)
    with pytest.raises(TypeError, match=r"^ValidationResult\(\) argument 'session' must be Session or None, not dict$"):
        sessions.ValidationResult(valid=True, session={}, error=None)


def test_bool_parameters_take_only_bools():
    # UniFFI alone treats any truthy value as True: sliding_expiration="no" was True.
    with pytest.raises(TypeError, match="argument 'sliding_expiration' must be bool, not str"):
        options(sliding_expiration="no")
    with pytest.raises(TypeError, match="argument 'bind_to_user_agent' must be bool, not int"):
        sessions.SessionConfig(bind_to_user_agent=1)


def test_missing_and_unknown_arguments_are_the_usual_type_errors():
    manager = sessions.SessionManager(sessions.SessionConfig())
    with pytest.raises(TypeError, match="missing"):
        manager.validate()
    with pytest.raises(TypeError, match="unexpected keyword argument 'agent'"):
        manager.validate("t", agent="x")
    with pytest.raises(TypeError, match="too many positional arguments"):
        manager.validate("t", None, 3)
    with pytest.raises(TypeError, match="user_id"):
        sessions.CreateSessionOptions()
    with pytest.raises(TypeError):
        sessions.CreateSessionOptions("alice")  # keyword-only, like the generated class


# --- values Rust cannot take ----------------------------------------------------------

def test_integers_out_of_range_are_value_errors_naming_the_parameter():
    # Every integer of the API is signed (Java and Kotlin have no unsigned types): the
    # range is that of i32 / i64, and a negative value in range is the library's to judge.
    with pytest.raises(ValueError, match=r"^generate_secure_token\(\) argument 'bytes' must be between "
                                         r"-2147483648 and 2147483647, not 2147483648$"):
        sessions.generate_secure_token(2**31)
    # A SessionConfig is refused where it is written, naming the field.
    with pytest.raises(ValueError, match=r"^SessionConfig\(\) argument 'max_metadata_entries' "
                                         r"must be between -2147483648 and 2147483647, not -2147483649$"):
        sessions.SessionConfig(max_metadata_entries=-2**31 - 1)
    with pytest.raises(ValueError, match=r"^SessionConfig\(\) argument 'max_sessions_per_user' "
                                         r"must be between -2147483648 and 2147483647, not 2147483648$"):
        sessions.SessionConfig(max_sessions_per_user=2**31)


def test_negative_integers_in_range_are_the_library_errors():
    with pytest.raises(sessions.SessionError.InvalidTokenLength) as info:
        sessions.generate_secure_token(-1)
    assert (info.value.bytes, info.value.min, info.value.max) == (-1, 16, 1024)
    # A SessionConfig the library would refuse is refused at construction (not later,
    # where a manager is built from it), with the error the manager would raise.
    for field, value, says in (("max_metadata_entries", -1, "metadata limits must be 0 to 4096 entries"),
                               ("max_metadata_bytes", -2**31, "metadata limits must be 0 to 4096 entries"),
                               ("max_sessions_per_user", 0, "max_sessions_per_user must be at least 1"),
                               ("max_sessions_per_user", -1, "max_sessions_per_user must be at least 1"),
                               ("prefix", "", "prefix must be 1 to 64 bytes"),
                               ("auto_purge_interval", timedelta(0), "auto_purge_interval must be positive")):
        with pytest.raises(sessions.SessionError.InvalidConfig) as info:
            sessions.SessionConfig(**{field: value})
        assert str(info.value).startswith(f"the configuration is invalid: {says}"), str(info.value)
    with pytest.raises(sessions.SessionError.InvalidLifetime, match="default_expires_in must be positive"):
        sessions.SessionConfig(default_expires_in=timedelta(0))
    # dataclasses.replace builds a new one: the same check.
    config = sessions.SessionConfig(max_sessions_per_user=2)
    with pytest.raises(sessions.SessionError.InvalidConfig, match="max_sessions_per_user must be at least 1"):
        dataclasses.replace(config, max_sessions_per_user=-5)
    assert config.max_sessions_per_user == 2
    assert sessions.SessionManager(dataclasses.replace(config, max_sessions_per_user=1)).count() == 0


def test_open_takes_a_path_like(tmp_path):
    import os
    import pathlib

    class Where(os.PathLike):
        def __fspath__(self) -> str:
            return str(tmp_path / "custom.sqlite")

    for where in (tmp_path / "s.sqlite", Where(), str(tmp_path / "plain.sqlite")):
        m = sessions.SessionManager.open(where, sessions.SessionConfig())
        assert isinstance(m, sessions.SessionManager)
        token = m.create(options()).token
        again = sessions.SessionManager.open(path=where, config=sessions.SessionConfig())
        assert again.validate(token).valid
        assert pathlib.Path(os.fspath(where)).exists()
    durable = sessions.SessionManager.open_with_durability(tmp_path / "d.sqlite", sessions.SessionConfig(),
                                                           sessions.Durability.FULL)
    assert durable.validate(durable.create(options()).token).valid
    for opener in (sessions.SessionManager.open, sessions.SessionManager.open_with_durability):
        assert "os.PathLike[str]" in str(inspect.signature(opener).parameters["path"])
    for bad in (b"/tmp/x.sqlite", pathlib.PurePosixPath, 3, None):
        with pytest.raises(TypeError, match=r"^SessionManager\.open\(\) argument 'path' must be "
                                             r"str \| os\.PathLike\[str\], not "):
            sessions.SessionManager.open(bad, sessions.SessionConfig())

    class BytesPath(os.PathLike):
        def __fspath__(self) -> bytes:
            return b"/tmp/bytes.sqlite"

    with pytest.raises(TypeError, match="not BytesPath"):
        sessions.SessionManager.open(BytesPath(), sessions.SessionConfig())


def test_naive_datetimes_are_value_errors():
    s = sessions.create_session(options())
    with pytest.raises(ValueError, match=r"^Session\(\) argument 'created_at' is a naive datetime"):
        dataclasses.replace(s, created_at=datetime(2026, 1, 1))


LONE = "\ud800"


def test_a_token_that_is_not_valid_unicode_is_an_invalid_token(manager):
    manager.create(options())
    for token in (LONE, "abc\udfffdef", "x" * 42 + LONE):
        result = manager.validate(token)
        assert result == sessions.ValidationResult(
            valid=False, session=None, error=sessions.ValidationError.INVALID_TOKEN)
        assert manager.validate(token, user_agent="Firefox").error == sessions.ValidationError.INVALID_TOKEN
        with pytest.raises(sessions.SessionError.InvalidToken):
            manager.refresh(token)
        with pytest.raises(sessions.SessionError.InvalidToken):
            manager.refresh(token, user_agent="Firefox")
        assert sessions.validate_session(token, sessions.create_session(options())).error == \
            sessions.ValidationError.INVALID_TOKEN
    # Wrong types still come first.
    with pytest.raises(TypeError, match="argument 'user_agent'"):
        manager.validate(LONE, user_agent=1)


def surrogate_cases(manager, session_id):
    """Every other string parameter, given a lone surrogate."""
    yield "hash_token", "token", lambda: sessions.hash_token(LONE)
    yield "user_id", "user_id", lambda: options(LONE)
    yield "metadata value", r"metadata\['k'\]", lambda: manager.create(_with(metadata={"k": LONE}))
    yield "metadata key", "metadata key", lambda: manager.create(_with(metadata={LONE: "v"}))
    yield "user_agent", "user_agent", lambda: manager.validate("t", user_agent=LONE)
    yield "refresh user_agent", "user_agent", lambda: manager.refresh("t", user_agent=LONE)
    yield "destroy", "session_id", lambda: manager.destroy(LONE)
    yield "get", "session_id", lambda: manager.get(LONE)
    yield "list_for_user", "user_id", lambda: manager.list_for_user(LONE)
    yield "destroy_all_for_user", "user_id", lambda: manager.destroy_all_for_user(LONE)
    yield "import_json", "json", lambda: manager.import_json("[" + LONE + "]")
    yield "open", "path", lambda: sessions.SessionManager.open(LONE, sessions.SessionConfig())
    yield "prefix", "prefix", lambda: sessions.SessionConfig(prefix=LONE)


def _with(**fields):
    opts = options()
    for k, v in fields.items():
        setattr(opts, k, v)
    return opts


def test_other_text_that_is_not_valid_unicode_is_a_value_error_naming_the_parameter(manager):
    s = manager.create(options())
    cases = list(surrogate_cases(manager, s.id))
    for label, where, call in cases:
        with pytest.raises(ValueError, match=f"{where}.* is not valid Unicode: it contains a lone surrogate") as info:
            call()
        assert not isinstance(info.value, UnicodeError), label  # ours, not the encoder's
    assert manager.count() == 1 and manager.validate(s.token).valid  # nothing happened
