"""A pure-Python session manager doing what `SessionManager.validate` does on the
in-memory store (hashlib + dict + dataclass), kept as the yardstick for the Python
benchmark (benches/python/validate.py). Not part of the package: it has no rotation,
no store contract, no limits; only the per-request checks in the library's order
(unknown token, revoked, expired, user agent) and the sliding extension."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import threading
from datetime import datetime, timedelta, timezone

MAX_TOKEN_CHARS = 4096


@dataclasses.dataclass
class PureSession:
    id: str
    user_id: str
    token: str
    token_hash: str
    created_at: datetime
    expires_at: datetime
    metadata: dict[str, str] | None
    revoked_at: datetime | None
    sliding_expiration: bool | None
    bound_user_agent: str | None
    lifetime: timedelta
    absolute_expires_at: datetime
    version: int = 1


@dataclasses.dataclass
class PureResult:
    valid: bool
    session: PureSession | None
    error: str | None


class PureManager:
    def __init__(self, expires_in: timedelta = timedelta(days=1),
                 max_lifetime: timedelta = timedelta(days=30)) -> None:
        self._expires_in = expires_in
        self._max_lifetime = max_lifetime
        self._by_digest: dict[bytes, PureSession] = {}
        self._lock = threading.Lock()

    def create(self, user_id: str, metadata: dict[str, str] | None = None,
               sliding: bool = False) -> PureSession:
        token = secrets.token_urlsafe(32)
        digest = hashlib.sha256(token.encode()).digest()
        now = datetime.now(timezone.utc)
        session = PureSession(
            id=secrets.token_hex(16), user_id=user_id, token=token, token_hash=digest.hex(),
            created_at=now, expires_at=now + self._expires_in,
            metadata=dict(metadata) if metadata is not None else None, revoked_at=None,
            sliding_expiration=sliding, bound_user_agent=None, lifetime=self._expires_in,
            absolute_expires_at=now + self._max_lifetime,
        )
        with self._lock:
            self._by_digest[digest] = dataclasses.replace(session, token="")
        return session

    def validate(self, token: str, user_agent: str | None = None) -> PureResult:
        if not token or len(token) > MAX_TOKEN_CHARS:
            return PureResult(False, None, "invalid_token")
        session = self._by_digest.get(hashlib.sha256(token.encode()).digest())
        if session is None:
            return PureResult(False, None, "invalid_token")
        if session.revoked_at is not None:
            return PureResult(False, None, "session_revoked")
        now = datetime.now(timezone.utc)
        if now >= session.expires_at:
            return PureResult(False, None, "session_expired")
        if session.bound_user_agent is not None and user_agent != session.bound_user_agent:
            return PureResult(False, None, "user_agent_mismatch")
        if session.sliding_expiration and session.expires_at - now < session.lifetime / 2:
            with self._lock:
                session.expires_at = min(now + session.lifetime, session.absolute_expires_at)
                session.version += 1
        return PureResult(True, session, None)
