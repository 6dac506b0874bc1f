"""sessions.asgi and sessions.fastapi against a real uvicorn server and a real HTTP
client (httpx): sign-in, validation, sliding, rotation within and after the grace,
sign-out, sign-out everywhere, cookie attributes, user agents, bearer tokens, store
failures, concurrent requests with one cookie, a plain ASGI app, the README's app."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import logging
import math
import os
import pathlib
import runpy
import subprocess
import sys
import threading
from datetime import timedelta

import httpx
import pytest

import sessions
from _support import ManualClock, make_manager
from _web_servers import (
    AsyncAdapter,
    FlakyStore,
    Rotations,
    only_cookie,
    set_cookies,
    uvicorn_server,
)

from fastapi import FastAPI, HTTPException, Request
from sessions.asgi import CookieSettings, RequestSession, SessionMiddleware
from sessions.fastapi import CurrentSession, WebSession, add_error_handlers

UA = "Firefox/140"
COOKIE = "__Host-session"
TYPING = pathlib.Path(__file__).parent / "typing"


def build_app(manager, clock, **middleware) -> FastAPI:
    app = FastAPI()
    app.add_middleware(SessionMiddleware, manager=manager, clock=clock.now, **middleware)
    add_error_handlers(app)

    @app.post("/login")
    async def login(user: str, web: WebSession, sliding: bool = False, cookie: bool = True) -> dict[str, str]:
        created = await web.sign_in(user, sliding_expiration=sliding, set_cookie=cookie,
                                    metadata={"plan": "pro"})
        return {"id": created.id} if cookie else {"id": created.id, "token": created.token}

    @app.get("/me")
    async def me(session: CurrentSession) -> dict[str, str]:
        return {"user": session.user_id, "id": session.id}

    @app.get("/me-then-rotate")
    async def me_then_rotate(session: CurrentSession, request: Request) -> dict[str, str]:
        # Validated with the cookie's token; now a parallel request rotates it.
        rotated = manager.refresh(request.cookies[COOKIE], UA)
        if inspect.isawaitable(rotated):
            rotated = await rotated
        return {"rotated_to": rotated.token}

    @app.get("/state")
    async def state(request: Request) -> dict[str, object]:
        web: RequestSession = request.state.session
        assert request.scope["sessions"] is web
        return {"authenticated": web.authenticated, "reason": web.reason, "source": web.source,
                "repr": repr(web), "str": str(web)}

    @app.post("/rotate")
    async def rotate(web: WebSession) -> dict[str, str]:
        return {"id": (await web.rotate()).id}

    @app.post("/rotate-then-fail")
    async def rotate_then_fail(web: WebSession) -> None:
        await web.rotate()
        raise HTTPException(status_code=409, detail="conflict")

    @app.post("/logout")
    async def logout(web: WebSession) -> dict[str, bool]:
        return {"destroyed": await web.sign_out()}

    @app.post("/logout-all")
    async def logout_all(web: WebSession) -> dict[str, int]:
        return {"destroyed": await web.sign_out_everywhere()}

    return app


# The manager the middleware gets: the synchronous SessionManager (calls go to a worker
# thread), an asynchronous one of the tests' own (coroutines, awaited directly) and, once
# the package has it, sessions.AsyncSessionManager (SessionManager.as_async()).
FLAVOURS = ["sync", "async"] + (["native_async"] if hasattr(sessions, "AsyncSessionManager") else [])


@pytest.fixture(params=FLAVOURS)
def flavour(request):
    return request.param


def as_flavour(flavour: str, manager: sessions.SessionManager):
    """What the middleware is given, and the adapter (or None)."""
    if flavour == "async":
        return AsyncAdapter(manager)
    if flavour == "native_async":
        native = manager.as_async()  # sessions.AsyncSessionManager over the same manager
        assert inspect.iscoroutinefunction(native.validate) or inspect.iscoroutinefunction(
            getattr(native.validate, "__wrapped__", None))
        return native
    return None


@pytest.fixture
def served(flavour, kind):
    """(base URL, synchronous manager, clock, async adapter or None, rotations)."""
    clock = ManualClock()
    manager = make_manager(kind, clock, default_expires_in=timedelta(hours=1),
                           rotation_grace=timedelta(seconds=10), bind_to_user_agent=True)
    rotations = Rotations()
    manager.add_listener(rotations)
    adapter = as_flavour(flavour, manager)
    with uvicorn_server(build_app(adapter or manager, clock)) as url:
        yield url, manager, clock, adapter, rotations


def server_side(caplog) -> str:
    """Everything logged at any level but by the HTTP client (which logs the headers it
    receives at DEBUG level)."""
    return "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records
                     if not r.name.startswith(("httpx", "httpcore")))


def client(url: str, user_agent: str = UA) -> httpx.Client:
    # Cookies are handled by hand: the session cookie is Secure (and __Host-), which a
    # client keeps to HTTPS; the tests read Set-Cookie and send Cookie themselves.
    return httpx.Client(base_url=url, headers={"User-Agent": user_agent}, timeout=30)


def cookie_header(token: str) -> dict[str, str]:
    return {"Cookie": f"other=1; {COOKIE}={token}; more=2"}


def login(http: httpx.Client, user: str = "alice", **params) -> str:
    response = http.post("/login", params={"user": user, **params})
    assert response.status_code == 200, response.text
    return only_cookie(response).value


def test_a_session_from_sign_in_to_sign_out_everywhere(served, caplog):
    url, manager, clock, adapter, rotations = served
    caplog.set_level(logging.DEBUG)
    with client(url) as http:
        assert http.get("/me").json() == {"detail": "MISSING_TOKEN"}

        # Sign-in: the cookie with the safe attributes, Max-Age = the session's lifetime.
        response = http.post("/login", params={"user": "alice"})
        cookie = only_cookie(response)
        a = cookie.value
        assert cookie.name == COOKIE
        assert cookie.attributes == {"max-age": "3600", "path": "/", "secure": "", "httponly": "",
                                     "samesite": "Lax"}
        session_id = response.json()["id"]
        stored = manager.get(session_id)
        assert stored.metadata == {"userAgent": UA, "plan": "pro"} and stored.bound_user_agent == UA

        # A request with it.
        response = http.get("/me", headers=cookie_header(a))
        assert response.json() == {"user": "alice", "id": session_id}
        assert set_cookies(response) == []  # not sliding: nothing to renew

        # Rotation: a new token in the cookie.
        response = http.post("/rotate", headers=cookie_header(a))
        b = only_cookie(response).value
        assert b != a and response.json() == {"id": session_id}
        assert rotations.rotated == 1

        # The old cookie within the grace: still valid, and rotating it again gives the
        # same successor without a second rotation.
        clock.advance(9)
        assert http.get("/me", headers=cookie_header(a)).status_code == 200
        response = http.post("/rotate", headers=cookie_header(a))
        assert only_cookie(response).value == b and rotations.rotated == 1
        assert only_cookie(response).attributes["max-age"] == str(3600 - 9)
        assert http.get("/me", headers=cookie_header(b)).status_code == 200

        # After the grace the old cookie is a stolen token: the session is revoked.
        clock.advance(2)
        response = http.get("/me", headers=cookie_header(a))
        assert (response.status_code, response.json()) == (401, {"detail": "TOKEN_REUSED"})
        assert set_cookies(response) == []  # a failed validation never deletes the cookie
        assert http.get("/me", headers=cookie_header(b)).json() == {"detail": "SESSION_REVOKED"}
        response = http.post("/rotate", headers=cookie_header(b))
        assert (response.status_code, response.json()) == (401, {"detail": "SESSION_REVOKED"})

        # Sign-out: the session is destroyed and the cookie deleted.
        c = login(http)
        response = http.post("/logout", headers=cookie_header(c))
        assert response.json() == {"destroyed": True}
        cleared = only_cookie(response)
        assert (cleared.name, cleared.value) == (COOKIE, "")
        assert cleared.attributes == {"max-age": "0", "path": "/", "secure": "", "httponly": "", "samesite": "Lax"}
        assert http.get("/me", headers=cookie_header(c)).json() == {"detail": "SESSION_REVOKED"}
        assert http.post("/logout", headers=cookie_header(c)).json() == {"destroyed": False}

        # Sign-out everywhere: every session of the user, and only theirs.
        phone, laptop, bob = login(http), login(http), login(http, "bob")
        response = http.post("/logout-all", headers=cookie_header(phone))
        assert response.json() == {"destroyed": 2} and only_cookie(response).attributes["max-age"] == "0"
        for token in (phone, laptop):
            assert http.get("/me", headers=cookie_header(token)).json() == {"detail": "SESSION_REVOKED"}
        assert http.get("/me", headers=cookie_header(bob)).json()["user"] == "bob"
        response = http.post("/logout-all", headers=cookie_header(phone))
        assert (response.status_code, response.json()) == (401, {"detail": "SESSION_REVOKED"})
        response = http.post("/logout-all")  # no token: the same answer as /me without one
        assert (response.status_code, response.json()) == (401, {"detail": "MISSING_TOKEN"})
        response = http.post("/logout")  # nothing to destroy; the cookie is deleted all the same
        assert response.json() == {"destroyed": False} and only_cookie(response).attributes["max-age"] == "0"

        # The request state never shows a token.
        body = http.get("/state", headers=cookie_header(bob)).json()
        assert body["authenticated"] is True and body["source"] == "cookie"
        for token in (a, b, c, phone, laptop, bob):
            assert token not in body["repr"] and token not in body["str"]
    if isinstance(adapter, AsyncAdapter):
        assert adapter.calls > 0
    server_log = server_side(caplog)
    for token in (a, b, c, phone, laptop, bob):
        assert token not in server_log


def test_signing_in_again_replaces_the_presented_session(served):
    url, manager, *_ = served
    with client(url) as http:
        first = login(http)
        first_id = http.get("/me", headers=cookie_header(first)).json()["id"]
        response = http.post("/login", params={"user": "alice"}, headers=cookie_header(first))
        second = only_cookie(response).value
        assert second != first and response.json()["id"] != first_id
        assert manager.get(first_id).revoked_at is not None
        assert http.get("/me", headers=cookie_header(first)).json() == {"detail": "SESSION_REVOKED"}
        assert http.get("/me", headers=cookie_header(second)).status_code == 200


def test_a_route_that_fails_after_rotating_still_hands_out_the_new_token(served):
    url, manager, clock, adapter, rotations = served
    with client(url) as http:
        a = login(http)
        response = http.post("/rotate-then-fail", headers=cookie_header(a))
        assert response.status_code == 409
        b = only_cookie(response).value
        assert b != a and rotations.rotated == 1
        assert http.get("/me", headers=cookie_header(b)).status_code == 200


def test_a_wrong_user_agent_is_refused_and_keeps_its_cookie(served):
    url, *_ = served
    with client(url) as http, client(url, user_agent="curl/8") as other:
        token = login(http)
        response = other.get("/me", headers=cookie_header(token))
        assert (response.status_code, response.json()) == (401, {"detail": "USER_AGENT_MISMATCH"})
        assert set_cookies(response) == []
        response = other.post("/rotate", headers=cookie_header(token))
        assert (response.status_code, response.json()) == (401, {"detail": "USER_AGENT_MISMATCH"})
        assert http.get("/me", headers=cookie_header(token)).status_code == 200
        # No User-Agent at all: a bound session does not validate, and a binding
        # manager cannot sign anyone in.
        bare = http.get("/me", headers={**cookie_header(token), "User-Agent": ""})
        assert bare.json() == {"detail": "USER_AGENT_MISMATCH"}


def test_unknown_and_odd_cookies(served):
    url, *_ = served
    with client(url) as http:
        for value in ("nope", '"quoted"', "x" * 5000):
            response = http.get("/me", headers={"Cookie": f"{COOKIE}={value}"})
            assert (response.status_code, response.json()) == (401, {"detail": "INVALID_TOKEN"})
        for value in ("", '""'):  # an empty cookie is no token
            response = http.get("/me", headers={"Cookie": f"{COOKIE}={value}"})
            assert (response.status_code, response.json()) == (401, {"detail": "MISSING_TOKEN"})
        # The cookie without its __Host- prefix is another cookie.
        token = login(http)
        assert http.get("/me", headers={"Cookie": f"session={token}"}).json() == {"detail": "MISSING_TOKEN"}
        # Quoted values are unquoted (RFC 6265 allows DQUOTE around a cookie-value).
        assert http.get("/me", headers={"Cookie": f'{COOKIE}="{token}"'}).status_code == 200


def test_duplicate_session_cookies_the_first_non_empty_one_wins(served):
    """Several cookies of one name (other paths or domains): the first wins, as in
    werkzeug and browsers' most-specific-first order, but an empty one never shadows the
    session's cookie (before the fix, `__Host-session=; __Host-session=<token>` was a
    401 INVALID_TOKEN)."""
    url, *_ = served
    with client(url) as http:
        token, other = login(http), login(http, "bob")
        for header in (f"{COOKIE}=; {COOKIE}={token}", f'{COOKIE}=""; x=1; {COOKIE}={token}'):
            response = http.get("/me", headers={"Cookie": header})
            assert (response.status_code, response.json()["user"]) == (200, "alice"), header
        # Two Cookie header lines (HTTP/2 and some proxies split them) behave the same.
        response = http.get("/me", headers=[("Cookie", f"{COOKIE}="), ("Cookie", f"{COOKIE}={token}")])
        assert response.status_code == 200, response.text
        # Two non-empty values: the first one is the token.
        assert http.get("/me", headers={"Cookie": f"{COOKIE}={other}; {COOKIE}={token}"}).json()["user"] == "bob"
        assert http.get("/me", headers={"Cookie": f"{COOKIE}=nope; {COOKIE}={token}"}).json() == {
            "detail": "INVALID_TOKEN"}


def test_the_request_helpers_without_a_token_answer_missing_token(served):
    """`rotate` / `sign_out_everywhere` for a request without a token: 401
    MISSING_TOKEN as the README's table says (it was INVALID_TOKEN); the exception is
    still a SessionError.InvalidToken to an `except` clause."""
    url, *_ = served
    with client(url) as http:
        for path in ("/rotate", "/logout-all"):
            for headers in ({}, {"Cookie": f"{COOKIE}="}):
                response = http.post(path, headers=headers)
                assert (response.status_code, response.json()) == (401, {"detail": "MISSING_TOKEN"}), path
    from sessions.asgi import MissingToken
    assert issubclass(MissingToken, sessions.SessionError.InvalidToken)


def test_sliding_sessions_keep_their_cookie_until_the_absolute_end(served):
    """A sliding session's cookie lasts until the session's absolute end and is never
    re-sent by ordinary responses (the session still slides on the server). Re-sending
    raced rotations: a new user's trial saw a slow request's response put the old token
    back after a parallel rotation, which revoked the session as reuse after the grace."""
    url, manager, clock, *_ = served
    with client(url) as http:
        response = http.post("/login", params={"user": "alice", "sliding": "true"})
        issued = only_cookie(response)
        a = issued.value
        session = manager.validate(a, UA).session
        until = session.absolute_expires_at - clock.now()
        assert issued.attributes["max-age"] == str(math.ceil(until.total_seconds()))
        clock.advance(minutes=40)  # less than half of the hour left: validate slides
        response = http.get("/me", headers=cookie_header(a))
        assert response.status_code == 200 and set_cookies(response) == []
        assert manager.get(response.json()["id"]).expires_at == clock.now() + timedelta(hours=1)

        b = only_cookie(http.post("/rotate", headers=cookie_header(a))).value
        # A within the grace validates, and its response puts nothing back.
        response = http.get("/me", headers=cookie_header(a))
        assert response.status_code == 200 and set_cookies(response) == []
        assert set_cookies(http.get("/me", headers=cookie_header(b))) == []


def test_a_request_validated_before_a_parallel_rotation_never_resends_the_old_token(served):
    """The trial's race, made deterministic: `/me-then-rotate` is validated with A, then
    (as a parallel request would) the session is rotated before the response goes out;
    the response must not carry A."""
    url, manager, clock, *_ = served
    with client(url) as http:
        a = login(http, sliding="true")
        response = http.get("/me-then-rotate", headers=cookie_header(a))
        assert response.status_code == 200
        assert set_cookies(response) == []
        b = response.json()["rotated_to"]
        assert manager.validate(b, UA).valid


def test_twenty_parallel_rotations_of_one_cookie_agree_on_one_token(served):
    url, manager, clock, adapter, rotations = served
    with client(url) as http:
        a = login(http)

    async def rotate_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, headers={"User-Agent": UA}, timeout=60) as h:
            return await asyncio.gather(*(h.post("/rotate", headers=cookie_header(a)) for _ in range(20)))

    responses = asyncio.run(rotate_all())
    assert [r.status_code for r in responses] == [200] * 20
    successors = {only_cookie(r).value for r in responses}
    assert len(successors) == 1 and a not in successors
    assert rotations.rotated == 1
    (b,) = successors
    assert manager.validate(b, user_agent=UA).valid

    async def read_all(token: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, headers={"User-Agent": UA}, timeout=60) as h:
            return await asyncio.gather(*(h.get("/me", headers=cookie_header(token)) for _ in range(20)))

    # Parallel requests with the old cookie (within the grace) and the new one: nobody
    # is signed out.
    assert all(r.status_code == 200 for r in asyncio.run(read_all(a)) + asyncio.run(read_all(b)))


def test_parallel_rotations_after_the_grace_end_cleanly(served):
    url, manager, clock, adapter, rotations = served
    with client(url) as http:
        a = login(http)
        b = only_cookie(http.post("/rotate", headers=cookie_header(a))).value
    clock.advance(60)

    async def rotate_all(token: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, headers={"User-Agent": UA}, timeout=60) as h:
            return await asyncio.gather(*(h.post("/rotate", headers=cookie_header(token)) for _ in range(20)))

    # The current cookie, 20 times at once: one rotation; the others get its successor.
    responses = asyncio.run(rotate_all(b))
    assert {r.status_code for r in responses} == {200}
    assert len({only_cookie(r).value for r in responses}) == 1 and rotations.rotated == 2
    # The replaced cookie after its grace, 20 times at once: clean 401s, as reuse of a
    # stolen token revokes the session; the older one is simply unknown.
    clock.advance(60)
    responses = asyncio.run(rotate_all(b))
    assert {r.status_code for r in responses} == {401}
    assert {r.json()["detail"] for r in responses} <= {"TOKEN_REUSED", "SESSION_REVOKED"}
    assert "TOKEN_REUSED" in {r.json()["detail"] for r in responses}
    assert all(set_cookies(r) == [] for r in responses)
    assert {r.json()["detail"] for r in asyncio.run(rotate_all(a))} == {"INVALID_TOKEN"}
    assert rotations.rotated == 2


def test_bearer_tokens_and_their_401(kind):
    clock = ManualClock()
    manager = make_manager(kind, clock, default_expires_in=timedelta(minutes=5))
    with uvicorn_server(build_app(manager, clock, bearer=True)) as url, client(url) as http:
        response = http.post("/login", params={"user": "dana", "cookie": "false"})
        assert set_cookies(response) == []
        token = response.json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert http.get("/me", headers=auth).json()["user"] == "dana"
        assert http.get("/me", headers={"Authorization": f"bearer {token}"}).status_code == 200
        assert http.get("/state", headers=auth).json()["source"] == "bearer"
        # The header wins over a cookie.
        assert http.get("/me", headers={**auth, **cookie_header("stale")}).status_code == 200
        # Rotating a bearer token sets no cookie; the new token is the route's to hand out.
        response = http.post("/rotate", headers=auth)
        assert response.status_code == 200 and set_cookies(response) == []
        response = http.get("/me", headers={"Authorization": "Bearer wrong"})
        assert (response.status_code, response.json()) == (401, {"detail": "INVALID_TOKEN"})
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        # The helpers' 401 (add_error_handlers) carries it too; a cookie's 401 does not.
        response = http.post("/rotate", headers={"Authorization": "Bearer wrong"})
        assert (response.status_code, response.json()) == (401, {"detail": "INVALID_TOKEN"})
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        response = http.post("/rotate", headers=cookie_header("wrong"))
        assert response.status_code == 401 and "www-authenticate" not in response.headers
        clock.advance(minutes=6)
        assert http.get("/me", headers=auth).json() == {"detail": "SESSION_EXPIRED"}


def test_cookies_are_configurable(kind):
    clock = ManualClock()
    manager = make_manager(kind, clock, default_expires_in=timedelta(minutes=30))
    settings = CookieSettings(name="sid", secure=False, same_site="strict", path="/app", http_only=False)
    with uvicorn_server(build_app(manager, clock, cookie=settings)) as url, client(url) as http:
        cookie = only_cookie(http.post("/login", params={"user": "erin"}))
        assert cookie.name == "sid"  # no __Host- prefix: it needs Secure and Path=/
        assert cookie.attributes == {"max-age": "1800", "path": "/app", "samesite": "Strict"}
        assert http.get("/me", headers={"Cookie": f"sid={cookie.value}"}).status_code == 200

    settings = CookieSettings(persistent=False, domain="example.com", same_site="none")
    with uvicorn_server(build_app(manager, clock, cookie=settings)) as url, client(url) as http:
        cookie = only_cookie(http.post("/login", params={"user": "erin"}))
        assert cookie.name == "session"
        assert cookie.attributes == {"path": "/", "domain": "example.com", "secure": "", "httponly": "",
                                     "samesite": "None"}


def test_a_real_cookie_jar_keeps_and_sends_the_cookie(kind):
    """httpx's own cookie handling (a Secure cookie is kept to HTTPS, so not Secure here)."""
    clock = ManualClock()
    manager = make_manager(kind, clock)
    settings = CookieSettings(secure=False)
    with uvicorn_server(build_app(manager, clock, cookie=settings)) as url, client(url) as http:
        http.post("/login", params={"user": "finn"})
        assert http.get("/me").json()["user"] == "finn"
        http.post("/rotate")
        assert http.get("/me").json()["user"] == "finn"
        http.post("/logout")
        assert http.get("/me").json() == {"detail": "MISSING_TOKEN"}


def test_store_failures_answer_503_and_never_show_the_token(flavour, caplog):
    caplog.set_level(logging.DEBUG)
    clock = ManualClock()
    store = FlakyStore()
    manager = sessions.SessionManager.with_store(sessions.SessionConfig(), store, clock)
    adapter = as_flavour(flavour, manager)
    with uvicorn_server(build_app(adapter or manager, clock)) as url, client(url) as http:
        token = login(http)
        store.down = True
        response = http.get("/me", headers=cookie_header(token))
        assert (response.status_code, response.json()) == (503, {"detail": "STORE_UNAVAILABLE"})
        assert response.headers["retry-after"] == "1"
        # Without a token the store is not asked.
        assert http.get("/me").json() == {"detail": "MISSING_TOKEN"}
        # A route's own call failing: add_error_handlers answers 503 too.
        response = http.post("/login", params={"user": "alice"})
        assert (response.status_code, response.json()) == (503, {"detail": "STORE_UNAVAILABLE"})
        assert set_cookies(response) == []
        store.down = False
        assert http.get("/me", headers=cookie_header(token)).status_code == 200
    assert token not in server_side(caplog)
    assert "could not validate" in server_side(caplog)


def test_a_plain_asgi_application(kind):
    """No framework: the state is in scope["sessions"] and scope["state"]["session"]."""
    clock = ManualClock()
    manager = make_manager(kind, clock)

    async def app(scope, receive, send):
        web = scope["sessions"]
        assert scope["state"]["session"] is web
        if scope["path"] == "/login":
            await web.sign_in("gus")
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": str(web.reason).encode()})
        with pytest.raises(RuntimeError, match="response has started"):
            await web.sign_out()

    with uvicorn_server(SessionMiddleware(app, manager, clock=clock.now)) as url, client(url) as http:
        token = only_cookie(http.get("/login")).value
        assert http.get("/", headers=cookie_header(token)).text == "None"
        assert http.get("/").text == "MISSING_TOKEN"


def test_the_readme_fastapi_application(tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            example = runpy.run_path(str(TYPING / "fastapi_example.py"), run_name="fastapi_example")
    finally:
        os.chdir(cwd)
    assert (tmp_path / "sessions.sqlite").is_file()
    with uvicorn_server(example["app"]) as url, client(url) as http:
        a = login(http, "hana")
        me = http.get("/me", headers=cookie_header(a)).json()
        assert me["user_id"] == "hana" and me["metadata"] == {"userAgent": UA}
        b = only_cookie(http.post("/rotate", headers=cookie_header(a))).value
        assert http.get("/me", headers=cookie_header(b)).json()["id"] == me["id"]
        with client(url, user_agent="other") as thief:
            assert thief.get("/me", headers=cookie_header(b)).json() == {"detail": "USER_AGENT_MISMATCH"}
        assert only_cookie(http.post("/logout", headers=cookie_header(b))).attributes["max-age"] == "0"
        assert http.get("/me", headers=cookie_header(b)).json() == {"detail": "SESSION_REVOKED"}
        response = http.post("/rotate", headers=cookie_header(b))
        assert (response.status_code, response.json()) == (401, {"detail": "SESSION_REVOKED"})


def test_importing_sessions_imports_no_web_framework():
    code = ("import sys, sessions\n"
            "loaded = [m for m in ('fastapi', 'starlette', 'flask', 'werkzeug', 'anyio', 'uvicorn') if m in sys.modules]\n"
            "assert not loaded, loaded\n"
            "import sessions.wsgi\n"
            "assert 'flask' not in sys.modules and 'anyio' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


class ThreadRecorder:
    """A synchronous manager that notes which thread each call runs on."""

    def __init__(self, manager: sessions.SessionManager) -> None:
        self.manager = manager
        self.threads: set[int] = set()

    def __getattr__(self, name):
        method = getattr(self.manager, name)

        def call(*args):
            self.threads.add(threading.get_ident())
            return method(*args)

        return call

    def create(self, options):
        return self.__getattr__("create")(options)

    def validate(self, token, user_agent=None):
        return self.__getattr__("validate")(token, user_agent)

    def refresh(self, token, user_agent=None):
        return self.__getattr__("refresh")(token, user_agent)

    def destroy(self, session_id):
        return self.__getattr__("destroy")(session_id)

    def destroy_all_for_user(self, user_id):
        return self.__getattr__("destroy_all_for_user")(user_id)


def test_a_synchronous_manager_never_runs_on_the_event_loop(kind):
    clock = ManualClock()
    recorder = ThreadRecorder(make_manager(kind, clock))
    app = build_app(recorder, clock)
    loop_threads: set[int] = set()

    @app.get("/loop")
    async def loop() -> None:
        loop_threads.add(threading.get_ident())

    with uvicorn_server(app) as url, client(url) as http:
        token = login(http)
        http.get("/loop")
        assert http.get("/me", headers=cookie_header(token)).status_code == 200
        token = only_cookie(http.post("/rotate", headers=cookie_header(token))).value
        http.post("/logout-all", headers=cookie_header(token))
    assert len(loop_threads) == 1 and recorder.threads  # create, validate, refresh, destroy_all
    assert not recorder.threads & loop_threads


class _Coroutines:
    """An asynchronous manager whose methods hide behind a plain decorator."""

    def __init__(self, manager):
        self.adapter = AsyncAdapter(manager)

    def __getattr__(self, name):
        import functools

        method = getattr(self.adapter, name)

        @functools.wraps(method)
        def plain(*args):
            return method(*args)

        return plain


def test_an_asynchronous_manager_behind_a_decorator_is_awaited(kind):
    clock = ManualClock()
    manager = _Coroutines(make_manager(kind, clock))
    with uvicorn_server(build_app(manager, clock)) as url, client(url) as http:
        token = login(http)
        assert http.get("/me", headers=cookie_header(token)).json()["user"] == "alice"
    assert manager.adapter.calls == 2


def asgi_call(app, scope, messages=()):
    """Calls an ASGI app directly; returns what it sent."""
    sent = []
    incoming = list(messages)

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_websockets_and_lifespan(kind):
    clock = ManualClock()
    manager = make_manager(kind, clock)
    token = manager.create(sessions.CreateSessionOptions(user_id="ivy")).token
    seen = []

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            seen.append("sessions" in scope)
            return
        web = scope["sessions"]
        seen.append(web.session.user_id if web.session else web.reason)
        if scope["path"] == "/rotate":
            await web.rotate()
        await send({"type": "websocket.accept", "headers": [(b"x-a", b"1")]})

    middleware = SessionMiddleware(app, manager, clock=clock.now)
    asgi_call(middleware, {"type": "lifespan"})
    sent = asgi_call(middleware, {"type": "websocket", "path": "/", "headers": [(b"cookie", f"{COOKIE}={token}".encode())]})
    assert sent == [{"type": "websocket.accept", "headers": [(b"x-a", b"1")]}]
    sent = asgi_call(middleware, {"type": "websocket", "path": "/rotate",
                                  "headers": [(b"cookie", f"{COOKIE}={token}".encode())]})
    (name, value), = [(k, v) for k, v in sent[0]["headers"] if k == b"set-cookie"]
    assert value.startswith(f"{COOKIE}=".encode()) and token.encode() not in value
    assert seen == [False, "ivy", "ivy"]
    # A store failure closes the websocket with 1013 (try again later).
    store = FlakyStore()
    flaky = sessions.SessionManager.with_store(sessions.SessionConfig(), store, clock)
    token = flaky.create(sessions.CreateSessionOptions(user_id="ivy")).token
    store.down = True
    sent = asgi_call(SessionMiddleware(app, flaky), {"type": "websocket", "path": "/",
                                                     "headers": [(b"cookie", f"{COOKIE}={token}".encode())]})
    assert sent == [{"type": "websocket.close", "code": 1013}]


def test_a_manager_without_the_methods_is_refused():
    with pytest.raises(TypeError, match="has no method create"):
        SessionMiddleware(lambda *a: None, object())  # type: ignore[arg-type]


def test_the_frameworks_are_optional_extras_of_the_wheel():
    from importlib import metadata

    meta = metadata.metadata("sessions")
    assert set(meta.get_all("Provides-Extra")) >= {"asgi", "fastapi", "flask"}
    requires = meta.get_all("Requires-Dist") or []
    frameworks = ("anyio", "fastapi", "starlette", "flask", "werkzeug", "uvicorn")
    hard = [r for r in requires if "extra ==" not in r]
    assert not [r for r in hard if r.lower().startswith(frameworks)], hard
    for extra, package in [("asgi", "anyio"), ("fastapi", "anyio"), ("fastapi", "fastapi"), ("flask", "flask")]:
        assert any(r.startswith(package) and f"extra == '{extra}'" in r for r in requires), (extra, package)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_twenty_parallel_rotations_on_sqlite(tmp_path, flavour):
    clock = ManualClock()
    manager = sessions.SessionManager.open(str(tmp_path / "s.sqlite"), sessions.SessionConfig(), clock)
    rotations = Rotations()
    manager.add_listener(rotations)
    adapter = as_flavour(flavour, manager)
    with uvicorn_server(build_app(adapter or manager, clock)) as url:
        with client(url) as http:
            a = login(http)

        async def rotate_all() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=url, headers={"User-Agent": UA}, timeout=60) as h:
                return await asyncio.gather(*(h.post("/rotate", headers=cookie_header(a)) for _ in range(20)))

        responses = asyncio.run(rotate_all())
    assert [r.status_code for r in responses] == [200] * 20
    assert len({only_cookie(r).value for r in responses}) == 1 and rotations.rotated == 1
