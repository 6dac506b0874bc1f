"""Runs the shared conformance scenarios (tests/conformance/scenarios/*.json, format in
tests/conformance/README.md) with a Python clock, against the Rust in-memory store and
against a store implemented in Python (DictStore), through SessionManager and through
AsyncSessionManager (every call awaited on an asyncio event loop), and through
`SessionManager.open` on Redis (standalone and a 3-master cluster) when
`scripts/redis-servers.sh` started them (`SESSIONS_REDIS_URL`,
`SESSIONS_REDIS_CLUSTER_URL`; with `SESSIONS_REDIS_REQUIRED=1` a missing server fails
instead of skipping)."""

import asyncio
import inspect
import itertools
import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import sessions
from _support import DictStore, EntryCalls, ManualClock, make_manager

SCENARIOS = Path(__file__).resolve().parent.parent / "conformance" / "scenarios"
FILES = sorted(p.name for p in SCENARIOS.glob("*.json"))

CONFIG_KEYS = {
    "default_expires_in_s": ("default_expires_in", lambda v: timedelta(seconds=v)),
    "max_lifetime_s": ("max_lifetime", lambda v: timedelta(seconds=v)),
    "bind_to_user_agent": ("bind_to_user_agent", bool),
    "prefix": ("prefix", str),
    "max_metadata_entries": ("max_metadata_entries", int),
    "max_metadata_bytes": ("max_metadata_bytes", int),
    "rotation_grace_s": ("rotation_grace", lambda v: timedelta(seconds=v)),
    "max_sessions_per_user": ("max_sessions_per_user", int),
    "session_limit_action": ("session_limit_action",
                             lambda v: getattr(sessions.SessionLimitAction, upper_snake(v))),
}
SESSION_FIELDS = {"session", "user_id", "created_at", "expires_at", "absolute_expires_at",
                  "metadata", "bound_user_agent", "revoked", "token_empty", "new_token"}
EXPECT_KEYS = {
    "create": SESSION_FIELDS,
    "validate": {"valid", "validation_error"} | SESSION_FIELDS,
    "refresh": SESSION_FIELDS | {"same_token"},
    "update_metadata": SESSION_FIELDS,
    "events": {"events"},
    "destroy": {"result"},
    "destroy_all": {"count"},
    "list": {"sessions"},
    "get": {"found"} | SESSION_FIELDS,
    "purge": {"count"},
    "count": {"count"},
    "import": {"count", "error_field"},
}


def parse_time(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert t.tzinfo is not None, f"timestamp without a zone: {text}"
    return t


def to_ms(t: datetime) -> datetime:
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def upper_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


class Recorder(sessions.SessionListener):
    """Keeps the lifecycle events it is given, for `events` steps."""

    def __init__(self):
        self.events = []

    def on_event(self, event):
        self.events.append(event)


def event_json(event) -> dict:
    """An event as `events` expectations spell it (`session` by id)."""
    E = sessions.SessionEvent
    if isinstance(event, E.PURGED):
        return {"type": "Purged", "count": event.count}
    name = next(n for cls, n in ((E.CREATED, "Created"), (E.ROTATED, "Rotated"),
                                 (E.REVOKED, "Revoked"), (E.METADATA_UPDATED, "MetadataUpdated"))
                if isinstance(event, cls))
    out = {"type": name, "session": event.session_id}
    if name == "Revoked":
        out["reason"] = "".join(p.capitalize() for p in event.reason.name.split("_"))
    return out


def test_scenarios_exist():
    assert FILES, f"no scenarios in {SCENARIOS}"


class Runner:
    def __init__(self, scenario: dict, store_kind: str, api: str = "sync",
                 validate_path: str = "fast"):
        self.validate_path = validate_path
        self.scenario = scenario
        self.store_kind = store_kind
        self.api = api
        self.clock = ManualClock(parse_time(scenario["start"]))
        self.bindings: dict[str, tuple[str, str]] = {}  # name -> (id, token)

    def config(self) -> dict:
        """The scenario's config as `SessionConfig` keyword arguments."""
        kwargs = {}
        for key, value in self.scenario.get("config", {}).items():
            assert key in CONFIG_KEYS, f"unknown config key {key!r}"
            name, convert = CONFIG_KEYS[key]
            kwargs[name] = convert(value)
        return kwargs

    def build(self) -> sessions.SessionManager | sessions.AsyncSessionManager:
        if self.api == "sync":
            return make_manager(self.store_kind, self.clock, **self.config())
        cfg = sessions.SessionConfig(**self.config())
        if self.store_kind == "memory":
            return sessions.AsyncSessionManager(cfg, self.clock)
        return sessions.AsyncSessionManager.with_store(cfg, DictStore(), self.clock)

    def call(self, fn, *args):
        """``fn(*args)``, awaited on this scenario's event loop when it is a coroutine."""
        result = fn(*args)
        if inspect.iscoroutine(result):
            return self.loop.run_until_complete(result)
        return result

    def run(self):
        self.loop = asyncio.new_event_loop()
        try:
            self.run_steps()
        finally:
            self.loop.close()

    def run_steps(self):
        sc = self.scenario
        if "config_error" in sc:
            with pytest.raises(sessions.SessionError) as info:
                self.build()
            self.check_error(info.value, sc["config_error"], "building the manager")
            assert not sc.get("steps"), "a config_error scenario has no steps"
            return
        self.manager = self.build()
        self.recorder = Recorder()
        self.call(self.manager.add_listener, self.recorder)
        for i, step in enumerate(sc["steps"]):
            self.step(i, step)

    # -- helpers --------------------------------------------------------------------

    def token_of(self, step: dict) -> str:
        given = [k for k in ("token", "token_literal", "token_repeat") if k in step]
        assert len(given) == 1, f"exactly one of token/token_literal/token_repeat: {step}"
        if "token" in step:
            return self.bindings[step["token"]][1]
        if "token_literal" in step:
            return step["token_literal"]
        text, times = step["token_repeat"]
        return text * times

    def session_id_of(self, step: dict) -> str:
        if "session" in step:
            return self.bindings[step["session"]][0]
        return step["session_id_literal"]

    def bind(self, step: dict, session) -> None:
        if "as" in step:
            assert session is not None, "`as` on a step that produced no session"
            self.bindings[step["as"]] = (session.id, session.token)

    def check_error(self, error: Exception, name: str, where: str) -> None:
        cls = getattr(sessions.SessionError, name, None)
        assert cls is not None, f"unknown SessionError variant {name!r}"
        assert isinstance(error, cls), f"{where}: expected SessionError.{name}, got {error!r}"

    def check_session(self, session, expect: dict, presented_token: str | None = None) -> None:
        for key, want in expect.items():
            if key not in SESSION_FIELDS:
                continue
            if key == "session":
                assert session.id == self.bindings[want][0], "session id"
            elif key in ("created_at", "expires_at", "absolute_expires_at"):
                got = getattr(session, key)
                assert to_ms(got) == to_ms(parse_time(want)), f"{key}: {got.isoformat()} != {want}"
            elif key == "revoked":
                assert (session.revoked_at is not None) == want, "revoked"
            elif key == "token_empty":
                assert (session.token == "") == want, "token_empty"
            elif key == "new_token":
                assert want is True
                assert presented_token is not None, "new_token only applies to refresh"
                assert session.token != presented_token, "the token did not change"
                assert session.token_hash != sessions.hash_token(presented_token), "the hash did not change"
                assert session.token_hash == sessions.hash_token(session.token)
            else:  # user_id, metadata, bound_user_agent
                assert getattr(session, key) == want, f"{key}: {getattr(session, key)!r} != {want!r}"

    # -- one step -------------------------------------------------------------------

    def step(self, i: int, step: dict) -> None:
        op = step["op"]
        where = f"step {i} ({op})"
        if op == "advance":
            assert step["seconds"] >= 0
            self.clock.advance(step["seconds"])
            return
        if op == "set_clock":
            self.clock.set(parse_time(step["at"]))
            return
        assert op in EXPECT_KEYS, f"{where}: unknown op"
        expect = step.get("expect", {})
        unknown = set(expect) - EXPECT_KEYS[op] - {"error"}
        assert not unknown, f"{where}: unknown expect keys {unknown}"
        call, presented = self.prepare(op, step)
        try:
            result = self.call(call)
        except sessions.SessionError as e:
            assert "error" in expect, f"{where}: unexpected error {e!r}"
            self.check_error(e, expect["error"], where)
            if "error_field" in expect:
                assert e.field == expect["error_field"], f"{where}: error_field: {e.field!r}"
            return
        assert "error" not in expect, f"{where}: expected {expect['error']}, got {result!r}"
        try:
            self.check_result(op, step, expect, result, presented)
        except AssertionError as e:
            raise AssertionError(f"{where}: {e}") from None

    def prepare(self, op: str, step: dict):
        m = self.manager
        if op == "create":
            metadata = step.get("metadata")
            gen = step.get("metadata_generate")
            if gen is not None:
                assert metadata is None, "metadata and metadata_generate together"
                if "entries" in gen:
                    metadata = {f"k{n}": "v" for n in range(gen["entries"])}
                else:
                    metadata = {"k": "x" * (gen["bytes"] - 1)}
            expires = step.get("expires_in_s")
            opts = sessions.CreateSessionOptions(
                user_id=step["user_id"],
                expires_in=None if expires is None else timedelta(seconds=expires),
                metadata=metadata,
                sliding_expiration=bool(step.get("sliding", False)),
            )
            return (lambda: m.create(opts)), None
        if op in ("validate", "refresh"):
            token = self.token_of(step)
            ua = step.get("user_agent")
            fn = m.refresh
            if op == "validate":  # the per-request fast path (the default), or UniFFI's
                fn = m._validate_regular if self.validate_path == "regular" else m.validate
            return (lambda: fn(token, ua)), token
        if op == "destroy":
            sid = self.session_id_of(step)
            return (lambda: m.destroy(sid)), None
        if op == "get":
            sid = self.session_id_of(step)
            return (lambda: m.get(sid)), None
        if op == "destroy_all":
            return (lambda: m.destroy_all_for_user(step["user_id"])), None
        if op == "list":
            return (lambda: m.list_for_user(step["user_id"])), None
        if op == "purge":
            return m.purge_expired, None
        if op == "count":
            return m.count, None
        if op == "update_metadata":
            sid = self.session_id_of(step)
            changes = step["changes"]
            return (lambda: m.update_metadata(sid, changes)), None
        if op == "events":
            def take():
                got = [event_json(e) for e in self.recorder.events]
                self.recorder.events.clear()
                return got
            return take, None
        if op == "import":
            text = json.dumps(step["entries"])
            return (lambda: m.import_json(text)), None
        raise AssertionError(f"unknown op {op}")

    def check_result(self, op, step, expect, result, presented):
        if op in ("create", "refresh", "update_metadata"):
            if op != "update_metadata":
                self.bind(step, result)  # a create may check `"session"` against its own `as`
            self.check_session(result, expect, presented)
            if "same_token" in expect:
                assert result.token == self.bindings[expect["same_token"]][1], "same_token"
        elif op == "events":
            want = [dict(e) for e in expect["events"]]
            for e in want:
                if "session" in e:
                    e["session"] = self.bindings[e["session"]][0]
            assert result == want, f"events: {result} != {want}"
        elif op == "validate":
            if "valid" in expect:
                assert result.valid == expect["valid"], f"valid: {result.valid}, error {result.error}"
            if "validation_error" in expect:
                want = getattr(sessions.ValidationError, upper_snake(expect["validation_error"]))
                assert result.error == want, f"validation_error: {result.error} != {want}"
            if set(expect) & SESSION_FIELDS:
                assert result.valid and result.session is not None, "no session to check"
                self.check_session(result.session, expect)
            if result.valid:
                self.bind(step, result.session)
        elif op == "get":
            if "found" in expect:
                assert (result is not None) == expect["found"], f"found: {result is not None}"
            if set(expect) & SESSION_FIELDS:
                assert result is not None, "no session to check"
                self.check_session(result, expect)
            if result is not None:
                self.bind(step, result)
        elif op == "destroy":
            if "result" in expect:
                assert result is expect["result"], f"result: {result}"
        elif op in ("destroy_all", "purge", "count", "import"):
            if "count" in expect:
                assert result == expect["count"], f"count: {result} != {expect['count']}"
        elif op == "list":
            if "sessions" in expect:
                want = {self.bindings[name][0] for name in expect["sessions"]}
                got = {s.id for s in result}
                assert len(got) == len(result), "duplicate sessions in the list"
                assert got == want, f"sessions: {sorted(got)} != {sorted(want)}"


@pytest.mark.parametrize(("api", "validate_path"),
                         [("sync", "fast"), ("sync", "regular"), ("async", "async")])
@pytest.mark.parametrize("file", FILES)
def test_scenario(file, kind, api, validate_path, fast_path, monkeypatch):
    """Sync managers validate through the fast path (the default; once through each of
    its implementations: the compiled extension and the ctypes fallback) and through
    UniFFI's generated code; the async manager has its own (UniFFI async) validate."""
    scenario = json.loads((SCENARIOS / file).read_text(encoding="utf-8"))
    if validate_path != "fast" and fast_path != "extension":
        pytest.skip("the regular and async paths do not depend on the fast path's implementation")
    entered = EntryCalls(monkeypatch, fast_path)
    Runner(scenario, kind, api, validate_path).run()
    validates = sum(1 for step in scenario.get("steps", []) if step.get("op") == "validate")
    if api == "sync" and validate_path == "fast":
        assert entered[0] >= validates
    elif api == "sync":
        assert entered[0] == 0


REDIS_LOCATIONS = {"redis": "SESSIONS_REDIS_URL", "redis_cluster": "SESSIONS_REDIS_CLUSTER_URL"}
_prefixes = itertools.count()


class RedisRunner(Runner):
    """A runner whose managers are opened at a Redis location, each scenario in a key
    prefix of its own (so the shared servers need no flushing)."""

    def __init__(self, scenario: dict, location: str):
        super().__init__(scenario, "redis", "sync")
        sep = "&" if "?" in location else "?"
        self.location = f"{location}{sep}prefix=py{os.getpid()}x{next(_prefixes)}"

    def build(self) -> sessions.SessionManager:
        return sessions.SessionManager.open(
            self.location, sessions.SessionConfig(**self.config()), self.clock)


@pytest.mark.parametrize("server", sorted(REDIS_LOCATIONS))
@pytest.mark.parametrize("file", FILES)
def test_scenario_on_redis(file, server):
    location = os.environ.get(REDIS_LOCATIONS[server])
    if not location:
        if os.environ.get("SESSIONS_REDIS_REQUIRED") == "1":
            pytest.fail(f"{REDIS_LOCATIONS[server]} is not set")
        pytest.skip("no Redis server: run through scripts/redis-servers.sh (as make test does)")
    scenario = json.loads((SCENARIOS / file).read_text(encoding="utf-8"))
    RedisRunner(scenario, location).run()
