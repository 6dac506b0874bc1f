// Many threads hammering one manager (create / validate / refresh / destroy, shared
// "hot" sessions refreshed by every thread at once, a clock moved concurrently); then
// the invariants: no rotated-out or revoked token validates, no session was lost, each
// hot session has exactly one live token, and nothing crashed.

import Foundation
import XCTest
import Sessions

final class ConcurrencyTests: XCTestCase {
    func testHammerMemoryStore() throws {
        try hammer(seconds: 1.3) { config, clock in try SessionManager(config: config, clock: clock) }
    }

    func testHammerSwiftStore() throws {
        try hammer(seconds: 0.8) { config, clock in
            try SessionManager.withStore(config: config, store: SwiftStore(), clock: clock)
        }
    }

    func testHammerSqliteStore() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("hammer.sqlite").path
        try hammer(seconds: 0.8) { config, clock in try SessionManager.open(path: path, config: config, clock: clock) }
    }

    /// Thread-safe record of what happened, checked after the run.
    private final class Log: @unchecked Sendable {
        let lock = NSLock()
        var failures: [String] = []
        var creates = 0
        var operations = 0
        var revokedTokens: [String] = []      // tokens of sessions this run destroyed
        var rotatedOutTokens: [String] = []   // tokens presented to a successful refresh
        var hot: [String: String] = [:]       // hot session id -> latest token
        var hotWins: [String: Int] = [:]      // successful refreshes per hot session
        var issued: [String: Set<String>] = [:] // every token a hot session has had

        func fail(_ what: String) { lock.withLock { if failures.count < 50 { failures.append(what) } } }
    }

    private func hammer(seconds: Double,
                        makeManager: (SessionConfig, TestClock) throws -> SessionManager) throws {
        let clock = TestClock(start2026)
        // A rotation grace longer than the clock moves in the run (2000 s), so every
        // rotated-out token stays its session's valid predecessor until rotated again.
        let manager = try makeManager(SessionConfig(defaultExpiresIn: 3600, rotationGrace: 3000), clock)
        let log = Log()
        let hotCount = 4
        for i in 0..<hotCount {
            let s = try manager.create(options: CreateSessionOptions(userId: "hot\(i)", slidingExpiration: true))
            log.hot[s.id] = s.token
            log.hotWins[s.id] = 0
            log.issued[s.id] = [s.token]
            log.creates += 1
        }
        let hotIds = Array(log.hot.keys).sorted()
        let clockLimit = try Time.parse(start2026) + 2_000 * Time.nanosPerSecond
        let deadline = Date().addingTimeInterval(seconds)
        let threads = max(8, ProcessInfo.processInfo.activeProcessorCount * 2)

        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            var rng = SystemRandomNumberGenerator()
            var iteration = 0
            var localCreates = 0
            var localOps = 0
            var revoked: [String] = []
            var rotatedOut: [String] = []
            while Date() < deadline {
                iteration += 1
                // Move time a little, concurrently with everything else (sliding kicks
                // in after 1800 s; hot sessions are refreshed long before 3600 s pass).
                if iteration % 16 == 0 && clock.nowNanos < clockLimit {
                    clock.advance(seconds: 1)
                }
                do {
                    // A session of this thread's own: the full life cycle.
                    let user = "user\(worker % 3)"
                    let own = try manager.create(options: CreateSessionOptions(
                        userId: user, slidingExpiration: Bool.random(using: &rng)))
                    localCreates += 1
                    let v = try manager.validate(token: own.token)
                    if !v.valid { log.fail("own session did not validate: \(String(describing: v.error))") }
                    let next = try manager.refresh(token: own.token)
                    rotatedOut.append(own.token)
                    if !(try manager.validate(token: own.token).valid) {
                        log.fail("the immediate predecessor did not validate within the rotation grace")
                    }
                    if !(try manager.validate(token: next.token).valid) { log.fail("refreshed own token invalid") }
                    if try !manager.destroy(sessionId: own.id) { log.fail("destroy of a live session returned false") }
                    revoked.append(next.token)
                    let after = try manager.validate(token: next.token)
                    if after.error != .sessionRevoked { log.fail("destroyed session gave \(String(describing: after.error))") }
                    localOps += 7

                    // A hot session shared by all threads: racing refreshes and slides.
                    let id = hotIds[Int.random(in: 0..<hotIds.count, using: &rng)]
                    let token = log.lock.withLock { log.hot[id]! }
                    if Bool.random(using: &rng) {
                        let r = try manager.validate(token: token)
                        if !r.valid && r.error != .invalidToken {
                            log.fail("hot validate gave \(String(describing: r.error))")
                        }
                    } else {
                        do {
                            let fresh = try manager.refresh(token: token)
                            log.lock.withLock {
                                if log.issued[id, default: []].contains(fresh.token) {
                                    // A refresh within the grace: a token already issued,
                                    // no new rotation.
                                } else if log.hot[id] != token {
                                    log.failures.append("hot token chain broken: a stale token was refreshed")
                                } else {
                                    log.issued[id, default: []].insert(fresh.token)
                                    log.hot[id] = fresh.token
                                    log.hotWins[id, default: 0] += 1
                                    log.rotatedOutTokens.append(token)
                                }
                            }
                        } catch SessionError.InvalidToken {
                            // Lost the race: someone else rotated this token first.
                        }
                    }
                    localOps += 1
                    if iteration % 50 == 0 {
                        _ = try manager.listForUser(userId: user)
                        _ = try manager.count()
                        localOps += 2
                    }
                } catch {
                    log.fail("worker \(worker): unexpected error \(error)")
                }
            }
            log.lock.withLock {
                log.creates += localCreates
                log.operations += localOps
                log.revokedTokens += revoked
                log.rotatedOutTokens += rotatedOut
            }
        }

        XCTAssertEqual(log.failures, [], "failures during the run")
        // No session lost: nothing was purged, so every created session is still stored.
        XCTAssertEqual(try manager.count(), UInt64(log.creates))
        // No rotated-out token validates; no revoked token validates.
        XCTAssertEqual(Set(log.rotatedOutTokens).count, log.rotatedOutTokens.count,
                       "a token was rotated out twice: two refreshes of one token both won")
        for token in log.rotatedOutTokens {
            // Valid only as its session's immediate predecessor (within the grace).
            let r = try manager.validate(token: token)
            if r.valid {
                XCTAssertEqual(r.session?.previousTokenHash, hashToken(token: token))
            } else {
                XCTAssertTrue(r.error == .invalidToken || r.error == .sessionRevoked, "\(String(describing: r.error))")
            }
        }
        for token in log.revokedTokens {
            XCTAssertEqual(try manager.validate(token: token).error, .sessionRevoked)
        }
        // Each hot session: its latest token is live, and destroying it makes it refused.
        for id in hotIds {
            let token = try XCTUnwrap(log.hot[id])
            XCTAssertTrue(try manager.validate(token: token).valid, "latest hot token of \(id)")
            XCTAssertEqual(try manager.get(sessionId: id)?.tokenHash, hashToken(token: token))
            XCTAssertTrue(try manager.destroy(sessionId: id))
            XCTAssertEqual(try manager.validate(token: token).error, .sessionRevoked)
        }
        for i in 0..<3 {
            XCTAssertEqual(try manager.listForUser(userId: "user\(i)"), [], "all own sessions were destroyed")
        }
        let wins = log.hotWins.values.reduce(0, +)
        print("hammer: \(threads) threads, \(log.creates) sessions, \(log.operations) operations, "
              + "\(wins) hot rotations in \(seconds) s")
        XCTAssertGreaterThan(log.creates, threads, "the run did too little to mean anything")
    }
}
