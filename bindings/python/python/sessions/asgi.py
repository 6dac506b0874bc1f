"""Sessions for any ASGI application (Starlette, FastAPI, ...): ``pip install "sessions[asgi]"``.

``SessionMiddleware(app, manager=...)`` reads the request's token from the session cookie
(and, with ``bearer=True``, from an ``Authorization: Bearer`` header, which wins when both
are present), validates it with the request's ``User-Agent``, and puts a
``RequestSession`` in ``scope["sessions"]`` and in ``scope["state"]["session"]``, which
Starlette and FastAPI show as ``request.state.session``. Routes use its helpers::

    web = request.state.session          # a RequestSession
    web.session                          # the valid Session, or None
    web.reason                           # None, a ValidationError name or "MISSING_TOKEN"
    await web.sign_in("alice")           # create + Set-Cookie (replaces the current session)
    await web.rotate()                   # refresh + Set-Cookie with the new token
    await web.sign_out()                 # destroy + delete the cookie
    await web.sign_out_everywhere()      # destroy_all_for_user + delete the cookie

The manager is a ``sessions.SessionManager`` (each call runs in a worker thread through
``anyio.to_thread``, so the event loop never blocks on the store) or an asynchronous
manager with the same method names as coroutines (``sessions.AsyncSessionManager``),
recognised by ``validate`` being a coroutine function, awaited directly.

Sliding: a sliding session's cookie is issued (sign-in, rotation) with ``Max-Age`` up to
the session's absolute end, and responses never write it again (the server decides when
the session has idled out). Re-sending the presented token would race a rotation made by
a parallel request and put the old token back over the new cookie.

A helper's cookie change goes out with whatever response the request ends with, an
error answered by the framework (``HTTPException``, an exception handler) included: a
rotation that happened must reach the browser, or its old token turns into a reused one
after the grace. A 500 produced outside this middleware (Starlette's
``ServerErrorMiddleware``, the server) does not carry it.

A failed validation never deletes the cookie: a late response to a request that carried
an older token must not erase the newer cookie the browser got meanwhile. Only
``sign_out`` / ``sign_out_everywhere`` delete it.

A ``SessionError.Store`` / ``Clock`` / ``Random`` raised while validating answers
``503`` with ``{"detail": "STORE_UNAVAILABLE"}`` (or ``CLOCK_``/``RANDOM_``): the
credentials could not be checked, which is not the client's fault, and a 401 would make
it throw its credentials away. Requests without a token never reach the store.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import anyio.to_thread

from . import Clock, CreateSessionOptions, Session, ValidationResult
from ._web import (
    CookieSettings,
    ENVIRON_KEY,
    MISSING_TOKEN,
    MissingToken,
    RequestState,
    SyncManager,
    TokenSource,
    clock_function,
    http_status,
    options_for,
    read_bearer,
    read_cookie,
)

__all__ = [
    "MISSING_TOKEN",
    "SCOPE_KEY",
    "AsyncManager",
    "CookieSettings",
    "MissingToken",
    "RequestSession",
    "SessionMiddleware",
    "SyncManager",
    "http_status",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: ``scope[SCOPE_KEY]`` is the request's ``RequestSession``.
SCOPE_KEY = ENVIRON_KEY
_log = logging.getLogger(__name__)


class AsyncManager(Protocol):
    """An asynchronous manager: ``sessions.SessionManager``'s methods as coroutines."""

    async def create(self, options: CreateSessionOptions) -> Session: ...
    async def validate(self, token: str, user_agent: str | None = None) -> ValidationResult: ...
    async def refresh(self, token: str, user_agent: str | None = None) -> Session: ...
    async def destroy(self, session_id: str) -> bool: ...
    async def destroy_all_for_user(self, user_id: str) -> int: ...


class _Calls:
    """The manager's methods, awaitable whichever kind of manager it is."""

    __slots__ = ("_manager", "_is_async")

    def __init__(self, manager: SyncManager | AsyncManager) -> None:
        for name in ("create", "validate", "refresh", "destroy", "destroy_all_for_user"):
            if not callable(getattr(manager, name, None)):
                raise TypeError(f"manager {type(manager).__name__} has no method {name}()")
        self._manager = manager
        self._is_async = _is_coroutine_function(manager.validate)

    async def call(self, name: str, *args: Any) -> Any:
        method = getattr(self._manager, name)
        if self._is_async:
            return await method(*args)
        # Not cancellable once started (anyio's default): the store change either happens
        # entirely or not at all, and the caller's cancellation is delivered afterwards.
        result = await anyio.to_thread.run_sync(functools.partial(method, *args))
        if inspect.isawaitable(result):  # a coroutine behind a plain wrapper after all
            result = await result
        return result


def _is_coroutine_function(method: object) -> bool:
    """Whether ``method`` (or the function a decorator wrapped in it) is a coroutine
    function."""
    while method is not None:
        if inspect.iscoroutinefunction(method):
            return True
        method = getattr(method, "__wrapped__", None)
    return False


class RequestSession(RequestState):
    """The session state of one ASGI request (see ``RequestState`` for the attributes),
    with the helpers a route calls. Each helper raises the manager's ``SessionError``
    (``sessions.asgi.http_status`` maps it to an HTTP answer); its cookie change goes
    out with the response, so call it before the response starts (``RuntimeError``
    otherwise)."""

    __slots__ = ("_calls",)

    def __init__(
        self,
        calls: _Calls,
        cookie: CookieSettings,
        now: Callable[[], datetime],
        token: str | None,
        source: TokenSource | None,
        user_agent: str | None,
    ) -> None:
        super().__init__(cookie, now, token, source, user_agent)
        self._calls = calls

    async def sign_in(
        self,
        user_id: str,
        *,
        metadata: dict[str, str] | None = None,
        expires_in: timedelta | None = None,
        sliding_expiration: bool = False,
        set_cookie: bool = True,
    ) -> Session:
        """Creates a session for ``user_id`` (call it once the user proved who they are)
        and, with ``set_cookie``, sets the cookie. The request's user agent goes into
        ``metadata["userAgent"]`` (what a binding manager binds the session to). A valid
        session the request presented is destroyed afterwards: a sign-in always starts
        from a fresh token. Returns the new session; its ``token`` is what a client
        without cookies (``set_cookie=False``) must be given."""
        options = options_for(user_id, self.user_agent, metadata, expires_in, sliding_expiration)
        self._check_open()
        previous = self.session
        created: Session = await self._calls.call("create", options)
        self._issued(created, set_cookie)
        if previous is not None and previous.id != created.id:
            await self._calls.call("destroy", previous.id)
        return created

    async def rotate(self, *, set_cookie: bool | None = None) -> Session:
        """Refreshes the request's token (a new token, a later expiry) and, with
        ``set_cookie`` (by default: when the token came from the cookie), sets the cookie
        to the new one. Within the manager's rotation grace, concurrent rotations of one
        token all get the same new token. Raises the ``SessionError`` of the request's
        failed validation (``TokenReused`` for a predecessor presented after the grace,
        which revoked the session; ``SessionExpired``, ...) without calling ``refresh``,
        ``MissingToken`` (an ``InvalidToken``, answered 401 ``MISSING_TOKEN``) when the
        request has no token, and what ``refresh`` raises."""
        token = self._presented()
        self._check_open()
        refreshed: Session = await self._calls.call("refresh", token, self.user_agent)
        self._issued(refreshed, self.source != "bearer" if set_cookie is None else set_cookie)
        return refreshed

    async def sign_out(self, *, clear_cookie: bool = True) -> bool:
        """Destroys the request's session (when it has a valid one) and deletes the
        cookie. Returns whether a session was destroyed."""
        self._check_open()
        destroyed = False
        if self.session is not None:
            destroyed = bool(await self._calls.call("destroy", self.session.id))
        self._ended(clear_cookie)
        return destroyed

    async def sign_out_everywhere(self, *, clear_cookie: bool = True) -> int:
        """Destroys every session of the request's user and deletes the cookie. Returns
        how many were destroyed. Without a valid session (there is no user to sign out)
        raises the ``SessionError`` of the failed validation (``SessionRevoked``, ...), or
        ``MissingToken`` (an ``InvalidToken``, 401 ``MISSING_TOKEN``) when the request has
        no token."""
        self._check_open()
        session = self._signed_in()
        count = int(await self._calls.call("destroy_all_for_user", session.user_id))
        self._ended(clear_cookie)
        return count


def _headers(scope: Scope, name: bytes) -> list[str]:
    return [value.decode("latin-1") for key, value in scope.get("headers", ()) if key.lower() == name]


class SessionMiddleware:
    """Pure ASGI middleware: see the module's documentation.

    Args:
        app: the ASGI application.
        manager: a ``sessions.SessionManager`` or an asynchronous manager.
        cookie: the cookie's settings (``CookieSettings()``: the safe defaults).
        bearer: also read ``Authorization: Bearer <token>`` (it wins over the cookie).
        clock: what ``Max-Age`` is computed from (``expires_at - clock()``); give the
            manager's clock when it is not the system clock.
    """

    def __init__(
        self,
        app: ASGIApp,
        manager: SyncManager | AsyncManager,
        *,
        cookie: CookieSettings | None = None,
        bearer: bool = False,
        clock: Callable[[], datetime] | Clock | None = None,
    ) -> None:
        self.app = app
        self._calls = _Calls(manager)
        self.cookie = cookie if cookie is not None else CookieSettings()
        self.bearer = bearer
        self._now = clock_function(clock)

    def __repr__(self) -> str:
        return f"SessionMiddleware(cookie={self.cookie!r}, bearer={self.bearer!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        token: str | None = None
        source: TokenSource | None = None
        if self.bearer:
            token = read_bearer(_headers(scope, b"authorization"))
            source = "bearer" if token is not None else None
        if token is None:
            token = read_cookie(_headers(scope, b"cookie"), self.cookie.full_name)
            source = "cookie" if token is not None else None
        agents = _headers(scope, b"user-agent")
        state = RequestSession(self._calls, self.cookie, self._now, token, source, agents[0] if agents else None)
        if token is not None:
            try:
                result: ValidationResult = await self._calls.call("validate", token, state.user_agent)
            except Exception as error:  # noqa: BLE001 - mapped below, or re-raised
                answer = http_status(error)
                if answer is None or answer[0] != 503:
                    raise
                _log.warning("sessions: could not validate a request's token: %s", error)
                await _unavailable(scope, send, answer[1])
                return
            state._validated(result)
        scope[SCOPE_KEY] = state
        scope.setdefault("state", {})["session"] = state

        async def send_with_cookie(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                values = state._take_headers()
                if values:
                    headers = list(message.get("headers", ()))
                    headers.extend((b"set-cookie", v.encode("latin-1")) for v in values)
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cookie)


async def _unavailable(scope: Scope, send: Send, reason: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1013})  # try again later
        return
    body = json.dumps({"detail": reason}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
