"""What the web integrations (``sessions.asgi``, ``sessions.wsgi``, ``sessions.flask``,
``sessions.fastapi``) share: the cookie settings and their checks, reading the token of a
request, writing ``Set-Cookie`` headers, the error-to-HTTP mapping and the per-request
state. Nothing here imports a web framework."""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Literal, Protocol

from . import (
    CreateSessionOptions,
    Session,
    SessionError,
    ValidationError,
    ValidationResult,
)

__all__ = [
    "COOKIE_UNSAFE",
    "CookieSettings",
    "ENVIRON_KEY",
    "MISSING_TOKEN",
    "SameSite",
    "SyncManager",
    "TokenSource",
    "http_status",
]

SameSite = Literal["lax", "strict", "none"]
TokenSource = Literal["cookie", "bearer"]

#: The reason given when a request carries no token at all.
MISSING_TOKEN = "MISSING_TOKEN"
#: Where the per-request state lives: ``scope[ENVIRON_KEY]`` (ASGI) and
#: ``environ[ENVIRON_KEY]`` (WSGI).
ENVIRON_KEY = "sessions"

# RFC 6265 section 4.1.1: a cookie name is an HTTP token; a value is cookie-octets.
_TOKEN_CHARS = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_COOKIE_OCTETS = re.compile(r"^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$")
_ATTRIBUTE_VALUE = re.compile(r"^[\x20-\x3A\x3C-\x7E]*$")  # no CTLs, no ';'
#: Characters a cookie value may not hold (the reason a token cannot be a cookie).
COOKIE_UNSAFE = "control characters, whitespace, '\"', ',', ';' and '\\'"


@dataclasses.dataclass(frozen=True, kw_only=True)
class CookieSettings:
    """How the session cookie is written. The defaults are the safe ones: ``HttpOnly``,
    ``Secure``, ``SameSite=Lax``, ``Path=/``, no ``Domain``, the ``__Host-`` prefix, and a
    ``Max-Age`` that ends with the session.

    Attributes:
        name: the cookie's name without a prefix (an RFC 6265 token).
        host_prefix: ``None`` (the default) adds ``__Host-`` to the name whenever the
            browser accepts it (``secure``, ``path == "/"``, no ``domain``); ``True``
            requires it (a setting that forbids it is a ``ValueError``); ``False``
            never adds it.
        secure: the ``Secure`` attribute: the browser sends the cookie over HTTPS only
            (and over plain HTTP to ``localhost``).
        http_only: the ``HttpOnly`` attribute: page scripts cannot read the cookie.
        same_site: ``"lax"`` (sent on top-level navigations from other sites, not on
            their sub-requests or form posts), ``"strict"`` or ``"none"`` (needs
            ``secure``).
        path: the ``Path`` attribute (starts with ``/``).
        domain: the ``Domain`` attribute; ``None`` (the default) keeps the cookie to the
            exact host that set it.
        persistent: ``True`` writes ``Max-Age`` (seconds until the session expires,
            rounded up); ``False`` writes a browser-session cookie (no ``Max-Age``).

    Raises:
        ValueError: a name or attribute a browser would reject or misread, or a
            combination browsers refuse (``SameSite=None`` without ``Secure``, a
            ``__Host-`` cookie with a ``Domain``, a path other than ``/`` or without
            ``Secure``, a ``__Secure-`` cookie without ``Secure``).
    """

    name: str = "session"
    host_prefix: bool | None = None
    secure: bool = True
    http_only: bool = True
    same_site: SameSite = "lax"
    path: str = "/"
    domain: str | None = None
    persistent: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _TOKEN_CHARS.match(self.name):
            raise ValueError(f"cookie name {self.name!r} is not an RFC 6265 token (letters, digits, !#$%&'*+-.^_`|~)")
        if self.same_site not in ("lax", "strict", "none"):
            raise ValueError(f"same_site must be 'lax', 'strict' or 'none', not {self.same_site!r}")
        if not isinstance(self.path, str) or not self.path.startswith("/") or not _ATTRIBUTE_VALUE.match(self.path):
            raise ValueError(f"cookie path {self.path!r} must start with '/' and hold no ';' or control character")
        if self.domain is not None and (
            not isinstance(self.domain, str) or not self.domain.strip(".") or not _TOKEN_CHARS.match(self.domain)
        ):
            raise ValueError(f"cookie domain {self.domain!r} is not a host name")
        if self.same_site == "none" and not self.secure:
            raise ValueError("SameSite=None requires Secure (browsers drop such a cookie)")
        lowered = self.name.lower()
        if lowered.startswith(("__host-", "__secure-")):
            raise ValueError(
                f"cookie name {self.name!r}: give the name without a prefix and choose __Host- with host_prefix"
            )
        possible = self.secure and self.path == "/" and self.domain is None
        if self.host_prefix is True and not possible:
            raise ValueError("the __Host- prefix requires Secure, Path=/ and no Domain")

    @property
    def full_name(self) -> str:
        """The cookie's name as sent: with ``__Host-`` when it applies."""
        if self.host_prefix is False:
            return self.name
        if self.secure and self.path == "/" and self.domain is None:
            return "__Host-" + self.name
        return self.name

    def _attributes(self) -> list[str]:
        parts = [f"Path={self.path}"]
        if self.domain is not None:
            parts.append(f"Domain={self.domain}")
        if self.secure:
            parts.append("Secure")
        if self.http_only:
            parts.append("HttpOnly")
        parts.append(f"SameSite={self.same_site.capitalize()}")
        return parts

    def set_cookie(self, token: str, expires_at: datetime, now: datetime) -> str:
        """The ``Set-Cookie`` header value that hands ``token`` to the browser until
        ``expires_at``. Raises ``ValueError`` if the token holds a character a cookie
        cannot carry (the message never shows the token)."""
        if not _COOKIE_OCTETS.match(token):
            raise ValueError(f"this token cannot be a cookie value (it holds one of {COOKIE_UNSAFE})")
        parts = [f"{self.full_name}={token}"]
        if self.persistent:
            seconds = max(0, math.ceil((expires_at - now).total_seconds()))
            parts.append(f"Max-Age={seconds}")
        return "; ".join(parts + self._attributes())

    def clear_cookie(self) -> str:
        """The ``Set-Cookie`` header value that deletes the cookie."""
        return "; ".join([f"{self.full_name}=", "Max-Age=0", *self._attributes()])


def read_cookie(headers: Iterable[str], name: str) -> str | None:
    """The value of the first cookie called ``name`` with a non-empty value in these
    ``Cookie`` header values (quotes around a value are removed), or ``None``.

    A request can carry several cookies of one name (set for different paths or
    domains). The first one wins, as in werkzeug (browsers send the most specific path
    first; Starlette's parser keeps the last), but an empty value is never a token and
    is skipped: a leftover deleted cookie, or an empty one planted by a sibling domain,
    cannot shadow the session's cookie."""
    for header in headers:
        for part in header.split(";"):
            key, eq, value = part.strip().partition("=")
            if eq and key.strip() == name:
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                if value:
                    return value
    return None


def read_bearer(headers: Iterable[str]) -> str | None:
    """The token of the first ``Authorization: Bearer <token>`` header (RFC 6750; the
    scheme is case-insensitive), or ``None``."""
    for header in headers:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


# --------------------------------------------------------------------------------------
# Errors -> HTTP
# --------------------------------------------------------------------------------------

class MissingToken(SessionError.InvalidToken):
    """What the request helpers (``rotate``, ``sign_out_everywhere``) raise when the
    request carried no token: a ``SessionError.InvalidToken`` to ``except`` clauses,
    answered 401 ``MISSING_TOKEN`` like a route that requires a session."""

    def __str__(self) -> str:
        return "the request carried no session token"


_UNAUTHORIZED: dict[type[SessionError], str] = {
    MissingToken: MISSING_TOKEN,
    SessionError.InvalidToken: ValidationError.INVALID_TOKEN.name,
    SessionError.SessionExpired: ValidationError.SESSION_EXPIRED.name,
    SessionError.SessionRevoked: ValidationError.SESSION_REVOKED.name,
    SessionError.UserAgentMismatch: ValidationError.USER_AGENT_MISMATCH.name,
    SessionError.TokenReused: ValidationError.TOKEN_REUSED.name,
    SessionError.UserAgentRequired: "USER_AGENT_REQUIRED",
    SessionError.SessionNotFound: "SESSION_NOT_FOUND",
}
_UNAVAILABLE: dict[type[SessionError], str] = {
    SessionError.Store: "STORE_UNAVAILABLE",
    SessionError.Clock: "CLOCK_UNAVAILABLE",
    SessionError.Random: "RANDOM_UNAVAILABLE",
}


_ERRORS: dict[ValidationError, Callable[[], SessionError]] = {
    ValidationError.INVALID_TOKEN: SessionError.InvalidToken,
    ValidationError.SESSION_EXPIRED: SessionError.SessionExpired,
    ValidationError.SESSION_REVOKED: SessionError.SessionRevoked,
    ValidationError.USER_AGENT_MISMATCH: SessionError.UserAgentMismatch,
    ValidationError.TOKEN_REUSED: SessionError.TokenReused,
}


def http_status(error: BaseException) -> tuple[int, str] | None:
    """The HTTP answer for a ``SessionError``: ``(status, reason)``, or ``None`` for an
    error that is a bug of the application (a bad user id, lifetime, metadata or
    configuration), which should surface as a 500.

    * 401 ``MISSING_TOKEN``: ``MissingToken`` (a request helper called for a request
      without a token);
    * 401 (the client's credentials do not hold): ``InvalidToken``, ``SessionExpired``,
      ``SessionRevoked``, ``UserAgentMismatch``, ``TokenReused`` (the reasons are the
      ``ValidationError`` names), ``UserAgentRequired``, ``SessionNotFound``;
    * 403 ``SESSION_LIMIT_REACHED``: the user has as many sessions as allowed
      (``session_limit_action=REFUSE``);
    * 503 (the credentials could not be checked now; the client should retry, not sign
      in again): ``Store``, ``Clock``, ``Random``.
    """
    for kind, reason in _UNAUTHORIZED.items():
        if isinstance(error, kind):
            return 401, reason
    for kind, reason in _UNAVAILABLE.items():
        if isinstance(error, kind):
            return 503, reason
    if isinstance(error, SessionError.SessionLimitReached):
        return 403, "SESSION_LIMIT_REACHED"
    return None


# --------------------------------------------------------------------------------------
# Managers
# --------------------------------------------------------------------------------------


class SyncManager(Protocol):
    """What the web integrations call on a manager (``sessions.SessionManager`` has it)."""

    def create(self, options: CreateSessionOptions) -> Session: ...
    def validate(self, token: str, user_agent: str | None = None) -> ValidationResult: ...
    def refresh(self, token: str, user_agent: str | None = None) -> Session: ...
    def destroy(self, session_id: str) -> bool: ...
    def destroy_all_for_user(self, user_id: str) -> int: ...


#: The ``WWW-Authenticate`` value of a 401 whose token came in the ``Authorization``
#: header (RFC 6750, section 3).
BEARER_CHALLENGE = 'Bearer error="invalid_token"'


def utc_now() -> datetime:
    """The system clock, timezone-aware."""
    return datetime.now(timezone.utc)


def clock_function(clock: object) -> Callable[[], datetime]:
    """What the middlewares read the time from: ``None`` is the system clock; a function
    returning a ``datetime`` is used as given; a ``sessions.Clock`` (the manager's
    clock object, whose ``now()`` gives the time) through its ``now``. Anything else is
    a ``TypeError`` at setup (it used to fail only at the first sign-in, after the
    session was created)."""
    if clock is None:
        return utc_now
    now = getattr(clock, "now", None)
    if not isinstance(clock, type) and callable(now) and not callable(clock):
        return typing.cast(Callable[[], datetime], now)
    if callable(clock):
        return typing.cast(Callable[[], datetime], clock)
    raise TypeError(
        f"clock must be a function returning a datetime or a sessions.Clock, "
        f"not {type(clock).__name__}"
    )


def options_for(
    user_id: str,
    user_agent: str | None,
    metadata: dict[str, str] | None,
    expires_in: timedelta | None,
    sliding_expiration: bool,
) -> CreateSessionOptions:
    """The options of a sign-in: the request's user agent goes into
    ``metadata["userAgent"]`` (what a binding manager binds the session to) unless the
    caller set that key."""
    merged = dict(metadata or {})
    if user_agent is not None:
        merged.setdefault("userAgent", user_agent)
    return CreateSessionOptions(
        user_id=user_id,
        expires_in=expires_in,
        metadata=merged or None,
        sliding_expiration=sliding_expiration,
    )


# --------------------------------------------------------------------------------------
# The per-request state
# --------------------------------------------------------------------------------------


class RequestState:
    """What a request presented and what became of it; the integrations' ``RequestSession``
    classes add the helpers (sign in, rotate, sign out) on top.

    Attributes:
        session: the valid session of this request (after a sign-in or a rotation: the
            new one), or ``None``.
        error: why the presented token did not validate (a ``ValidationError``), or
            ``None`` (valid, or no token presented).
        source: where the token came from (``"cookie"`` or ``"bearer"``), or ``None``.
        user_agent: the request's ``User-Agent`` header, or ``None``.

    The raw token is kept privately and never shown by ``repr()``.
    """

    __slots__ = ("session", "error", "source", "user_agent", "_token", "_cookie", "_now", "_headers", "_sent")

    def __init__(
        self,
        cookie: CookieSettings,
        now: Callable[[], datetime],
        token: str | None,
        source: TokenSource | None,
        user_agent: str | None,
    ) -> None:
        self.session: Session | None = None
        self.error: ValidationError | None = None
        self.source: TokenSource | None = source
        self.user_agent = user_agent
        self._token = token
        self._cookie = cookie
        self._now = now
        self._headers: list[str] = []  # Set-Cookie values not sent yet
        self._sent = False

    @property
    def authenticated(self) -> bool:
        """Whether the request has a valid session."""
        return self.session is not None

    @property
    def reason(self) -> str | None:
        """``None`` when authenticated; otherwise the ``ValidationError`` name, or
        ``"MISSING_TOKEN"`` when the request carried no token."""
        if self.session is not None:
            return None
        return self.error.name if self.error is not None else MISSING_TOKEN

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(session={self.session!r}, error={self.error!r}, "
            f"source={self.source!r}, user_agent={self.user_agent!r})"
        )

    # -- used by the integrations ------------------------------------------------------

    def _validated(self, result: ValidationResult) -> None:
        """Records ``validate``'s result. Nothing is written back: a sliding session's
        cookie was issued to last until the session's absolute end (see ``_issued``),
        so a slide needs no new cookie. Re-sending the presented token would race a
        rotation answered meanwhile by a parallel request: the older response would put
        the old token back over the new cookie, and once the rotation grace passed the
        browser would present it and revoke the session as token reuse (a new user's
        trial saw it in 5 to 11 of 20 runs)."""
        self.session = result.session if result.valid else None
        self.error = None if result.valid else result.error

    def _issued(self, session: Session, set_cookie: bool) -> None:
        """Records a session with a new token (sign-in, rotation)."""
        self._check_open()
        self.session, self.error, self._token = session, None, session.token
        if set_cookie:
            self.source = "cookie"
            # A sliding session's expiry moves on every request; its cookie lasts until
            # the absolute end, and the server alone decides when it has idled out.
            until = session.absolute_expires_at if session.sliding_expiration else session.expires_at
            self._headers = [self._cookie.set_cookie(session.token, until, self._now())]
        else:
            self.source = "bearer"

    def _ended(self, clear_cookie: bool) -> None:
        """Records a sign-out."""
        self._check_open()
        self.session, self.error, self._token = None, ValidationError.SESSION_REVOKED, None
        if clear_cookie:
            self._headers = [self._cookie.clear_cookie()]

    def _check_open(self) -> None:
        if self._sent:
            raise RuntimeError("the response has started: its cookie can no longer change")

    def _presented(self) -> str:
        """The token to refresh: the request's (or the one issued during it). Raises the
        ``SessionError`` of the request's failed validation (``refresh`` would fail the
        same way, or, once a reuse revoked the session, less precisely), or
        ``MissingToken`` (an ``InvalidToken``) when the request has no token."""
        if self.error is not None:
            raise _ERRORS[self.error]()
        if self._token is None:
            raise MissingToken()
        return self._token

    def _signed_in(self) -> Session:
        """The request's valid session; raises like ``_presented`` without one."""
        if self.session is None:
            self._presented()
            raise SessionError.InvalidToken()  # a token presented but not yet validated
        return self.session

    def _take_headers(self) -> list[str]:
        """The ``Set-Cookie`` values to send with the response (once)."""
        self._sent = True
        headers, self._headers = self._headers, []
        return headers
