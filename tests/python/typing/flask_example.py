# The Flask example of sessions.flask's documentation (keep the two in sync): mypy --strict
# checks it, and tests/python/test_web_flask.py serves it with waitress.
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
