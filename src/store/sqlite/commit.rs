//! Group commit: concurrent writes of one store share a transaction, and so one sync.
//!
//! Each write is a job (a few statements on the writer connection) handed to
//! [`GroupCommit::run`]. The first caller to find no commit in progress becomes the
//! leader: it takes every queued job, runs them in one `BEGIN IMMEDIATE` transaction,
//! each inside its own savepoint (a job that fails is rolled back to its savepoint and
//! leaves the others alone), commits once, and hands each caller its outcome. Callers
//! arriving meanwhile queue up for the next commit, whose leader is one of them. So
//! under load one commit (one `fsync` under `synchronous = FULL`) carries many writes,
//! and alone a write costs what it did before.
//!
//! What a caller is told is unchanged: `run` returns a success only after the commit
//! that carries its job has returned (so its change is as durable as the connection's
//! `synchronous` setting makes a commit), and an error means its change is not in the
//! database. Jobs run one after the other on one connection, in the order they were
//! queued, each seeing the ones before it: the same outcomes as separate transactions
//! in that order. Other processes on the file take turns with the whole transaction
//! through SQLite's write lock, as before.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, MutexGuard};
use rusqlite::Connection;

use crate::error::{Result, SessionError};

/// A write to run inside a shared transaction: statements on the writer connection,
/// whose errors name the database at the given path.
pub(super) type Work<R> = Box<dyn FnOnce(&Connection, &str) -> Result<R> + Send>;

/// The writer connection and the queue of writes waiting for a commit.
pub(super) struct GroupCommit {
    conn: Mutex<Connection>,
    path: String,
    state: Mutex<Queue>,
    /// Signalled when a leader has delivered its batch and stepped down.
    done: Condvar,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Box<dyn Job>>,
    /// Whether a leader is running a batch now.
    leading: bool,
}

/// How a write's statements went.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ran {
    Succeeded,
    Failed,
    /// The work panicked: the panic is kept for its own caller, and the transaction
    /// (whose state the panic may have left anywhere) is rolled back whole.
    Panicked,
}

/// A queued write, its outcome type erased.
trait Job: Send {
    /// Runs the write's statements.
    fn run(&mut self, conn: &Connection, path: &str) -> Ran;
    /// Replaces the outcome (a success, or not run yet) with `error`: the transaction
    /// carrying the write did not commit.
    fn fail(&mut self, error: &SessionError);
    /// Hands the outcome to the caller.
    fn deliver(self: Box<Self>);
}

/// Where a caller finds its outcome: the write's result, or the panic its own work
/// raised (resumed on the caller's thread, never on the leader's).
type Slot<R> = Arc<Mutex<Option<std::thread::Result<Result<R>>>>>;

struct Pending<R> {
    work: Option<Work<R>>,
    outcome: Option<Result<R>>,
    panic: Option<Box<dyn Any + Send>>,
    slot: Slot<R>,
}

impl<R: Send> Job for Pending<R> {
    fn run(&mut self, conn: &Connection, path: &str) -> Ran {
        let outcome = match self.work.take() {
            Some(work) => match panic::catch_unwind(AssertUnwindSafe(|| work(conn, path))) {
                Ok(outcome) => outcome,
                Err(payload) => {
                    self.panic = Some(payload);
                    return Ran::Panicked;
                }
            },
            None => Err(interrupted()),
        };
        let ran = if outcome.is_ok() {
            Ran::Succeeded
        } else {
            Ran::Failed
        };
        self.outcome = Some(outcome);
        ran
    }

    fn fail(&mut self, error: &SessionError) {
        if !matches!(self.outcome, Some(Err(_))) {
            self.outcome = Some(Err(error.clone()));
        }
    }

    fn deliver(mut self: Box<Self>) {
        let delivered = match self.panic.take() {
            Some(payload) => Err(payload),
            None => Ok(self.outcome.take().unwrap_or_else(|| Err(interrupted()))),
        };
        *self.slot.lock() = Some(delivered);
    }
}

impl<R> Drop for Pending<R> {
    /// A job dropped without delivering (its leader panicked) still answers its
    /// caller, so no caller waits forever.
    fn drop(&mut self) {
        let mut slot = self.slot.lock();
        if slot.is_none() {
            *slot = Some(Ok(Err(interrupted())));
        }
    }
}

fn interrupted() -> SessionError {
    SessionError::Store {
        reason: "the write was interrupted before it committed; nothing was stored".into(),
    }
}

/// Steps a leader down when it is done (or unwinds), waking the queue.
struct Leading<'a>(&'a GroupCommit);

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Unwinding from inside a transaction: roll it back at once, so the file's
            // write lock is not held until this store's next write.
            let conn = self.0.conn.lock();
            if !conn.is_autocommit() {
                let _ = exec(&conn, "ROLLBACK");
            }
        }
        self.0.state.lock().leading = false;
        self.0.done.notify_all();
    }
}

impl GroupCommit {
    /// Group commits over `conn` (the store's writer connection, opened on `path`).
    pub(super) fn new(conn: Connection, path: String) -> Self {
        GroupCommit {
            conn: Mutex::new(conn),
            path,
            state: Mutex::new(Queue::default()),
            done: Condvar::new(),
        }
    }

    /// The writer connection itself, for work outside the queue (reads on a store
    /// without readers, integrity checks). Held, it delays the next commit.
    pub(super) fn connection(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock()
    }

    /// Runs `work` in the next shared transaction and returns its outcome once that
    /// transaction has committed (or failed, or `work` failed: then nothing of it is
    /// stored).
    pub(super) fn run<R: Send + 'static>(&self, work: Work<R>) -> Result<R> {
        let slot: Slot<R> = Arc::new(Mutex::new(None));
        let mut state = self.state.lock();
        state.jobs.push(Box::new(Pending {
            work: Some(work),
            outcome: None,
            panic: None,
            slot: Arc::clone(&slot),
        }));
        loop {
            let delivered = slot.lock().take();
            match delivered {
                Some(Ok(outcome)) => return outcome,
                Some(Err(payload)) => panic::resume_unwind(payload),
                None => {}
            }
            // A leader delivers its whole batch before stepping down, so with no
            // leader an undelivered job is still queued: lead it.
            if !state.leading {
                state.leading = true;
                let jobs = std::mem::take(&mut state.jobs);
                drop(state);
                {
                    let _leading = Leading(self);
                    self.commit(jobs);
                }
                state = self.state.lock();
                continue;
            }
            self.done.wait(&mut state);
        }
    }

    /// Runs `jobs` in one transaction, commits, and delivers every outcome.
    fn commit(&self, mut jobs: Vec<Box<dyn Job>>) {
        let conn = self.conn.lock();
        let path = self.path.as_str();
        let fail = |action: &str, e: &rusqlite::Error| super::db_error(path, action, e);
        if !conn.is_autocommit() {
            // A leader unwound (a panic) inside its transaction: its jobs were answered
            // with errors, so nothing of it may commit.
            let _ = exec(&conn, "ROLLBACK");
        }
        if let Err(e) = exec(&conn, "BEGIN IMMEDIATE") {
            let error = fail("begin", &e);
            for job in &mut jobs {
                job.fail(&error);
            }
        } else if let Err(error) = Self::run_all(&conn, path, &mut jobs) {
            // The transaction cannot commit as it is: nothing of this batch is stored.
            if !conn.is_autocommit() {
                let _ = exec(&conn, "ROLLBACK");
            }
            for job in &mut jobs {
                job.fail(&error);
            }
        } else if let Err(e) = exec(&conn, "COMMIT") {
            let error = fail("commit", &e);
            if !conn.is_autocommit() {
                let _ = exec(&conn, "ROLLBACK");
            }
            for job in &mut jobs {
                job.fail(&error);
            }
        }
        drop(conn);
        for job in jobs {
            job.deliver();
        }
    }

    /// Runs each job in its own savepoint within the open transaction, rolling back
    /// those that fail. An error here means the transaction as a whole is unusable
    /// (SQLite rolled it back, or a savepoint failed).
    fn run_all(conn: &Connection, path: &str, jobs: &mut [Box<dyn Job>]) -> Result<()> {
        let fail = |action: &str, e: &rusqlite::Error| super::db_error(path, action, e);
        for job in jobs.iter_mut() {
            exec(conn, "SAVEPOINT job").map_err(|e| fail("savepoint", &e))?;
            let ran = job.run(conn, path);
            if ran == Ran::Panicked {
                // Its caller gets the panic; the others an error, and nothing of this
                // transaction is stored (the caller of `commit` rolls it back).
                return Err(super::store_error(format!(
                    "{path}: another write in the same transaction panicked; nothing was stored"
                )));
            }
            if conn.is_autocommit() {
                // Some errors (a full disk, an I/O error) make SQLite roll back the
                // whole transaction: the jobs before this one are gone too.
                return Err(super::store_error(format!(
                    "{path}: the transaction was rolled back by SQLite after an error; nothing was stored"
                )));
            }
            if ran == Ran::Failed {
                exec(conn, "ROLLBACK TO job").map_err(|e| fail("roll back to savepoint", &e))?;
            }
            exec(conn, "RELEASE job").map_err(|e| fail("release savepoint", &e))?;
        }
        Ok(())
    }
}

/// Runs one statement without parameters through the statement cache (these run for
/// every write, so they are not parsed again each time).
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

#[cfg(test)]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use super::*;

    fn insert(i: i64) -> Work<()> {
        Box::new(move |conn: &Connection, path: &str| {
            if i == 3 {
                panic!("a write that panics");
            }
            conn.execute("INSERT INTO t (x) VALUES (?1)", [i])
                .map(drop)
                .map_err(|e| super::super::db_error(path, "insert", &e))
        })
    }

    fn rows(commits: &GroupCommit) -> Vec<i64> {
        let conn = commits.connection();
        let mut stmt = conn.prepare("SELECT x FROM t ORDER BY x").expect("prepare");
        let rows = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<i64>>>());
        rows.expect("rows")
    }

    #[test]
    fn a_write_that_panics_answers_every_caller_and_commits_nothing_of_its_batch() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (x INTEGER)")
            .expect("table");
        let commits = GroupCommit::new(conn, ":memory:".into());
        let outcomes: Vec<(i64, std::thread::Result<Result<()>>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8i64)
                .map(|i| {
                    let commits = &commits;
                    s.spawn(move || (i, catch_unwind(AssertUnwindSafe(|| commits.run(insert(i))))))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        // Every caller got an answer (none waits forever); the panicking one a panic.
        assert_eq!(outcomes.len(), 8);
        let stored = rows(&commits);
        for (i, outcome) in outcomes {
            match outcome {
                Err(_) => assert_eq!(i, 3, "only the panicking write panics"),
                Ok(Ok(())) => assert!(stored.contains(&i), "{i} succeeded but is not stored"),
                Ok(Err(e)) => {
                    assert!(matches!(e, SessionError::Store { .. }), "{e:?}");
                    assert!(!stored.contains(&i), "{i} failed but is stored");
                }
            }
        }
        assert!(!stored.contains(&3));
        // The connection is usable again: later writes commit.
        commits.run(insert(100)).expect("a later write");
        assert!(rows(&commits).contains(&100));
    }

    #[test]
    fn a_failed_write_is_rolled_back_to_its_savepoint_and_the_others_commit() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (x INTEGER UNIQUE)")
            .expect("table");
        let commits = GroupCommit::new(conn, ":memory:".into());
        // Two statements, the second failing: the first must not stay.
        let half: Work<()> = Box::new(|conn: &Connection, path: &str| {
            conn.execute("INSERT INTO t (x) VALUES (1)", [])
                .and_then(|_| conn.execute("INSERT INTO t (x) VALUES (1)", []))
                .map(drop)
                .map_err(|e| super::super::db_error(path, "insert", &e))
        });
        assert!(commits.run(half).is_err());
        commits.run(insert(2)).expect("insert 2");
        assert_eq!(rows(&commits), vec![2]);
    }
}
