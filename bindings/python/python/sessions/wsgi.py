"""Sessions for any WSGI application (Flask, Django, bottle, ...); no extra package needed.

``SessionMiddleware(app, manager)`` does for WSGI what ``sessions.asgi.SessionMiddleware``
does for ASGI (same cookie settings, token sources, sliding and error mapping): it puts a
``RequestSession`` in ``environ["sessions"]``, whose helpers are plain methods::

    web = environ["sessions"]            # a RequestSession
    web.session                          # the valid Session, or None
    web.reason                           # None, a ValidationError name or "MISSING_TOKEN"
    web.sign_in("alice")                 # create + Set-Cookie (replaces the current session)
    web.rotate()                         # refresh + Set-Cookie with the new token
    web.sign_out()                       # destroy + delete the cookie
    web.sign_out_everywhere()            # destroy_all_for_user + delete the cookie

The cookie changes go out with the response's ``start_response``. A ``Store`` /
``Clock`` / ``Random`` error while validating answers ``503`` (see ``sessions.asgi``).
For Flask, ``sessions.flask.Sessions`` installs this middleware.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from . import Clock, Session, ValidationResult
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
    "ENVIRON_KEY",
    "MISSING_TOKEN",
    "CookieSettings",
    "MissingToken",
    "RequestSession",
    "SessionMiddleware",
    "SyncManager",
    "http_status",
]

_log = logging.getLogger(__name__)

if TYPE_CHECKING:  # PEP 3333's types, as typeshed writes them (what Flask uses too)
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class RequestSession(RequestState):
    """The session state of one WSGI request (see ``sessions._web.RequestState`` for the
    attributes) with the helpers a view calls; the same as ``sessions.asgi.RequestSession``
    with plain methods. Each raises the manager's ``SessionError``; call them before the
    response starts (``RuntimeError`` otherwise)."""

    __slots__ = ("_manager",)

    def __init__(
        self,
        manager: SyncManager,
        cookie: CookieSettings,
        now: Callable[[], datetime],
        token: str | None,
        source: TokenSource | None,
        user_agent: str | None,
    ) -> None:
        super().__init__(cookie, now, token, source, user_agent)
        self._manager = manager

    def sign_in(
        self,
        user_id: str,
        *,
        metadata: dict[str, str] | None = None,
        expires_in: timedelta | None = None,
        sliding_expiration: bool = False,
        set_cookie: bool = True,
    ) -> Session:
        """See ``sessions.asgi.RequestSession.sign_in``."""
        options = options_for(user_id, self.user_agent, metadata, expires_in, sliding_expiration)
        self._check_open()
        previous = self.session
        created = self._manager.create(options)
        self._issued(created, set_cookie)
        if previous is not None and previous.id != created.id:
            self._manager.destroy(previous.id)
        return created

    def rotate(self, *, set_cookie: bool | None = None) -> Session:
        """See ``sessions.asgi.RequestSession.rotate``."""
        token = self._presented()
        self._check_open()
        refreshed = self._manager.refresh(token, self.user_agent)
        self._issued(refreshed, self.source != "bearer" if set_cookie is None else set_cookie)
        return refreshed

    def sign_out(self, *, clear_cookie: bool = True) -> bool:
        """See ``sessions.asgi.RequestSession.sign_out``."""
        self._check_open()
        destroyed = False
        if self.session is not None:
            destroyed = self._manager.destroy(self.session.id)
        self._ended(clear_cookie)
        return destroyed

    def sign_out_everywhere(self, *, clear_cookie: bool = True) -> int:
        """See ``sessions.asgi.RequestSession.sign_out_everywhere``."""
        self._check_open()
        session = self._signed_in()
        count = self._manager.destroy_all_for_user(session.user_id)
        self._ended(clear_cookie)
        return count


class SessionMiddleware:
    """WSGI middleware: see the module's documentation.

    Args:
        app: the WSGI application.
        manager: a ``sessions.SessionManager``.
        cookie: the cookie's settings (``CookieSettings()``: the safe defaults).
        bearer: also read ``Authorization: Bearer <token>`` (it wins over the cookie).
        clock: what ``Max-Age`` is computed from (``expires_at - clock()``); give the
            manager's clock when it is not the system clock.
    """

    def __init__(
        self,
        app: WSGIApplication,
        manager: SyncManager,
        *,
        cookie: CookieSettings | None = None,
        bearer: bool = False,
        clock: Callable[[], datetime] | Clock | None = None,
    ) -> None:
        for name in ("create", "validate", "refresh", "destroy", "destroy_all_for_user"):
            method = getattr(manager, name, None)
            if not callable(method):
                raise TypeError(f"manager {type(manager).__name__} has no method {name}()")
            if inspect.iscoroutinefunction(method):
                raise TypeError(
                    f"manager {type(manager).__name__} is asynchronous ({name}() is a "
                    "coroutine function): WSGI needs a sessions.SessionManager"
                )
        self.app = app
        self.manager = manager
        self.cookie = cookie if cookie is not None else CookieSettings()
        self.bearer = bearer
        self._now = clock_function(clock)

    def __repr__(self) -> str:
        return f"SessionMiddleware(cookie={self.cookie!r}, bearer={self.bearer!r})"

    def state_for(self, environ: WSGIEnvironment) -> RequestSession:
        """Reads and validates the token of this request (raises what ``validate``
        raises)."""
        token: str | None = None
        source: TokenSource | None = None
        if self.bearer and "HTTP_AUTHORIZATION" in environ:
            token = read_bearer([environ["HTTP_AUTHORIZATION"]])
            source = "bearer" if token is not None else None
        if token is None and "HTTP_COOKIE" in environ:
            token = read_cookie([environ["HTTP_COOKIE"]], self.cookie.full_name)
            source = "cookie" if token is not None else None
        state = RequestSession(self.manager, self.cookie, self._now, token, source, environ.get("HTTP_USER_AGENT"))
        if token is not None:
            result: ValidationResult = self.manager.validate(token, state.user_agent)
            state._validated(result)
        return state

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            state = self.state_for(environ)
        except Exception as error:  # noqa: BLE001 - mapped below, or re-raised
            answer = http_status(error)
            if answer is None or answer[0] != 503:
                raise
            _log.warning("sessions: could not validate a request's token: %s", error)
            body = json.dumps({"detail": answer[1]}).encode()
            start_response(
                "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Retry-After", "1")],
            )
            return [body]
        environ[ENVIRON_KEY] = state

        def start_with_cookie(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            headers = list(headers)
            headers.extend(("Set-Cookie", value) for value in state._take_headers())
            return start_response(status, headers, exc_info)

        return self.app(environ, start_with_cookie)
