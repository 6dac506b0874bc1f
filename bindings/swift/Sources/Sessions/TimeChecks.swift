// Handwritten (not generated): the checks every `Date` and `TimeInterval` passes before
// UniFFI's generated converter encodes it for Rust. That converter stops the process
// (`fatalError`, or a trapping integer conversion) on a value it cannot encode: a NaN,
// infinite or negative `TimeInterval`, or a `Date` more than 2^63 seconds from 1970. The
// functions below turn such values into ones the converter encodes and the library
// refuses with a typed error wherever it checks times (configuration, create options,
// clock readings, records from a host store), so no value a host hands in can stop
// the process. A NaN `Date` becomes one long past, so that the free functions, which
// take a session as given, treat a NaN expiry or revocation time as already passed.
//
// They are wired in by uniffi.toml (`[bindings.swift.custom_types.*]`, `lower = ...`)
// for the core's `TimeSpan` and `Timestamp` types.

import Foundation

/// The largest `TimeInterval` UniFFI's converter encodes: 2^63 seconds.
let sessionsLargestEncodableTimeInterval = Double(Int64.max)

/// `interval` if UniFFI's converter can encode it (finite, 0 to 2^63 seconds);
/// otherwise 0 (NaN, negative, infinite and larger intervals), which every lifetime
/// and interval check refuses, for a configuration, create options and the sessions
/// a host store returns alike.
func sessionsEncodableTimeInterval(_ interval: TimeInterval) -> TimeInterval {
    interval.isFinite && interval >= 0 && interval <= sessionsLargestEncodableTimeInterval ? interval : 0
}

/// Instants further than this from 1970 (about the year 5138; the library accepts
/// 1970 to 2099) are handed on as this far, on the same side: every platform's Rust
/// `SystemTime` holds them, and the library refuses them as out of range.
let sessionsFarthestHandedOnInterval: TimeInterval = 1e11

/// What a NaN `Date` is handed on as: 1653, out of the library's range on the side
/// where nothing treats it as a time still to come.
let sessionsNaNDate = Date(timeIntervalSince1970: -1e10)

/// `date` if it is no further than `sessionsFarthestHandedOnInterval` from 1970;
/// otherwise that far on the same side (a NaN date: `sessionsNaNDate`).
func sessionsEncodableDate(_ date: Date) -> Date {
    let seconds = date.timeIntervalSince1970
    if seconds.isNaN { return sessionsNaNDate }
    if seconds > sessionsFarthestHandedOnInterval {
        return Date(timeIntervalSince1970: sessionsFarthestHandedOnInterval)
    }
    if seconds < -sessionsFarthestHandedOnInterval {
        return Date(timeIntervalSince1970: -sessionsFarthestHandedOnInterval)
    }
    return date
}
