"""Mistakes `mypy --strict` must report: each line carries the `# type: ignore[code]`
of the error it must cause, and test.sh runs mypy with --warn-unused-ignores, so a line
that stops being an error fails the check."""

import pathlib
from datetime import timedelta

import sessions

manager = sessions.SessionManager(sessions.SessionConfig())
manager.validate("token", user_agent=123)  # type: ignore[arg-type]
sessions.CreateSessionOptions(user_id="a", expires_in=3600)  # type: ignore[arg-type]
sessions.CreateSessionOptions("a")  # type: ignore[call-arg]
sessions.SessionConfig(max_lifetime=7)  # type: ignore[arg-type]
sessions.SessionManager(sessions.SessionConfig(), clock=object())  # type: ignore[arg-type]
sessions.generate_secure_token("32")  # type: ignore[arg-type]
result = manager.validate("token")
result.session.expires_at  # type: ignore[union-attr]
manager.get("id").token  # type: ignore[union-attr]
sessions.SessionError.Store()  # type: ignore[call-arg]
sessions.SessionError.InvalidToken().reason  # type: ignore[attr-defined]
opened: sessions.SessionManager = sessions.SessionManager.open("x.sqlite", sessions.SessionConfig())
not_a_str: str = opened.count()  # type: ignore[assignment]
from_path: sessions.SessionManager = sessions.SessionManager.open(pathlib.Path("x.sqlite"), sessions.SessionConfig())
sessions.SessionManager.open(b"x.sqlite", sessions.SessionConfig())  # type: ignore[arg-type]
sessions.CreateSessionOptions(user_id="a", expires_in=timedelta(1), metadata={"k": 1})  # type: ignore[dict-item]
