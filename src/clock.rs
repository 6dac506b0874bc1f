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
#[uniffi::export(Display)]
pub enum ClockError {
    /// The clock failed.
    #[error("the clock failed: {reason}")]
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

/// The earliest instant the library accepts or produces: 1970-01-01T00:00:01Z.
///
/// Every host type holds instants in this range exactly (Python `datetime`, Kotlin
/// `Instant`, Swift `Date`, and both stores). It starts one second after the epoch
/// because UniFFI encodes an instant as signed whole seconds plus unsigned nanoseconds,
/// so an instant less than a second before 1970 (e.g. 1969-12-31T23:59:59.5Z) arrives
/// as the same distance after it; refusing the whole first second makes that mix-up
/// impossible to miss.
pub const MIN_INSTANT_SECS: i64 = 1;
/// The latest instant the library accepts or produces: 2099-12-31T23:59:59.999999Z.
/// Up to 2^32 seconds after 1970 a Swift `Date` (a `Double`) is within 0.25 µs of any
/// whole microsecond, so rounding brings it back exactly.
pub const MAX_INSTANT_MICROS: i64 = 4_102_444_800_000_000 - 1;
/// Instants and durations are kept to whole microseconds (Python's precision); an
/// instant or duration handed in is rounded to the nearest microsecond.
pub const PRECISION_NANOS: i64 = 1_000;

/// Why an instant cannot be used: it is outside [`MIN_INSTANT_SECS`]..=[`MAX_INSTANT_MICROS`].
pub fn out_of_range(t: SystemTime) -> String {
    format!(
        "{} is outside the supported range 1970-01-01T00:00:01Z to 2099-12-31T23:59:59.999999Z",
        format_any(t)
    )
}

/// RFC 3339 of any instant chrono can show (years -262143 to 262142), without the
/// saturation of [`to_nanos`]; `Debug` beyond that.
fn format_any(t: SystemTime) -> String {
    let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (i64::try_from(d.as_secs()).ok(), d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            // Before the epoch: whole seconds down, the fraction counted up from there.
            let secs = i64::try_from(d.as_secs()).ok().map(|s| {
                if d.subsec_nanos() == 0 {
                    -s
                } else {
                    -s - 1
                }
            });
            let nanos = if d.subsec_nanos() == 0 {
                0
            } else {
                1_000_000_000 - d.subsec_nanos()
            };
            (secs, nanos)
        }
    };
    secs.and_then(|s| chrono::DateTime::<chrono::Utc>::from_timestamp(s, nanos))
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| format!("{t:?}"))
}

/// `t` rounded to the nearest microsecond, if it is within the supported range;
/// otherwise the reason it is not (see [`out_of_range`]).
pub fn checked(t: SystemTime) -> Result<SystemTime, String> {
    checked_after_epoch(t).map_or_else(|| checked_any(t), Ok)
}

/// [`checked`] for what every clock reading is, an instant in range after the epoch,
/// in 64-bit arithmetic (no 128-bit division: it runs on every call); `None` for
/// anything else.
fn checked_after_epoch(t: SystemTime) -> Option<SystemTime> {
    let d = t.duration_since(UNIX_EPOCH).ok()?;
    let micros = d
        .as_secs()
        .checked_mul(1_000_000)?
        .checked_add(u64::from(d.subsec_nanos() + 500) / 1_000)?;
    let micros = i64::try_from(micros).ok()?;
    (MIN_INSTANT_SECS * 1_000_000..=MAX_INSTANT_MICROS)
        .contains(&micros)
        .then(|| from_nanos(micros * PRECISION_NANOS))
}

/// [`checked`] for any instant.
fn checked_any(t: SystemTime) -> Result<SystemTime, String> {
    let nanos = i128::from(to_nanos(t));
    let precision = i128::from(PRECISION_NANOS);
    let micros = (nanos + precision / 2).div_euclid(precision);
    if micros < i128::from(MIN_INSTANT_SECS) * 1_000_000 || micros > i128::from(MAX_INSTANT_MICROS)
    {
        return Err(out_of_range(t));
    }
    Ok(from_nanos(
        i64::try_from(micros * precision).unwrap_or(i64::MAX),
    ))
}

/// The latest supported instant (see [`MAX_INSTANT_MICROS`]).
pub fn max_instant() -> SystemTime {
    from_nanos(MAX_INSTANT_MICROS * PRECISION_NANOS)
}

/// `d` rounded to the nearest microsecond.
pub fn round_duration(d: Duration) -> Duration {
    let nanos = d.as_nanos();
    let precision = PRECISION_NANOS as u128;
    let micros = (nanos + precision / 2) / precision;
    Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
}

/// RFC 3339 in UTC with milliseconds, as JavaScript's `Date.toJSON` writes
/// (`2024-01-31T12:00:00.000Z`), or with 6 or 9 fraction digits when the instant needs
/// them, so nothing is lost.
pub fn format_rfc3339(t: SystemTime) -> String {
    let nanos = to_nanos(t);
    let digits = if nanos % 1_000_000 == 0 {
        chrono::SecondsFormat::Millis
    } else if nanos % 1_000 == 0 {
        chrono::SecondsFormat::Micros
    } else {
        chrono::SecondsFormat::Nanos
    };
    chrono::DateTime::<chrono::Utc>::from_timestamp_nanos(nanos).to_rfc3339_opts(digits, true)
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
    fn range_is_checked_and_instants_round_to_microseconds() {
        let at = |nanos: i64| checked(from_nanos(nanos));
        // Less than a second after the epoch: the sub-second range UniFFI cannot sign.
        assert!(at(500_000_000).is_err());
        assert!(at(-500_000_000).is_err());
        assert!(at(999_999_499).is_err());
        assert_eq!(at(999_999_500).map(to_nanos), Ok(1_000_000_000));
        assert_eq!(
            at(1_700_000_000_123_456_789).map(to_nanos),
            Ok(1_700_000_000_123_457_000)
        );
        let last = MAX_INSTANT_MICROS * 1_000;
        assert_eq!(at(last + 499).map(to_nanos), Ok(last));
        assert!(at(last + 500).is_err());
        assert_eq!(checked(max_instant()), Ok(max_instant()));
        let message = at(-500_000_000).unwrap_err();
        assert!(message.contains("1969-12-31T23:59:59.500Z"), "{message}");
        assert_eq!(
            round_duration(Duration::from_nanos(1_499)),
            Duration::from_micros(1)
        );
        assert_eq!(
            round_duration(Duration::from_nanos(2_500)),
            Duration::from_micros(3)
        );
    }

    #[test]
    fn the_64_bit_path_rounds_and_bounds_as_the_general_one() {
        let max = MAX_INSTANT_MICROS * PRECISION_NANOS;
        let mut nanos = vec![0, 1, 499, 500, 999_499, 999_500, 999_999_999, i64::MAX, -1];
        for base in [
            1_000_000_000,
            1_700_000_000_123_456_789,
            max,
            max + 499,
            max + 500,
        ] {
            nanos.extend((-1_501..=1_501).map(|d| base + d));
        }
        for n in nanos {
            let t = from_nanos(n);
            assert_eq!(checked(t), checked_any(t), "{n} ns");
            if let Some(fast) = checked_after_epoch(t) {
                assert_eq!(Ok(fast), checked_any(t), "{n} ns");
            }
        }
        // The path is taken for an ordinary reading (else it would save nothing).
        assert!(checked_after_epoch(from_nanos(1_700_000_000_123_456_789)).is_some());
    }

    #[test]
    fn add_saturates() {
        let far = add(UNIX_EPOCH, Duration::from_secs(u64::MAX));
        assert_eq!(to_nanos(far), i64::MAX);
    }
}
