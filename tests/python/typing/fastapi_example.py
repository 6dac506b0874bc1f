# The README's complete FastAPI application (keep the two in sync): mypy --strict checks
# it, and tests/python/test_web_asgi.py serves it with uvicorn and signs a user in and out.
from fastapi import FastAPI
import sessions
from sessions.asgi import SessionMiddleware
from sessions.fastapi import CurrentSession, WebSession, add_error_handlers
manager = sessions.SessionManager.open("sessions.sqlite", sessions.SessionConfig(bind_to_user_agent=True))
app = FastAPI()
app.add_middleware(SessionMiddleware, manager=manager)  # __Host-session: HttpOnly, Secure, Lax
add_error_handlers(app)  # a SessionError in a route: 401/403/503 {"detail": "TOKEN_REUSED"}...

@app.post("/login")
async def login(user: str, web: WebSession) -> None:
    await web.sign_in(user)  # once the password is checked: creates the session, sets the cookie

@app.get("/me")  # without a valid session: 401 {"detail": "SESSION_EXPIRED"} (or another reason)
async def me(session: CurrentSession) -> sessions.PublicSession:
    return manager.to_public_session(session)

@app.post("/rotate")
async def rotate(web: WebSession) -> None:
    await web.rotate()  # a new token in the cookie (the same for parallel requests)

@app.post("/logout")
async def logout(web: WebSession) -> None:
    await web.sign_out()  # or web.sign_out_everywhere()
