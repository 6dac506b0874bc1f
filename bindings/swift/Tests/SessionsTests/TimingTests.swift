// Reports (does not test) what one call costs from Swift. The numbers are only
// meaningful from a release build on an idle machine:
//   SESSIONS_TIMING_CALLS=20000 bindings/swift/swift.sh test -c release \
//       --package-path bindings/swift --filter TimingTests
// The normal test run skips it: timings belong to benchmarks, not to pass/fail tests.

import Foundation
import XCTest
import Sessions

final class TimingTests: XCTestCase {
    func testReportCallTimings() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["SESSIONS_TIMING_CALLS"] != nil,
                          "set SESSIONS_TIMING_CALLS to measure call costs")
        let manager = try SessionManager(config: SessionConfig(), clock: TestClock(start2026))
        let systemClockManager = try SessionManager(config: SessionConfig())
        for i in 0..<2_000 { _ = try manager.create(options: CreateSessionOptions(userId: "user\(i % 100)")) }
        let session = try manager.create(options: CreateSessionOptions(userId: "alice", metadata: ["ip": "10.0.0.1"]))
        let other = try systemClockManager.create(options: CreateSessionOptions(userId: "alice"))

        let calls = Int(ProcessInfo.processInfo.environment["SESSIONS_TIMING_CALLS"] ?? "") ?? 1000
        func time(_ name: String, _ body: () throws -> Void) rethrows {
            let n = calls
            for _ in 0..<min(n, 1000) { try body() } // warm up
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<n { try body() }
            let ns = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(n)
            print(String(format: "timing: %@: %.2f us per call", name, ns / 1000))
        }
        try time("validate, valid token, Swift clock") {
            guard try manager.validate(token: session.token).valid else { throw SessionError.InvalidToken }
        }
        try time("validate, valid token, system clock") {
            guard try systemClockManager.validate(token: other.token).valid else { throw SessionError.InvalidToken }
        }
        try time("validate, unknown token") {
            guard try !manager.validate(token: "not-a-token").valid else { throw SessionError.InvalidToken }
        }
        try time("validateFast (the per-request fast path), valid token, system clock") {
            guard try systemClockManager.validateFast(token: other.token).session?.userId == "alice" else {
                throw SessionError.InvalidToken
            }
        }
        try time("validateFast, valid token, Swift clock") {
            guard try manager.validateFast(token: session.token).valid else { throw SessionError.InvalidToken }
        }
        try time("validateFast, unknown token") {
            guard try !systemClockManager.validateFast(token: "not-a-token").valid else { throw SessionError.InvalidToken }
        }
        try time("get, known id (lifts a Session)") { _ = try manager.get(sessionId: session.id) }
        try time("get, unknown id") { _ = try manager.get(sessionId: "no-such-id") }
        time("prefix") { _ = manager.prefix() }
        let stored = try manager.get(sessionId: session.id)!
        let plain = try manager.create(options: CreateSessionOptions(userId: "bob"))
        try time("get, known id, no metadata") { _ = try manager.get(sessionId: plain.id) }
        time("destroySession (free function: lowers and lifts the created Session)") { _ = destroySession(session: session) }
        time("destroySession (free function: lowers and lifts a stored Session)") { _ = destroySession(session: stored) }
        time("validateSession (free function: lowers a Session, lifts a valid result)") {
            _ = validateSession(token: other.token, session: other)
        }
        time("hashToken") { _ = hashToken(token: session.token) }
        try time("count") { _ = try manager.count() }
    }
}
