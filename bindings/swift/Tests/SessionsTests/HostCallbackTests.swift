// Stores and clocks implemented in Swift: what reaches Rust, errors thrown in Swift
// reaching the caller as Swift errors (never a crash), and Sendable conformances.

import Foundation
import XCTest
import Sessions

final class HostCallbackTests: XCTestCase {
    private func fixture(_ config: SessionConfig = SessionConfig()) throws -> (SessionManager, SwiftStore, TestClock) {
        let store = SwiftStore()
        let clock = TestClock(start2026)
        return (try SessionManager.withStore(config: config, store: store, clock: clock), store, clock)
    }

    func testSwiftStoreNeverSeesARawTokenAndKeepsItsIndexConsistent() throws {
        // Bugs 7 and 8: the store receives sessions without their token, and rotation
        // replaces the token index in one step.
        let (manager, store, clock) = try fixture()
        var session = try manager.create(options: CreateSessionOptions(userId: "alice", slidingExpiration: true))
        var oldHashes: [String] = []
        for _ in 0..<5 {
            clock.advance(seconds: 50_000)
            XCTAssertTrue(try manager.validate(token: session.token).valid) // slides through the store
            oldHashes.append(session.tokenHash)
            session = try manager.refresh(token: session.token)
        }
        XCTAssertTrue(try manager.destroy(sessionId: session.id))
        XCTAssertTrue(store.all().allSatisfy { $0.token.isEmpty })
        XCTAssertEqual(store.all().count, 1)
        // Only the immediate predecessor is still indexed (for the rotation grace and
        // reuse detection); older hashes are gone.
        for hash in oldHashes.dropLast() {
            XCTAssertNil(try store.findByTokenHash(tokenHash: hash))
        }
        XCTAssertEqual(try store.findByTokenHash(tokenHash: oldHashes.last!)?.id, session.id)
        XCTAssertEqual(try store.findByTokenHash(tokenHash: session.tokenHash)?.id, session.id)
        XCTAssertGreaterThanOrEqual(store.callCount("compareAndSwap"), 11)
        XCTAssertEqual(store.callCount("insert"), 1)
    }

    func testCompareAndSwapContractOfTheSwiftStore() throws {
        // The contract the manager relies on (src/store/mod.rs), checked on SwiftStore
        // itself so the other tests can trust it.
        let store = SwiftStore()
        let session = try createSession(options: CreateSessionOptions(userId: "alice"))
        var stored = session
        stored.token = ""
        try store.insert(session: stored)
        assertThrows("Store", try store.insert(session: stored))
        var rotated = try refreshSession(session: stored)
        rotated.token = ""
        XCTAssertEqual(rotated.version, 2)
        XCTAssertFalse(try store.compareAndSwap(expectedTokenHash: "0000", expectedVersion: 1, session: rotated))
        // A change computed from another version is refused (a stale write).
        XCTAssertFalse(try store.compareAndSwap(expectedTokenHash: stored.tokenHash, expectedVersion: 2, session: rotated))
        XCTAssertTrue(try store.compareAndSwap(expectedTokenHash: stored.tokenHash, expectedVersion: 1, session: rotated))
        XCTAssertFalse(try store.compareAndSwap(expectedTokenHash: stored.tokenHash, expectedVersion: 1, session: rotated))
        XCTAssertNil(try store.findByTokenHash(tokenHash: stored.tokenHash))
        let revoked = destroySession(session: rotated)
        XCTAssertEqual(revoked.version, 3)
        XCTAssertTrue(try store.compareAndSwap(expectedTokenHash: rotated.tokenHash, expectedVersion: 2, session: revoked))
        // Revocation is final.
        XCTAssertFalse(try store.compareAndSwap(expectedTokenHash: rotated.tokenHash, expectedVersion: 3, session: rotated))
        let kept = try XCTUnwrap(try store.get(sessionId: session.id))
        XCTAssertNotNil(kept.revokedAt)
        // The boundary is the stored expiry: a Date that went through Rust (destroySession)
        // may differ from `rotated.expiresAt` in its last bits.
        XCTAssertEqual(try store.purgeExpired(now: kept.expiresAt.addingTimeInterval(-1)), 0)
        XCTAssertEqual(try store.purgeExpired(now: kept.expiresAt), 1)
        XCTAssertEqual(try store.count(), 0)
    }

    func testSwiftErrorInTheStoreReachesTheCallerAsStoreError() throws {
        let (manager, store, _) = try fixture()
        let session = try manager.create(options: CreateSessionOptions(userId: "alice"))
        store.failWith(SwiftStoreFailure(what: "disk on fire"))
        let calls: [(String, () throws -> Any)] = [
            ("create", { try manager.create(options: CreateSessionOptions(userId: "alice")) }),
            ("validate", { try manager.validate(token: session.token) }),
            ("refresh", { try manager.refresh(token: session.token) }),
            ("destroy", { try manager.destroy(sessionId: session.id) }),
            ("listForUser", { try manager.listForUser(userId: "alice") }),
            ("destroyAllForUser", { try manager.destroyAllForUser(userId: "alice") }),
            ("get", { try manager.get(sessionId: session.id) as Any }),
            ("purgeExpired", { try manager.purgeExpired() }),
            ("count", { try manager.count() }),
        ]
        for (name, call) in calls {
            do {
                let value = try call()
                XCTFail("\(name): expected SessionError.Store, got \(value)")
            } catch SessionError.Store(let reason) {
                XCTAssertTrue(reason.contains("disk on fire"), "\(name): \(reason)")
            } catch {
                XCTFail("\(name): expected SessionError.Store, got \(error)")
            }
        }
        // The store recovers, and nothing was changed by the failed calls.
        store.failWith(nil)
        XCTAssertTrue(try manager.validate(token: session.token).valid)
        XCTAssertEqual(try manager.count(), 1)
    }

    func testEverySessionErrorCaseThrownByASwiftStoreArrivesUnchanged() throws {
        // Cases the library cannot produce on demand (Random, Import, InvalidConfig, ...)
        // are still lowered and lifted intact through a foreign callback.
        let cases: [SessionError] = [
            .InvalidUserId(reason: "r1"), .InvalidLifetime(reason: "r2"), .MetadataTooLarge(reason: "r3"),
            .InvalidConfig(reason: "r4"), .InvalidTokenLength(bytes: 1, min: 16, max: 1024),
            .InvalidToken, .SessionExpired, .SessionRevoked, .UserAgentMismatch,
            .SessionNotFound(sessionId: "id-ü"), .Random(reason: "r5"), .Store(reason: "r6"),
            .Clock(reason: "r7"), .Import(entry: 3, field: "userId", reason: "r8 ✓"),
            .Import(entry: nil, field: nil, reason: "r9"), .UserAgentRequired,
            .TokenReused, .SessionLimitReached(limit: 2),
        ]
        XCTAssertEqual(Set(cases.map(errorName)).count, 17)
        let (manager, store, _) = try fixture()
        for error in cases {
            store.failWith(error)
            do {
                _ = try manager.count()
                XCTFail("expected \(error)")
            } catch let got as SessionError {
                XCTAssertEqual(got, error)
            }
        }
    }

    func testClockErrors() throws {
        // A clock throwing ClockError.Failed: the caller gets SessionError.Clock with its reason.
        let failing = FailingClock(ClockError.Failed(reason: "no time"))
        let manager = try SessionManager(config: SessionConfig(), clock: failing)
        let error = assertThrows("Clock", try manager.create(options: CreateSessionOptions(userId: "alice")))
        XCTAssertEqual(error, .Clock(reason: "no time"))
        assertThrows("Clock", try manager.purgeExpired())
        assertThrows("Clock", try manager.listForUser(userId: "alice"))
        assertThrows("Clock", try manager.destroyAllForUser(userId: "alice"))
        XCTAssertEqual(try manager.count(), 0) // needs no clock

        // Any other Swift error thrown by a clock is a clock error too, never a crash.
        let others: [Error] = [SwiftStoreFailure(what: "tick"), SessionError.Store(reason: "tick")]
        for thrown in others {
            let other = try SessionManager(config: SessionConfig(), clock: FailingClock(thrown))
            do {
                _ = try other.create(options: CreateSessionOptions(userId: "alice"))
                XCTFail("expected an error")
            } catch SessionError.Clock(let reason) {
                XCTAssertTrue(reason.contains("tick"), reason)
            }
        }
    }

    func testErrorsAreSwiftErrorsWithDescriptions() throws {
        let error: Error = SessionError.SessionNotFound(sessionId: "abc")
        XCTAssertTrue(error.localizedDescription.contains("abc"), error.localizedDescription)
        XCTAssertEqual(SessionError.InvalidToken, SessionError.InvalidToken)
        XCTAssertNotEqual(SessionError.Store(reason: "a"), SessionError.Store(reason: "b"))
    }

    func testGeneratedTypesAreSendable() {
        // Compile-time checks: these lines only build if the types are Sendable.
        func sendable<T: Sendable>(_: T.Type) {}
        sendable(SessionManager.self)
        sendable((any Clock).self)
        sendable((any SessionStore).self)
        // The generated code declares records, enums and the error Sendable only for
        // Swift 6 compilers (`#if compiler(>=6)`).
        #if compiler(>=6)
        sendable(Session.self)
        sendable(PublicSession.self)
        sendable(CreateSessionOptions.self)
        sendable(SessionConfig.self)
        sendable(ValidationResult.self)
        sendable(ValidationError.self)
        sendable(SessionError.self)
        #endif
    }

    func testManagerIsUsableFromSwiftConcurrency() async throws {
        let clock = TestClock(start2026)
        let manager = try SessionManager(config: SessionConfig(), clock: clock)
        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<16 {
                group.addTask { try manager.create(options: CreateSessionOptions(userId: "user\(i % 4)")).token }
            }
            var tokens: [String] = []
            for try await token in group { tokens.append(token) }
            return tokens
        }
        XCTAssertEqual(Set(tokens).count, 16)
        let valid = try await withThrowingTaskGroup(of: Bool.self) { group in
            for token in tokens { group.addTask { try manager.validate(token: token).valid } }
            var all = true
            for try await ok in group { all = all && ok }
            return all
        }
        XCTAssertTrue(valid)
        XCTAssertEqual(try manager.count(), 16)
    }
}
