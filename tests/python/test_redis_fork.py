"""A Redis manager opened before `fork()` (gunicorn `--preload`, a module-level `open` in a
pre-forking server) keeps answering correctly in the children: each process builds its own
connection pool instead of sharing the parent's sockets (whose replies the processes would
read from each other). Needs the standalone server that scripts/redis-servers.sh starts
(`SESSIONS_REDIS_URL`); with `SESSIONS_REDIS_REQUIRED=1` (as under make test) a missing
server fails instead of skipping."""

import os

import pytest

import sessions


def _redis_url(variable: str) -> str:
    url = os.environ.get(variable)
    if not url:
        if os.environ.get("SESSIONS_REDIS_REQUIRED") == "1":
            pytest.fail(f"{variable} is not set")
        pytest.skip("no Redis server: run through scripts/redis-servers.sh (as make test does)")
    return url


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.parametrize("variable", ["SESSIONS_REDIS_URL", "SESSIONS_REDIS_CLUSTER_URL"])
@pytest.mark.parametrize("path", ["fast", "regular"])
def test_forked_children_get_their_own_connections(variable: str, path: str):
    url = _redis_url(variable)
    sep = "&" if "?" in url else "?"
    manager = sessions.SessionManager.open(
        f"{url}{sep}prefix=fork{os.getpid()}&pool_size=2", sessions.SessionConfig())
    validate = manager.validate if path == "fast" else manager._validate_regular
    created = [manager.create(sessions.CreateSessionOptions(user_id=f"user-{i}")) for i in range(4)]
    # The parent's pool now holds open connections the children inherit.
    assert all(manager.validate(s.token).valid for s in created)
    children = []
    for s in created:
        pid = os.fork()
        if pid == 0:  # the child: its own session, many times, interleaved with the others
            try:
                ok = all(
                    (r := validate(s.token)).valid and r.session is not None
                    and r.session.id == s.id
                    for _ in range(300))
                os._exit(0 if ok else 1)
            except BaseException:
                os._exit(2)
        children.append(pid)
    parent_ok = all(validate(created[0].token).valid for _ in range(300))
    statuses = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    assert statuses == [0, 0, 0, 0]
    assert parent_ok
    # A revocation in a child is seen by the parent (one store, separate connections).
    pid = os.fork()
    if pid == 0:
        os._exit(0 if manager.destroy(created[1].id) else 1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert manager.validate(created[1].token).error == sessions.ValidationError.SESSION_REVOKED
