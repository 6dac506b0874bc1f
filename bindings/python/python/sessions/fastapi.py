"""Sessions for FastAPI: ``pip install "sessions[fastapi]"``.

With ``sessions.asgi.SessionMiddleware`` installed on the application:

* ``CurrentSession`` (``Annotated[Session, Depends(current_session)]``) is a parameter
  type that gives a route the request's valid ``Session``, or answers
  ``401 {"detail": reason}`` with the ``ValidationError``'s name (``INVALID_TOKEN``,
  ``SESSION_EXPIRED``, ``SESSION_REVOKED``, ``USER_AGENT_MISMATCH``, ``TOKEN_REUSED``)
  or ``MISSING_TOKEN``; with bearer tokens on, the answer carries
  ``WWW-Authenticate: Bearer`` (RFC 6750).
* ``WebSession`` (``Annotated[RequestSession, Depends(request_session)]``) gives the
  request's ``sessions.asgi.RequestSession``: ``sign_in``, ``rotate``, ``sign_out``,
  ``sign_out_everywhere``.
* ``add_error_handlers(app)`` answers a ``SessionError`` a route lets through as
  ``sessions.asgi.http_status`` says (401, 403 or 503 with ``{"detail": reason}``);
  any other ``SessionError`` (a bug of the application) stays a 500.
"""

from __future__ import annotations

from typing import Annotated, TypeAlias

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from . import Session, SessionError
from ._web import BEARER_CHALLENGE
from .asgi import SCOPE_KEY, RequestSession, http_status

__all__ = ["CurrentSession", "WebSession", "add_error_handlers", "current_session", "request_session"]


def request_session(request: Request) -> RequestSession:
    """The request's ``RequestSession``. Raises ``RuntimeError`` when
    ``sessions.asgi.SessionMiddleware`` is not installed."""
    state = request.scope.get(SCOPE_KEY)
    if not isinstance(state, RequestSession):
        raise RuntimeError("sessions.asgi.SessionMiddleware is not installed on this application")
    return state


def current_session(state: Annotated[RequestSession, Depends(request_session)]) -> Session:
    """The request's valid session, or ``HTTPException(401, detail=reason)``."""
    if state.session is None:
        headers = {"WWW-Authenticate": BEARER_CHALLENGE} if state.source == "bearer" else None
        raise HTTPException(status_code=401, detail=state.reason, headers=headers)
    return state.session


CurrentSession: TypeAlias = Annotated[Session, Depends(current_session)]
WebSession: TypeAlias = Annotated[RequestSession, Depends(request_session)]


async def _answer(request: Request, error: Exception) -> Response:
    answer = http_status(error)
    if answer is None:
        raise error
    status, reason = answer
    headers = {"Retry-After": "1"} if status == 503 else None
    state = request.scope.get(SCOPE_KEY)
    if status == 401 and isinstance(state, RequestSession) and state.source == "bearer":
        headers = {"WWW-Authenticate": BEARER_CHALLENGE}
    return JSONResponse({"detail": reason}, status_code=status, headers=headers)


def add_error_handlers(app: FastAPI) -> None:
    """Answers a ``SessionError`` a route raises with its HTTP status (see the module)."""
    app.add_exception_handler(SessionError, _answer)
