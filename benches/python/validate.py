"""Python side of the per-request benchmark (issue 14), run by scripts/benchmarks.py
with the virtualenv the package is installed in. Prints one JSON object.

Side by side in one process, CPU time of this thread (time.thread_time_ns), 1,000
sessions with one metadata entry each, the median of 5 interleaved rounds:
`SessionManager.validate` through each implementation of the fast path (the compiled
extension sessions._fastpath, the default, and the ctypes fallback of sessions._fast),
the regular UniFFI path (`_validate_regular`), and the pure-Python manager of
pure_sessions.py; each call's
result is read (`result.session.user_id`) as a caller would. `create` is measured
against the pure-Python `create` too."""

from __future__ import annotations

import json
import statistics
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sessions  # noqa: E402
from sessions import _fast  # noqa: E402
from pure_sessions import PureManager  # noqa: E402

SESSIONS = 1000
CALLS = 20_000
ROUNDS = 5


def per_call_ns(fn, tokens) -> float:
    n = len(tokens)
    start = time.thread_time_ns()
    for i in range(CALLS):
        fn(tokens[i % n])
    return (time.thread_time_ns() - start) / CALLS


def main() -> None:
    manager = sessions.SessionManager(sessions.SessionConfig())
    pure = PureManager()
    tokens = [manager.create(sessions.CreateSessionOptions(user_id=f"user{n}", metadata={"k": "v"})).token
              for n in range(SESSIONS)]
    pure_tokens = [pure.create(f"user{n}", {"k": "v"}).token for n in range(SESSIONS)]
    unknown = [sessions.generate_secure_token() for _ in range(SESSIONS)]

    regular = manager._validate_regular
    # Each implementation as a bound method, as `manager.validate` is.
    paths = {name: types.MethodType(fn, manager) for name, fn in _fast._PATHS.items()}

    def read(validate):
        def call(token):
            r = validate(token)
            return r.session.user_id if r.valid else r.error
        return call

    cases = {}
    for token, toks, pure_toks in (("valid", tokens, pure_tokens), ("unknown", unknown, unknown)):
        for name, fn in paths.items():  # "extension" (where it loads) and "ctypes"
            cases[(token, name)] = (read(fn), toks)
        cases[(token, "uniffi")] = (read(regular), toks)
        cases[(token, "pure")] = (read(pure.validate), pure_toks)
    for fn, toks in cases.values():  # warm up
        for t in toks[:200]:
            fn(t)
    samples: dict[tuple[str, str], list[float]] = {k: [] for k in cases}
    for _ in range(ROUNDS):
        for key, (fn, toks) in cases.items():
            samples[key].append(per_call_ns(fn, toks))
    out = {f"{token}_{path}_ns": statistics.median(v) for (token, path), v in samples.items()}
    for token in ("valid", "unknown"):  # the default path (what `validate` takes)
        out[f"{token}_fast_ns"] = out[f"{token}_{_fast.PATH}_ns"]
    out["fast_path"] = _fast.PATH

    options = sessions.CreateSessionOptions(user_id="bench", metadata={"k": "v"})
    creates: dict[str, list[float]] = {"uniffi": [], "pure": []}
    for _ in range(ROUNDS):
        start = time.thread_time_ns()
        for _ in range(2000):
            manager.create(options)
        creates["uniffi"].append((time.thread_time_ns() - start) / 2000)
        start = time.thread_time_ns()
        for _ in range(2000):
            pure.create("bench", {"k": "v"})
        creates["pure"].append((time.thread_time_ns() - start) / 2000)
    out["create_uniffi_ns"] = statistics.median(creates["uniffi"])
    out["create_pure_ns"] = statistics.median(creates["pure"])
    out["python"] = sys.version.split()[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
