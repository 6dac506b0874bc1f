"""Sessions for Flask: ``pip install "sessions[flask]"``.

::

    from flask import Flask
    import sessions
    from sessions.flask import Sessions, current, login_required

    app = Flask(__name__)
    Sessions(app, manager=sessions.SessionManager.open("sessions.sqlite", sessions.SessionConfig()))

    @app.post("/login")
    def login() -> dict[str, str]:
        current().sign_in("alice")           # once the password is checked
        return {"user": "alice"}

    @app.get("/me")
    @login_required                          # or 401 {"detail": "SESSION_EXPIRED"}, ...
    def me() -> dict[str, str]:
        session = current().session          # never None under login_required
        assert session is not None
        return {"user": session.user_id}

(the same as ``tests/python/typing/flask_example.py``, which the tests serve.)

``Sessions`` wraps ``app.wsgi_app`` in ``sessions.wsgi.SessionMiddleware`` (cookie
settings, bearer tokens, sliding and the 503 on store failures are that middleware's)
and registers an error handler that answers a ``SessionError`` raised by a view as
``sessions.wsgi.http_status`` says: ``{"detail": reason}`` with 401, 403 or 503; any
other ``SessionError`` (a bug of the application: a bad user id, lifetime or metadata)
stays a 500. Flask's own ``flask.session`` (a signed cookie) is unrelated and untouched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import ParamSpec, TypeVar

import flask

from . import Clock, SessionError
from ._web import BEARER_CHALLENGE, ENVIRON_KEY, CookieSettings, SyncManager, http_status
from .wsgi import RequestSession, SessionMiddleware

__all__ = ["CookieSettings", "RequestSession", "Sessions", "current", "login_required"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


class Sessions:
    """The Flask extension. ``Sessions(app, manager=...)``, or ``Sessions(manager=...)``
    then ``init_app(app)``; the keyword arguments are
    ``sessions.wsgi.SessionMiddleware``'s."""

    def __init__(
        self,
        app: flask.Flask | None = None,
        *,
        manager: SyncManager,
        cookie: CookieSettings | None = None,
        bearer: bool = False,
        clock: Callable[[], datetime] | Clock | None = None,
    ) -> None:
        self.manager = manager
        self.cookie = cookie if cookie is not None else CookieSettings()
        self.bearer = bearer
        self.clock = clock
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"Sessions(cookie={self.cookie!r}, bearer={self.bearer!r})"

    def init_app(self, app: flask.Flask) -> None:
        """Installs the middleware and the ``SessionError`` handler on ``app``."""
        middleware = SessionMiddleware(
            app.wsgi_app, self.manager, cookie=self.cookie, bearer=self.bearer, clock=self.clock
        )
        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.extensions["sessions"] = self
        app.register_error_handler(SessionError, _answer)


def _answer(error: SessionError) -> flask.Response:
    answer = http_status(error)
    if answer is None:
        raise error
    status, reason = answer
    response = flask.jsonify(detail=reason)
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = "1"
    if status == 401:
        _challenge(response, flask.request.environ.get(ENVIRON_KEY))
    return response


def _challenge(response: flask.Response, state: object) -> None:
    """Adds ``WWW-Authenticate`` to a 401 whose token came in the ``Authorization`` header."""
    if isinstance(state, RequestSession) and state.source == "bearer":
        response.headers["WWW-Authenticate"] = BEARER_CHALLENGE


def current() -> RequestSession:
    """The ``RequestSession`` of the request being handled. Raises ``RuntimeError``
    outside a request or when ``Sessions`` is not installed."""
    state = flask.request.environ.get(ENVIRON_KEY)
    if not isinstance(state, RequestSession):
        raise RuntimeError("sessions.flask.Sessions is not installed on this application")
    return state


def login_required(view: Callable[_P, _R]) -> Callable[_P, _R]:
    """A view decorator: without a valid session the request is answered
    ``401 {"detail": reason}`` (a ``ValidationError`` name or ``"MISSING_TOKEN"``)."""

    @functools.wraps(view)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        state = current()
        if state.session is None:
            response = flask.jsonify(detail=state.reason)
            response.status_code = 401
            _challenge(response, state)
            flask.abort(response)
        return view(*args, **kwargs)

    return guarded
