"""The README's AsyncSessionManager example, as written there. bindings/python/test.sh
checks this file with `mypy --strict`, and tests/python/test_async.py runs it."""

# --- README: Python, asyncio -------------------------------------------------------------
import asyncio
import sessions

manager = sessions.AsyncSessionManager.open("sessions.sqlite", sessions.SessionConfig())
# or: sessions.SessionManager.open(...).as_async(), sharing one manager with sync code


async def main() -> None:
    s = await manager.create(sessions.CreateSessionOptions(user_id="alice"))
    result = await manager.validate(s.token, user_agent=None)   # the loop keeps running
    print(result.valid)
    new = await manager.refresh(s.token)
    try:
        await manager.refresh("not-a-token")
    except sessions.SessionError.InvalidToken as e:              # the same errors
        print(e)
    # A cancelled await (a timeout, a client gone) happened in full or not at all.
    await asyncio.wait_for(manager.destroy_all_for_user("alice"), timeout=5)
    print((await manager.validate(new.token)).error)


asyncio.run(main())
