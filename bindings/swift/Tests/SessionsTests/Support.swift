// Test helpers: a clock and stores implemented in Swift, and time utilities.

import Foundation
import XCTest
import Sessions

/// A clock that only moves when a test moves it (never sleeps).
///
/// The time is kept as whole nanoseconds since the Unix epoch, so that e.g.
/// 59.999 s + 0.001 s is exactly one minute. `Date` is a `Double` (about 0.1 to 0.2 us
/// of resolution in this century), so the `Date` handed to Rust is always built the
/// same way from whole seconds plus the sub-second part: two instants whose
/// difference is a whole number of seconds then reach Rust with the same sub-second
/// part, and boundaries such as "expired at `expires_at` exactly" hold exactly.
final class TestClock: Clock, @unchecked Sendable {
    private let lock = NSLock()
    private var nanos: Int64

    init(nanos: Int64) { self.nanos = nanos }

    convenience init(_ rfc3339: String) {
        self.init(nanos: try! Time.parse(rfc3339))
    }

    func now() throws -> Date {
        Time.date(nanos: lock.withLock { nanos })
    }

    var nowNanos: Int64 { lock.withLock { nanos } }

    func advance(seconds: Double) {
        advance(nanos: Int64((seconds * 1e9).rounded()))
    }

    func advance(nanos delta: Int64) {
        lock.withLock { nanos += delta }
    }

    func set(nanos value: Int64) {
        lock.withLock { nanos = value }
    }
}

/// A clock that always fails with a Swift error.
final class FailingClock: Clock, @unchecked Sendable {
    let error: Error
    init(_ error: Error) { self.error = error }
    func now() throws -> Date { throw error }
}

struct SwiftStoreFailure: Error, CustomStringConvertible {
    let what: String
    var description: String { "SwiftStoreFailure: \(what)" }
}

/// A `SessionStore` written in Swift: one lock, a dictionary by id and an index by
/// token hash. Every method is atomic under the lock, as the store contract requires:
/// compare-and-swap checks the version, changes the store makes itself bump it,
/// revocation is final, and a batch insert is all or nothing.
final class SwiftStore: SessionStore, @unchecked Sendable {
    private let lock = NSLock()
    private var byId: [String: Session] = [:]
    private var idByHash: [String: String] = [:]
    private var idByPrevious: [String: String] = [:]

    /// When set, every method throws this error instead of doing its job.
    private var failure: Error?
    /// How many times each method was called.
    private var calls: [String: Int] = [:]

    func failWith(_ error: Error?) { lock.withLock { failure = error } }

    func callCount(_ method: String) -> Int { lock.withLock { calls[method, default: 0] } }

    /// Every stored session (for invariant checks).
    func all() -> [Session] { lock.withLock { Array(byId.values) } }

    private func enter(_ method: String) throws {
        calls[method, default: 0] += 1
        if let failure { throw failure }
    }

    func insert(session: Session) throws {
        try lock.withLock {
            try enter("insert")
            try add([session])
        }
    }

    func insertAll(sessions: [Session]) throws {
        try lock.withLock {
            try enter("insertAll")
            try add(sessions)
        }
    }

    /// Adds all of `sessions` or, on any duplicate, none (call with the lock held).
    private func add(_ sessions: [Session]) throws {
        let ids = Set(sessions.map(\.id))
        let hashes = Set(sessions.map(\.tokenHash))
        if ids.count != sessions.count || hashes.count != sessions.count
            || ids.contains(where: { byId[$0] != nil })
            || hashes.contains(where: { idByHash[$0] != nil }) {
            throw SessionError.Store(reason: "duplicate session id or token hash")
        }
        for session in sessions {
            byId[session.id] = session
            idByHash[session.tokenHash] = session.id
            if let previous = session.previousTokenHash { idByPrevious[previous] = session.id }
        }
    }

    func get(sessionId: String) throws -> Session? {
        try lock.withLock {
            try enter("get")
            return byId[sessionId]
        }
    }

    func findByTokenHash(tokenHash: String) throws -> Session? {
        try lock.withLock {
            try enter("findByTokenHash")
            return (idByHash[tokenHash] ?? idByPrevious[tokenHash]).flatMap { byId[$0] }
        }
    }

    func compareAndSwap(expectedTokenHash: String, expectedVersion: Int64, session: Session) throws -> Bool {
        try lock.withLock {
            try enter("compareAndSwap")
            guard let current = byId[session.id],
                  current.tokenHash == expectedTokenHash,
                  current.version == expectedVersion,
                  current.revokedAt == nil
            else { return false }
            if session.tokenHash != current.tokenHash {
                if let other = idByHash[session.tokenHash], other != session.id {
                    throw SessionError.Store(reason: "token hash already in use")
                }
                idByHash[current.tokenHash] = nil
                idByHash[session.tokenHash] = session.id
            }
            if let previous = current.previousTokenHash { idByPrevious[previous] = nil }
            if let previous = session.previousTokenHash { idByPrevious[previous] = session.id }
            byId[session.id] = session
            return true
        }
    }

    func listForUser(userId: String) throws -> [Session] {
        try lock.withLock {
            try enter("listForUser")
            return byId.values.filter { $0.userId == userId }.sorted { $0.createdAt < $1.createdAt }
        }
    }

    func revokeAllForUser(userId: String, at: Date) throws -> [String] {
        try lock.withLock {
            try enter("revokeAllForUser")
            var revoked: [String] = []
            for (id, session) in byId where session.userId == userId && session.revokedAt == nil {
                var changed = session
                changed.revokedAt = at
                changed.version += 1
                byId[id] = changed
                revoked.append(id)
            }
            return revoked
        }
    }

    func insertLimited(session: Session, maxActive: UInt32, now: Date, revokeOldest: Bool) throws -> [String] {
        try lock.withLock {
            try enter("insertLimited")
            let active = byId.values
                .filter { $0.userId == session.userId && $0.revokedAt == nil && $0.expiresAt > now }
                .sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
            let excess = max(0, active.count + 1 - Int(maxActive))
            if excess > 0 && !revokeOldest { throw SessionError.SessionLimitReached(limit: maxActive) }
            try add([session])
            for var old in active.prefix(excess) {
                old.revokedAt = now
                old.version += 1
                byId[old.id] = old
            }
            return active.prefix(excess).map(\.id)
        }
    }

    func purgeExpired(now: Date) throws -> UInt64 {
        try lock.withLock {
            try enter("purgeExpired")
            let expired = byId.values.filter { $0.expiresAt <= now }
            for session in expired {
                byId[session.id] = nil
                idByHash[session.tokenHash] = nil
                if let previous = session.previousTokenHash { idByPrevious[previous] = nil }
            }
            return UInt64(expired.count)
        }
    }

    func count() throws -> UInt64 {
        try lock.withLock {
            try enter("count")
            return UInt64(byId.count)
        }
    }

    func allSessions() throws -> SessionScan {
        try lock.withLock {
            try enter("allSessions")
            let sorted = byId.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
            return SessionScan(sessions: sorted, damaged: [])
        }
    }
}

/// A fresh directory for SQLite files, removed by `tearDown` of the caller.
func makeTemporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("sessions-swift-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// Exact time arithmetic in whole nanoseconds since the Unix epoch.
enum Time {
    static let nanosPerSecond: Int64 = 1_000_000_000

    struct ParseError: Error, CustomStringConvertible {
        let text: String
        var description: String { "\(String(reflecting: text)) is not an RFC 3339 time" }
    }

    /// The `Date` for an instant: whole seconds first, then the sub-second part (the
    /// same construction as the generated bindings use when lifting a timestamp).
    static func date(nanos: Int64) -> Date {
        let (seconds, fraction) = floorDivMod(nanos, nanosPerSecond)
        return Date(timeIntervalSince1970: Double(seconds))
            .addingTimeInterval(Double(fraction) / 1e9)
    }

    /// Milliseconds since the epoch, rounded to the nearest (a `Date` lifted from Rust
    /// can be a few hundred nanoseconds off its exact value).
    static func millis(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    static func millis(nanos: Int64) -> Int64 {
        // Round half up, as the expectation strings carry at most milliseconds anyway.
        floorDivMod(nanos + 500_000, 1_000_000).0
    }

    static func show(millis: Int64) -> String {
        let (seconds, ms) = floorDivMod(millis, 1000)
        let (days, secOfDay) = floorDivMod(seconds, 86_400)
        let (y, m, d) = civil(fromDays: days)
        return String(format: "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                      y, m, d, secOfDay / 3600, secOfDay % 3600 / 60, secOfDay % 60, ms)
    }

    static func show(_ date: Date) -> String { show(millis: millis(date)) }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` exactly.
    static func parse(_ text: String) throws -> Int64 {
        let chars = Array(text.utf8)
        var i = 0
        func number(_ digits: Int) throws -> Int64 {
            guard i + digits <= chars.count else { throw ParseError(text: text) }
            var value: Int64 = 0
            for _ in 0..<digits {
                let c = chars[i]
                guard c >= 48 && c <= 57 else { throw ParseError(text: text) }
                value = value * 10 + Int64(c - 48)
                i += 1
            }
            return value
        }
        func expect(_ allowed: String) throws {
            guard i < chars.count, allowed.utf8.contains(chars[i]) else { throw ParseError(text: text) }
            i += 1
        }
        let year = try number(4); try expect("-")
        let month = try number(2); try expect("-")
        let day = try number(2); try expect("Tt ")
        let hour = try number(2); try expect(":")
        let minute = try number(2); try expect(":")
        let second = try number(2)
        var fraction: Int64 = 0
        if i < chars.count && chars[i] == UInt8(ascii: ".") {
            i += 1
            var scale: Int64 = 100_000_000
            var any = false
            while i < chars.count, chars[i] >= 48 && chars[i] <= 57 {
                fraction += Int64(chars[i] - 48) * scale
                scale /= 10
                i += 1
                any = true
            }
            guard any else { throw ParseError(text: text) }
        }
        var offsetSeconds: Int64 = 0
        guard i < chars.count else { throw ParseError(text: text) }
        if chars[i] == UInt8(ascii: "Z") || chars[i] == UInt8(ascii: "z") {
            i += 1
        } else {
            let sign: Int64 = chars[i] == UInt8(ascii: "-") ? -1 : 1
            try expect("+-")
            let oh = try number(2); try expect(":")
            let om = try number(2)
            offsetSeconds = sign * (oh * 3600 + om * 60)
        }
        guard i == chars.count, (1...12).contains(month), (1...31).contains(day),
              hour < 24, minute < 60, second < 61
        else { throw ParseError(text: text) }
        let days = daysFromCivil(year, month, day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return seconds * nanosPerSecond + fraction
    }

    static func floorDivMod(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        var q = a / b
        var r = a % b
        if r < 0 { q -= 1; r += b }
        return (q, r)
    }

    // Howard Hinnant's days_from_civil / civil_from_days.
    static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (m <= 2 ? y + 1 : y, m, d)
    }
}

/// The scenario name of a `SessionError` case.
func errorName(_ error: Error) -> String {
    guard let error = error as? SessionError else { return "non-SessionError \(type(of: error)): \(error)" }
    switch error {
    case .InvalidUserId: return "InvalidUserId"
    case .InvalidLifetime: return "InvalidLifetime"
    case .MetadataTooLarge: return "MetadataTooLarge"
    case .InvalidConfig: return "InvalidConfig"
    case .InvalidTokenLength: return "InvalidTokenLength"
    case .InvalidToken: return "InvalidToken"
    case .SessionExpired: return "SessionExpired"
    case .SessionRevoked: return "SessionRevoked"
    case .UserAgentMismatch: return "UserAgentMismatch"
    case .SessionNotFound: return "SessionNotFound"
    case .Random: return "Random"
    case .Store: return "Store"
    case .Clock: return "Clock"
    case .Import: return "Import"
    case .UserAgentRequired: return "UserAgentRequired"
    case .TokenReused: return "TokenReused"
    case .SessionLimitReached: return "SessionLimitReached"
    }
}

func validationErrorName(_ error: ValidationError) -> String {
    switch error {
    case .invalidToken: return "InvalidToken"
    case .sessionExpired: return "SessionExpired"
    case .sessionRevoked: return "SessionRevoked"
    case .userAgentMismatch: return "UserAgentMismatch"
    case .tokenReused: return "TokenReused"
    }
}

/// Asserts that `body` throws the `SessionError` case named `name`; returns the error.
@discardableResult
func assertThrows<T>(_ name: String, _ body: @autoclosure () throws -> T,
                     file: StaticString = #filePath, line: UInt = #line) -> SessionError? {
    do {
        let value = try body()
        XCTFail("expected SessionError.\(name), got \(value)", file: file, line: line)
        return nil
    } catch {
        XCTAssertEqual(errorName(error), name, "\(error)", file: file, line: line)
        return error as? SessionError
    }
}

let start2026 = "2026-01-01T00:00:00Z"

/// Asserts two sessions are equal, with times compared to the microsecond: a `Date`
/// that crossed the FFI and came back can differ in the last bits of its `Double`.
func assertSameSession(_ a: Session?, _ b: Session?, file: StaticString = #filePath, line: UInt = #line) {
    guard let a, let b else {
        XCTAssertTrue(a == nil && b == nil, "one session is nil: \(String(describing: a)) vs \(String(describing: b))",
                      file: file, line: line)
        return
    }
    func normalized(_ s: Session) -> Session {
        var s = s
        let epoch = Date(timeIntervalSince1970: 0)
        s.createdAt = epoch
        s.expiresAt = epoch
        s.absoluteExpiresAt = epoch
        s.revokedAt = s.revokedAt.map { _ in epoch }
        return s
    }
    XCTAssertEqual(normalized(a), normalized(b), file: file, line: line)
    assertSameTime(a.createdAt, b.createdAt, "createdAt", file: file, line: line)
    assertSameTime(a.expiresAt, b.expiresAt, "expiresAt", file: file, line: line)
    assertSameTime(a.absoluteExpiresAt, b.absoluteExpiresAt, "absoluteExpiresAt", file: file, line: line)
    if let ra = a.revokedAt, let rb = b.revokedAt {
        assertSameTime(ra, rb, "revokedAt", file: file, line: line)
    }
}

func assertSameTime(_ a: Date, _ b: Date, _ what: String = "time",
                    file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.timeIntervalSince1970, b.timeIntervalSince1970, accuracy: 1e-6, what, file: file, line: line)
}
