"""A clock and a store written in Python, typed: `mypy --strict` checks that the
package's base classes, records and errors are typed precisely enough to implement them
(bindings/python/test.sh)."""

import threading
from datetime import datetime, timedelta, timezone

import sessions


class FixedClock(sessions.Clock):
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


class ListStore(sessions.SessionStore):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sessions: list[sessions.Session] = []

    def insert(self, session: sessions.Session) -> None:
        with self.lock:
            self.sessions.append(session)

    def get(self, session_id: str) -> sessions.Session | None:
        return next((s for s in self.sessions if s.id == session_id), None)

    def count(self) -> int:
        return len(self.sessions)


def errors(manager: sessions.SessionManager) -> str:
    try:
        manager.refresh("not a token")
    except sessions.SessionError.InvalidTokenLength as e:
        return f"{e.bytes} {e.min} {e.max}"
    except (sessions.SessionError.Store, sessions.SessionError.Clock) as e:
        return e.reason
    except sessions.SessionError as e:
        return str(e)
    return ""


manager: sessions.SessionManager = sessions.SessionManager.with_store(
    sessions.SessionConfig(auto_purge_interval=timedelta(hours=1)),
    ListStore(),
    FixedClock(datetime(2026, 1, 1, tzinfo=timezone.utc)),
)
options = sessions.CreateSessionOptions(user_id="alice")
session: sessions.Session = manager.create(options)
result: sessions.ValidationResult = sessions.validate_session(session.token, session, user_agent=None)
error: sessions.ValidationError | None = result.error
token: str = sessions.generate_secure_token(bytes=48)
print(errors(manager), error, token, sessions.__version__)
