//! The shared conformance scenarios (`tests/conformance/scenarios/*.json`, format in
//! `tests/conformance/README.md`) run against the Rust API.
//!
//! Every scenario runs on a fresh `SessionManager` with a hand-moved clock. A scenario
//! stops at its first failing step; the test then reports every failing scenario (file,
//! name, step index, what differed) in one message. The runner is generic over the
//! store and the API (`SessionManager`, or `AsyncSessionManager` awaited), so each
//! store and API gets one `#[test]` running every scenario.

mod async_support;
mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};
use common::TestClock;
use serde_json::{Map, Value};
use sessions::{
    hash_token, AsyncSessionManager, Clock, CreateSessionOptions, ListenerError, MemoryStore,
    Session, SessionConfig, SessionError, SessionEvent, SessionLimitAction, SessionListener,
    SessionManager, SessionStore, ValidationError,
};

/// Fewer scenarios than this means files went missing.
const MIN_SCENARIOS: usize = 30;

type Json = Map<String, Value>;

#[test]
fn conformance_memory_store() {
    run_all(
        "memory",
        Flavor::Sync,
        over(|| Arc::new(MemoryStore::new())),
    );
}

#[test]
fn conformance_sqlite_store() {
    run_all("sqlite", Flavor::Sync, over(sqlite_store));
}

#[test]
fn conformance_memory_store_async() {
    run_all(
        "memory",
        Flavor::Async,
        over(|| Arc::new(MemoryStore::new())),
    );
}

#[test]
fn conformance_sqlite_store_async() {
    run_all("sqlite", Flavor::Async, over(sqlite_store));
}

fn sqlite_store() -> Arc<dyn SessionStore> {
    Arc::new(sessions::SqliteStore::open_in_memory().expect("in-memory SQLite store"))
}

/// Every scenario through `SessionManager::open` on the standalone Redis server the
/// test command started (`scripts/redis-servers.sh`), each in its own key prefix.
#[test]
fn conformance_redis_standalone() {
    run_all(
        "redis",
        Flavor::Sync,
        at_location(common::redis_env::standalone_url()),
    );
}

/// Every scenario through `AsyncSessionManager` on the standalone Redis server.
#[test]
fn conformance_redis_standalone_async() {
    run_all(
        "redis",
        Flavor::Async,
        at_location(common::redis_env::standalone_url()),
    );
}

/// Every scenario through `SessionManager::open` on the 3-master Redis Cluster.
#[test]
fn conformance_redis_cluster() {
    run_all(
        "redis cluster",
        Flavor::Sync,
        at_location(common::redis_env::cluster_url()),
    );
}

/// The same scenarios on a Redis store given to `with_parts` (a manager that does not
/// draw tokens in their user's shard: every token and id takes the alias path).
#[test]
fn conformance_redis_store_without_colocation() {
    let url = common::redis_env::standalone_url();
    run_all("redis (with_parts)", Flavor::Sync, move |config, clock| {
        let location = common::redis_env::fresh_prefix(&url);
        let store = sessions::RedisStore::open(&location, clock.clone()).expect("Redis store");
        SessionManager::with_parts(config, Arc::new(store), Some(clock)).map(Arc::new)
    });
}

/// Builds each scenario's manager: from its configuration and clock.
type Build<'a> =
    dyn Fn(SessionConfig, Arc<dyn Clock>) -> Result<Arc<SessionManager>, SessionError> + 'a;

/// Managers over stores made by `make_store` (a fresh one per scenario).
fn over(
    make_store: impl Fn() -> Arc<dyn SessionStore>,
) -> impl Fn(SessionConfig, Arc<dyn Clock>) -> Result<Arc<SessionManager>, SessionError> {
    move |config, clock| SessionManager::with_parts(config, make_store(), Some(clock)).map(Arc::new)
}

/// Managers opened at `url` with a fresh key prefix per scenario.
fn at_location(
    url: String,
) -> impl Fn(SessionConfig, Arc<dyn Clock>) -> Result<Arc<SessionManager>, SessionError> {
    move |config, clock| {
        SessionManager::open(common::redis_env::fresh_prefix(&url), config, Some(clock))
    }
}

/// Runs every scenario through `api` on managers made by `build` (a fresh store per
/// scenario) and fails with the list of every failing scenario.
fn run_all(
    store_name: &str,
    api: Flavor,
    build: impl Fn(SessionConfig, Arc<dyn Clock>) -> Result<Arc<SessionManager>, SessionError>,
) {
    let scenarios = load_scenarios();
    assert!(
        scenarios.len() >= MIN_SCENARIOS,
        "only {} conformance scenarios found, expected at least {MIN_SCENARIOS}",
        scenarios.len()
    );
    let failures: Vec<String> = scenarios
        .iter()
        .filter_map(|(file, scenario)| {
            run_scenario(scenario, &build, api)
                .err()
                .map(|why| format!("{file}: {why}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} conformance scenarios failed on the {store_name} store ({}):\n  {}",
        failures.len(),
        scenarios.len(),
        match api {
            Flavor::Sync => "SessionManager",
            Flavor::Async => "AsyncSessionManager",
        },
        failures.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------
// Loading

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/scenarios")
}

/// Every scenario file, sorted by name, with its parsed JSON (or the parse error).
fn load_scenarios() -> Vec<(String, Result<Value, String>)> {
    let dir = scenario_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let file = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let parsed = serde_json::from_str(&text).map_err(|e| format!("invalid JSON: {e}"));
            (file, parsed)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Running a scenario

const SCENARIO_KEYS: &[&str] = &["name", "rule", "config", "config_error", "start", "steps"];

fn run_scenario(
    scenario: &Result<Value, String>,
    build: &Build<'_>,
    api: Flavor,
) -> Result<(), String> {
    let scenario = object(scenario.as_ref().map_err(Clone::clone)?, "scenario")?;
    check_keys(scenario, SCENARIO_KEYS, "scenario")?;
    let name = opt_str(scenario, "name")?.unwrap_or("(unnamed)");
    run_named_scenario(scenario, build, api).map_err(|why| format!("\"{name}\": {why}"))
}

fn run_named_scenario(scenario: &Json, build: &Build<'_>, api: Flavor) -> Result<(), String> {
    let start = parse_time(req_str(scenario, "start")?)?;
    let config = config_from(scenario.get("config"))?;
    let steps = match scenario.get("steps") {
        Some(v) => v.as_array().ok_or("\"steps\" is not an array")?.as_slice(),
        None => &[],
    };
    let clock = TestClock::starting_at(start);
    let built = build(config, clock.clone() as Arc<dyn Clock>);
    if let Some(wanted) = opt_str(scenario, "config_error")? {
        if !steps.is_empty() {
            return Err("a scenario with \"config_error\" must have no steps".into());
        }
        return match built {
            Ok(_) => Err(format!("config: expected error {wanted}, got a manager")),
            Err(e) if error_name(&e) == wanted => Ok(()),
            Err(e) => Err(format!("config: expected error {wanted}, got {e:?}")),
        };
    }
    let manager = Api::new(
        built.map_err(|e| format!("config: expected a manager, got {e:?}"))?,
        api,
    );
    let events = Arc::new(Recorder::default());
    manager.add_listener(events.clone());
    let mut runner = Runner {
        manager,
        clock,
        bindings: HashMap::new(),
        events,
    };
    for (index, step) in steps.iter().enumerate() {
        let op = step.get("op").and_then(Value::as_str).unwrap_or("?");
        runner
            .step(step)
            .map_err(|why| format!("step {index} ({op}): {why}"))?;
    }
    Ok(())
}

/// What a name (`"as": "a"`) remembers: the session's id and token when it was bound.
struct Binding {
    id: String,
    token: String,
}

/// Which API a run goes through.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Sync,
    Async,
}

/// The manager a scenario runs on: `SessionManager` itself, or an `AsyncSessionManager`
/// over it whose every call is awaited (the same method names and arguments).
enum Api {
    Sync(Arc<SessionManager>),
    Async(Arc<AsyncSessionManager>),
}

/// Calls `$method` on whichever API the runner uses.
macro_rules! call {
    ($api:expr, $method:ident ( $($arg:expr),* )) => {
        match $api {
            Api::Sync(m) => m.$method($($arg),*),
            Api::Async(m) => async_support::block_on(m.$method($($arg),*)),
        }
    };
}

impl Api {
    fn new(manager: Arc<SessionManager>, flavor: Flavor) -> Self {
        match flavor {
            Flavor::Sync => Api::Sync(manager),
            Flavor::Async => Api::Async(AsyncSessionManager::from_manager(manager)),
        }
    }

    fn add_listener(&self, listener: Arc<dyn SessionListener>) {
        match self {
            Api::Sync(m) => m.add_listener(listener),
            Api::Async(m) => m.add_listener(listener), // not a future: no store work
        }
    }
    fn create(&self, options: CreateSessionOptions) -> Result<Session, SessionError> {
        call!(self, create(options))
    }
    fn validate(
        &self,
        token: String,
        user_agent: Option<String>,
    ) -> Result<sessions::ValidationResult, SessionError> {
        call!(self, validate(token, user_agent))
    }
    fn refresh(&self, token: String, user_agent: Option<String>) -> Result<Session, SessionError> {
        call!(self, refresh(token, user_agent))
    }
    fn destroy(&self, session_id: String) -> Result<bool, SessionError> {
        call!(self, destroy(session_id))
    }
    fn destroy_all_for_user(&self, user_id: String) -> Result<i64, SessionError> {
        call!(self, destroy_all_for_user(user_id))
    }
    fn list_for_user(&self, user_id: String) -> Result<Vec<Session>, SessionError> {
        call!(self, list_for_user(user_id))
    }
    fn get(&self, session_id: String) -> Result<Option<Session>, SessionError> {
        call!(self, get(session_id))
    }
    fn purge_expired(&self) -> Result<i64, SessionError> {
        call!(self, purge_expired())
    }
    fn count(&self) -> Result<i64, SessionError> {
        call!(self, count())
    }
    fn update_metadata(
        &self,
        session_id: String,
        changes: HashMap<String, Option<String>>,
    ) -> Result<Session, SessionError> {
        call!(self, update_metadata(session_id, changes))
    }
    fn import_json(&self, json: String) -> Result<i64, SessionError> {
        call!(self, import_json(json))
    }
}

struct Runner {
    manager: Api,
    clock: Arc<TestClock>,
    bindings: HashMap<String, Binding>,
    events: Arc<Recorder>,
}

/// A listener that keeps the events it is given, for `events` steps.
#[derive(Default)]
struct Recorder(parking_lot::Mutex<Vec<SessionEvent>>);

impl SessionListener for Recorder {
    fn on_event(&self, event: SessionEvent) -> Result<(), ListenerError> {
        self.0.lock().push(event);
        Ok(())
    }
}

const STEP_KEYS: &[&str] = &[
    "op",
    "changes",
    "entries",
    "seconds",
    "at",
    "user_id",
    "expires_in_s",
    "metadata",
    "metadata_generate",
    "sliding",
    "as",
    "token",
    "token_literal",
    "token_repeat",
    "user_agent",
    "session",
    "session_id_literal",
    "expect",
];

/// Expectation keys checked on a returned session.
const SESSION_KEYS: &[&str] = &[
    "session",
    "user_id",
    "created_at",
    "expires_at",
    "absolute_expires_at",
    "metadata",
    "bound_user_agent",
    "revoked",
    "token_empty",
];

/// The expectation keys an operation accepts besides `error` and the session keys.
fn expect_keys(op: &str) -> Result<(&'static [&'static str], bool), String> {
    Ok(match op {
        "create" => (&[], true),
        "validate" => (&["valid", "validation_error"], true),
        "refresh" => (&["new_token", "same_token"], true),
        "update_metadata" => (&[], true),
        "events" => (&["events"], false),
        "get" => (&["found"], true),
        "destroy" => (&["result"], false),
        "destroy_all" | "purge" | "count" => (&["count"], false),
        "list" => (&["sessions"], false),
        "import" => (&["count", "error_field"], false),
        other => return Err(format!("unknown op {other:?}")),
    })
}

impl Runner {
    /// Runs one step; `Err` says what differed (or what is wrong with the step).
    fn step(&mut self, step: &Value) -> Result<(), String> {
        let step = object(step, "step")?;
        check_keys(step, STEP_KEYS, "step")?;
        let op = req_str(step, "op")?;
        match op {
            "advance" => return self.advance(step),
            "set_clock" => return self.set_clock(step),
            _ => {}
        }
        let expect = object(step.get("expect").ok_or("missing \"expect\"")?, "expect")?;
        let (extra, session_fields) = expect_keys(op)?;
        let allowed: Vec<&str> = std::iter::once("error")
            .chain(extra.iter().copied())
            .chain(SESSION_KEYS.iter().copied().filter(|_| session_fields))
            .collect();
        check_keys(expect, &allowed, "expect")?;
        let mut diffs = Diffs::default();
        match op {
            "create" => self.create(step, expect, &mut diffs)?,
            "validate" => self.validate(step, expect, &mut diffs)?,
            "refresh" => self.refresh(step, expect, &mut diffs)?,
            "destroy" => self.destroy(step, expect, &mut diffs)?,
            "destroy_all" => {
                let user_id = req_str(step, "user_id")?.to_owned();
                let result = self.manager.destroy_all_for_user(user_id);
                check_count(expect, result, &mut diffs)?;
            }
            "list" => self.list(step, expect, &mut diffs)?,
            "get" => self.get(step, expect, &mut diffs)?,
            "purge" => check_count(expect, self.manager.purge_expired(), &mut diffs)?,
            "count" => check_count(expect, self.manager.count(), &mut diffs)?,
            "update_metadata" => {
                let id = self.session_id(step)?;
                let changes = object(step.get("changes").ok_or("missing \"changes\"")?, "changes")?
                    .iter()
                    .map(|(k, v)| match v {
                        Value::Null => Ok((k.clone(), None)),
                        Value::String(s) => Ok((k.clone(), Some(s.clone()))),
                        other => Err(format!("change {k:?} is not a string or null: {other}")),
                    })
                    .collect::<Result<HashMap<_, _>, String>>()?;
                if let Some(session) = expect_outcome(
                    expect,
                    self.manager.update_metadata(id, changes),
                    &mut diffs,
                )? {
                    check_session(expect, &session, &self.bindings, &mut diffs)?;
                }
            }
            "events" => {
                let got: Vec<Value> = std::mem::take(&mut *self.events.0.lock())
                    .into_iter()
                    .map(event_json)
                    .collect();
                let mut wanted = expect
                    .get("events")
                    .and_then(Value::as_array)
                    .ok_or("\"events\" must be an array")?
                    .clone();
                for event in &mut wanted {
                    if let Some(name) = event.get("session").and_then(Value::as_str) {
                        event["session"] = self.binding(name)?.id.clone().into();
                    }
                }
                diffs.eq("events", Value::Array(wanted), Value::Array(got));
            }
            "import" => {
                let entries = step.get("entries").ok_or("missing \"entries\"")?;
                let result = self.manager.import_json(entries.to_string());
                if let (Err(SessionError::Import { field, .. }), Some(wanted)) =
                    (&result, opt_str(expect, "error_field")?)
                {
                    diffs.eq("error_field", Some(wanted), field.as_deref());
                }
                check_count(expect, result, &mut diffs)?;
            }
            other => return Err(format!("unknown op {other:?}")),
        }
        diffs.into_result()
    }

    fn advance(&self, step: &Json) -> Result<(), String> {
        let seconds = step
            .get("seconds")
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s >= 0.0)
            .ok_or("\"seconds\" must be a number >= 0")?;
        // Whole nanoseconds, rounded, so that 59.999 is exactly 59 999 ms.
        self.clock
            .advance(Duration::from_nanos((seconds * 1e9).round() as u64));
        Ok(())
    }

    fn set_clock(&self, step: &Json) -> Result<(), String> {
        self.clock.set(parse_time(req_str(step, "at")?)?);
        Ok(())
    }

    fn create(&mut self, step: &Json, expect: &Json, diffs: &mut Diffs) -> Result<(), String> {
        let options = CreateSessionOptions {
            user_id: req_str(step, "user_id")?.to_owned(),
            expires_in: opt_u64(step, "expires_in_s")?.map(Duration::from_secs),
            metadata: create_metadata(step)?,
            sliding_expiration: opt_bool(step, "sliding")?.unwrap_or(false),
        };
        if let Some(session) = expect_outcome(expect, self.manager.create(options), diffs)? {
            self.bind(step, &session)?;
            check_session(expect, &session, &self.bindings, diffs)?;
        }
        Ok(())
    }

    fn validate(&self, step: &Json, expect: &Json, diffs: &mut Diffs) -> Result<(), String> {
        let token = self.presented_token(step)?;
        let user_agent = opt_str(step, "user_agent")?.map(str::to_owned);
        let result = self.manager.validate(token, user_agent);
        let Some(result) = expect_outcome(expect, result, diffs)? else {
            return Ok(());
        };
        if let Some(valid) = opt_bool(expect, "valid")? {
            diffs.eq("valid", valid, result.valid);
        }
        if let Some(wanted) = opt_str(expect, "validation_error")? {
            let got = result.error.map(validation_error_name);
            diffs.eq("validation_error", Some(wanted), got);
        }
        match &result.session {
            Some(session) => check_session(expect, session, &self.bindings, diffs)?,
            None if SESSION_KEYS.iter().any(|k| expect.contains_key(*k)) => {
                diffs.push(format!(
                    "expected a session in the result, got none (error {:?})",
                    result.error
                ));
            }
            None => {}
        }
        Ok(())
    }

    fn refresh(&mut self, step: &Json, expect: &Json, diffs: &mut Diffs) -> Result<(), String> {
        let token = self.presented_token(step)?;
        let user_agent = opt_str(step, "user_agent")?.map(str::to_owned);
        let result = self.manager.refresh(token.clone(), user_agent);
        let Some(session) = expect_outcome(expect, result, diffs)? else {
            return Ok(());
        };
        self.bind(step, &session)?;
        check_session(expect, &session, &self.bindings, diffs)?;
        if let Some(wanted) = opt_bool(expect, "new_token")? {
            let rotated = session.token != token && session.token_hash != hash_token(token);
            diffs.eq("new_token", wanted, rotated);
        }
        if let Some(name) = opt_str(expect, "same_token")? {
            let same = session.token == self.binding(name)?.token;
            diffs.eq("same_token", true, same);
        }
        Ok(())
    }

    fn destroy(&self, step: &Json, expect: &Json, diffs: &mut Diffs) -> Result<(), String> {
        let id = self.session_id(step)?;
        if let Some(result) = expect_outcome(expect, self.manager.destroy(id), diffs)? {
            if let Some(wanted) = opt_bool(expect, "result")? {
                diffs.eq("result", wanted, result);
            }
        }
        Ok(())
    }

    fn list(&self, step: &Json, expect: &Json, diffs: &mut Diffs) -> Result<(), String> {
        let user_id = req_str(step, "user_id")?.to_owned();
        let Some(sessions) = expect_outcome(expect, self.manager.list_for_user(user_id), diffs)?
        else {
            return Ok(());
        };
        let Some(names) = expect.get("sessions") else {
            return Ok(());
        };
        let names = names
            .as_array()
            .ok_or("\"sessions\" must be an array of binding names")?;
        let mut wanted = HashSet::new();
        for name in names {
            let name = name.as_str().ok_or("\"sessions\" must hold strings")?;
            wanted.insert(self.binding(name)?.id.as_str());
        }
        let got: HashSet<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
        if got.len() != sessions.len() {
            diffs.push(format!("list returned duplicate sessions: {sessions:?}"));
        }
        if got != wanted {
            diffs.push(format!(
                "sessions: expected {}, got {}",
                self.describe_ids(&wanted),
                self.describe_ids(&got)
            ));
        }
        Ok(())
    }

    fn get(&self, step: &Json, expect: &Json, diffs: &mut Diffs) -> Result<(), String> {
        let id = self.session_id(step)?;
        let Some(found) = expect_outcome(expect, self.manager.get(id), diffs)? else {
            return Ok(());
        };
        if let Some(wanted) = opt_bool(expect, "found")? {
            diffs.eq("found", wanted, found.is_some());
        }
        if let Some(session) = &found {
            check_session(expect, session, &self.bindings, diffs)?;
        }
        Ok(())
    }

    /// Binds the step's `as` name, if any, to the session's id and token (before the
    /// step's expectations are checked, so `"session"` may name the new binding).
    fn bind(&mut self, step: &Json, session: &Session) -> Result<(), String> {
        if let Some(name) = opt_str(step, "as")? {
            let binding = Binding {
                id: session.id.clone(),
                token: session.token.clone(),
            };
            self.bindings.insert(name.to_owned(), binding);
        }
        Ok(())
    }

    fn binding(&self, name: &str) -> Result<&Binding, String> {
        self.bindings
            .get(name)
            .ok_or_else(|| format!("no session is bound to {name:?}"))
    }

    /// The token a `validate` or `refresh` step presents.
    fn presented_token(&self, step: &Json) -> Result<String, String> {
        let given = ["token", "token_literal", "token_repeat"]
            .iter()
            .filter(|k| step.contains_key(**k))
            .count();
        if given != 1 {
            return Err("exactly one of token, token_literal, token_repeat is required".into());
        }
        if let Some(name) = opt_str(step, "token")? {
            return Ok(self.binding(name)?.token.clone());
        }
        if let Some(literal) = opt_str(step, "token_literal")? {
            return Ok(literal.to_owned());
        }
        let repeat = step
            .get("token_repeat")
            .and_then(Value::as_array)
            .filter(|a| a.len() == 2);
        match repeat.map(|a| (a[0].as_str(), a[1].as_u64())) {
            Some((Some(unit), Some(times))) => Ok(unit.repeat(times as usize)),
            _ => Err("\"token_repeat\" must be [string, count]".into()),
        }
    }

    /// The session id a `destroy` or `get` step names.
    fn session_id(&self, step: &Json) -> Result<String, String> {
        match (
            opt_str(step, "session")?,
            opt_str(step, "session_id_literal")?,
        ) {
            (Some(name), None) => Ok(self.binding(name)?.id.clone()),
            (None, Some(literal)) => Ok(literal.to_owned()),
            _ => Err("exactly one of session, session_id_literal is required".into()),
        }
    }

    /// Ids shown by binding name where one is known.
    fn describe_ids(&self, ids: &HashSet<&str>) -> String {
        let mut shown: Vec<String> = ids
            .iter()
            .map(|id| {
                let mut names: Vec<&str> = self
                    .bindings
                    .iter()
                    .filter(|(_, b)| b.id == *id)
                    .map(|(n, _)| n.as_str())
                    .collect();
                names.sort_unstable();
                match names.as_slice() {
                    [] => (*id).to_owned(),
                    _ => names.join("/"),
                }
            })
            .collect();
        shown.sort();
        format!("[{}]", shown.join(", "))
    }
}

// ---------------------------------------------------------------------------------------
// Expectations

/// The differences found in one step.
#[derive(Default)]
struct Diffs(Vec<String>);

impl Diffs {
    fn push(&mut self, what: String) {
        self.0.push(what);
    }

    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, field: &str, expected: T, got: T) {
        if expected != got {
            self.push(format!("{field}: expected {expected:?}, got {got:?}"));
        }
    }

    fn into_result(self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0.join("; "))
        }
    }
}

/// Compares a call's outcome with `expect.error`; the value when the call succeeded as
/// expected.
fn expect_outcome<T>(
    expect: &Json,
    result: Result<T, SessionError>,
    diffs: &mut Diffs,
) -> Result<Option<T>, String> {
    let wanted = opt_str(expect, "error")?;
    match (result, wanted) {
        (Ok(value), None) => return Ok(Some(value)),
        (Ok(_), Some(wanted)) => diffs.push(format!("expected error {wanted}, got success")),
        (Err(e), None) => diffs.push(format!("expected success, got error {e:?}")),
        (Err(e), Some(wanted)) if error_name(&e) != wanted => {
            diffs.push(format!("expected error {wanted}, got {e:?}"));
        }
        (Err(_), Some(_)) => {}
    }
    Ok(None)
}

fn check_count(
    expect: &Json,
    result: Result<i64, SessionError>,
    diffs: &mut Diffs,
) -> Result<(), String> {
    if let Some(count) = expect_outcome(expect, result, diffs)? {
        if let Some(wanted) = opt_u64(expect, "count")? {
            diffs.eq("count", i64::try_from(wanted).ok(), Some(count));
        }
    }
    Ok(())
}

/// Checks the session fields named in `expect`.
fn check_session(
    expect: &Json,
    session: &Session,
    bindings: &HashMap<String, Binding>,
    diffs: &mut Diffs,
) -> Result<(), String> {
    if let Some(name) = opt_str(expect, "session")? {
        let binding = bindings
            .get(name)
            .ok_or_else(|| format!("no session is bound to {name:?}"))?;
        if binding.id != session.id {
            diffs.push(format!("session: expected the id of {name:?}, got another"));
        }
    }
    if let Some(user_id) = opt_str(expect, "user_id")? {
        diffs.eq("user_id", user_id, session.user_id.as_str());
    }
    let times = [
        ("created_at", session.created_at),
        ("expires_at", session.expires_at),
        ("absolute_expires_at", session.absolute_expires_at),
    ];
    for (field, got) in times {
        if let Some(wanted) = opt_str(expect, field)? {
            let wanted = parse_time(wanted)?;
            if millis(wanted) != millis(got) {
                diffs.eq(field, show_time(wanted), show_time(got));
            }
        }
    }
    if let Some(wanted) = expect.get("metadata") {
        diffs.eq("metadata", string_map(wanted)?, session.metadata.clone());
    }
    if let Some(wanted) = expect.get("bound_user_agent") {
        let wanted = match wanted {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => return Err("\"bound_user_agent\" must be a string or null".into()),
        };
        diffs.eq("bound_user_agent", wanted, session.bound_user_agent.clone());
    }
    if let Some(revoked) = opt_bool(expect, "revoked")? {
        diffs.eq("revoked", revoked, session.revoked_at.is_some());
    }
    if let Some(empty) = opt_bool(expect, "token_empty")? {
        diffs.eq("token_empty", empty, session.token.is_empty());
    }
    Ok(())
}

/// An event as `events` expectations spell it (with `session` the session's id; the
/// expectation names a binding, resolved to its id before comparing).
fn event_json(event: SessionEvent) -> Value {
    match event {
        SessionEvent::Created { session_id, .. } => {
            serde_json::json!({ "type": "Created", "session": session_id })
        }
        SessionEvent::Rotated { session_id, .. } => {
            serde_json::json!({ "type": "Rotated", "session": session_id })
        }
        SessionEvent::Revoked {
            session_id, reason, ..
        } => serde_json::json!({
            "type": "Revoked", "session": session_id, "reason": format!("{reason:?}")
        }),
        SessionEvent::MetadataUpdated { session_id, .. } => {
            serde_json::json!({ "type": "MetadataUpdated", "session": session_id })
        }
        SessionEvent::Purged { count } => serde_json::json!({ "type": "Purged", "count": count }),
    }
}

/// The `SessionError` variant's name, as scenarios spell it.
fn error_name(error: &SessionError) -> &'static str {
    match error {
        SessionError::InvalidUserId { .. } => "InvalidUserId",
        SessionError::InvalidLifetime { .. } => "InvalidLifetime",
        SessionError::MetadataTooLarge { .. } => "MetadataTooLarge",
        SessionError::InvalidConfig { .. } => "InvalidConfig",
        SessionError::InvalidTokenLength { .. } => "InvalidTokenLength",
        SessionError::InvalidToken => "InvalidToken",
        SessionError::SessionExpired => "SessionExpired",
        SessionError::SessionRevoked => "SessionRevoked",
        SessionError::UserAgentMismatch => "UserAgentMismatch",
        SessionError::SessionNotFound { .. } => "SessionNotFound",
        SessionError::Random { .. } => "Random",
        SessionError::Store { .. } => "Store",
        SessionError::Clock { .. } => "Clock",
        SessionError::Import { .. } => "Import",
        SessionError::UserAgentRequired => "UserAgentRequired",
        SessionError::TokenReused => "TokenReused",
        SessionError::SessionLimitReached { .. } => "SessionLimitReached",
    }
}

fn validation_error_name(error: ValidationError) -> &'static str {
    match error {
        ValidationError::InvalidToken => "InvalidToken",
        ValidationError::SessionExpired => "SessionExpired",
        ValidationError::SessionRevoked => "SessionRevoked",
        ValidationError::UserAgentMismatch => "UserAgentMismatch",
        ValidationError::TokenReused => "TokenReused",
    }
}

// ---------------------------------------------------------------------------------------
// Scenario fields

fn config_from(config: Option<&Value>) -> Result<SessionConfig, String> {
    let mut out = SessionConfig::default();
    let Some(config) = config else {
        return Ok(out);
    };
    for (key, value) in object(config, "config")? {
        let bad = || format!("config key {key:?} has a value of the wrong type: {value}");
        let seconds = || value.as_u64().map(Duration::from_secs).ok_or_else(bad);
        let small = || {
            value
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(bad)
        };
        match key.as_str() {
            "default_expires_in_s" => out.default_expires_in = Some(seconds()?),
            "max_lifetime_s" => out.max_lifetime = Some(seconds()?),
            "bind_to_user_agent" => out.bind_to_user_agent = value.as_bool().ok_or_else(bad)?,
            "prefix" => out.prefix = value.as_str().ok_or_else(bad)?.to_owned(),
            "max_metadata_entries" => out.max_metadata_entries = small()?,
            "max_metadata_bytes" => out.max_metadata_bytes = small()?,
            "rotation_grace_s" => out.rotation_grace = Some(seconds()?),
            "max_sessions_per_user" => out.max_sessions_per_user = Some(small()?),
            "session_limit_action" => {
                out.session_limit_action = Some(match value.as_str() {
                    Some("RevokeOldest") => SessionLimitAction::RevokeOldest,
                    Some("Refuse") => SessionLimitAction::Refuse,
                    _ => return Err(bad()),
                })
            }
            other => return Err(format!("unknown config key {other:?}")),
        }
    }
    Ok(out)
}

/// The metadata a `create` step passes: `metadata`, `metadata_generate`, or none.
fn create_metadata(step: &Json) -> Result<Option<HashMap<String, String>>, String> {
    match (step.get("metadata"), step.get("metadata_generate")) {
        (Some(_), Some(_)) => Err("both \"metadata\" and \"metadata_generate\"".into()),
        (Some(given), None) => string_map(given),
        (None, Some(generate)) => generated_metadata(object(generate, "metadata_generate")?),
        (None, None) => Ok(None),
    }
}

/// `{"entries": N}`: `k0..k{N-1}` = `"v"`; `{"bytes": N}`: `"k"` = N-1 `"x"`s.
fn generated_metadata(generate: &Json) -> Result<Option<HashMap<String, String>>, String> {
    check_keys(generate, &["entries", "bytes"], "metadata_generate")?;
    match (opt_u64(generate, "entries")?, opt_u64(generate, "bytes")?) {
        (Some(n), None) => Ok(Some(
            (0..n).map(|i| (format!("k{i}"), "v".into())).collect(),
        )),
        (None, Some(n)) if n >= 1 => {
            let value = "x".repeat(n as usize - 1);
            Ok(Some(HashMap::from([("k".to_owned(), value)])))
        }
        _ => Err("\"metadata_generate\" needs exactly one of entries, bytes >= 1".into()),
    }
}

/// An object of strings (`Some`), or `null` (`None`).
fn string_map(value: &Value) -> Result<Option<HashMap<String, String>>, String> {
    if value.is_null() {
        return Ok(None);
    }
    let map = object(value, "metadata")?;
    map.iter()
        .map(|(k, v)| match v.as_str() {
            Some(s) => Ok((k.clone(), s.to_owned())),
            None => Err(format!("metadata value of {k:?} is not a string")),
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

fn check_keys(map: &Json, allowed: &[&str], what: &str) -> Result<(), String> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(format!("unknown {what} key {key:?}")),
        None => Ok(()),
    }
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Json, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{what} is not a JSON object"))
}

fn opt_str<'a>(map: &'a Json, key: &str) -> Result<Option<&'a str>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("{key:?} must be a string, got {other}")),
    }
}

fn req_str<'a>(map: &'a Json, key: &str) -> Result<&'a str, String> {
    opt_str(map, key)?.ok_or_else(|| format!("missing {key:?}"))
}

fn opt_bool(map: &Json, key: &str) -> Result<Option<bool>, String> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(format!("{key:?} must be a boolean, got {other}")),
    }
}

fn opt_u64(map: &Json, key: &str) -> Result<Option<u64>, String> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("{key:?} must be a whole number >= 0, got {v}")),
    }
}

// ---------------------------------------------------------------------------------------
// Time

fn parse_time(text: &str) -> Result<SystemTime, String> {
    let parsed = DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("{text:?} is not an RFC 3339 time: {e}"))?;
    let seconds = u64::try_from(parsed.timestamp())
        .map_err(|_| format!("{text:?} is before 1970, which the runner does not support"))?;
    Ok(UNIX_EPOCH + Duration::new(seconds, parsed.timestamp_subsec_nanos()))
}

fn millis(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i128,
        Err(e) => -(e.duration().as_millis() as i128),
    }
}

fn show_time(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Millis, true)
}
