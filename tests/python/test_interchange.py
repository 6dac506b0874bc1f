"""`SessionManager.export_json` / `import_json` from Python (skipped when the installed
library has neither)."""

import json
from datetime import timedelta

import pytest

import sessions
from _support import START, make_manager, options

def test_export_then_import_keeps_sessions_and_tokens(kind, clock):
    a = make_manager(kind, clock)
    s = a.create(options(metadata={"ip": "10.0.0.1"}, sliding_expiration=True))
    r = a.create(options("bob", expires_in=timedelta(hours=2)))
    a.destroy(r.id)
    text = a.export_json()
    assert s.token not in text and r.token not in text
    entries = json.loads(text)
    assert {e["id"] for e in entries} == {s.id, r.id}
    mine = next(e for e in entries if e["id"] == s.id)
    assert mine["userId"] == "alice" and mine["tokenHash"] == s.token_hash
    assert mine["createdAt"] == "2026-01-01T00:00:00.000Z"

    b = make_manager(kind, clock)
    assert b.import_json(text) == 2
    assert b.count() == 2
    got = b.validate(s.token)
    assert got.valid and got.session.metadata == {"ip": "10.0.0.1"}
    assert got.session.created_at == START and got.session.sliding_expiration is True
    assert b.validate(r.token).error == sessions.ValidationError.SESSION_REVOKED


_NOT_HEX = json.dumps([{"id": "x", "userId": "u", "tokenHash": "nothex",
                        "createdAt": "2026-01-01T00:00:00.000Z",
                        "expiresAt": "2026-01-02T00:00:00.000Z"}])


@pytest.mark.parametrize("text", ["", "{", "{}", "[1]", '[{"id": 5}]', "null", "not json",
                                  json.dumps([{"id": "x"}]), _NOT_HEX])
def test_malformed_import_is_an_import_error_and_imports_nothing(kind, clock, text):
    m = make_manager(kind, clock)
    with pytest.raises(sessions.SessionError.Import) as info:
        m.import_json(text)
    assert info.value.reason
    assert m.count() == 0


def test_duplicate_import_is_refused_whole(kind, clock):
    a = make_manager(kind, clock)
    a.create(options())
    text = a.export_json()
    with pytest.raises(sessions.SessionError.Import):
        a.import_json(text)
    assert a.count() == 1
    b = make_manager(kind, clock)
    doubled = json.dumps(json.loads(text) * 2)
    with pytest.raises(sessions.SessionError.Import):
        b.import_json(doubled)
    assert b.count() == 0


def test_empty_export_and_import(kind, clock):
    m = make_manager(kind, clock)
    assert json.loads(m.export_json()) == []
    assert m.import_json("[]") == 0
