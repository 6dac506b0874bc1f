"""One user, one session, from sign-in to "sign out everywhere".

Run it with the `sessions` package installed (bindings/python/demo.sh does both):

    python examples/walkthrough.py [DATABASE_PATH]

The sessions are kept in a SQLite database (in a temporary directory unless a path is
given). Time is a clock this program moves by hand, so nothing here waits.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sessions


class HandClock(sessions.Clock):
    """A clock that only moves when we say so."""

    def __init__(self, start: datetime):
        self.at = start

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta) -> None:
        self.at += timedelta(**delta)
        print(f"\n... {format_delta(timedelta(**delta))} later ({self.at:%H:%M} UTC)")


def format_delta(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def short(token: str) -> str:
    return token[:8] + "…"


def open_manager(config: sessions.SessionConfig, clock: HandClock, tmp: Path):
    """A manager over a SQLite file."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else tmp / "sessions.db"
    print(f"Sessions are kept in the SQLite database {path}.")
    return sessions.SessionManager.open(str(path), config, clock)


class AuditLog(sessions.SessionListener):
    """Writes one audit line per lifecycle event (ids only: an event never carries a
    token or a hash)."""

    def on_event(self, event: sessions.SessionEvent) -> None:
        print(f"    audit: {event}")


def main() -> None:
    clock = HandClock(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
    config = sessions.SessionConfig(
        default_expires_in=timedelta(hours=1),   # idle timeout for sliding sessions
        max_lifetime=timedelta(hours=8),         # nobody stays signed in past this
        bind_to_user_agent=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        manager = open_manager(config, clock, Path(tmp))
        manager.add_listener(AuditLog())
        browser = "Firefox/140 (Linux)"

        print(f"\nAt {clock.now():%H:%M} UTC Ada signs in from {browser}.")
        session = manager.create(sessions.CreateSessionOptions(
            user_id="ada",
            metadata={"userAgent": browser, "ip": "192.0.2.7"},
            sliding_expiration=True,
        ))
        print(f"She gets session {session.id[:8]} with token {short(session.token)}; "
              f"the server keeps only its SHA-256 hash {session.token_hash[:12]}….")
        print(f"It expires at {session.expires_at:%H:%M} unless she keeps using it, "
              f"and at {session.absolute_expires_at:%H:%M} at the latest.")

        result = manager.validate(session.token, browser)
        print(f"Her next request presents the token: valid = {result.valid}.")
        stolen = manager.validate(session.token, "curl/8.5")
        print(f"The same token sent by another program is refused: {stolen.error.name}.")

        clock.advance(minutes=40)
        result = manager.validate(session.token, browser)
        print(f"She is still active, so her session slides: it now expires at "
              f"{result.session.expires_at:%H:%M} instead of {session.expires_at:%H:%M}.")

        clock.advance(minutes=20)
        old_token = session.token
        session = manager.refresh(old_token, browser)
        print(f"When she changes her password the app rotates her token: new token "
              f"{short(session.token)}, expiring at {session.expires_at:%H:%M}.")
        again = manager.refresh(old_token, browser)
        print(f"A second tab that refreshes with the old token {short(old_token)} within the "
              f"10-second rotation grace gets the same new token: {again.token == session.token}.")
        clock.advance(seconds=10)
        print(f"After the grace the old token is refused, and presenting it would revoke the "
              f"session as a stolen token (TokenReused); the new one works: "
              f"{manager.validate(session.token, browser).valid}.")

        print("\nAda also signs in on her phone.")
        phone = manager.create(sessions.CreateSessionOptions(
            user_id="ada", metadata={"userAgent": "Safari/18 (iPhone)"}))
        mine = manager.list_for_user("ada")
        print(f"She now has {len(mine)} active sessions:")
        for s in mine:
            print(f"  - {s.id[:8]}, {s.metadata.get('userAgent')}, since {s.created_at:%H:%M}")

        clock.advance(minutes=5)
        count = manager.destroy_all_for_user("ada")
        print(f"She presses \"sign out everywhere\": {count} sessions revoked.")
        for name, token, agent in [("browser", session.token, browser),
                                   ("phone", phone.token, "Safari/18 (iPhone)")]:
            print(f"  Her {name} token now gets: {manager.validate(token, agent).error.name}.")
        print(f"Active sessions left: {len(manager.list_for_user('ada'))}.")

        clock.advance(hours=9)
        print(f"Once they have expired, a purge removes {manager.purge_expired()} sessions; "
              f"the store now holds {manager.count()}.")
        del manager  # closes the database before its directory is removed


if __name__ == "__main__":
    main()
