// SessionManager from Swift: every method, the seed's bugs fixed (REFERENCE.md
// section 2), sliding and absolute expiry with a Swift clock, user-agent binding.
//
// Every test runs on the in-memory store (ManagerTests), again on a store implemented
// in Swift (SwiftStoreManagerTests) and on the SQLite store (SqliteManagerTests); both
// subclasses are at the end of this file: add each new test to them too.

import Foundation
import XCTest
import Sessions

class ManagerTests: XCTestCase {
    /// A manager over the store this test class exercises.
    func makeManager(_ config: SessionConfig = SessionConfig(), clock: TestClock) throws -> SessionManager {
        try SessionManager(config: config, clock: clock)
    }

    private func fixture(_ config: SessionConfig = SessionConfig()) throws -> (SessionManager, TestClock) {
        let clock = TestClock(start2026)
        return (try makeManager(config, clock: clock), clock)
    }

    private func options(_ user: String = "alice", expiresIn: TimeInterval? = nil,
                         metadata: [String: String]? = nil, sliding: Bool = false) -> CreateSessionOptions {
        CreateSessionOptions(userId: user, expiresIn: expiresIn, metadata: metadata, slidingExpiration: sliding)
    }

    // MARK: construction

    func testConfigurationIsCheckedAndPrefixKept() throws {
        let clock = TestClock(start2026)
        XCTAssertEqual(try makeManager(clock: clock).prefix(), "session:")
        XCTAssertEqual(try makeManager(SessionConfig(prefix: "app:"), clock: clock).prefix(), "app:")
        XCTAssertEqual(try SessionManager(config: SessionConfig()).prefix(), "session:") // system clock
        assertThrows("InvalidLifetime", try makeManager(SessionConfig(maxLifetime: 0), clock: clock))
        assertThrows("InvalidLifetime", try makeManager(SessionConfig(defaultExpiresIn: 0), clock: clock))
        assertThrows("InvalidLifetime", try makeManager(
            SessionConfig(defaultExpiresIn: 7200, maxLifetime: 3600), clock: clock))
        XCTAssertNoThrow(try makeManager(SessionConfig(defaultExpiresIn: 3600, maxLifetime: 3600), clock: clock))
    }

    func testSystemClockManagerWorks() throws {
        let manager = try SessionManager(config: SessionConfig())
        let before = Date()
        let session = try manager.create(options: options())
        XCTAssertEqual(session.createdAt.timeIntervalSince(before), 0, accuracy: 5)
        XCTAssertTrue(try manager.validate(token: session.token).valid)
    }

    // MARK: create / get / count

    func testCreateStoresTheSessionWithoutItsToken() throws {
        let (manager, _) = try fixture()
        let session = try manager.create(options: options(metadata: ["k": "v"]))
        XCTAssertEqual(session.createdAt, try TestClock(start2026).now())
        XCTAssertEqual(Time.show(session.expiresAt), "2026-01-02T00:00:00.000Z")
        XCTAssertEqual(Time.show(session.absoluteExpiresAt), "2026-01-31T00:00:00.000Z")
        XCTAssertFalse(session.token.isEmpty)
        XCTAssertEqual(session.tokenHash, hashToken(token: session.token))

        // Bug 8: what is stored holds no raw token.
        let stored = try XCTUnwrap(try manager.get(sessionId: session.id))
        XCTAssertEqual(stored.token, "")
        var expected = session
        expected.token = ""
        assertSameSession(stored, expected)
        XCTAssertNil(try manager.get(sessionId: "no-such-id"))
        XCTAssertNil(try manager.get(sessionId: ""))
        XCTAssertEqual(try manager.count(), 1)
    }

    func testCreateUsesConfiguredDefaultsAndLimits() throws {
        let config = SessionConfig(defaultExpiresIn: 600, maxLifetime: 3600,
                                   maxMetadataEntries: 2, maxMetadataBytes: 10)
        let (manager, _) = try fixture(config)
        let session = try manager.create(options: options())
        XCTAssertEqual(session.expiresAt.timeIntervalSince(session.createdAt), 600)
        XCTAssertEqual(session.absoluteExpiresAt.timeIntervalSince(session.createdAt), 3600)
        assertThrows("InvalidLifetime", try manager.create(options: options(expiresIn: 3601)))
        assertThrows("InvalidLifetime", try manager.create(options: options(expiresIn: 0)))
        XCTAssertNoThrow(try manager.create(options: options(expiresIn: 3600)))
        assertThrows("MetadataTooLarge", try manager.create(options: options(metadata: ["a": "1", "b": "2", "c": "3"])))
        assertThrows("MetadataTooLarge", try manager.create(options: options(metadata: ["k": "0123456789"])))
        XCTAssertNoThrow(try manager.create(options: options(metadata: ["k": "012345678"])))
        assertThrows("InvalidUserId", try manager.create(options: options("")))
        XCTAssertEqual(try manager.count(), 3)
    }

    // MARK: validate

    func testValidateReportsEachError() throws {
        let (manager, clock) = try fixture()
        let session = try manager.create(options: options(expiresIn: 60))
        let valid = try manager.validate(token: session.token)
        XCTAssertTrue(valid.valid)
        XCTAssertNil(valid.error)
        XCTAssertEqual(valid.session?.id, session.id)
        XCTAssertEqual(valid.session?.token, "")

        let wrong = try manager.validate(token: try generateSecureToken())
        XCTAssertEqual(wrong.error, .invalidToken)
        XCTAssertFalse(wrong.valid)
        XCTAssertNil(wrong.session)

        // Bug 6: expired at expires_at exactly, valid a millisecond before.
        clock.advance(seconds: 59.999)
        XCTAssertTrue(try manager.validate(token: session.token).valid)
        clock.advance(seconds: 0.001)
        XCTAssertEqual(try manager.validate(token: session.token).error, .sessionExpired)
        assertThrows("SessionExpired", try manager.refresh(token: session.token))

        let other = try manager.create(options: options())
        XCTAssertTrue(try manager.destroy(sessionId: other.id))
        XCTAssertEqual(try manager.validate(token: other.token).error, .sessionRevoked)
        assertThrows("SessionRevoked", try manager.refresh(token: other.token))
    }

    func testBadTokensAreInvalidTokenNeverAnError() throws {
        let config = SessionConfig(bindToUserAgent: true)
        let (manager, _) = try fixture(config)
        let session = try manager.create(options: options(metadata: ["userAgent": "UA/1"]))
        let bad = [
            "", String(repeating: "a", count: 1_000_000), String(repeating: session.token, count: 50),
            "\0", session.token + "\0", "\0" + session.token, "ünïcødé ✓ 日本語 🎉",
            String(repeating: "é", count: 1_000_000), session.tokenHash, session.id,
            String(session.token.dropLast()), session.token.uppercased(), " " + session.token,
        ]
        for token in bad {
            for agent in [nil, "UA/1", "UA/2"] {
                let result = try manager.validate(token: token, userAgent: agent)
                XCTAssertFalse(result.valid, "token of \(token.utf8.count) bytes")
                XCTAssertEqual(result.error, .invalidToken, "token of \(token.utf8.count) bytes")
                assertThrows("InvalidToken", try manager.refresh(token: token, userAgent: agent))
            }
        }
        XCTAssertTrue(try manager.validate(token: session.token, userAgent: "UA/1").valid)
    }

    // MARK: refresh (bugs 1 and 4)

    func testRefreshRotatesAndTheOldTokenIsRefusedAtOnce() throws {
        let (manager, clock) = try fixture(SessionConfig(defaultExpiresIn: 3600))
        let first = try manager.create(options: options(metadata: ["k": "v"]))
        clock.advance(seconds: 600)
        let second = try manager.refresh(token: first.token)
        XCTAssertEqual(second.id, first.id)
        XCTAssertNotEqual(second.token, first.token)
        XCTAssertNotEqual(second.tokenHash, first.tokenHash)
        XCTAssertEqual(second.tokenHash, hashToken(token: second.token))
        XCTAssertEqual(Time.show(second.expiresAt), "2026-01-01T01:10:00.000Z")
        XCTAssertEqual(second.createdAt, first.createdAt)
        XCTAssertEqual(second.absoluteExpiresAt, first.absoluteExpiresAt)
        XCTAssertEqual(second.metadata, ["k": "v"])

        // Within the rotation grace: the old token validates and refreshes to the same token.
        XCTAssertTrue(try manager.validate(token: first.token).valid)
        XCTAssertEqual(try manager.refresh(token: first.token).token, second.token)
        XCTAssertTrue(try manager.validate(token: second.token).valid)
        clock.advance(seconds: 10)
        let third = try manager.refresh(token: second.token)
        XCTAssertEqual(try manager.validate(token: first.token).error, .invalidToken)
        assertThrows("InvalidToken", try manager.refresh(token: first.token))
        XCTAssertTrue(try manager.validate(token: second.token).valid)
        XCTAssertTrue(try manager.validate(token: third.token).valid)
        XCTAssertEqual(try manager.get(sessionId: first.id)?.tokenHash, third.tokenHash)
        XCTAssertEqual(try manager.count(), 1)
    }

    func testConcurrentRefreshesOfOneTokenExactlyOneWins() throws {
        let (manager, _) = try fixture()
        for _ in 0..<20 {
            let session = try manager.create(options: options())
            let lock = NSLock()
            var winners: [Session] = []
            var losers: [String] = []
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                do {
                    let next = try manager.refresh(token: session.token)
                    lock.withLock { winners.append(next) }
                } catch {
                    lock.withLock { losers.append(errorName(error)) }
                }
            }
            // One rotation is written; within the grace every refresh gets its token.
            XCTAssertEqual(losers, [])
            XCTAssertEqual(Set(winners.map(\.token)).count, 1, "concurrent refreshes must converge on one token")
            if let winner = winners.first {
                XCTAssertTrue(try manager.validate(token: winner.token).valid)
            }
            XCTAssertEqual(try manager.get(sessionId: session.id)?.version, 2)
        }
    }

    func testRefreshIsCappedAtTheAbsoluteEnd() throws {
        let (manager, clock) = try fixture(SessionConfig(defaultExpiresIn: 3600, maxLifetime: 7200))
        var session = try manager.create(options: options())
        for _ in 0..<5 {
            clock.advance(seconds: 3000)
            if Time.millis(nanos: clock.nowNanos) >= Time.millis(session.absoluteExpiresAt) { break }
            session = try manager.refresh(token: session.token)
            XCTAssertLessThanOrEqual(session.expiresAt, session.absoluteExpiresAt)
        }
        XCTAssertEqual(Time.show(session.expiresAt), "2026-01-01T02:00:00.000Z")
        XCTAssertEqual(try manager.validate(token: session.token).error, .sessionExpired)
        assertThrows("SessionExpired", try manager.refresh(token: session.token))
    }

    // MARK: sliding expiry (bug 3)

    func testSlidingKeepsAnActiveSessionAliveAndWritesAtMostOncePerHalfWindow() throws {
        let (manager, clock) = try fixture()
        let session = try manager.create(options: options(expiresIn: 3600, sliding: true))
        let fixed = try manager.create(options: options(expiresIn: 3600))
        XCTAssertEqual(session.slidingExpiration, true)

        // Not yet half the window gone: no slide.
        clock.advance(seconds: 1800)
        XCTAssertEqual(Time.show(try XCTUnwrap(manager.validate(token: session.token).session).expiresAt),
                       "2026-01-01T01:00:00.000Z")
        // Less than half remains: slides to now + lifetime.
        clock.advance(seconds: 0.001)
        let slid = try XCTUnwrap(manager.validate(token: session.token).session)
        XCTAssertEqual(Time.show(slid.expiresAt), "2026-01-01T01:30:00.001Z")
        XCTAssertEqual(Time.show(try XCTUnwrap(manager.get(sessionId: session.id)).expiresAt),
                       "2026-01-01T01:30:00.001Z")
        // Kept alive well past its first expiry by activity.
        for _ in 0..<10 {
            clock.advance(seconds: 1000)
            XCTAssertTrue(try manager.validate(token: session.token).valid)
        }
        // A non-sliding session is not extended by validation.
        XCTAssertEqual(try manager.validate(token: fixed.token).error, .sessionExpired)
        XCTAssertEqual(Time.show(try XCTUnwrap(manager.get(sessionId: fixed.id)).expiresAt),
                       "2026-01-01T01:00:00.000Z")
        // Idle for a whole window: expired.
        clock.advance(seconds: 3600)
        XCTAssertEqual(try manager.validate(token: session.token).error, .sessionExpired)
    }

    func testSlidingIsCappedAtTheAbsoluteEnd() throws {
        let (manager, clock) = try fixture(SessionConfig(defaultExpiresIn: 3600, maxLifetime: 7200))
        let session = try manager.create(options: options(sliding: true))
        XCTAssertEqual(Time.show(session.absoluteExpiresAt), "2026-01-01T02:00:00.000Z")
        for _ in 0..<7 {
            clock.advance(seconds: 1000)
            let result = try manager.validate(token: session.token)
            XCTAssertTrue(result.valid)
            XCTAssertLessThanOrEqual(try XCTUnwrap(result.session).expiresAt, session.absoluteExpiresAt)
        }
        clock.set(nanos: try Time.parse("2026-01-01T01:59:59.999Z"))
        XCTAssertTrue(try manager.validate(token: session.token).valid)
        clock.advance(seconds: 0.001)
        XCTAssertEqual(try manager.validate(token: session.token).error, .sessionExpired)
    }

    // MARK: user-agent binding (bug 5)

    func testUserAgentBinding() throws {
        let (manager, clock) = try fixture(SessionConfig(bindToUserAgent: true))
        let session = try manager.create(options: options(metadata: ["userAgent": "UA/1"]))
        XCTAssertEqual(session.boundUserAgent, "UA/1")
        XCTAssertTrue(try manager.validate(token: session.token, userAgent: "UA/1").valid)
        XCTAssertEqual(try manager.validate(token: session.token, userAgent: "UA/2").error, .userAgentMismatch)
        XCTAssertEqual(try manager.validate(token: session.token).error, .userAgentMismatch)
        // Refresh checks the user agent too.
        assertThrows("UserAgentMismatch", try manager.refresh(token: session.token, userAgent: "UA/2"))
        assertThrows("UserAgentMismatch", try manager.refresh(token: session.token))
        let next = try manager.refresh(token: session.token, userAgent: "UA/1")
        XCTAssertEqual(next.boundUserAgent, "UA/1")

        // A binding manager never issues an unbound session (field report: binding
        // failed open): without a userAgent in the metadata, create fails.
        let before = try manager.count()
        assertThrows("UserAgentRequired", try manager.create(options: options()))
        XCTAssertEqual(try manager.count(), before)

        // Revoked and expired are reported before the user agent.
        XCTAssertTrue(try manager.destroy(sessionId: session.id))
        XCTAssertEqual(try manager.validate(token: next.token, userAgent: "UA/2").error, .sessionRevoked)
        let expiring = try manager.create(options: options(expiresIn: 10, metadata: ["userAgent": "UA/1"]))
        clock.advance(seconds: 10)
        XCTAssertEqual(try manager.validate(token: expiring.token, userAgent: "UA/2").error, .sessionExpired)
        assertThrows("SessionExpired", try manager.refresh(token: expiring.token, userAgent: "UA/2"))
    }

    func testNoBindingWithoutTheConfigFlag() throws {
        let (manager, _) = try fixture()
        let session = try manager.create(options: options(metadata: ["userAgent": "UA/1"]))
        XCTAssertNil(session.boundUserAgent)
        XCTAssertTrue(try manager.validate(token: session.token, userAgent: "UA/2").valid)
    }

    // MARK: destroy, listForUser, destroyAllForUser (bug 2)

    func testDestroy() throws {
        let (manager, _) = try fixture()
        let session = try manager.create(options: options())
        XCTAssertTrue(try manager.destroy(sessionId: session.id))
        XCTAssertFalse(try manager.destroy(sessionId: session.id))
        XCTAssertNotNil(try manager.get(sessionId: session.id)?.revokedAt)
        XCTAssertEqual(try manager.validate(token: session.token).error, .sessionRevoked)
        let error = assertThrows("SessionNotFound", try manager.destroy(sessionId: "missing"))
        XCTAssertEqual(error, .SessionNotFound(sessionId: "missing"))
        XCTAssertEqual(try manager.count(), 1)
    }

    func testListAndDestroyAllForUser() throws {
        let (manager, clock) = try fixture()
        let a1 = try manager.create(options: options("alice"))
        clock.advance(seconds: 1)
        let a2 = try manager.create(options: options("alice", expiresIn: 60))
        clock.advance(seconds: 1)
        let a3 = try manager.create(options: options("alice"))
        let b1 = try manager.create(options: options("bob"))

        XCTAssertEqual(try manager.listForUser(userId: "alice").map(\.id), [a1.id, a2.id, a3.id])
        XCTAssertTrue(try manager.listForUser(userId: "alice").allSatisfy { $0.token.isEmpty })
        XCTAssertEqual(try manager.listForUser(userId: "bob").map(\.id), [b1.id])
        XCTAssertEqual(try manager.listForUser(userId: "carol"), [])

        // Revoked and expired sessions are not listed.
        XCTAssertTrue(try manager.destroy(sessionId: a3.id))
        clock.advance(seconds: 60)
        XCTAssertEqual(try manager.listForUser(userId: "alice").map(\.id), [a1.id])

        // Sign out everywhere: counts only sessions not yet revoked (a2 is expired, not revoked).
        XCTAssertEqual(try manager.destroyAllForUser(userId: "alice"), 2)
        XCTAssertEqual(try manager.destroyAllForUser(userId: "alice"), 0)
        XCTAssertEqual(try manager.listForUser(userId: "alice"), [])
        XCTAssertEqual(try manager.validate(token: a1.token).error, .sessionRevoked)
        XCTAssertTrue(try manager.validate(token: b1.token).valid)
        XCTAssertEqual(try manager.destroyAllForUser(userId: "nobody"), 0)

        assertThrows("InvalidUserId", try manager.listForUser(userId: ""))
        assertThrows("InvalidUserId", try manager.destroyAllForUser(userId: ""))
        assertThrows("InvalidUserId", try manager.listForUser(userId: String(repeating: "u", count: 257)))
    }

    // MARK: purge

    func testPurgeRemovesExpiredSessionsOnly() throws {
        let (manager, clock) = try fixture()
        let short = try manager.create(options: options(expiresIn: 60))
        let revokedShort = try manager.create(options: options(expiresIn: 60))
        let long = try manager.create(options: options(expiresIn: 3600))
        let revokedLong = try manager.create(options: options(expiresIn: 3600))
        XCTAssertTrue(try manager.destroy(sessionId: revokedShort.id))
        XCTAssertTrue(try manager.destroy(sessionId: revokedLong.id))

        clock.advance(seconds: 59.999)
        XCTAssertEqual(try manager.purgeExpired(), 0)
        clock.advance(seconds: 0.001)
        XCTAssertEqual(try manager.purgeExpired(), 2) // expired at expires_at exactly, revoked or not
        XCTAssertEqual(try manager.purgeExpired(), 0)
        XCTAssertEqual(try manager.count(), 2)
        XCTAssertNil(try manager.get(sessionId: short.id))
        XCTAssertNil(try manager.get(sessionId: revokedShort.id))
        XCTAssertEqual(try manager.validate(token: short.token).error, .invalidToken)
        XCTAssertNotNil(try manager.get(sessionId: long.id))
        XCTAssertNotNil(try manager.get(sessionId: revokedLong.id))
        XCTAssertEqual(try manager.validate(token: revokedLong.token).error, .sessionRevoked)

        clock.advance(seconds: 3600)
        XCTAssertEqual(try manager.purgeExpired(), 2)
        XCTAssertEqual(try manager.count(), 0)
    }

    func testAutoPurgeOnCreate() throws {
        let (manager, clock) = try fixture(SessionConfig(autoPurgeInterval: 3600))
        let gone = try manager.create(options: options(expiresIn: 60))
        clock.advance(seconds: 3599)
        _ = try manager.create(options: options())
        XCTAssertEqual(try manager.count(), 2) // an hour has not passed since the first create
        clock.advance(seconds: 1)
        _ = try manager.create(options: options())
        XCTAssertEqual(try manager.count(), 2)
        XCTAssertNil(try manager.get(sessionId: gone.id))

        let (off, offClock) = try fixture()
        _ = try off.create(options: options(expiresIn: 60))
        offClock.advance(seconds: 7200)
        _ = try off.create(options: options())
        XCTAssertEqual(try off.count(), 2) // no auto purge unless configured
        assertThrows("InvalidConfig", try makeManager(SessionConfig(autoPurgeInterval: 0), clock: clock))
    }

    // MARK: export / import

    func testExportImportRoundTrip() throws {
        let (source, clock) = try fixture(SessionConfig(bindToUserAgent: true))
        let live = try source.create(options: options(metadata: ["userAgent": "UA/1", "ip": "10.0.0.1"]))
        let revoked = try source.create(options: options("bob", expiresIn: 600,
                                                         metadata: ["userAgent": "UA/2"], sliding: true))
        XCTAssertTrue(try source.destroy(sessionId: revoked.id))
        clock.advance(seconds: 10)
        let json = try source.exportJson()
        XCTAssertFalse(json.contains(live.token), "an export must never hold a raw token")
        let parsed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        XCTAssertEqual(Set(parsed.compactMap { $0["id"] as? String }), [live.id, revoked.id])
        XCTAssertEqual(parsed.first { $0["id"] as? String == live.id }?["createdAt"] as? String,
                       "2026-01-01T00:00:00.000Z")

        let target = try makeManager(SessionConfig(bindToUserAgent: true), clock: clock)
        XCTAssertEqual(try target.importJson(json: json), 2)
        XCTAssertEqual(try target.count(), 2)
        XCTAssertTrue(try target.validate(token: live.token, userAgent: "UA/1").valid)
        XCTAssertEqual(try target.validate(token: live.token, userAgent: "UA/2").error, .userAgentMismatch)
        XCTAssertEqual(try target.validate(token: revoked.token).error, .sessionRevoked)
        let imported = try XCTUnwrap(try target.get(sessionId: live.id))
        let original = try XCTUnwrap(try source.get(sessionId: live.id))
        assertSameSession(imported, original)
        // Importing again: every id is a duplicate; nothing is imported.
        let error = assertThrows("Import", try target.importJson(json: json))
        if case .Import(let entry, let field, let reason)? = error {
            XCTAssertEqual(entry, 0, reason)
            XCTAssertEqual(field, "id", reason)
        }
        XCTAssertEqual(try target.count(), 2)
        // An exported empty store is an empty array.
        XCTAssertEqual(try makeManager(clock: clock).exportJson(), "[]")
    }

    func testImportOfTheSeedsFormAndBadInput() throws {
        let (manager, _) = try fixture()
        let token = "seed-token-0123456789-0123456789-0123456789"
        let seed = """
            [{"id": "seed-1", "userId": "alice", "tokenHash": "\(hashToken(token: token))",
              "createdAt": "2026-01-01T00:00:00.000Z", "expiresAt": "2026-01-01T01:00:00.000Z",
              "metadata": {"k": "v"}}]
            """
        XCTAssertEqual(try manager.importJson(json: seed), 1)
        let result = try manager.validate(token: token)
        XCTAssertTrue(result.valid)
        let session = try XCTUnwrap(result.session)
        XCTAssertEqual(session.userId, "alice")
        XCTAssertEqual(session.metadata, ["k": "v"])
        XCTAssertEqual(session.lifetime, 3600)
        XCTAssertEqual(Time.show(session.absoluteExpiresAt), "2026-01-31T00:00:00.000Z")

        for bad in ["", "not json", "{}", "[1]", "[{\"id\": 1}]", "[{}]",
                    "[{\"id\": \"x\", \"userId\": \"\", \"tokenHash\": \"00\"}]"] {
            assertThrows("Import", try manager.importJson(json: bad))
        }
        XCTAssertEqual(try manager.count(), 1)
    }

    // MARK: toPublicSession

    func testToPublicSession() throws {
        let (manager, _) = try fixture()
        let session = try manager.create(options: options(metadata: ["k": "v"]))
        let view = manager.toPublicSession(session: session)
        XCTAssertEqual(view, PublicSession(id: session.id, userId: "alice", createdAt: session.createdAt,
                                           expiresAt: session.expiresAt, metadata: ["k": "v"]))
        XCTAssertEqual(view, toPublicSession(session: session))
    }
}

/// The same tests on a store implemented in Swift.
///
/// SwiftPM's test discovery on Linux skips a subclass that declares no test method of
/// its own; once it finds the class, XCTest runs every inherited test on it. So each
/// store's class restates one test (`testDestroy`), and all of `ManagerTests` runs on
/// every store (checked: 21 tests per class with Swift 6.0.3).
final class SwiftStoreManagerTests: ManagerTests {
    override func makeManager(_ config: SessionConfig = SessionConfig(), clock: TestClock) throws -> SessionManager {
        try SessionManager.withStore(config: config, store: SwiftStore(), clock: clock)
    }

    /// Restated so that test discovery finds this class (see above).
    override func testDestroy() throws { try super.testDestroy() }
}

/// The same tests on the SQLite store (`SessionManager.open(path:config:clock:)`), each
/// manager on a new file.
final class SqliteManagerTests: ManagerTests {
    private var directory: URL?

    override func makeManager(_ config: SessionConfig = SessionConfig(), clock: TestClock) throws -> SessionManager {
        if directory == nil { directory = try makeTemporaryDirectory() }
        let path = directory!.appendingPathComponent("\(UUID().uuidString).sqlite").path
        return try SessionManager.open(path: path, config: config, clock: clock)
    }

    override func tearDown() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
        directory = nil
        super.tearDown()
    }

    /// Restated so that test discovery finds this class (see above).
    override func testDestroy() throws { try super.testDestroy() }
}
