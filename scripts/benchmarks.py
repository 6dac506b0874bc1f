#!/usr/bin/env python3
"""Runs the Rust benchmarks and writes BENCHMARKS.md from their results.

Latencies come from criterion's estimates (target/criterion/manager/*/*/new/estimates.json),
memory and throughput from the JSON lines the benchmarks write beside them.

`python3 scripts/benchmarks.py --kotlin` (or `--swift`) runs only the Kotlin (or Swift)
per-request benchmark and prints its section (BENCHMARKS.md is left as it is).
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
CRITERION = TARGET / "criterion"
BENCHES = ["validate_hit", "validate_miss", "create", "refresh", "purge_per_session"]
SIZES = ["1000", "1000000"]


def run(*args: str, env: dict | None = None) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run(args, cwd=ROOT, check=True, env=env)


def estimate_ns(bench: str, size: str) -> float:
    path = CRITERION / "manager" / bench / size / "new" / "estimates.json"
    return json.loads(path.read_text())["mean"]["point_estimate"]


def figures(name: str) -> list:
    path = CRITERION / name
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def fmt_ns(ns: float) -> str:
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def validate_rows(f: dict, regular: str) -> list:
    """The table rows of a host's validate figures (`<token>_fast_ns`,
    `<token>_<regular>_ns`, `<token>_pure_ns` for a valid and an unknown token): each
    path's time and its ratio to the pure-host implementation."""
    rows = []
    for token in ("valid", "unknown"):
        fast, uniffi, pure = (f[f"{token}_{p}_ns"] for p in ("fast", regular, "pure"))
        rows.append(f"| validate, {token} token | {fmt_ns(fast)} | {fmt_ns(uniffi)} "
                    f"| {fmt_ns(pure)} | {fast / pure:.2f}x | {uniffi / pure:.2f}x |")
    return rows


def hotpath_lines() -> list:
    """The per-request path and durable writes (benches/hotpath.rs, issue 14): Rust
    validate at 1,000 sessions beside SHA-256 alone, SQLite creates from 1 and 8 threads
    under each durability setting, and validate from 1 and 2 threads on SQLite beside
    the in-memory store."""
    run("cargo", "bench", "--bench", "hotpath")
    figs = figures("hotpath.jsonl")
    lines = ["", "## The per-request call and durable writes", "",
             "CPU time per call (thread CPU time, so other work on the cores is not counted; "
             "the result is dropped inside the timed loop, as a caller that has read it "
             "drops it; the median of 7 rounds), in-memory store, 1,000 sessions:", "",
             "| metadata entries | validate, valid token | the same, result dropped untimed "
             "| validate, unknown token | `hash_token` alone (SHA-256, hex) "
             "| valid / `hash_token` |",
             "|---|---|---|---|---|---|"]
    for f in (f for f in figs if f["figure"] == "rust_validate"):
        lines.append(f"| {f['metadata_entries']} | {fmt_ns(f['hit_ns'])} "
                     f"| {fmt_ns(f['hit_result_kept_ns'])} | {fmt_ns(f['miss_ns'])} "
                     f"| {fmt_ns(f['hash_token_ns'])} | {f['hit_ns'] / f['hash_token_ns']:.1f}x |")
    creates = [f for f in figs if f["figure"] == "sqlite_create"]
    if creates:
        lines += ["", "Durable creates per second on a SQLite file (`create`, each thread "
                  "creating for 1.5 s, the median of three fresh files). Concurrent writes "
                  "share commits (group commit); a `create` returns once the commit carrying "
                  "it is done:", "",
                  "| durability | 1 thread | 8 threads | 8 threads / 1 thread |",
                  "|---|---|---|---|"]
        for f in creates:
            name = {"full": "`Full` (every commit synced; the default)",
                    "normal": "`Normal` (synced at checkpoints)"}[f["durability"]]
            lines.append(f"| {name} | {f['one_thread_per_s']:,.0f}/s | "
                         f"{f['eight_threads_per_s']:,.0f}/s | {f['speedup']:.2f}x |")
    scaling = [f for f in figs if f["figure"] == "validate_scaling"]
    if scaling:
        lines += ["", "Validate throughput from 1 and 2 threads at 1,000 sessions (interleaved "
                  "rounds, the median ratio), SQLite beside the in-memory store, which shows "
                  "what the two cores give at all while the benchmark runs; CPU time per call "
                  "in each:", "",
                  "| store | 1 thread | 2 threads | 2 / 1 | CPU per call, 1 thread "
                  "| CPU per call, 2 threads |", "|---|---|---|---|---|---|"]
        for f in scaling:
            lines.append(f"| {f['store']} | {f['one_thread_per_s']:,.0f}/s | "
                         f"{f['two_threads_per_s']:,.0f}/s | {f['speedup']:.2f}x | "
                         f"{fmt_ns(f['one_thread_cpu_ns'])} | {fmt_ns(f['two_threads_cpu_ns'])} |")
    return lines


def redis_section() -> list:
    """The Redis store beside memory and SQLite (benches/redis.rs), on a standalone
    server and a 3-master cluster that scripts/redis-servers.sh starts and stops."""
    run("bash", "scripts/redis-servers.sh", "cargo", "bench", "--bench", "redis")
    rows = figures("redis.jsonl")
    ops = [r for r in rows if r["figure"] == "op"]
    configs = []
    for r in ops:
        if (r["store"], r["threads"]) not in configs:
            configs.append((r["store"], r["threads"]))
    lines = ["", "## Redis beside memory and SQLite", "",
             "Same machine, Redis 7 on loopback (`appendonly no` in these runs), each figure "
             "over 1.5 s: operations per second across all threads, and the time one "
             "operation takes on its thread. SQLite is a file with `synchronous=FULL`.", "",
             "| store | threads | validate (hit) | create | refresh |", "|---|---|---|---|---|"]
    for store, threads in configs:
        cells = []
        for op in ["validate", "create", "refresh"]:
            r = next(r for r in ops if (r["store"], r["threads"], r["op"]) == (store, threads, op))
            cells.append(f"{r['per_s']:,.0f}/s ({r['us_per_op']:.1f} µs)")
        lines.append(f"| {store} | {threads} | " + " | ".join(cells) + " |")
    extra = {r["figure"]: r for r in rows if r["figure"] != "op"}
    rt = extra["round_trips"]
    lines += ["", f"Round trips per validate (commands the client sent, from the server's "
              f"`INFO commandstats`): {rt['validate']:.2f}."]
    sp = extra["spread"]
    total = sum(sp["records_per_master"])
    shares = ", ".join(f"{n:,} ({100 * n / total:.1f}%)" for n in sp["records_per_master"])
    vtotal = sum(sp["validates_per_master"]) or 1
    vshares = ", ".join(f"{100 * n / vtotal:.1f}%" for n in sp["validates_per_master"])
    lines += ["", f"Spread over the cluster's 3 masters of {sp['sessions']:,} sessions of "
              f"{sp['users']:,} users: {shares}; share of {vtotal:,} validates served by each: "
              f"{vshares}. (This 2-core machine cannot show throughput growing with masters; "
              "the even spread is what makes it grow on real ones.)"]
    return lines


def python_lines() -> list:
    """The per-request call from Python (benches/python/validate.py, issue 14): the fast
    path (the default `validate`), the regular UniFFI path and a pure-Python manager,
    side by side in one process. Uses the virtualenv `bindings/python/_install.sh`
    makes (built first if it is missing)."""
    venv = Path(os.environ.get("SESSIONS_PY_VENV", TARGET / "py-venv"))
    python = venv / "bin" / "python"
    if not python.exists():
        run("bash", "-c", "source bindings/python/_install.sh && sessions_python_install")
    print("+", python, "benches/python/validate.py", flush=True)
    out = subprocess.run([str(python), str(ROOT / "benches" / "python" / "validate.py")],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    f = json.loads(out.strip().splitlines()[-1])
    lines = ["", "## The per-request call from Python", "",
             f"CPU time per call (thread CPU time; the median of 5 interleaved rounds; Python "
             f"{f['python']}), 1,000 sessions with one metadata entry, the caller reading "
             "the result. `validate` takes the fast path: the compiled extension "
             "`sessions._fastpath` (PyO3, the default where it loads) or, where it is absent, "
             "the ctypes fallback (one C call through `ctypes`, the result decoded in Python); "
             "both call the same C entry point. \"UniFFI\" is the same call through the "
             "generated code; pure Python is `benches/python/pure_sessions.py` (hashlib + dict "
             "+ dataclass):", "",
             "| call | extension | ctypes | UniFFI | pure Python | extension / pure "
             "| ctypes / pure | UniFFI / pure |",
             "|---|---|---|---|---|---|---|---|"]
    for token in ("valid", "unknown"):
        ext = f.get(f"{token}_extension_ns")
        ctyp, uniffi, pure = (f[f"{token}_{p}_ns"] for p in ("ctypes", "uniffi", "pure"))
        lines.append(f"| validate, {token} token | {fmt_ns(ext) if ext else 'not built'} "
                     f"| {fmt_ns(ctyp)} | {fmt_ns(uniffi)} | {fmt_ns(pure)} "
                     f"| {f'{ext / pure:.2f}x' if ext else ''} | {ctyp / pure:.2f}x "
                     f"| {uniffi / pure:.2f}x |")
    lines.append(f"| create (UniFFI; no fast path) | | | {fmt_ns(f['create_uniffi_ns'])} "
                 f"| {fmt_ns(f['create_pure_ns'])} | | "
                 f"| {f['create_uniffi_ns'] / f['create_pure_ns']:.2f}x |")
    return lines


def kotlin_lines() -> list:
    """The per-request call from Kotlin (benches/kotlin/ValidateBench.kt, issue 14): the
    fast path (the default `validate`, one JNI call), the same fast path through the JNA
    direct-mapped C entry it replaced, the regular UniFFI path and a pure-Kotlin manager,
    side by side in one JVM. Runs through Maven's `bench` profile
    (bindings/kotlin/pom.xml), which builds the library and the bindings first."""
    args = ["mvn", "-B", "-ntp", "-q", "-Dstyle.color=never", "-Pbench", "-DskipTests", "-f",
            str(ROOT / "bindings" / "kotlin" / "pom.xml"), "test"]
    print("+", " ".join(args), flush=True)
    out = subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    # The benchmark's JSON line (Maven may still put escape codes before it).
    f = json.loads([l[l.index("{"):] for l in out.splitlines() if "{" in l][-1])
    lines = ["", "## The per-request call from Kotlin", "",
             f"CPU time per call (thread CPU time; the median of 5 interleaved rounds after a "
             f"JIT warm-up; Java {f['java']}), 1,000 sessions with one metadata entry, the "
             "caller reading the result. `validate` is the fast path (the default: one JNI "
             "call taking only numbers, bound by `RegisterNatives`, the arguments and the result "
             "in per-thread direct buffers); \"UniFFI\" is the same call through the generated "
             "code (`validateRegular`); pure Kotlin is `benches/kotlin/PureSessions.kt` "
             "(MessageDigest + ConcurrentHashMap + data class). The rows marked JNA call the "
             "fast path's C entry `sessions_fast_validate` through JNA direct mapping instead "
             "(what the fast path did before; `benches/kotlin/JnaEntry.kt`), with the same "
             "buffers and decoding:", "",
             "| call | fast path | UniFFI | pure Kotlin | fast / pure | UniFFI / pure |",
             "|---|---|---|---|---|---|"]
    lines += validate_rows(f, "regular")
    lines.append(f"| validate, empty token (the call and its result alone) "
                 f"| {fmt_ns(f['empty_token_fast_ns'])} | | | | |")
    for token in ("valid", "unknown"):
        jna, pure = f[f"{token}_jna_ns"], f[f"{token}_pure_ns"]
        lines.append(f"| validate, {token} token, JNA | {fmt_ns(jna)} | | {fmt_ns(pure)} "
                     f"| {jna / pure:.2f}x | |")
    lines.append(f"| validate, empty token, JNA | {fmt_ns(f['empty_token_jna_ns'])} | | | | |")
    lines.append(f"| decoding a valid result alone (Kotlin's share of the fast path) "
                 f"| {fmt_ns(f['decode_only_ns'])} | | | | |")
    lines.append(f"| create (UniFFI; no fast path) | | {fmt_ns(f['create_regular_ns'])} "
                 f"| {fmt_ns(f['create_pure_ns'])} | "
                 f"| {f['create_regular_ns'] / f['create_pure_ns']:.2f}x |")
    return lines


def swift_lines() -> list:
    """The per-request call from Swift (benches/swift/, issue 14): the fast path
    (`validateFast`), the regular UniFFI path (`validate`), Rust's own `validate` in the
    same process (benches/swift/rust_reference.rs) and a pure-Swift manager, side by
    side. Builds the release library once (the one the other sections use), compiles the
    Rust reference with `rustc` against that build's own `libsessions.rlib` (the core is
    not compiled again), generates the bindings, then builds and runs the benchmark
    package with `-c release` through bindings/swift/swift.sh (which provisions Swift
    where there is none)."""
    run("cargo", "build", "--release", "--lib", "--bin", "uniffi-bindgen")
    release = TARGET.resolve() / "release"
    reference = release / "swift-bench" / "libswift_rust_reference.so"
    reference.parent.mkdir(parents=True, exist_ok=True)
    run(os.environ.get("RUSTC", "rustc"), "--edition", "2021", "--crate-type", "cdylib",
        "--crate-name", "swift_rust_reference", "-C", "opt-level=3", "-C", "strip=debuginfo",
        "--extern", f"sessions={release / 'deps' / 'libsessions.rlib'}",
        "-L", f"dependency={release / 'deps'}", "-o", str(reference),
        str(ROOT / "benches" / "swift" / "rust_reference.rs"))
    run("bash", "bindings/swift/generate.sh")
    swift = str(ROOT / "bindings" / "swift" / "swift.sh")
    package = str(ROOT / "benches" / "swift" / "SessionsBench")
    env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET.resolve()),
               PKG_CONFIG_PATH=str(release / "pkgconfig"), LD_LIBRARY_PATH=str(release))
    run(swift, "build", "-c", "release", "--package-path", package, env=env)
    version = subprocess.run([swift, "--version"], cwd=ROOT, check=True, capture_output=True,
                             text=True, env=env).stdout
    version = next((l.split("Swift version", 1)[1].split()[0] for l in version.splitlines()
                    if "Swift version" in l), "?")
    args = [swift, "run", "-c", "release", "--skip-build", "--package-path", package,
            "ValidateBench", str(reference)]
    print("+", " ".join(args), flush=True)
    out = subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True,
                         env=env).stdout
    f = json.loads([l for l in out.splitlines() if l.startswith("{")][-1])
    lines = ["", "## The per-request call from Swift", "",
             f"CPU time per call (thread CPU time, `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`; "
             f"the median of 5 interleaved rounds; Swift {version}, `-c release`), 1,000 "
             "sessions with one metadata entry on the in-memory store with the system clock, "
             "the caller reading the result (`result.session?.userId`). `validateFast` is "
             "the fast path (one C call of `sessions_fast_validate`, the result decoded in "
             "Swift); \"UniFFI\" is `validate`, the generated code; \"Rust\" is the core's "
             "own `SessionManager::validate` called from Rust in the same process and "
             "thread (`benches/swift/rust_reference.rs`, built against the same compiled "
             "core and loaded with `dlopen`; its own manager with the same fixture; owned "
             "tokens made untimed, as in `benches/hotpath.rs`); pure Swift is "
             "`benches/swift/SessionsBench/Sources/ValidateBench/PureSessions.swift` "
             "(Dictionary + struct under a lock; Foundation on Linux has no SHA-256 and "
             "swift-crypto is not used, so it takes SHA-256 from the system's OpenSSL "
             "`libcrypto`, as Python's hashlib does). Issue 14's goal for Swift is the fast "
             "path at most 3.0x Rust:", "",
             "| call | fast path | UniFFI | Rust | pure Swift | fast / Rust | UniFFI / Rust "
             "| fast / pure |",
             "|---|---|---|---|---|---|---|---|"]
    for token in ("valid", "unknown"):
        fast, uniffi, rust, pure = (f[f"{token}_{p}_ns"] for p in ("fast", "uniffi", "rust", "pure"))
        lines.append(f"| validate, {token} token | {fmt_ns(fast)} | {fmt_ns(uniffi)} "
                     f"| {fmt_ns(rust)} | {fmt_ns(pure)} | {fast / rust:.2f}x "
                     f"| {uniffi / rust:.2f}x | {fast / pure:.2f}x |")
    lines.append(f"| create (UniFFI; no fast path; against pure Swift) | "
                 f"| {fmt_ns(f['create_uniffi_ns'])} | | {fmt_ns(f['create_pure_ns'])} | "
                 f"| | {f['create_uniffi_ns'] / f['create_pure_ns']:.2f}x (UniFFI / pure) |")
    return lines


def main() -> int:
    run("cargo", "bench", "--bench", "sessions")
    run("cargo", "bench", "--bench", "memory")
    hotpath = hotpath_lines()
    hotpath += python_lines()
    hotpath += kotlin_lines()
    hotpath += swift_lines()
    cpu = next(
        (l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
         if l.startswith("model name")),
        platform.processor(),
    )
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `python3 scripts/benchmarks.py` on {date.today()}, {os.cpu_count()} cores "
        f"({cpu}). In-memory store, single thread unless noted; mean of criterion's samples.",
        "",
        "| operation | 1 thousand sessions | 1 million sessions |",
        "|---|---|---|",
    ]
    for bench in BENCHES:
        cells = [fmt_ns(estimate_ns(bench, size)) for size in SIZES]
        lines.append(f"| {bench.replace('_', ' ')} | {cells[0]} | {cells[1]} |")
    lines += ["", "| memory per stored session (no metadata) | heap (allocator) | resident set |",
              "|---|---|---|"]
    for m in figures("memory.jsonl"):
        lines.append(f"| {m['sessions']:,} sessions | {m['heap_bytes_per_session']:.0f} B "
                     f"| {m['rss_bytes_per_session']:.0f} B |")
    extra = {f["figure"]: f for f in figures("throughput.jsonl")}
    t = extra["throughput"]
    lines += ["", f"Validate throughput at {t['sessions']:,} sessions: "
              f"{t['one_thread_per_s']:,.0f}/s on 1 thread, {t['two_threads_per_s']:,.0f}/s "
              f"on 2 threads ({t['speedup']:.2f}x; the median of three rounds)."]
    r = extra["random_read"]
    lines += ["", f"For scale: one dependent read of a random cache line in a "
              f"{r['table_bytes'] >> 20} MB table takes {r['ns']:.0f} ns on this machine. A "
              "validate among 1 million sessions must reach at least one such line (the "
              "session's record), so this is the floor under it, whatever the index."]
    i = extra["sqlite_import"]
    lines += ["", f"Import into a SQLite file (`import_json`, one transaction, synchronous=FULL): "
              f"{i['per_s']:,.0f} entries/s for {i['entries']:,} entries (the median of three)."]
    lines += hotpath
    lines += event_loop_section()
    lines += redis_section()
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


# --------------------------------------------------------------------------------------
# Event-loop stall (issue 15): how long an asyncio loop is kept from running while 8 tasks
# create, validate and refresh sessions on SQLite, through AsyncSessionManager and, for
# comparison, through the blocking SessionManager called from the same coroutines.

STALL_TASKS = 8
STALL_ROUNDS = 25  # create + validate + refresh per task and round


def event_loop_section() -> list[str]:
    """Runs the stall measurement in the Python package's virtualenv (installing it if
    missing) and returns the lines for BENCHMARKS.md."""
    venv_python = TARGET / "py-venv" / "bin" / "python"
    if not venv_python.exists():
        run("bash", "-c", "source bindings/python/_install.sh && sessions_python_install")
    out = subprocess.run([str(venv_python), __file__, "--event-loop-stall"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    r = {f["api"]: f for f in map(json.loads, out.splitlines())}
    load = os.getloadavg()[0]
    a, s, t, i = (r[k] for k in ("AsyncSessionManager", "SessionManager", "SessionManager + to_thread", "idle"))
    return [
        "",
        f"Event-loop stall (Python, asyncio, SQLite file): {STALL_TASKS} tasks each run "
        f"{STALL_ROUNDS} rounds of create, validate and refresh while a watcher task sleeps 1 ms "
        "at a time; a stall is how much later than asked the watcher wakes up (the median of "
        f"three runs, side by side in one process; load average {load:.1f} on {os.cpu_count()} cores "
        "when it ran).",
        "",
        "| API | longest stall | 99th percentile stall | longest loop step | operations/s |",
        "|---|---|---|---|---|",
    ] + [
        f"| {f['api']} | {f['max_ms']:.2f} ms | {f['p99_ms']:.2f} ms | {f['step_ms']:.2f} ms "
        f"| {f['ops_per_s']:,.0f} |"
        for f in (a, s, t)
    ] + [
        "",
        f"The same watcher with no calls at all stalls up to {i['max_ms']:.2f} ms (99th percentile "
        f"{i['p99_ms']:.2f} ms): the machine's own scheduling noise, included in the figures above. "
        "The longest loop step is the longest the loop ran one callback or task step without "
        "yielding (what a call itself costs the loop, apart from the machine's noise). "
        "`SessionManager` blocks the loop for each whole call; `to_thread` runs the same calls "
        "in asyncio's default thread pool. AsyncSessionManager's finished calls reach the loop "
        "through a socket it watches, so no library thread takes the GIL to hand one over; "
        "what remains under CPU contention is the operating system running the loop's thread "
        "behind the library's workers (the loop converts every argument and result itself).",
    ]


def measure_event_loop_stall() -> None:
    """(In the virtualenv.) Prints one JSON line per API: the longest and the 99th
    percentile stall of the loop, and the operations per second, median of three runs."""
    import asyncio
    import statistics
    import time

    import sessions

    async def watch(stalls: list[float], done: asyncio.Event) -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            stalls.append(max(0.0, time.perf_counter() - start - 0.001))

    async def one_run(api: str, path: str) -> dict:
        config = sessions.SessionConfig()
        manager = sessions.SessionManager.open(path, config)
        async_manager = manager.as_async()

        async def work(n: int) -> None:
            opts = sessions.CreateSessionOptions(user_id=f"user{n}")
            for _ in range(STALL_ROUNDS):
                if api == "AsyncSessionManager":
                    s = await async_manager.create(opts)
                    await async_manager.validate(s.token)
                    await async_manager.refresh(s.token)
                elif api == "SessionManager":
                    s = manager.create(opts)
                    manager.validate(s.token)
                    manager.refresh(s.token)
                    await asyncio.sleep(0)
                elif api == "SessionManager + to_thread":
                    s = await asyncio.to_thread(manager.create, opts)
                    await asyncio.to_thread(manager.validate, s.token)
                    await asyncio.to_thread(manager.refresh, s.token)
                else:  # no calls: the loop's own noise on this machine
                    await asyncio.sleep(0.004)

        # The longest single step of the loop (one callback or task step, run to its
        # end without yielding): the time the loop cannot run anything else.
        steps: list[float] = []
        handle_run = asyncio.events.Handle._run

        def timed_run(handle: asyncio.events.Handle) -> None:
            start = time.perf_counter()
            try:
                handle_run(handle)
            finally:
                steps.append(time.perf_counter() - start)

        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign]
        stalls: list[float] = []
        done = asyncio.Event()
        watcher = asyncio.create_task(watch(stalls, done))
        await asyncio.sleep(0.01)
        stalls.clear()
        start = time.perf_counter()
        await asyncio.gather(*(work(n) for n in range(STALL_TASKS)))
        elapsed = time.perf_counter() - start
        done.set()
        await watcher
        asyncio.events.Handle._run = handle_run  # type: ignore[method-assign]
        stalls.sort()
        return {
            "step_ms": max(steps) * 1e3,
            "max_ms": stalls[-1] * 1e3,
            "p99_ms": stalls[int(len(stalls) * 0.99)] * 1e3,
            "ops_per_s": STALL_TASKS * STALL_ROUNDS * 3 / elapsed,
        }

    apis = ["AsyncSessionManager", "SessionManager", "SessionManager + to_thread", "idle"]
    results: dict[str, list[dict]] = {api: [] for api in apis}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(3):
            for api in apis:  # side by side: each round runs every API once
                path = os.path.join(tmp, f"{round_}-{api.replace(' ', '')}.sqlite")
                results[api].append(asyncio.run(one_run(api, path)))
    for api in apis:
        runs = results[api]
        print(json.dumps({
            "api": api,
            **{k: statistics.median(r[k] for r in runs) for k in ("max_ms", "p99_ms", "step_ms", "ops_per_s")},
        }))


if __name__ == "__main__":
    if sys.argv[1:] == ["--event-loop-stall"]:
        measure_event_loop_stall()
        sys.exit(0)
    if sys.argv[1:] == ["--kotlin"]:  # the Kotlin section alone, printed (BENCHMARKS.md untouched)
        print("\n".join(kotlin_lines()))
        sys.exit(0)
    if sys.argv[1:] == ["--swift"]:  # the Swift section alone, printed (BENCHMARKS.md untouched)
        print("\n".join(swift_lines()))
        sys.exit(0)
    sys.exit(main())
