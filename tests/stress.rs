//! Many threads on one manager: rotated-out and revoked tokens never validate again,
//! and no session is lost.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rand::Rng;
use sessions::*;

const THREADS: usize = 8;
const OPS_PER_THREAD: usize = 4_000;

#[derive(Default)]
struct Ledger {
    /// Session id -> its latest token and that token's session version, for sessions
    /// not destroyed. Refreshes record their results in any order (a refresh of the
    /// predecessor within the grace returns the current token without writing, however
    /// late), so only a newer version replaces a token.
    live: HashMap<String, (String, i64)>,
    /// Tokens that a successful refresh rotated out.
    rotated_out: Vec<String>,
    /// Last known tokens of destroyed sessions (a concurrent refresh may have rotated
    /// one out just before the destroy).
    revoked: Vec<String>,
    /// Ids of destroyed sessions.
    destroyed: Vec<String>,
}

#[test]
fn invariants_hold_under_contention() {
    let manager = SessionManager::new(SessionConfig::default(), None).unwrap();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let created = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (m, ledger, created) = (manager.clone(), ledger.clone(), created.clone());
            std::thread::spawn(move || worker(t, &m, &ledger, &created))
        })
        .collect();
    for t in threads {
        t.join().expect("worker panicked");
    }

    let ledger = ledger.lock();
    assert_eq!(
        manager.count().unwrap() as usize,
        created.load(Ordering::SeqCst)
    );
    // A rotated-out token validates only as the immediate predecessor of its
    // session's current token, within the rotation grace (the run takes far less than
    // the 10 s default); otherwise it is InvalidToken.
    for token in &ledger.rotated_out {
        let r = manager.validate(token.clone(), None).unwrap();
        match r.session {
            Some(s) => assert_eq!(s.previous_token_hash, Some(hash_token(token.clone()))),
            None => assert!(matches!(
                r.error,
                Some(ValidationError::InvalidToken | ValidationError::SessionRevoked)
            )),
        }
    }
    let rotated: std::collections::HashSet<_> = ledger.rotated_out.iter().collect();
    for token in &ledger.revoked {
        let r = manager.validate(token.clone(), None).unwrap();
        // Revoked, or (a token rotated out twice) unknown: never valid.
        if rotated.contains(token) {
            assert!(matches!(
                r.error,
                Some(ValidationError::InvalidToken | ValidationError::SessionRevoked)
            ));
        } else {
            assert_eq!(r.error, Some(ValidationError::SessionRevoked));
        }
    }
    for id in &ledger.destroyed {
        let s = manager
            .get(id.clone())
            .unwrap()
            .expect("destroyed session kept");
        assert!(s.revoked_at.is_some());
    }
    for (id, (token, _)) in &ledger.live {
        let r = manager.validate(token.clone(), None).unwrap();
        assert!(r.valid, "live session {id} lost: {r:?}");
        assert_eq!(r.session.map(|s| s.id), Some(id.clone()));
    }
    assert!(ledger.rotated_out.len() > 100 && ledger.revoked.len() > 100);
}

fn worker(seed: usize, m: &SessionManager, ledger: &Mutex<Ledger>, created: &AtomicUsize) {
    let mut rng = rand::rng();
    let user = format!("user-{}", seed % 3);
    for _ in 0..OPS_PER_THREAD {
        let pick = {
            let l = ledger.lock();
            if l.live.is_empty() {
                None
            } else {
                let i = rng.random_range(0..l.live.len());
                l.live
                    .iter()
                    .nth(i)
                    .map(|(id, (t, _))| (id.clone(), t.clone()))
            }
        };
        match (rng.random_range(0..10), pick) {
            (0..=2, _) | (_, None) => {
                let s = m
                    .create(CreateSessionOptions::for_user(user.clone()))
                    .unwrap();
                created.fetch_add(1, Ordering::SeqCst);
                ledger.lock().live.insert(s.id, (s.token, s.version));
            }
            (3..=5, Some((_, token))) => {
                // Valid, or concurrently rotated out / revoked: never anything else.
                let r = m.validate(token, None).unwrap();
                assert!(r.valid || r.error != Some(ValidationError::SessionExpired));
            }
            (6..=8, Some((id, token))) => {
                if let Ok(next) = m.refresh(token.clone(), None) {
                    // Within the grace the old token still validates, unless another
                    // thread rotated again or destroyed the session meanwhile.
                    let r = m.validate(token.clone(), None).unwrap();
                    assert!(matches!(
                        r.error,
                        None | Some(
                            ValidationError::InvalidToken | ValidationError::SessionRevoked
                        )
                    ));
                    let mut l = ledger.lock();
                    l.rotated_out.push(token);
                    match l.live.get_mut(&id) {
                        Some(latest) => {
                            if next.version > latest.1 {
                                *latest = (next.token, next.version);
                            }
                        }
                        // Destroyed by another thread around our rotation.
                        None => l.revoked.push(next.token),
                    }
                }
            }
            (_, Some((id, _))) => {
                let mut l = ledger.lock();
                if let Some((token, _)) = l.live.remove(&id) {
                    drop(l);
                    m.destroy(id.clone()).unwrap();
                    let mut l = ledger.lock();
                    l.revoked.push(token);
                    l.destroyed.push(id);
                }
            }
        }
    }
}
