"""Every error prints one sentence (the Rust library's message) and keeps its fields."""

import inspect
import pickle

import pytest

import sessions
from _support import make_manager, options

ERRORS = [sessions.SessionError, sessions.ClockError]


def field_value(name):
    return {"bytes": 7, "min": 16, "max": 1024, "entry": 3}.get(name, f"<{name}>")


def variants():
    for base in ERRORS:
        for name, cls in vars(base).items():
            if isinstance(cls, type) and issubclass(cls, base):
                fields = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
                yield pytest.param(cls, fields, id=f"{base.__name__}.{name}")


VARIANTS = list(variants())


def test_all_variants_are_covered():
    names = {p.id for p in VARIANTS}
    assert {"SessionError.InvalidToken", "SessionError.Store", "SessionError.Import",
            "SessionError.InvalidTokenLength", "ClockError.Failed"} <= names
    assert len(names) >= 15


@pytest.mark.parametrize("cls, fields", VARIANTS)
def test_every_error_is_one_sentence_with_its_fields(cls, fields):
    values = {f: field_value(f) for f in fields}
    error = cls(**values)
    text = str(error)
    assert text and "\n" not in text, text
    assert text[0].islower() or text[0] == text[0].upper(), text
    assert text == text.strip() and not text.startswith(("reason=", "(")), text
    assert text.count(". ") == 0, f"more than one sentence: {text}"
    for field, value in values.items():
        assert getattr(error, field) == value
        assert str(value) in text, (field, text)
    assert repr(error) == f"{cls.__qualname__}({', '.join(f'{k}={v!r}' for k, v in values.items())})"
    assert str(error) != repr(error)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is cls and str(again) == text and vars(again) == vars(error)


def test_exact_messages():
    assert str(sessions.SessionError.InvalidToken()) == (
        "the token is not valid (unknown, malformed, or rotated out); the client must sign in again")
    assert str(sessions.SessionError.Store(reason="disk full")) == "the session store failed: disk full"
    assert str(sessions.ClockError.Failed(reason="ntp down")) == "the clock failed: ntp down"
    assert str(sessions.SessionError.InvalidTokenLength(bytes=7, min=16, max=1024)) == (
        "a token of 7 random bytes was requested; the length must be 16 to 1024 bytes")


def test_errors_raised_by_the_library_read_the_same(kind, clock):
    m = make_manager(kind, clock)
    with pytest.raises(sessions.SessionError.InvalidToken) as info:
        m.refresh("nope")
    assert str(info.value) == str(sessions.SessionError.InvalidToken())
    with pytest.raises(sessions.SessionError.InvalidUserId) as info:
        m.create(options(""))
    assert info.value.reason and info.value.reason in str(info.value)
    with pytest.raises(sessions.SessionError.SessionNotFound) as info:
        m.destroy("missing-id")
    assert info.value.session_id == "missing-id" and "missing-id" in str(info.value)
    with pytest.raises(sessions.SessionError.InvalidTokenLength) as info:
        sessions.generate_secure_token(8)
    assert (info.value.bytes, info.value.min, info.value.max) == (8, 16, 1024)


def test_traceback_line_names_the_package_class():
    import traceback
    try:
        raise sessions.SessionError.InvalidToken()
    except sessions.SessionError as e:
        line = traceback.format_exception_only(e)[-1]
    assert line.startswith("sessions.SessionError.InvalidToken: the token is not valid"), line


def test_an_error_with_a_field_of_the_wrong_type_still_prints():
    error = sessions.SessionError.Store(reason=5)
    assert "5" in str(error) and "Store" in repr(error)


def test_validation_errors_read_as_the_matching_session_error():
    VE = sessions.ValidationError
    for member in VE:
        error = getattr(sessions.SessionError, "".join(w.capitalize() for w in member.name.split("_")))()
        assert str(member) == f"{member}" == str(error)
    assert repr(VE.INVALID_TOKEN) == "<ValidationError.INVALID_TOKEN: 0>"
