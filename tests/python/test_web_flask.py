"""sessions.flask and sessions.wsgi against a real waitress server and a real HTTP client
(httpx): the same life of a session as tests/python/test_web_asgi.py, cookie attributes,
user agents, bearer tokens, store failures, concurrent requests with one cookie, a
plain WSGI app, and mypy --strict on the web modules as installed."""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import pathlib
import runpy
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import flask
import httpx
import pytest

import sessions
from _support import ManualClock, make_manager
from _web_servers import FlakyStore, Rotations, only_cookie, set_cookies, waitress_server
from sessions.flask import CookieSettings, Sessions, current, login_required
from sessions.wsgi import RequestSession, SessionMiddleware

UA = "Safari/18"
COOKIE = "__Host-session"


def build_app(manager, clock, **options) -> flask.Flask:
    app = flask.Flask(__name__)
    Sessions(app, manager=manager, clock=clock.now, **options)

    @app.post("/login")
    def login() -> dict[str, str]:
        cookie = flask.request.args.get("cookie", "true") == "true"
        created = current().sign_in(flask.request.args["user"], set_cookie=cookie,
                                    sliding_expiration=flask.request.args.get("sliding") == "true")
        return {"id": created.id} if cookie else {"id": created.id, "token": created.token}

    @app.get("/me")
    @login_required
    def me() -> dict[str, str]:
        session = current().session
        assert session is not None
        return {"user": session.user_id, "id": session.id}

    @app.get("/me-then-rotate")
    @login_required
    def me_then_rotate() -> dict[str, str]:
        # Validated with the cookie's token; now a parallel request rotates it.
        return {"rotated_to": manager.refresh(flask.request.cookies[COOKIE], UA).token}

    @app.get("/state")
    def state() -> dict[str, object]:
        web = current()
        assert flask.request.environ["sessions"] is web
        return {"reason": web.reason, "source": web.source, "repr": repr(web)}

    @app.post("/rotate")
    def rotate() -> dict[str, str]:
        return {"id": current().rotate().id}

    @app.post("/logout")
    def logout() -> dict[str, bool]:
        return {"destroyed": current().sign_out()}

    @app.post("/logout-all")
    def logout_all() -> dict[str, int]:
        return {"destroyed": current().sign_out_everywhere()}

    return app


@pytest.fixture
def served(kind):
    clock = ManualClock()
    manager = make_manager(kind, clock, default_expires_in=timedelta(hours=1),
                           rotation_grace=timedelta(seconds=10), bind_to_user_agent=True)
    rotations = Rotations()
    manager.add_listener(rotations)
    with waitress_server(build_app(manager, clock)) as url:
        yield url, manager, clock, rotations


def client(url: str, user_agent: str = UA) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"User-Agent": user_agent}, timeout=30)


def cookie_header(token: str) -> dict[str, str]:
    return {"Cookie": f"a=b; {COOKIE}={token}"}


def login(http: httpx.Client, user: str = "alice", **params) -> str:
    response = http.post("/login", params={"user": user, **params})
    assert response.status_code == 200, response.text
    return only_cookie(response).value


def test_a_session_from_sign_in_to_sign_out_everywhere(served, caplog):
    url, manager, clock, rotations = served
    caplog.set_level(logging.DEBUG)
    with client(url) as http:
        response = http.get("/me")
        assert (response.status_code, response.json()) == (401, {"detail": "MISSING_TOKEN"})

        response = http.post("/login", params={"user": "alice"})
        cookie = only_cookie(response)
        a = cookie.value
        assert cookie.name == COOKIE
        assert cookie.attributes == {"max-age": "3600", "path": "/", "secure": "", "httponly": "", "samesite": "Lax"}
        session_id = response.json()["id"]
        assert manager.get(session_id).bound_user_agent == UA
        assert http.get("/me", headers=cookie_header(a)).json() == {"user": "alice", "id": session_id}

        b = only_cookie(http.post("/rotate", headers=cookie_header(a))).value
        assert b != a and rotations.rotated == 1
        clock.advance(5)
        assert http.get("/me", headers=cookie_header(a)).status_code == 200
        assert only_cookie(http.post("/rotate", headers=cookie_header(a))).value == b
        assert rotations.rotated == 1

        clock.advance(6)
        response = http.get("/me", headers=cookie_header(a))
        assert (response.status_code, response.json()) == (401, {"detail": "TOKEN_REUSED"})
        assert set_cookies(response) == []
        assert http.get("/me", headers=cookie_header(b)).json() == {"detail": "SESSION_REVOKED"}
        response = http.post("/rotate", headers=cookie_header(b))
        assert (response.status_code, response.json()) == (401, {"detail": "SESSION_REVOKED"})

        c = login(http)
        response = http.post("/logout", headers=cookie_header(c))
        assert response.json() == {"destroyed": True}
        assert only_cookie(response).raw == f"{COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"
        assert http.get("/me", headers=cookie_header(c)).json() == {"detail": "SESSION_REVOKED"}

        phone, laptop, bob = login(http), login(http), login(http, "bob")
        assert http.post("/logout-all", headers=cookie_header(laptop)).json() == {"destroyed": 2}
        for token in (phone, laptop):
            assert http.get("/me", headers=cookie_header(token)).json() == {"detail": "SESSION_REVOKED"}
        assert http.get("/me", headers=cookie_header(bob)).json()["user"] == "bob"
        body = http.get("/state", headers=cookie_header(bob)).json()
        assert body["source"] == "cookie" and body["reason"] is None
        for token in (a, b, c, phone, laptop, bob):
            assert token not in body["repr"]
    server_log = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))
    for token in (a, b, c, phone, laptop, bob):
        assert token not in server_log


def test_a_wrong_user_agent(served):
    url, *_ = served
    with client(url) as http, client(url, user_agent="curl/8") as other:
        token = login(http)
        response = other.get("/me", headers=cookie_header(token))
        assert (response.status_code, response.json()) == (401, {"detail": "USER_AGENT_MISMATCH"})
        assert set_cookies(response) == []
        assert other.post("/rotate", headers=cookie_header(token)).json() == {"detail": "USER_AGENT_MISMATCH"}
        assert http.get("/me", headers=cookie_header(token)).status_code == 200


def test_sliding_sessions_keep_their_cookie_until_the_absolute_end(served):
    """No response re-sends a sliding session's cookie (it lasts until the absolute end):
    re-sending raced parallel rotations and put the old token back (a new user's trial)."""
    url, manager, clock, _ = served
    with client(url) as http:
        response = http.post("/login", params={"user": "alice", "sliding": "true"})
        issued = only_cookie(response)
        a = issued.value
        session = manager.validate(a, UA).session
        until = session.absolute_expires_at - clock.now()
        assert issued.attributes["max-age"] == str(math.ceil(until.total_seconds()))
        clock.advance(minutes=45)
        response = http.get("/me", headers=cookie_header(a))
        assert response.status_code == 200 and set_cookies(response) == []
        b = only_cookie(http.post("/rotate", headers=cookie_header(a))).value
        response = http.get("/me", headers=cookie_header(a))  # within the grace
        assert response.status_code == 200 and set_cookies(response) == []
        response = http.get("/me-then-rotate", headers=cookie_header(b))
        assert response.status_code == 200 and set_cookies(response) == []
        assert manager.validate(response.json()["rotated_to"], UA).valid


def test_twenty_parallel_rotations_of_one_cookie(served):
    url, manager, clock, rotations = served
    with client(url) as http:
        a = login(http)

        def rotate(_: int) -> httpx.Response:
            with client(url) as own:
                return own.post("/rotate", headers=cookie_header(a))

        with ThreadPoolExecutor(20) as pool:
            responses = list(pool.map(rotate, range(20)))
        assert [r.status_code for r in responses] == [200] * 20
        successors = {only_cookie(r).value for r in responses}
        assert len(successors) == 1 and a not in successors and rotations.rotated == 1
        (b,) = successors
        with ThreadPoolExecutor(20) as pool:
            statuses = list(pool.map(lambda t: http.get("/me", headers=cookie_header(t)).status_code, [a, b] * 10))
        assert statuses == [200] * 20


def test_bearer_tokens_and_configured_cookies(kind):
    clock = ManualClock()
    manager = make_manager(kind, clock, default_expires_in=timedelta(minutes=10))
    settings = CookieSettings(name="sid", secure=False, same_site="strict")
    with waitress_server(build_app(manager, clock, bearer=True, cookie=settings)) as url, client(url) as http:
        cookie = only_cookie(http.post("/login", params={"user": "kim"}))
        assert cookie.name == "sid"
        assert cookie.attributes == {"max-age": "600", "path": "/", "httponly": "", "samesite": "Strict"}
        http.cookies.clear()  # (the client kept the cookie: it is not Secure)
        response = http.post("/login", params={"user": "kim", "cookie": "false"})
        assert set_cookies(response) == []
        auth = {"Authorization": f"Bearer {response.json()['token']}"}
        assert http.get("/me", headers=auth).json()["user"] == "kim"
        assert http.get("/state", headers=auth).json()["source"] == "bearer"
        assert http.get("/me", headers={"Cookie": f"sid={cookie.value}"}).status_code == 200
        response = http.get("/me", headers={"Authorization": "Bearer nope"})
        assert response.json() == {"detail": "INVALID_TOKEN"}
        # login_required's 401 and the helpers' carry the RFC 6750 challenge for a header
        # token (only FastAPI's CurrentSession did), never for a cookie.
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        response = http.post("/rotate", headers={"Authorization": "Bearer nope"})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        response = http.get("/me", headers={"Cookie": "sid=nope"})
        assert response.status_code == 401 and "www-authenticate" not in response.headers


def test_store_failures_answer_503(caplog):
    clock = ManualClock()
    store = FlakyStore()
    manager = sessions.SessionManager.with_store(sessions.SessionConfig(), store, clock)
    with waitress_server(build_app(manager, clock)) as url, client(url) as http:
        token = login(http)
        store.down = True
        response = http.get("/me", headers=cookie_header(token))
        assert (response.status_code, response.json()) == (503, {"detail": "STORE_UNAVAILABLE"})
        assert response.headers["retry-after"] == "1"
        response = http.post("/login", params={"user": "alice"})  # the view's own call
        assert (response.status_code, response.json()) == (503, {"detail": "STORE_UNAVAILABLE"})
        store.down = False
        assert http.get("/me", headers=cookie_header(token)).status_code == 200
    assert all(token not in r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))


def test_an_application_bug_stays_a_500(kind):
    clock = ManualClock()
    manager = make_manager(kind, clock)
    with waitress_server(build_app(manager, clock)) as url, client(url) as http:
        response = http.post("/login", params={"user": ""})  # an empty user id: InvalidUserId
        assert response.status_code == 500


def test_a_plain_wsgi_application(kind):
    clock = ManualClock()
    manager = make_manager(kind, clock)

    def app(environ, start_response):
        web: RequestSession = environ["sessions"]
        if environ["PATH_INFO"] == "/login":
            web.sign_in("lee")
        start_response("200 OK", [("Content-Type", "text/plain")])
        with pytest.raises(RuntimeError, match="response has started"):
            web.sign_out()
        return [str(web.reason).encode()]

    with waitress_server(SessionMiddleware(app, manager, clock=clock.now)) as url, client(url) as http:
        token = only_cookie(http.get("/login")).value
        assert http.get("/", headers=cookie_header(token)).text == "None"
        assert http.get("/").text == "MISSING_TOKEN"
    with pytest.raises(TypeError, match="has no method create"):
        SessionMiddleware(app, object())  # type: ignore[arg-type]


def test_cookie_settings_are_checked():
    assert CookieSettings().full_name == "__Host-session"
    assert CookieSettings(secure=False).full_name == "session"
    assert CookieSettings(path="/app").full_name == "session"
    assert CookieSettings(domain="example.com").full_name == "session"
    assert CookieSettings(host_prefix=False).full_name == "session"
    for bad, match in [
        (dict(same_site="none", secure=False), "SameSite=None requires Secure"),
        (dict(host_prefix=True, domain="example.com"), "__Host- prefix requires"),
        (dict(host_prefix=True, secure=False), "__Host- prefix requires"),
        (dict(host_prefix=True, path="/x"), "__Host- prefix requires"),
        (dict(name="__Host-sid"), "without a prefix"),
        (dict(name="__Secure-sid"), "without a prefix"),
        (dict(name="a b"), "not an RFC 6265 token"),
        (dict(name="a;b"), "not an RFC 6265 token"),
        (dict(name=""), "not an RFC 6265 token"),
        (dict(same_site="Lax"), "same_site must be"),
        (dict(path="app"), "must start with '/'"),
        (dict(path="/a;b"), "must start with '/'"),
        (dict(domain="a;b"), "not a host name"),
        (dict(domain="."), "not a host name"),
    ]:
        with pytest.raises(ValueError, match=match):
            CookieSettings(**bad)
    with pytest.raises(ValueError, match="cannot be a cookie value") as caught:
        CookieSettings().set_cookie("secret token;", sessions_now(), sessions_now())
    assert "secret" not in str(caught.value)
    assert CookieSettings(persistent=False).set_cookie("t", sessions_now(), sessions_now()) == \
        "__Host-session=t; Path=/; Secure; HttpOnly; SameSite=Lax"


def sessions_now():
    return ManualClock().now()


def test_http_status_maps_every_session_error():
    from sessions.wsgi import http_status

    E = sessions.SessionError
    assert http_status(E.InvalidToken()) == (401, "INVALID_TOKEN")
    assert http_status(E.SessionExpired()) == (401, "SESSION_EXPIRED")
    assert http_status(E.SessionRevoked()) == (401, "SESSION_REVOKED")
    assert http_status(E.UserAgentMismatch()) == (401, "USER_AGENT_MISMATCH")
    assert http_status(E.TokenReused()) == (401, "TOKEN_REUSED")
    assert http_status(E.UserAgentRequired()) == (401, "USER_AGENT_REQUIRED")
    assert http_status(E.SessionNotFound(session_id="x")) == (401, "SESSION_NOT_FOUND")
    assert http_status(E.SessionLimitReached(limit=3)) == (403, "SESSION_LIMIT_REACHED")
    assert http_status(E.Store(reason="down")) == (503, "STORE_UNAVAILABLE")
    assert http_status(E.Clock(reason="x")) == (503, "CLOCK_UNAVAILABLE")
    assert http_status(E.Random(reason="x")) == (503, "RANDOM_UNAVAILABLE")
    for bug in (E.InvalidUserId(reason="x"), E.MetadataTooLarge(reason="x"), E.InvalidConfig(reason="x"),
                E.InvalidLifetime(reason="x"), ValueError("x")):
        assert http_status(bug) is None
    for name in sessions.ValidationError.__members__:
        assert any(http_status(v()) == (401, name) for v in vars(E).values()
                   if isinstance(v, type) and issubclass(v, E) and not _needs_arguments(v))


def _needs_arguments(variant: type) -> bool:
    try:
        variant()
    except TypeError:
        return True
    return False


def test_the_web_modules_pass_mypy_strict(tmp_path):
    """The modules as installed in the wheel, not only the examples that use them."""
    modules = ["sessions._web", "sessions.asgi", "sessions.wsgi", "sessions.flask", "sessions.fastapi"]
    args = [sys.executable, "-m", "mypy", "--strict", "--warn-unused-ignores", "--cache-dir", str(tmp_path)]
    for module in modules:
        args += ["-p", module]
    result = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues found in 5 source files" in result.stdout


def test_the_documented_flask_application(tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            example = runpy.run_path(str(pathlib.Path(__file__).parent / "typing" / "flask_example.py"),
                                     run_name="flask_example")
    finally:
        os.chdir(cwd)
    with waitress_server(example["app"]) as url, client(url) as http:
        assert http.get("/me").json() == {"detail": "MISSING_TOKEN"}
        token = login(http)
        assert http.get("/me", headers=cookie_header(token)).json() == {"user": "alice"}
    assert (tmp_path / "sessions.sqlite").is_file()


def test_the_wsgi_middleware_refuses_an_async_manager_and_takes_a_clock_object():
    """An AsyncSessionManager given to WSGI is a TypeError at setup (it was accepted and
    every request with a cookie answered 500); a `sessions.Clock` is taken through its
    `now()`, and anything else is a TypeError at setup (a trial's `clock=ManualClock()`
    was accepted and failed at the first sign-in, after creating the session)."""
    async_manager = sessions.AsyncSessionManager(sessions.SessionConfig())
    with pytest.raises(TypeError, match="asynchronous"):
        SessionMiddleware(lambda e, s: [], async_manager)
    with pytest.raises(TypeError, match="asynchronous"):
        Sessions(flask.Flask(__name__), manager=async_manager)
    clock = ManualClock()
    middleware = SessionMiddleware(lambda e, s: [], make_manager("memory", clock), clock=clock)
    assert middleware._now() == clock.now()
    with pytest.raises(TypeError, match="clock must be"):
        SessionMiddleware(lambda e, s: [], make_manager("memory", clock), clock=42)  # type: ignore[arg-type]
