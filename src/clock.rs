//! Time: the clock trait a host can implement, the system clock, and conversions.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Result;

/// A source of the current time. The library uses the system clock unless the host
/// supplies its own, which lets tests in every language move time without sleeping.
#[uniffi::export(foreign)]
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Result<SystemTime>;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Result<SystemTime> {
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
    fn add_saturates() {
        let far = add(UNIX_EPOCH, Duration::from_secs(u64::MAX));
        assert_eq!(to_nanos(far), i64::MAX);
    }
}
