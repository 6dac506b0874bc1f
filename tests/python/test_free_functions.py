"""The seed package's own test cases, on the stateless free functions (REFERENCE.md §1)."""

import hashlib
import re
from datetime import datetime, timedelta, timezone

import pytest

import sessions
from _support import options

BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")


def test_tokens_are_long_random_base64url_and_unique():
    tokens = {sessions.generate_secure_token() for _ in range(500)}
    assert len(tokens) == 500
    for token in tokens:
        assert len(token) >= 32
        assert len(token) == 43  # 32 bytes, base64url without padding
        assert BASE64URL.match(token)


def test_generate_secure_token_64_bytes():
    token = sessions.generate_secure_token(64)
    assert len(token) >= 64
    assert BASE64URL.match(token)


@pytest.mark.parametrize("size", [0, 15, 1025])
def test_generate_secure_token_out_of_range(size):
    with pytest.raises(sessions.SessionError.InvalidTokenLength) as info:
        sessions.generate_secure_token(size)
    assert (info.value.bytes, info.value.min, info.value.max) == (size, 16, 1024)
    assert isinstance(info.value, sessions.SessionError)


def test_generate_secure_token_bounds_accepted():
    assert len(sessions.generate_secure_token(16)) == 22
    assert len(sessions.generate_secure_token(1024)) == 1366


def test_hash_token_is_deterministic_sha256_hex_and_differs_from_token():
    token = sessions.generate_secure_token()
    h = sessions.hash_token(token)
    assert h == sessions.hash_token(token)
    assert h != token
    assert h == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", h)
    assert sessions.hash_token("héllo\x00") == hashlib.sha256("héllo\x00".encode()).hexdigest()


def test_create_session_defaults_to_exactly_24_hours():
    s = sessions.create_session(options())
    assert s.expires_at - s.created_at == timedelta(hours=24)
    assert s.lifetime == timedelta(hours=24)
    assert s.absolute_expires_at - s.created_at == timedelta(days=30)
    assert s.token and s.token_hash == sessions.hash_token(s.token)
    assert s.user_id == "alice"
    assert s.revoked_at is None
    assert s.sliding_expiration is False
    assert s.bound_user_agent is None
    assert s.metadata is None
    assert re.fullmatch(r"[0-9a-f-]{36}", s.id)


def test_create_session_custom_expires_in_is_exact():
    s = sessions.create_session(options(expires_in=timedelta(minutes=5)))
    assert s.expires_at - s.created_at == timedelta(minutes=5)


def test_create_session_metadata_round_trips():
    meta = {"ip": "10.0.0.1", "userAgent": "Mozilla/5.0", "ünï": "cödé ✓"}
    s = sessions.create_session(options(metadata=meta))
    assert s.metadata == meta
    assert sessions.to_public_session(s).metadata == meta


def test_create_session_timestamps_are_aware_utc_and_recent():
    before = datetime.now(timezone.utc)
    s = sessions.create_session(options())
    after = datetime.now(timezone.utc)
    for t in (s.created_at, s.expires_at, s.absolute_expires_at):
        assert t.tzinfo is not None and t.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= s.created_at <= after + timedelta(seconds=1)


def test_create_session_errors():
    with pytest.raises(sessions.SessionError.InvalidUserId):
        sessions.create_session(options(user_id=""))
    with pytest.raises(sessions.SessionError.InvalidUserId):
        sessions.create_session(options(user_id="x" * 257))
    sessions.create_session(options(user_id="x" * 256))
    with pytest.raises(sessions.SessionError.InvalidLifetime):
        sessions.create_session(options(expires_in=timedelta(0)))
    with pytest.raises(sessions.SessionError.InvalidLifetime):
        sessions.create_session(options(expires_in=timedelta(days=31)))
    with pytest.raises(sessions.SessionError.MetadataTooLarge):
        sessions.create_session(options(metadata={f"k{i}": "v" for i in range(65)}))
    with pytest.raises(sessions.SessionError.MetadataTooLarge):
        sessions.create_session(options(metadata={"k": "x" * 8192}))


def test_validate_session_valid_and_each_error():
    s = sessions.create_session(options())
    ok = sessions.validate_session(s.token, s)
    assert ok.valid and ok.error is None and ok.session == s

    wrong = sessions.validate_session(sessions.generate_secure_token(), s)
    assert not wrong.valid and wrong.session is None
    assert wrong.error == sessions.ValidationError.INVALID_TOKEN

    revoked = sessions.destroy_session(s)
    assert sessions.validate_session(s.token, revoked).error == sessions.ValidationError.SESSION_REVOKED

    expired = sessions.create_session(options())
    expired.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert sessions.validate_session(expired.token, expired).error == sessions.ValidationError.SESSION_EXPIRED


def test_validate_session_checks_token_first_then_revoked_then_expired():
    # Bug 5 (order): a revoked and expired session reports revoked; a wrong token wins.
    s = sessions.destroy_session(sessions.create_session(options()))
    s.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert sessions.validate_session(s.token, s).error == sessions.ValidationError.SESSION_REVOKED
    assert sessions.validate_session("nope", s).error == sessions.ValidationError.INVALID_TOKEN


def test_validate_session_user_agent():
    s = sessions.create_session(options())
    s.bound_user_agent = "UA/1"
    assert sessions.validate_session(s.token, s, "UA/1").valid
    assert sessions.validate_session(s.token, s, "UA/2").error == sessions.ValidationError.USER_AGENT_MISMATCH
    assert sessions.validate_session(s.token, s).error == sessions.ValidationError.USER_AGENT_MISMATCH


def test_destroy_session_sets_revoked_at_once():
    s = sessions.create_session(options())
    d = sessions.destroy_session(s)
    assert d.revoked_at is not None and d.revoked_at.tzinfo is not None
    assert s.revoked_at is None  # the argument is not changed
    again = sessions.destroy_session(d)
    assert again.revoked_at == d.revoked_at


def test_refresh_session_rotates_token_and_extends():
    s = sessions.create_session(options(expires_in=timedelta(hours=1)))
    r = sessions.refresh_session(s)
    assert r.id == s.id
    assert r.token != s.token and r.token_hash != s.token_hash
    assert r.token_hash == sessions.hash_token(r.token)
    assert r.expires_at > s.expires_at - timedelta(seconds=1)
    assert r.expires_at >= s.expires_at
    assert not sessions.validate_session(s.token, r).valid
    assert sessions.validate_session(r.token, r).valid


def test_refresh_session_later_expiry():
    s = sessions.create_session(options(expires_in=timedelta(hours=1)))
    s.expires_at -= timedelta(minutes=30)  # as if half an hour had passed
    r = sessions.refresh_session(s)
    assert r.expires_at > s.expires_at


def test_refresh_session_slide_only_keeps_token_moves_expiry():
    s = sessions.create_session(options(expires_in=timedelta(hours=1)))
    s.expires_at -= timedelta(minutes=30)
    r = sessions.refresh_session(s, slide_only=True)
    assert r.token == s.token and r.token_hash == s.token_hash
    assert r.expires_at > s.expires_at


def test_refresh_session_never_past_absolute_end():
    s = sessions.create_session(options(expires_in=timedelta(hours=1)))
    s.absolute_expires_at = s.created_at + timedelta(minutes=90)
    s.expires_at = s.created_at + timedelta(minutes=80)
    r = sessions.refresh_session(s)
    assert r.expires_at <= s.absolute_expires_at


def test_refresh_session_refuses_revoked_and_expired():
    s = sessions.create_session(options())
    with pytest.raises(sessions.SessionError.SessionRevoked):
        sessions.refresh_session(sessions.destroy_session(s))
    s.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    with pytest.raises(sessions.SessionError.SessionExpired):
        sessions.refresh_session(s)


def test_to_public_session_has_no_token_or_hash():
    s = sessions.create_session(options(metadata={"a": "b"}))
    p = sessions.to_public_session(s)
    assert isinstance(p, sessions.PublicSession)
    assert not hasattr(p, "token") and not hasattr(p, "token_hash")
    assert (p.id, p.user_id, p.created_at, p.expires_at, p.metadata) == (
        s.id, s.user_id, s.created_at, s.expires_at, s.metadata)
    assert s.token not in str(p) and s.token_hash not in str(p)
