"""Records behave as the dataclasses they are: fields, asdict, replace, equality, copy,
pickle, json through asdict, pydantic and FastAPI; and they print without secrets."""

import copy
import dataclasses
import io
import json
import logging
import pickle
from datetime import datetime, timedelta, timezone

import pytest

import sessions
from _support import START, make_manager, options

RECORDS = [sessions.Session, sessions.PublicSession, sessions.CreateSessionOptions,
           sessions.SessionConfig, sessions.ValidationResult]


@pytest.fixture
def session(kind, clock):
    m = make_manager(kind, clock)
    return m.create(options(metadata={"ip": "10.0.0.1"}, expires_in=timedelta(hours=2)))


def live():
    """A session valid now (validate_session reads the system clock)."""
    return sessions.create_session(options(metadata={"ip": "10.0.0.1"}))


def examples(session):
    """One value of each record, as the library hands them out."""
    return {
        sessions.Session: session,
        sessions.PublicSession: sessions.to_public_session(session),
        sessions.CreateSessionOptions: options(metadata={"k": "v"}, expires_in=timedelta(minutes=5)),
        sessions.SessionConfig: sessions.SessionConfig(max_lifetime=timedelta(days=7)),
        sessions.ValidationResult: (lambda s: sessions.validate_session(s.token, s))(live()),
    }


def test_every_public_record_is_a_dataclass_with_its_fields():
    records = [getattr(sessions, n) for n in sessions.__all__
               if dataclasses.is_dataclass(getattr(sessions, n))]
    assert set(RECORDS) <= set(records)
    for cls in records:
        names = [f.name for f in dataclasses.fields(cls)]
        assert names, cls
        assert names == list(cls.__annotations__), cls
    assert [f.name for f in dataclasses.fields(sessions.PublicSession)] == [
        "id", "user_id", "created_at", "expires_at", "metadata"]
    fields = {f.name: f for f in dataclasses.fields(sessions.SessionConfig)}
    assert fields["prefix"].default == "session:" and fields["max_metadata_entries"].default == 64
    assert fields["max_lifetime"].type == timedelta | None


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_asdict_replace_equality_copy_pickle(cls, session):
    value = examples(session)[cls]
    as_dict = dataclasses.asdict(value)
    assert list(as_dict) == [f.name for f in dataclasses.fields(cls)]
    assert as_dict  # not {} as UniFFI's bare dataclasses gave
    again = dataclasses.replace(value)
    assert again == value and again is not value
    assert copy.deepcopy(value) == value and copy.copy(value) == value
    assert pickle.loads(pickle.dumps(value)) == value
    first = dataclasses.fields(cls)[0].name
    changed = dataclasses.replace(value, **{first: _other(getattr(value, first))})
    assert changed != value
    assert value != 1 and value != as_dict and value is not None  # no AttributeError


def _other(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, timedelta) or value is None:
        return timedelta(seconds=1) if value is None else value + timedelta(seconds=1)
    raise AssertionError(value)


def test_records_from_the_library_equal_records_built_by_hand(session):
    public = sessions.to_public_session(session)
    assert public == sessions.PublicSession(
        id=session.id, user_id="alice", created_at=START, expires_at=START + timedelta(hours=2),
        metadata={"ip": "10.0.0.1"})
    assert sessions.Session(**dataclasses.asdict(session)) == session


def test_replace_checks_the_new_values(session):
    with pytest.raises(TypeError, match=r"^Session\(\) argument 'expires_at' must be datetime\.datetime, not str$"):
        dataclasses.replace(session, expires_at="tomorrow")
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        dataclasses.replace(session, nope=1)


def test_nested_records_convert_deeply():
    session = live()
    result = sessions.validate_session(session.token, session)
    d = dataclasses.asdict(result)
    assert d["valid"] is True and d["error"] is None
    assert d["session"]["id"] == session.id and d["session"]["metadata"] == {"ip": "10.0.0.1"}
    failed = sessions.validate_session("wrong", session)
    assert dataclasses.asdict(failed) == {
        "valid": False, "session": None, "error": sessions.ValidationError.INVALID_TOKEN}


def test_json_through_asdict(session):
    # default=str: datetimes as str(datetime) ("2026-01-01 02:00:00+00:00"), timedeltas as
    # str(timedelta) ("2:00:00"); isoformat gives ISO 8601 instead.
    text = json.dumps(dataclasses.asdict(sessions.to_public_session(session)), default=str)
    assert json.loads(text) == {
        "id": session.id, "user_id": "alice", "created_at": "2026-01-01 00:00:00+00:00",
        "expires_at": "2026-01-01 02:00:00+00:00", "metadata": {"ip": "10.0.0.1"}}
    whole = json.loads(json.dumps(dataclasses.asdict(session), default=str))
    assert whole["lifetime"] == "2:00:00" and whole["revoked_at"] is None

    def iso(value):
        return value.isoformat() if isinstance(value, datetime) else value.total_seconds()

    whole = json.loads(json.dumps(dataclasses.asdict(session), default=iso))
    assert whole["created_at"] == "2026-01-01T00:00:00+00:00" and whole["lifetime"] == 7200.0


def test_pydantic_serializes_and_validates_records(session):
    import pydantic
    public = sessions.to_public_session(session)
    adapter = pydantic.TypeAdapter(sessions.PublicSession)
    assert adapter.dump_python(public) == dataclasses.asdict(public)
    assert json.loads(adapter.dump_json(public)) == {
        "id": session.id, "user_id": "alice", "created_at": "2026-01-01T00:00:00Z",
        "expires_at": "2026-01-01T02:00:00Z", "metadata": {"ip": "10.0.0.1"}}
    assert adapter.validate_json(adapter.dump_json(public)) == public
    full = pydantic.TypeAdapter(sessions.Session)
    dumped = json.loads(full.dump_json(session))
    assert dumped["lifetime"] == "PT2H" and dumped["token_hash"] == session.token_hash
    assert full.validate_python(full.dump_python(session)) == session
    config = pydantic.TypeAdapter(sessions.SessionConfig).validate_python({"max_lifetime": 172800})
    assert config == sessions.SessionConfig(max_lifetime=timedelta(days=2))
    result = pydantic.TypeAdapter(sessions.ValidationResult).dump_python(
        sessions.validate_session("wrong", session), mode="json")
    assert result == {"valid": False, "session": None, "error": 0}


def test_fastapi_returns_a_public_session_with_its_fields(session):
    import fastapi
    from fastapi.testclient import TestClient

    app = fastapi.FastAPI()
    public = sessions.to_public_session(session)

    @app.get("/me")
    def me() -> sessions.PublicSession:
        return public

    @app.get("/list", response_model=list[sessions.PublicSession])
    def listing():
        return [public, public]

    client = TestClient(app)
    body = client.get("/me").json()
    assert body == {"id": session.id, "user_id": "alice", "created_at": "2026-01-01T00:00:00Z",
                    "expires_at": "2026-01-01T02:00:00Z", "metadata": {"ip": "10.0.0.1"}}
    assert client.get("/list").json() == [body, body]
    schema = client.get("/openapi.json").json()["components"]["schemas"]["PublicSession"]
    assert set(schema["properties"]) == {"id", "user_id", "created_at", "expires_at", "metadata"}


# --- printing without secrets ---------------------------------------------------------

def test_repr_and_str_never_show_the_token_or_the_whole_hash(caplog):
    session = live()
    result = sessions.validate_session(session.token, session)
    texts = [repr(session), str(session), f"{session}", f"{session!r}", "%s" % session,
             "{}".format(session), repr([session]), str(result), repr(result),
             repr(dataclasses.replace(session)), str({"s": session})]
    logger = logging.getLogger("sessions-test")
    with caplog.at_level(logging.INFO, logger="sessions-test"):
        logger.info("created %s", session)
        logger.info("validated %r", result)
        logger.info(f"session {session}")
    texts += [r.getMessage() for r in caplog.records]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        logger.warning("session %s", session)
    finally:
        logger.removeHandler(handler)
    texts.append(stream.getvalue())
    for text in texts:
        assert session.token not in text, text
        assert session.token_hash not in text, text
        assert session.token_hash[:8] in text and session.id in text and "10.0.0.1" in text, text
        assert "redacted" in text, text
    assert "token='<redacted>'" in repr(session)
    assert f"token_hash='{session.token_hash[:8]}…'" in repr(session)
    assert repr(session).startswith("Session(id=")


def test_a_rotated_session_prints_its_previous_token_hash_shortened(kind, clock):
    m = make_manager(kind, clock)
    first = m.create(options())
    rotated = m.refresh(first.token)
    stored = m.get(rotated.id)
    for record in (rotated, stored, m.validate(rotated.token).session):
        assert record.previous_token_hash == first.token_hash
        for text in (repr(record), str(record)):
            assert first.token_hash not in text, text
            assert first.token_hash[:8] in text, text
        assert f"previous_token_hash='{first.token_hash[:8]}…'" in repr(record)


def test_a_session_read_back_prints_an_empty_token(kind, clock):
    m = make_manager(kind, clock)
    stored = m.get(m.create(options()).id)
    assert "token=''" in repr(stored)


def test_str_is_the_library_one_line_form(session):
    text = str(session)
    assert "\n" not in text and session.id in text
    assert str(sessions.SessionConfig()) and str(options())


def test_printing_a_record_with_a_bad_field_does_not_raise(session):
    session.created_at = "not a datetime"
    session.metadata = {"k": 1}
    for text in (repr(session), str(session)):
        assert "not a datetime" in text and session.token not in text


def test_other_records_print_readably(kind, clock):
    config = sessions.SessionConfig(max_lifetime=timedelta(days=1))
    assert repr(config).startswith("SessionConfig(default_expires_in=None, max_lifetime=datetime.timedelta(days=1)")
    assert repr(options()) == ("CreateSessionOptions(user_id='alice', expires_in=None, metadata=None, "
                               "sliding_expiration=False)")


def test_records_are_unhashable_like_mutable_dataclasses():
    with pytest.raises(TypeError):
        hash(sessions.SessionConfig())


def test_pattern_matching_by_keyword():
    session = live()
    match sessions.validate_session(session.token, session):
        case sessions.ValidationResult(valid=True, session=sessions.Session(user_id=user)):
            assert user == "alice"
        case _:
            raise AssertionError("no match")


def test_timezone_of_datetimes_handed_in_is_kept_in_records():
    plus2 = timezone(timedelta(hours=2))
    public = sessions.PublicSession(id="i", user_id="u", created_at=datetime(2026, 1, 1, tzinfo=plus2),
                                    expires_at=datetime(2026, 1, 2, tzinfo=plus2), metadata=None)
    assert public.created_at.utcoffset() == timedelta(hours=2)


def test_an_export_prints_its_json_by_length(kind, clock):
    m = make_manager(kind, clock)
    m.create(options())
    export = m.export_sessions()
    text = repr(export)
    assert f"json=<{len(export.json)} characters of JSON>" in text and export.json not in text
    assert dataclasses.asdict(export)["json"] == export.json
