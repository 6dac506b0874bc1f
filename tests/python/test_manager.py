"""SessionManager from Python, on the Rust in-memory store and on a Python DictStore
(every test runs on both), with a Python clock moved by hand: no sleeping."""

from datetime import timedelta

import pytest

import sessions
from _support import START, DictStore, ManualClock, make_manager, options

VE = sessions.ValidationError


def test_create_validate_and_default_lifetime(manager, clock):
    s = manager.create(options())
    assert s.token and s.token_hash == sessions.hash_token(s.token)
    assert s.created_at == START
    assert s.expires_at == START + timedelta(hours=24)
    assert s.absolute_expires_at == START + timedelta(days=30)
    r = manager.validate(s.token)
    assert r.valid and r.error is None
    assert r.session.id == s.id and r.session.user_id == "alice"
    assert r.session.token == ""  # read back from the store: no raw token


def test_create_custom_lifetime_metadata_and_sliding_flag(manager):
    meta = {"ip": "10.0.0.1", "device": "phone ✓"}
    s = manager.create(options(expires_in=timedelta(minutes=7), metadata=meta, sliding_expiration=True))
    assert s.expires_at - s.created_at == timedelta(minutes=7)
    assert s.metadata == meta and s.sliding_expiration is True
    got = manager.get(s.id)
    assert got.metadata == meta and got.lifetime == timedelta(minutes=7)


def test_config_default_expires_in_and_limits(kind, clock):
    m = make_manager(kind, clock, default_expires_in=timedelta(hours=1), max_lifetime=timedelta(hours=2),
                     max_metadata_entries=2, max_metadata_bytes=10, prefix="app:")
    assert m.prefix() == "app:"
    s = m.create(options())
    assert s.expires_at == START + timedelta(hours=1)
    assert s.absolute_expires_at == START + timedelta(hours=2)
    with pytest.raises(sessions.SessionError.InvalidLifetime):
        m.create(options(expires_in=timedelta(hours=3)))
    with pytest.raises(sessions.SessionError.MetadataTooLarge):
        m.create(options(metadata={"a": "1", "b": "2", "c": "3"}))
    with pytest.raises(sessions.SessionError.MetadataTooLarge):
        m.create(options(metadata={"k": "x" * 10}))
    m.create(options(metadata={"k": "x" * 9}))


def test_default_prefix(manager):
    assert manager.prefix() == "session:"


@pytest.mark.parametrize("config", [
    dict(max_lifetime=timedelta(0)),
    dict(default_expires_in=timedelta(0)),
    dict(default_expires_in=timedelta(days=2), max_lifetime=timedelta(days=1)),
])
def test_invalid_config_lifetimes(kind, clock, config):
    with pytest.raises(sessions.SessionError.InvalidLifetime):
        make_manager(kind, clock, **config)


@pytest.mark.parametrize("config", [
    dict(prefix=""),
    dict(prefix="p" * 10_000),
    dict(max_metadata_entries=4097),
    dict(max_metadata_bytes=1024 * 1024 + 1),
    dict(auto_purge_interval=timedelta(0)),
], ids=["empty-prefix", "huge-prefix", "entries-limit", "bytes-limit", "zero-auto-purge"])
def test_invalid_config(kind, clock, config):
    with pytest.raises(sessions.SessionError.InvalidConfig) as info:
        make_manager(kind, clock, **config)
    assert info.value.reason and isinstance(info.value, sessions.SessionError)


def test_largest_valid_config(kind, clock):
    m = make_manager(kind, clock, max_metadata_entries=4096, max_metadata_bytes=1024 * 1024,
                     max_lifetime=timedelta(days=365), default_expires_in=timedelta(days=365))
    assert m.validate(m.create(options()).token).valid


def test_invalid_config_class_is_a_session_error():
    e = sessions.SessionError.InvalidConfig(reason="x")
    assert isinstance(e, sessions.SessionError) and e.reason == "x"


def test_user_id_errors(manager):
    with pytest.raises(sessions.SessionError.InvalidUserId):
        manager.create(options(user_id=""))
    with pytest.raises(sessions.SessionError.InvalidUserId):
        manager.create(options(user_id="é" * 129))  # 258 UTF-8 bytes
    with pytest.raises(sessions.SessionError.InvalidUserId):
        manager.list_for_user("")
    with pytest.raises(sessions.SessionError.InvalidUserId):
        manager.destroy_all_for_user("")
    with pytest.raises(sessions.SessionError.InvalidLifetime):
        manager.create(options(expires_in=timedelta(0)))


# --- section 2, bug 1: refresh rotates, the old token is refused at once -------------

def test_refresh_rotates_and_old_token_works_only_within_the_grace(manager, clock):
    s = manager.create(options(expires_in=timedelta(hours=1)))
    clock.advance(600)
    r = manager.refresh(s.token)
    assert r.id == s.id and r.token != s.token and r.token_hash != s.token_hash
    assert r.token_hash == sessions.hash_token(r.token)
    assert r.expires_at == START + timedelta(minutes=70)
    assert manager.validate(s.token).valid                # within the 10 s rotation grace
    assert manager.refresh(s.token).token == r.token      # the same new token
    clock.advance(10)
    assert manager.validate(r.token).valid
    assert manager.validate(s.token).error == VE.TOKEN_REUSED  # after it: token reuse
    assert manager.validate(r.token).error == VE.SESSION_REVOKED
    with pytest.raises(sessions.SessionError.SessionRevoked):
        manager.refresh(s.token)
    assert manager.count() == 1


def test_refresh_errors(manager, clock):
    with pytest.raises(sessions.SessionError.InvalidToken):
        manager.refresh("no such token")
    s = manager.create(options(expires_in=timedelta(minutes=1)))
    clock.advance(60)
    with pytest.raises(sessions.SessionError.SessionExpired):
        manager.refresh(s.token)
    t = manager.create(options())
    manager.destroy(t.id)
    with pytest.raises(sessions.SessionError.SessionRevoked):
        manager.refresh(t.token)


# --- bug 2: list and destroy-all for a user ------------------------------------------

def test_list_for_user_and_destroy_all(manager, clock):
    a1 = manager.create(options("alice"))
    clock.advance(1)
    a2 = manager.create(options("alice", expires_in=timedelta(minutes=1)))
    clock.advance(1)
    a3 = manager.create(options("alice"))
    b = manager.create(options("bob"))
    assert [s.id for s in manager.list_for_user("alice")] == [a1.id, a2.id, a3.id]
    assert all(s.token == "" for s in manager.list_for_user("alice"))
    manager.destroy(a3.id)
    clock.advance(60)  # a2 expired
    assert [s.id for s in manager.list_for_user("alice")] == [a1.id]
    assert manager.list_for_user("nobody") == []
    assert manager.destroy_all_for_user("alice") == 2  # a1 and the expired a2 (a3 already revoked)
    assert manager.list_for_user("alice") == []
    assert manager.validate(a1.token).error == VE.SESSION_REVOKED
    assert manager.destroy_all_for_user("alice") == 0
    assert manager.validate(b.token).valid
    assert [s.id for s in manager.list_for_user("bob")] == [b.id]


# --- bug 3: sliding expiry applied, and an absolute cap ------------------------------

def test_sliding_expiry_slides_at_half_window(manager, clock):
    s = manager.create(options(expires_in=timedelta(hours=1), sliding_expiration=True))
    clock.advance(minutes=29)
    r = manager.validate(s.token)
    assert r.valid and r.session.expires_at == START + timedelta(hours=1)  # no write yet
    clock.advance(minutes=2)  # 31 minutes in: less than half the window left
    r = manager.validate(s.token)
    assert r.session.expires_at == START + timedelta(minutes=91)
    assert manager.get(s.id).expires_at == START + timedelta(minutes=91)
    clock.advance(minutes=59)  # minute 90: still valid thanks to the slide
    assert manager.validate(s.token).valid
    clock.advance(minutes=61)  # idle for a whole window
    assert manager.validate(s.token).error == VE.SESSION_EXPIRED


def test_non_sliding_session_does_not_move(manager, clock):
    s = manager.create(options(expires_in=timedelta(hours=1)))
    clock.advance(minutes=50)
    assert manager.validate(s.token).session.expires_at == START + timedelta(hours=1)
    clock.advance(minutes=10)
    assert manager.validate(s.token).error == VE.SESSION_EXPIRED


def test_absolute_cap_for_sliding_and_refresh(kind, clock):
    m = make_manager(kind, clock, default_expires_in=timedelta(hours=1), max_lifetime=timedelta(hours=2))
    slide = m.create(options(expires_in=timedelta(hours=1), sliding_expiration=True))
    rot = m.create(options(expires_in=timedelta(hours=1)))
    token = rot.token
    for _ in range(3):  # minutes 40, 80, 120
        clock.advance(minutes=40)
        if clock.now() < START + timedelta(hours=2):
            r = m.validate(slide.token)
            assert r.valid and r.session.expires_at <= START + timedelta(hours=2)
            token = m.refresh(token).token
            assert m.get(rot.id).expires_at <= START + timedelta(hours=2)
    assert m.get(slide.id).expires_at == START + timedelta(hours=2)
    assert m.validate(slide.token).error == VE.SESSION_EXPIRED
    assert m.validate(token).error == VE.SESSION_EXPIRED
    with pytest.raises(sessions.SessionError.SessionExpired):
        m.refresh(token)


def test_refresh_only_extends_to_now_plus_lifetime(manager, clock):
    s = manager.create(options(expires_in=timedelta(hours=1)))
    clock.advance(minutes=10)
    r = manager.refresh(s.token)
    assert r.expires_at == clock.now() + timedelta(hours=1)


# --- bug 4: of two refreshes of one token, one wins (threads: test_threads.py) -------

def test_second_refresh_of_same_token_after_the_grace_is_token_reuse(manager, clock):
    s = manager.create(options())
    first = manager.refresh(s.token)
    assert manager.refresh(s.token).token == first.token
    clock.advance(11)
    with pytest.raises(sessions.SessionError.TokenReused):
        manager.refresh(s.token)
    with pytest.raises(sessions.SessionError.SessionRevoked):
        manager.refresh(first.token)


# --- bug 5: user agent binding and the order of checks -------------------------------

def test_user_agent_binding(kind, clock):
    m = make_manager(kind, clock, bind_to_user_agent=True)
    s = m.create(options(metadata={"userAgent": "UA/1"}))
    assert s.bound_user_agent == "UA/1"
    assert m.validate(s.token, "UA/1").valid
    assert m.validate(s.token, "UA/2").error == VE.USER_AGENT_MISMATCH
    assert m.validate(s.token).error == VE.USER_AGENT_MISMATCH
    with pytest.raises(sessions.SessionError.UserAgentMismatch):
        m.refresh(s.token, "UA/2")  # refresh checks the user agent too
    with pytest.raises(sessions.SessionError.UserAgentMismatch):
        m.refresh(s.token)
    r = m.refresh(s.token, "UA/1")
    assert r.bound_user_agent == "UA/1"
    # revoked (and expired) beat the user agent
    m.destroy(s.id)
    assert m.validate(r.token, "UA/2").error == VE.SESSION_REVOKED
    with pytest.raises(sessions.SessionError.SessionRevoked):
        m.refresh(r.token, "UA/2")
    t = m.create(options(expires_in=timedelta(minutes=1), metadata={"userAgent": "UA/1"}))
    clock.advance(60)
    assert m.validate(t.token, "UA/2").error == VE.SESSION_EXPIRED


def test_no_binding_without_config(manager):
    s = manager.create(options(metadata={"userAgent": "UA/1"}))
    assert s.bound_user_agent is None
    assert manager.validate(s.token, "anything").valid


def test_binding_without_user_agent_metadata_is_refused(kind, clock):
    # A binding manager never issues an unbound session: it would validate from any
    # user agent (field report: binding failed open).
    m = make_manager(kind, clock, bind_to_user_agent=True)
    with pytest.raises(sessions.SessionError.UserAgentRequired):
        m.create(options())
    with pytest.raises(sessions.SessionError.UserAgentRequired):
        m.create(options(metadata={"user-agent": "UA/9"}))
    assert m.count() == 0


# --- bug 6: expired at exactly expires_at --------------------------------------------

def test_expired_at_the_exact_instant(manager, clock):
    s = manager.create(options(expires_in=timedelta(seconds=60)))
    clock.advance(59.999)
    assert manager.validate(s.token).valid
    clock.advance(0.001)
    assert manager.validate(s.token).error == VE.SESSION_EXPIRED
    assert manager.list_for_user("alice") == []


# --- bugs 7 and 8: one atomic write; no raw token kept anywhere -----------------------

def test_store_never_holds_raw_tokens_and_create_is_one_write(clock):
    store = DictStore()
    m = make_manager("python_dict", clock, store=store)
    s = m.create(options())
    assert store.calls.get("insert") == 1
    r = m.refresh(s.token)
    m.validate(r.token)
    for stored in store._by_id.values():
        assert stored.token == ""
        assert stored.token_hash == r.token_hash
    assert m.get(s.id).token == ""


# --- destroy, get, purge, count, to_public_session -----------------------------------

def test_destroy(manager):
    s = manager.create(options())
    assert manager.destroy(s.id) is True
    assert manager.destroy(s.id) is False
    r = manager.validate(s.token)
    assert not r.valid and r.error == VE.SESSION_REVOKED and r.session is None
    got = manager.get(s.id)
    assert got.revoked_at == START
    with pytest.raises(sessions.SessionError.SessionNotFound) as info:
        manager.destroy("no-such-id")
    assert info.value.session_id == "no-such-id"
    assert isinstance(info.value, sessions.SessionError)


def test_get(manager):
    assert manager.get("nope") is None
    s = manager.create(options(metadata={"a": "b"}))
    got = manager.get(s.id)
    assert got.id == s.id and got.token == "" and got.token_hash == s.token_hash
    assert got.metadata == {"a": "b"} and got.created_at == s.created_at


def test_purge_and_count(manager, clock):
    short = manager.create(options(expires_in=timedelta(minutes=1)))
    revoked_short = manager.create(options(expires_in=timedelta(minutes=1)))
    revoked_long = manager.create(options())
    keep = manager.create(options())
    manager.destroy(revoked_short.id)
    manager.destroy(revoked_long.id)
    assert manager.count() == 4
    assert manager.purge_expired() == 0
    clock.advance(60)
    assert manager.purge_expired() == 2
    assert manager.count() == 2
    assert manager.get(short.id) is None and manager.get(revoked_short.id) is None
    assert manager.validate(short.token).error == VE.INVALID_TOKEN
    assert manager.validate(revoked_long.token).error == VE.SESSION_REVOKED
    assert manager.validate(keep.token).valid
    assert manager.purge_expired() == 0


def test_auto_purge_on_create(kind, clock):
    m = make_manager(kind, clock, auto_purge_interval=timedelta(hours=1))
    gone = m.create(options(expires_in=timedelta(minutes=1)))
    clock.advance(59 * 60)
    m.create(options())
    assert m.count() == 2  # an hour has not passed since the first create
    clock.advance(60)
    m.create(options())
    assert m.count() == 2 and m.get(gone.id) is None


def test_no_auto_purge_by_default(manager, clock):
    manager.create(options(expires_in=timedelta(minutes=1)))
    clock.advance(2 * 3600)
    manager.create(options())
    assert manager.count() == 2


def test_negative_auto_purge_interval_is_a_value_error(kind, clock):
    with pytest.raises(ValueError, match="auto_purge_interval"):
        make_manager(kind, clock, auto_purge_interval=timedelta(seconds=-1))


def test_manager_to_public_session(manager):
    s = manager.create(options(metadata={"a": "b"}))
    p = manager.to_public_session(s)
    assert isinstance(p, sessions.PublicSession)
    assert not hasattr(p, "token") and not hasattr(p, "token_hash")
    assert (p.id, p.user_id, p.expires_at, p.metadata) == (s.id, s.user_id, s.expires_at, s.metadata)


def test_managers_do_not_share_sessions(kind, clock):
    a, b = make_manager(kind, clock), make_manager(kind, clock)
    s = a.create(options())
    assert b.validate(s.token).error == VE.INVALID_TOKEN


def test_system_clock_by_default(kind):
    m = make_manager(kind)
    s = m.create(options())
    assert m.validate(s.token).valid

    assert s.created_at != START
