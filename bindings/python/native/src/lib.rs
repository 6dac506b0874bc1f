//! `sessions._fastpath`: the Python package's per-request accelerator.
//!
//! `SessionManager.validate` through the core's primitive-only C entry point
//! `sessions_fast_validate` (layout: `src/fast_path.rs`), with the result built directly
//! as the generated `ValidationResult` / `Session` objects, and the per-call argument
//! handling done here instead of in Python. It is what `sessions/_fast.py` does with
//! ctypes, at a fraction of the cost; `_fast.py` stays the fallback where this module is
//! absent (it is optional: the wheels' `py3-none` tag also installs on interpreters that
//! cannot load an abi3 extension, and `sessions/_fast.py` then uses ctypes).
//!
//! This crate holds none of the core's state and does not link the core: at import the
//! package hands over ([`configure`]) the addresses of `sessions_fast_validate` and
//! `sessions_fast_take_pending` in the library its generated module already loaded (one
//! library, loaded once per process), and the classes and values the results are made
//! of. Every call validates in that
//! library's manager: nothing about validity is cached here. Only the conversion of a
//! result's timestamps (the same bytes always give the same immutable `datetime`s) is
//! cached, bounded, as `_fast.py` caches it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use pyo3::exceptions::PyRuntimeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyString, PyTuple, PyType};

pub mod layout;
pub mod unsafe_code;

use layout::{flags, Decoded, LayoutError, FAILED, NO_PENDING, TIMES_LEN};
use unsafe_code::{Entry, ObjectNew, TakePending};

/// What [`configure`] was given: the entry point and the Python values results are
/// built from.
struct Config {
    entry: Entry,
    /// `sessions_fast_take_pending`: a result too large for the buffer, fetched without
    /// validating again.
    take_pending: TakePending,
    session: Py<PyType>,
    result: Py<PyType>,
    /// The `ValidationError` member of each status byte (index 0 unused).
    errors: Vec<Py<PyAny>>,
    /// `times_of(block: bytes) -> tuple`: the five timestamps and the lifetime of a
    /// result's bytes 16..88 as UniFFI's own conversion makes them.
    times_of: Py<PyAny>,
    /// `take_fast_path_error()`: raises the `SessionError` a failed call left.
    take_error: Py<PyAny>,
    /// `_host.take_interrupt()`: the interrupt a host callback raised on this thread.
    take_interrupt: Py<PyAny>,
    /// `object.__new__`, through its C slot.
    object_new: ObjectNew,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// How many validations reached the entry point (for the tests: proof the path is taken).
static ENTERED: AtomicU64 = AtomicU64::new(0);

/// The result's first buffer on each thread, in bytes; a larger result grows it.
const INITIAL_CAPACITY: usize = 4096;
/// The timestamp cache is emptied when it holds this many blocks.
const CACHE_LIMIT: usize = 1 << 16;

thread_local! {
    /// This thread's result buffer (taken out for a call, so a call made re-entrantly
    /// from a host callback gets a buffer of its own).
    static BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A fast hash for the 72-byte timestamp blocks (not attacker-chosen: they are the
/// library's own times).
#[derive(Default)]
struct BlockHasher(u64);

impl Hasher for BlockHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type TimesCache = HashMap<[u8; TIMES_LEN], Py<PyTuple>, BuildHasherDefault<BlockHasher>>;

/// Converted timestamp blocks. Locked only while no Python code runs (never across a
/// call into Python), so holding the GIL while waiting for it cannot deadlock.
static TIMES: Mutex<Option<TimesCache>> = Mutex::new(None);

/// Hands the extension what it needs; called once, by `sessions._fast` at import.
///
/// `entry` is the address of `sessions_fast_validate` in the library the generated
/// module loaded, `take_pending` that of `sessions_fast_take_pending` in the same
/// library; `errors` the five `ValidationError` members of status bytes 1 to 5;
/// `times_of(block: bytes) -> tuple` converts a result's timestamps and lifetime;
/// `take_error()` raises the error a failed call left; `take_interrupt()` returns (and
/// forgets) the interrupt a host callback raised on this thread, or `None`.
///
/// Errors: `RuntimeError` when called a second time or with a null address; `TypeError`
/// when `errors` is not five values or a class overrides `__new__`.
///
/// # Safety (for the caller, in Python)
///
/// `entry` must be the address of `sessions_fast_validate` of a library that stays
/// loaded (see [`Entry::from_address`]), `take_pending` that of
/// `sessions_fast_take_pending` of the same library ([`TakePending::from_address`]):
/// `sessions._fast` is the only caller.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn configure(
    py: Python<'_>,
    entry: usize,
    take_pending: usize,
    session: Bound<'_, PyType>,
    result: Bound<'_, PyType>,
    errors: Bound<'_, PyTuple>,
    times_of: Bound<'_, PyAny>,
    take_error: Bound<'_, PyAny>,
    take_interrupt: Bound<'_, PyAny>,
) -> PyResult<()> {
    if errors.len() != usize::from(layout::LAST_STATUS) {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "errors: five ValidationError members",
        ));
    }
    // SAFETY: the caller's contract above: the address of `sessions_fast_validate`
    // in the library the generated module keeps loaded.
    let entry = unsafe { Entry::from_address(entry) }
        .ok_or_else(|| PyRuntimeError::new_err("sessions_fast_validate: null address"))?;
    // SAFETY: the caller's contract above: the address of `sessions_fast_take_pending`
    // in the same library.
    let take_pending = unsafe { TakePending::from_address(take_pending) }
        .ok_or_else(|| PyRuntimeError::new_err("sessions_fast_take_pending: null address"))?;
    let mut all = vec![py.None()];
    all.extend(errors.iter().map(Bound::unbind));
    let object_new = py
        .import("builtins")?
        .getattr("object")?
        .getattr("__new__")?;
    for cls in [&session, &result] {
        // What makes `ObjectNew` the same as `object.__new__(cls)` for them.
        if !cls.getattr("__new__")?.is(&object_new) {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "{cls} overrides __new__: the fast path cannot build it"
            )));
        }
    }
    CONFIG
        .set(Config {
            entry,
            take_pending,
            session: session.unbind(),
            result: result.unbind(),
            errors: all,
            times_of: times_of.unbind(),
            take_error: take_error.unbind(),
            take_interrupt: take_interrupt.unbind(),
            object_new: ObjectNew::get(py)?,
        })
        .map_err(|_| PyRuntimeError::new_err("sessions._fastpath is configured already"))
}

/// `SessionManager.validate(self, *args, **kwargs)` through the C entry point: the
/// `ValidationResult`, or `NotImplemented` when the regular (UniFFI) path must answer:
/// arguments it does not take (not one or two of `token`/`user_agent`, a token that
/// is not exactly a `str`, a user agent that is not `None` or a valid `str`), a manager
/// without a fast-path handle or whose handle is unknown. A token that is not valid
/// Unicode is `INVALID_TOKEN`. A failed validation raises the regular path's
/// `SessionError`; with `self._fast_relay` set (a clock, store or listener written in
/// Python), an interrupt a callback raised is raised after the call, as
/// `_host.relay_interrupts` does.
#[pyfunction]
fn validate<'py>(
    py: Python<'py>,
    manager: &Bound<'py, PyAny>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(config) = CONFIG.get() else {
        return Ok(py.NotImplemented().into_bound(py));
    };
    let Some((token, user_agent)) = arguments(py, args, kwargs)? else {
        return Ok(py.NotImplemented().into_bound(py));
    };
    let Ok(state) = manager.getattr(intern!(py, "__dict__")) else {
        return Ok(py.NotImplemented().into_bound(py));
    };
    let Ok(state) = state.cast_into::<PyDict>() else {
        return Ok(py.NotImplemented().into_bound(py));
    };
    let handle = match state.get_item(intern!(py, "_fast_handle"))? {
        None => 0,
        Some(handle) if handle.is_none() => {
            let handle = manager.call_method0(intern!(py, "fast_path_handle"))?;
            state.set_item(intern!(py, "_fast_handle"), &handle)?;
            handle.extract::<u64>()?
        }
        Some(handle) => handle.extract::<u64>()?,
    };
    if handle == 0 {
        return Ok(py.NotImplemented().into_bound(py));
    }
    let answer = if state.contains(intern!(py, "_fast_relay"))? {
        relayed(py, config, handle, &token, &user_agent)
    } else {
        fast(py, config, handle, &token, &user_agent)
    };
    answer.map(|result| result.unwrap_or_else(|| py.NotImplemented().into_bound(py)))
}

/// `(token, user_agent)` when the call is one the fast path takes (one or two
/// arguments, by position or as `token=`/`user_agent=`), else `None`.
fn arguments<'py>(
    py: Python<'py>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
    let n = args.len();
    let kwargs = kwargs.filter(|k| !k.is_empty());
    let Some(kwargs) = kwargs else {
        return Ok(match n {
            1 => Some((args.get_item(0)?, py.None().into_bound(py))),
            2 => Some((args.get_item(0)?, args.get_item(1)?)),
            _ => None,
        });
    };
    if n + kwargs.len() > 2 {
        return Ok(None);
    }
    let names = [intern!(py, "token"), intern!(py, "user_agent")];
    for key in kwargs.keys() {
        let Ok(key) = key.cast_into::<PyString>() else {
            return Ok(None);
        };
        // Keyword names are interned: identity first, then equality.
        if !names[n.min(2)..]
            .iter()
            .any(|name| name.is(&key) || name.as_any().eq(&key).unwrap_or(false))
        {
            return Ok(None);
        }
    }
    let token = match n {
        0 => match kwargs.get_item(names[0])? {
            Some(token) => token,
            None => return Ok(None),
        },
        _ => args.get_item(0)?,
    };
    let user_agent = match n {
        2 => args.get_item(1)?,
        _ => kwargs
            .get_item(names[1])?
            .unwrap_or_else(|| py.None().into_bound(py)),
    };
    Ok(Some((token, user_agent)))
}

/// [`fast`], raising afterwards the interrupt a host callback raised during it (the
/// `_host.relay_interrupts` contract: a stale interrupt is dropped first; one raised
/// during the call wins over the call's own error, which is dropped: the interrupt is
/// raised as it was, with no context added, as the regular path raises it).
fn relayed<'py>(
    py: Python<'py>,
    config: &Config,
    handle: u64,
    token: &Bound<'py, PyAny>,
    user_agent: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let take = config.take_interrupt.bind(py);
    take.call0()?;
    let outcome = fast(py, config, handle, token, user_agent);
    let interrupt = take.call0()?;
    if interrupt.is_none() {
        return outcome;
    }
    Err(PyErr::from_value(interrupt))
}

/// One validation through the entry point; `None` when the regular path must answer.
fn fast<'py>(
    py: Python<'py>,
    config: &Config,
    handle: u64,
    token: &Bound<'py, PyAny>,
    user_agent: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let Ok(token) = token.cast_exact::<PyString>() else {
        return Ok(None);
    };
    // The user agent first: a wrong one is an error even with a token that is no token.
    let user_agent = if user_agent.is_none() {
        None
    } else {
        match user_agent
            .cast_exact::<PyString>()
            .ok()
            .map(|ua| ua.to_str())
        {
            Some(Ok(ua)) => Some(ua.as_bytes()),
            _ => return Ok(None),
        }
    };
    let Ok(token) = token.to_str() else {
        // Not valid Unicode (lone surrogates): no issued token is.
        return invalid(py, config, 1).map(Some);
    };
    let token = token.as_bytes();
    let entry = config.entry;
    let mut buffer = BUFFER.with(std::cell::Cell::take);
    if buffer.is_empty() {
        buffer = vec![0; INITIAL_CAPACITY];
    }
    // The GIL is released while the library runs: a clock, store or listener written in
    // Python takes it on this or any thread, as on the regular path.
    ENTERED.fetch_add(1, Ordering::Relaxed);
    let mut size = unsafe_code::detached(py, || entry.call(handle, token, user_agent, &mut buffer));
    while usize::try_from(size).is_ok_and(|size| size > buffer.len()) {
        // A larger result than ever before on this thread: the library kept it for this
        // thread, and it is fetched into a larger buffer without validating again (a
        // second validation could slide the session again, or count a predecessor token
        // at the very end of its grace as reuse). No Python code has run on this thread
        // since the validation returned, so the kept result is this call's.
        let grown = usize::try_from(size).unwrap_or(0).max(2 * buffer.len());
        buffer = vec![0; grown];
        size = config.take_pending.call(&mut buffer);
    }
    let answer = match usize::try_from(size) {
        Ok(size) => build(py, config, &buffer[..size]).map(Some),
        Err(_) if size == FAILED => config.take_error.bind(py).call0().map(|_| None),
        Err(_) if size == NO_PENDING => Err(PyRuntimeError::new_err(
            "sessions_fast_take_pending: the result kept for this thread is gone",
        )),
        Err(_) => Ok(None),
    };
    BUFFER.with(|slot| slot.set(buffer));
    answer
}

fn layout_error(error: LayoutError) -> PyErr {
    PyRuntimeError::new_err(error.to_string())
}

/// A new instance of `cls` (as `object.__new__(cls)`), its attributes set one by one
/// (as the generated `__init__` sets them: the instance keeps CPython's compact
/// attribute storage, where a whole new `__dict__` would cost a dictionary per record).
fn record<'py, const N: usize>(
    py: Python<'py>,
    config: &Config,
    cls: &Py<PyType>,
    fields: [(&Bound<'py, PyString>, Bound<'py, PyAny>); N],
) -> PyResult<Bound<'py, PyAny>> {
    let made = config.object_new.call(cls.bind(py))?;
    for (name, value) in fields {
        made.setattr(name, value)?;
    }
    Ok(made)
}

/// The `ValidationResult` of a failed validation with status byte `status`.
fn invalid<'py>(py: Python<'py>, config: &Config, status: u8) -> PyResult<Bound<'py, PyAny>> {
    let error = config
        .errors
        .get(usize::from(status))
        .ok_or_else(|| layout_error(LayoutError::Status(status)))?;
    let fields = [
        (
            intern!(py, "valid"),
            PyBool::new(py, false).to_owned().into_any(),
        ),
        (intern!(py, "session"), py.None().into_bound(py)),
        (intern!(py, "error"), error.bind(py).clone()),
    ];
    record(py, config, &config.result, fields)
}

/// The converted timestamps and lifetime of `block` (cached by its bytes).
fn times<'py>(
    py: Python<'py>,
    config: &Config,
    block: &[u8; TIMES_LEN],
) -> PyResult<Bound<'py, PyTuple>> {
    {
        let cache = TIMES.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hit) = cache.as_ref().and_then(|c| c.get(block)) {
            return Ok(hit.clone_ref(py).into_bound(py));
        }
    }
    let value = config
        .times_of
        .bind(py)
        .call1((PyBytes::new(py, block),))?
        .cast_into::<PyTuple>()?;
    if value.len() != 6 {
        return Err(PyRuntimeError::new_err("times_of must return six values"));
    }
    let dropped = {
        let mut cache = TIMES.lock().unwrap_or_else(PoisonError::into_inner);
        let map = cache.get_or_insert_with(TimesCache::default);
        let dropped = (map.len() >= CACHE_LIMIT).then(|| std::mem::take(map));
        map.insert(*block, value.clone().unbind());
        dropped
    };
    drop(dropped); // outside the lock
    Ok(value)
}

/// The `ValidationResult` in `buffer` (exactly the result's bytes).
fn build<'py>(py: Python<'py>, config: &Config, buffer: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let valid = match layout::decode(buffer).map_err(layout_error)? {
        Decoded::Invalid(status) => return invalid(py, config, status),
        Decoded::Valid(valid) => valid,
    };
    let (bits, entries, version) = (valid.flags, valid.entries, valid.version);
    let has = |bit: u8| bits & bit != 0;
    let times = times(py, config, valid.times)?;
    let mut strings = valid.strings;
    let mut next = || strings.take().map_err(layout_error);
    let (id, user_id, token, token_hash) = (next()?, next()?, next()?, next()?);
    let bound = if has(flags::BOUND_USER_AGENT) {
        Some(next()?)
    } else {
        None
    };
    let previous = if has(flags::PREVIOUS_TOKEN_HASH) {
        Some(next()?)
    } else {
        None
    };
    let key = if has(flags::ROTATION_KEY) {
        Some(next()?)
    } else {
        None
    };
    let metadata = if has(flags::METADATA) {
        let metadata = PyDict::new(py);
        for _ in 0..entries {
            let (k, v) = (next()?, next()?);
            metadata.set_item(k, v)?;
        }
        Some(metadata)
    } else {
        None
    };
    let some = |present: bool, index: usize| -> PyResult<Bound<'py, PyAny>> {
        if present {
            times.get_item(index)
        } else {
            Ok(py.None().into_bound(py))
        }
    };
    let text = |value: Option<&str>| -> Bound<'py, PyAny> {
        match value {
            Some(value) => PyString::new(py, value).into_any(),
            None => py.None().into_bound(py),
        }
    };
    let sliding = match has(flags::SLIDING_SET) {
        true => PyBool::new(py, has(flags::SLIDING)).to_owned().into_any(),
        false => py.None().into_bound(py),
    };
    // The generated `Session.__init__`'s order.
    let fields = [
        (intern!(py, "id"), PyString::new(py, id).into_any()),
        (
            intern!(py, "user_id"),
            PyString::new(py, user_id).into_any(),
        ),
        (intern!(py, "token"), PyString::new(py, token).into_any()),
        (
            intern!(py, "token_hash"),
            PyString::new(py, token_hash).into_any(),
        ),
        (intern!(py, "created_at"), times.get_item(0)?),
        (intern!(py, "expires_at"), times.get_item(1)?),
        (
            intern!(py, "metadata"),
            metadata.map_or_else(|| py.None().into_bound(py), Bound::into_any),
        ),
        (intern!(py, "revoked_at"), some(has(flags::REVOKED_AT), 3)?),
        (intern!(py, "sliding_expiration"), sliding),
        (intern!(py, "bound_user_agent"), text(bound)),
        (intern!(py, "lifetime"), times.get_item(5)?),
        (intern!(py, "absolute_expires_at"), times.get_item(2)?),
        (
            intern!(py, "version"),
            version.into_pyobject(py)?.into_any(),
        ),
        (intern!(py, "previous_token_hash"), text(previous)),
        (intern!(py, "rotated_at"), some(has(flags::ROTATED_AT), 4)?),
        (intern!(py, "rotation_key"), text(key)),
    ];
    let session = record(py, config, &config.session, fields)?;
    let fields = [
        (
            intern!(py, "valid"),
            PyBool::new(py, true).to_owned().into_any(),
        ),
        (intern!(py, "session"), session),
        (intern!(py, "error"), py.None().into_bound(py)),
    ];
    record(py, config, &config.result, fields)
}

/// How many validations have reached the C entry point through this module in this
/// process (a result fetched into a larger buffer with `sessions_fast_take_pending`
/// counts once: it was validated once).
#[pyfunction]
fn entered() -> u64 {
    ENTERED.load(Ordering::Relaxed)
}

/// The module `sessions._fastpath`.
#[pymodule]
fn _fastpath(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(configure, module)?)?;
    module.add_function(wrap_pyfunction!(validate, module)?)?;
    module.add_function(wrap_pyfunction!(entered, module)?)?;
    Ok(())
}
