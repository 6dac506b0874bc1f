//! Time: the clock trait a host can implement, the system clock, and conversions.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::SessionError;

/// A source of the current time. The library uses the system clock unless the host
/// supplies its own, which lets tests in every language move time without sleeping.
#[uniffi::export(foreign)]
pub trait Clock: Send + Sync {
    /// The current time. A clock that cannot tell it returns `ClockError::Failed`; any
    /// other error a host clock raises is reported the same way. Either reaches the
    /// library's caller as `SessionError::Clock`.
    fn now(&self) -> Result<SystemTime, ClockError>;
}

/// Why a clock could not tell the time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum ClockError {
    /// The clock failed.
    #[error("clock failed: {reason}")]
    Failed {
        /// What failed.
        reason: String,
    },
}

/// Anything else a host clock raises: its own error type is `ClockError`, so a stray
/// host exception is reported as a clock failure (a store's as a store failure).
impl From<uniffi::UnexpectedUniFFICallbackError> for ClockError {
    fn from(err: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ClockError::Failed {
            reason: format!("host clock raised an unexpected error: {}", err.reason),
        }
    }
}

impl From<ClockError> for SessionError {
    fn from(err: ClockError) -> Self {
        match err {
            ClockError::Failed { reason } => SessionError::Clock { reason },
        }
    }
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Result<SystemTime, ClockError> {
        Ok(SystemTime::now())
    }
}

/// Nanoseconds since the Unix epoch, saturating at the ends of `i64` (years 1677 and 2262).
pub fn to_nanos(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

/// The inverse of [`to_nanos`].
pub fn from_nanos(nanos: i64) -> SystemTime {
    let magnitude = Duration::from_nanos(nanos.unsigned_abs());
    if nanos >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

/// `t + d`, saturating instead of overflowing.
pub fn add(t: SystemTime, d: Duration) -> SystemTime {
    t.checked_add(d).unwrap_or_else(|| from_nanos(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_round_trip_both_sides_of_the_epoch() {
        for n in [0i64, 1, -1, 1_700_000_000_123_456_789, -86_400_000_000_000] {
            assert_eq!(to_nanos(from_nanos(n)), n);
        }
    }

    #[test]
    fn clock_errors_become_session_clock_errors() {
        let unexpected = uniffi::UnexpectedUniFFICallbackError {
            reason: "IllegalStateException: tick".into(),
        };
        let err = SessionError::from(ClockError::from(unexpected));
        assert!(
            matches!(&err, SessionError::Clock { reason } if reason.contains("IllegalStateException: tick")),
            "{err:?}"
        );
        let failed = ClockError::Failed {
            reason: "ntp down".into(),
        };
        assert_eq!(
            SessionError::from(failed),
            SessionError::Clock {
                reason: "ntp down".into()
            }
        );
    }

    #[test]
    fn add_saturates() {
        let far = add(UNIX_EPOCH, Duration::from_secs(u64::MAX));
        assert_eq!(to_nanos(far), i64::MAX);
    }
}
