"""Many Python threads on one SessionManager: no crash, no lost session, no revoked token
that still validates, a rotated-out token that validates only as its session's immediate
predecessor within the rotation grace, and one rotation per contended refresh, whose
token every contender gets. Durations bound the work; no timing is asserted."""

import random
import threading
import time
from datetime import timedelta

import sessions
from _support import make_manager, options

THREADS = 8
SECONDS = 3.0
VE = sessions.ValidationError


def test_threads_hammering_one_manager(kind):
    # System clock; sessions live 24 h; a grace far longer than the test, so that no
    # token is treated as reused however slow the machine.
    m = make_manager(kind, rotation_grace=timedelta(minutes=10))
    shared = [m.create(options("shared")) for _ in range(300)]
    winners: dict[str, list[str]] = {s.id: [] for s in shared}
    winners_lock = threading.Lock()
    barrier = threading.Barrier(THREADS)
    deadline = [0.0]
    failures: list[str] = []
    results = []

    def worker(n):
        rng = random.Random(n)
        live: dict[str, str] = {}  # session id -> latest token
        rotated: list[str] = []
        revoked: list[str] = []
        ops = 0
        barrier.wait()
        # 1. every thread races to refresh every shared token: one rotation, one token
        order = list(shared)
        rng.shuffle(order)
        for s in order:
            try:
                r = m.refresh(s.token)
            except sessions.SessionError.InvalidToken:
                continue
            with winners_lock:
                winners[s.id].append(r.token)
        # 2. a random mix of create / validate / refresh / destroy on own sessions
        while time.monotonic() < deadline[0]:
            ops += 1
            op = rng.random()
            if op < 0.25 or not live:
                s = m.create(options(f"user-{n}", metadata={"n": str(ops)}))
                live[s.id] = s.token
            elif op < 0.6:
                sid = rng.choice(list(live))
                r = m.validate(live[sid])
                if not (r.valid and r.session.id == sid):
                    failures.append(f"live session {sid} did not validate: {r.error}")
            elif op < 0.85:
                sid = rng.choice(list(live))
                old = live[sid]
                try:
                    live[sid] = m.refresh(old).token
                    rotated.append(old)
                except sessions.SessionError as e:
                    failures.append(f"refresh of live session failed: {e!r}")
            else:
                sid = rng.choice(list(live))
                if not m.destroy(sid):
                    failures.append(f"destroy {sid} returned False")
                revoked.append(live.pop(sid))
        results.append((n, live, rotated, revoked, ops))

    deadline[0] = time.monotonic() + SECONDS
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert len(results) == THREADS
    assert not failures, failures[:5]

    # every refresh of each shared token got the one token its single rotation made
    for s in shared:
        assert len(winners[s.id]) == THREADS and len(set(winners[s.id])) == 1, s.id
        r = m.validate(winners[s.id][0])
        assert r.valid and r.session.id == s.id and r.session.version == 2
        assert r.session.previous_token_hash == sessions.hash_token(s.token)

    total_live = 0
    for n, live, rotated, revoked, ops in results:
        assert ops > 0
        for sid, token in live.items():
            r = m.validate(token)
            assert r.valid and r.session.id == sid, (sid, r.error)
        for token in rotated:
            r = m.validate(token)
            if r.valid:  # only as the immediate predecessor, within the grace
                assert r.session.previous_token_hash == sessions.hash_token(token)
            else:  # older, or the predecessor of a session destroyed since
                assert r.error in (VE.INVALID_TOKEN, VE.SESSION_REVOKED)
        for token in revoked:
            assert m.validate(token).error == VE.SESSION_REVOKED
        assert {s.id for s in m.list_for_user(f"user-{n}")} == set(live)
        total_live += len(live)
    created = sum(len(live) + len(revoked) for _, live, _, revoked, _ in results)
    assert m.count() == len(shared) + created
    assert len(m.list_for_user("shared")) == len(shared)
    assert total_live <= created
