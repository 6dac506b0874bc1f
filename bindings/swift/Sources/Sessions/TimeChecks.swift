// Handwritten (not generated): the checks every `Date` and `TimeInterval` passes before
// UniFFI's generated converter encodes it for Rust. That converter stops the process
// (`fatalError`, or a trapping integer conversion) on a value it cannot encode: a NaN,
// infinite or negative `TimeInterval`, or a `Date` more than 2^63 seconds from 1970. The
// functions below turn such values into ones the converter encodes and the library
// refuses with a typed error (or, where nothing checks them, treats as already over),
// so no value a host hands in can stop the process.
//
// They are wired in by uniffi.toml (`[bindings.swift.custom_types.*]`, `lower = ...`)
// for the core's `TimeSpan` and `Timestamp` types.

import Foundation

/// The largest `TimeInterval` UniFFI's converter encodes: 2^63 seconds.
let sessionsLargestEncodableTimeInterval = Double(Int64.max)

/// `interval` if UniFFI's converter can encode it and it means what it says; otherwise
/// the value the library gets instead: 0 for NaN and negative intervals (every lifetime
/// and interval check refuses 0, and a session given a zero lifetime is over at once),
/// 2^63 seconds for infinite and larger ones (refused as longer than any cap).
func sessionsEncodableTimeInterval(_ interval: TimeInterval) -> TimeInterval {
    if interval.isNaN || interval < 0 { return 0 }
    return min(interval, sessionsLargestEncodableTimeInterval)
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
