"""The Python examples of the README, as written there. bindings/python/test.sh checks
this file with `mypy --strict`, and tests/python/test_typing.py runs it."""

# --- README: Python ---------------------------------------------------------------------
from datetime import timedelta
import sessions

manager = sessions.SessionManager.open("sessions.sqlite", sessions.SessionConfig(
    default_expires_in=timedelta(hours=1), bind_to_user_agent=True))
s = manager.create(sessions.CreateSessionOptions(
    user_id="alice", metadata={"userAgent": "Firefox/140"}, sliding_expiration=True))
result = manager.validate(s.token, user_agent="Firefox/140")
if result.session is not None:
    print(result.valid, result.session.expires_at)    # True, an aware UTC datetime
new = manager.refresh(s.token, user_agent="Firefox/140")
again = manager.refresh(s.token, user_agent="Firefox/140")  # a parallel request, within the
assert again.token == new.token                              # 10 s grace: the same new token
try:
    manager.refresh("not-a-token")
except sessions.SessionError.InvalidToken as e:
    print(e)                                           # one sentence: what happened, what to do
print(len(manager.list_for_user("alice")), manager.destroy_all_for_user("alice"))

# --- README: records are dataclasses ----------------------------------------------------
import dataclasses
import json

public = manager.to_public_session(new)
print(json.dumps(dataclasses.asdict(public), default=str))  # datetimes as str(datetime)
longer = dataclasses.replace(sessions.SessionConfig(), max_lifetime=timedelta(days=7))

# --- README: a web handler (FastAPI) -----------------------------------------------------
from fastapi import FastAPI, Header, HTTPException

app = FastAPI()


@app.get("/me")
def me(authorization: str = Header(), user_agent: str = Header()) -> sessions.PublicSession:
    checked = manager.validate(authorization.removeprefix("Bearer "), user_agent=user_agent)
    if checked.session is None:
        raise HTTPException(status_code=401)
    return manager.to_public_session(checked.session)       # JSON: id, user_id, times, metadata
