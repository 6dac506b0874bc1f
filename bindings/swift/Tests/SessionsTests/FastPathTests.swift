// The per-request fast path (`validateFast`, Sources/Sessions/FastPath.swift) gives
// exactly what the generated `validate` gives. (The conformance scenarios also run
// through it: ConformanceTests.)

import Foundation
import XCTest
@testable import Sessions

/// A result handed from another thread (read after it has signalled).
private final class ResultBox<T>: @unchecked Sendable { var result: Result<T, Error>? }

final class FastPathTests: XCTestCase {
    private func both(_ m: SessionManager, _ token: String, _ ua: String? = nil) throws
        -> (ValidationResult, ValidationResult) {
        (try m.validateFast(token: token, userAgent: ua), try m.validate(token: token, userAgent: ua))
    }

    func testEveryOutcomeMatchesTheRegularPath() throws {
        let clock = TestClock(start2026)
        let m = try SessionManager(
            config: SessionConfig(bindToUserAgent: true, rotationGrace: 10), clock: clock)
        let s = try m.create(options: CreateSessionOptions(
            userId: "usér", metadata: ["userAgent": "UA/1", "ключ": "значение ✓"], slidingExpiration: true))
        for (token, ua) in [(s.token, "UA/1"), (s.token, "UA/2"), (s.token, nil), ("nope", nil), ("", nil),
                            (String(repeating: "x", count: 1_000_000), nil), (s.token + "x", "UA/1"),
                            (s.token, "")] as [(String, String?)] {
            let (fast, regular) = try both(m, token, ua)
            XCTAssertEqual(fast, regular, "\(token.prefix(8)) \(ua ?? "nil")")
        }
        XCTAssertEqual(try m.validateFast(token: s.token, userAgent: "UA/1").session?.metadata?["ключ"], "значение ✓")
        XCTAssertEqual(try m.validateFast(token: s.token, userAgent: "UA/2").error, .userAgentMismatch)
        let new = try m.refresh(token: s.token, userAgent: "UA/1")
        var (fast, regular) = try both(m, s.token, "UA/1")  // within the grace
        XCTAssertTrue(fast.valid)
        XCTAssertEqual(fast, regular)
        clock.advance(seconds: 2 * 24 * 3600)
        (fast, regular) = try both(m, new.token, "UA/1")
        XCTAssertEqual(fast.error, .sessionExpired)
        XCTAssertEqual(fast, regular)
        let t = try m.create(options: CreateSessionOptions(userId: "bob", metadata: ["userAgent": "UA/1"]))
        _ = try m.destroy(sessionId: t.id)
        (fast, regular) = try both(m, t.token, "UA/1")
        XCTAssertEqual(fast.error, .sessionRevoked)
        XCTAssertEqual(fast, regular)
    }

    /// Times with nanoseconds: each `Date` the fast path builds is the very `Double` the
    /// regular path builds (whole-second fixtures would hide a different rounding).
    func testSubSecondTimesAreBitForBitTheRegularPaths() throws {
        let clock = TestClock(nanos: 1_764_000_000_123_456_789)
        let m = try SessionManager(config: SessionConfig(), clock: clock)
        for i in 0..<200 {
            clock.advance(nanos: 987_654_321 + Int64(i) * 1_234_567)
            let s = try m.create(options: CreateSessionOptions(userId: "u\(i)", slidingExpiration: true))
            clock.advance(nanos: 13_579_135 * Int64(i + 1))
            let (fast, regular) = try both(m, s.token)
            XCTAssertEqual(fast, regular, "session \(i)")
            let a = try XCTUnwrap(fast.session), b = try XCTUnwrap(regular.session)
            for (x, y) in [(a.createdAt, b.createdAt), (a.expiresAt, b.expiresAt),
                           (a.absoluteExpiresAt, b.absoluteExpiresAt)] {
                XCTAssertEqual(x.timeIntervalSinceReferenceDate.bitPattern,
                               y.timeIntervalSinceReferenceDate.bitPattern, "session \(i)")
            }
        }
    }

    func testAReusedTokenIsReportedAsOnTheRegularPath() throws {
        for useFast in [true, false] {
            let clock = TestClock(start2026)
            let m = try SessionManager(config: SessionConfig(rotationGrace: 1), clock: clock)
            let s = try m.create(options: CreateSessionOptions(userId: "alice"))
            _ = try m.refresh(token: s.token)
            clock.advance(seconds: 5)
            let first = useFast ? try m.validateFast(token: s.token) : try m.validate(token: s.token)
            XCTAssertEqual(first.error, .tokenReused)
            let (fast, regular) = try both(m, s.token)
            XCTAssertEqual(fast, regular)
        }
    }

    func testLargeResultsAndSwiftStores() throws {
        let m = try SessionManager.withStore(
            config: SessionConfig(maxMetadataEntries: 4096, maxMetadataBytes: 1_048_576),
            store: SwiftStore(), clock: TestClock(start2026))
        var metadata: [String: String] = [:]
        for n in 0..<2000 { metadata["κ\(n)"] = String(repeating: "v✓", count: 100) }
        let s = try m.create(options: CreateSessionOptions(userId: "alice", metadata: metadata))
        let (fast, regular) = try both(m, s.token)
        XCTAssertEqual(fast, regular)
        XCTAssertEqual(fast.session?.metadata, metadata)
    }

    /// A clock counting its reads: one validation reads it a fixed number of times.
    private final class CountingClock: Clock, @unchecked Sendable {
        private let inner = TestClock(start2026)
        private let lock = NSLock()
        private var count = 0
        var reads: Int { lock.withLock { count } }
        func now() throws -> Date {
            lock.withLock { count += 1 }
            return try inner.now()
        }
    }

    /// Runs `body` on a new thread (whose fast-path buffer is fresh) and waits for it.
    private func onFreshThread<T>(_ body: @escaping () throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.result = Result { try body() }
            done.signal()
        }
        thread.start()
        done.wait()
        return try box.result!.get()
    }

    func testAResultLargerThanTheBufferIsValidatedOnce() throws {
        let clock = CountingClock()
        let m = try SessionManager(
            config: SessionConfig(defaultExpiresIn: 600, maxMetadataBytes: 1_048_576), clock: clock)
        let s = try m.create(options: CreateSessionOptions(
            userId: "big", metadata: ["v": String(repeating: "x", count: 5_000)], slidingExpiration: true))
        let before = clock.reads
        let regular = try m.validate(token: s.token, userAgent: nil)
        let regularReads = clock.reads - before
        let (fast, fastReads) = try onFreshThread { () throws -> (ValidationResult, Int) in
            let start = clock.reads
            let r = try m.validateFast(token: s.token)
            return (r, clock.reads - start)
        }
        XCTAssertGreaterThan(regularReads, 0)
        XCTAssertEqual(fastReads, regularReads, "one validation, not two")
        XCTAssertEqual(fast, regular)
        XCTAssertTrue(fast.valid)
    }

    func testA100KBResultOnFreshThreadsEqualsTheRegularPath() throws {
        let m = try SessionManager(
            config: SessionConfig(maxMetadataBytes: 1_048_576), clock: TestClock(start2026))
        let s = try m.create(options: CreateSessionOptions(
            userId: "huge", metadata: ["v": String(repeating: "y", count: 100_000)]))
        for _ in 0..<3 {
            let fast = try onFreshThread { try m.validateFast(token: s.token) }
            XCTAssertEqual(fast, try m.validate(token: s.token, userAgent: nil))
            XCTAssertEqual(fast.session?.metadata, s.metadata)
        }
    }

    func testClockFailuresThrowTheRegularError() throws {
        final class SwitchClock: Clock, @unchecked Sendable {
            var failing = false
            func now() throws -> Date {
                if failing { throw SwiftStoreFailure(what: "stopped") }
                return Date()
            }
        }
        let clock = SwitchClock()
        let m = try SessionManager(config: SessionConfig(), clock: clock)
        let s = try m.create(options: CreateSessionOptions(userId: "alice"))
        clock.failing = true
        var fastError: Error?, slowError: Error?
        XCTAssertThrowsError(try m.validateFast(token: s.token)) { fastError = $0 }
        XCTAssertThrowsError(try m.validate(token: s.token)) { slowError = $0 }
        XCTAssertNotNil(fastError as? SessionError)
        XCTAssertEqual("\(String(describing: fastError))", "\(String(describing: slowError))")
        XCTAssertNoThrow(try takeFastPathError())  // nothing left over
        clock.failing = false
        XCTAssertTrue(try m.validateFast(token: s.token).valid)
    }

    func testHandlesAreNeverReusedAndADroppedManagerIsAnError() throws {
        var m: SessionManager? = try SessionManager(config: SessionConfig())
        let s = try m!.create(options: CreateSessionOptions(userId: "alice"))
        XCTAssertTrue(try m!.validateFast(token: s.token).valid)
        let handle = m!.fastPathHandle()
        XCTAssertEqual(m!.fastPathHandle(), handle)
        m = nil
        var out = [UInt8](repeating: 0, count: 256)
        let token = Array(s.token.utf8)
        XCTAssertEqual(sessions_fast_validate_for_tests(handle, token, &out), -1)
        XCTAssertEqual(sessions_fast_validate_for_tests(0, token, &out), -1)
        let other = try SessionManager(config: SessionConfig())
        XCTAssertNotEqual(other.fastPathHandle(), handle)
        XCTAssertFalse(try other.validateFast(token: s.token).valid)
    }

    func testThreadsShareAManager() throws {
        let m = try SessionManager(config: SessionConfig())
        let made = try (0..<8).map { n in
            try m.create(options: CreateSessionOptions(
                userId: "u\(n)", metadata: ["n": String(repeating: "\(n)", count: n * 50)]))
        }
        let failures = NSLock()
        var failed = 0
        DispatchQueue.concurrentPerform(iterations: 8) { n in
            for _ in 0..<300 {
                let r = try? m.validateFast(token: made[n].token)
                let miss = try? m.validateFast(token: made[n].token + "x")
                if r?.session?.userId != "u\(n)" || r?.session?.metadata?["n"]?.count != n * 50 || miss?.valid != false {
                    failures.withLock { failed += 1 }
                }
            }
        }
        XCTAssertEqual(failed, 0)
    }
}

private func sessions_fast_validate_for_tests(_ handle: UInt64, _ token: [UInt8], _ out: inout [UInt8]) -> Int32 {
    token.withUnsafeBufferPointer { t in
        out.withUnsafeMutableBufferPointer { o in
            FastPath.callRaw(handle, t, o)
        }
    }
}
