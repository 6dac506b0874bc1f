// The seed's stateless API (free functions) from Swift: REFERENCE.md section 1.

import Foundation
import XCTest
import Sessions

final class FreeFunctionTests: XCTestCase {
    private let base64url = CharacterSet(charactersIn:
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    // MARK: generateSecureToken

    func testTokenIsBase64UrlOf32BytesByDefault() throws {
        let token = try generateSecureToken()
        XCTAssertEqual(token.count, 43)
        XCTAssertGreaterThanOrEqual(token.count, 32)
        XCTAssertTrue(token.unicodeScalars.allSatisfy(base64url.contains), token)
        XCTAssertFalse(token.contains("="))
    }

    func testTokensAreUnique() throws {
        var seen = Set<String>()
        for _ in 0..<1000 { seen.insert(try generateSecureToken()) }
        XCTAssertEqual(seen.count, 1000)
    }

    func testTokenOf64BytesHasAtLeast64Characters() throws {
        let token = try generateSecureToken(bytes: 64)
        XCTAssertGreaterThanOrEqual(token.count, 64)
        XCTAssertEqual(token.count, 86)
        XCTAssertEqual(try generateSecureToken(bytes: 16).count, 22)
        XCTAssertEqual(try generateSecureToken(bytes: 1024).count, 1366)
    }

    func testTokenLengthOutOfRangeThrowsInvalidTokenLength() {
        for bytes: Int32 in [Int32.min, -1, 0, 15, 1025, Int32.max] {
            let error = assertThrows("InvalidTokenLength", try generateSecureToken(bytes: bytes))
            XCTAssertEqual(error, .InvalidTokenLength(bytes: bytes, min: 16, max: 1024))
        }
    }

    // MARK: hashToken

    func testHashIsDeterministicLowercaseHexSha256() throws {
        XCTAssertEqual(hashToken(token: "abc"),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let token = try generateSecureToken()
        let hash = hashToken(token: token)
        XCTAssertEqual(hash, hashToken(token: token))
        XCTAssertNotEqual(hash, token)
        XCTAssertEqual(hash.count, 64)
        XCTAssertTrue(hash.allSatisfy { "0123456789abcdef".contains($0) })
        XCTAssertNotEqual(hashToken(token: "a"), hashToken(token: "b"))
        // Non-ASCII and NUL go through unchanged (UTF-8 bytes are hashed).
        XCTAssertEqual(hashToken(token: "é"), hashToken(token: "\u{e9}"))
        XCTAssertNotEqual(hashToken(token: "a\0b"), hashToken(token: "ab"))
    }

    // MARK: createSession

    func testCreateSessionDefaultsTo24Hours() throws {
        let before = Date()
        let session = try createSession(options: CreateSessionOptions(userId: "alice"))
        let after = Date()
        XCTAssertEqual(session.userId, "alice")
        XCTAssertEqual(session.expiresAt.timeIntervalSince(session.createdAt), 86_400, accuracy: 1e-6)
        XCTAssertEqual(session.lifetime, 86_400)
        XCTAssertEqual(session.absoluteExpiresAt.timeIntervalSince(session.createdAt), 30 * 86_400, accuracy: 1e-6)
        XCTAssertGreaterThanOrEqual(session.createdAt.timeIntervalSince(before), -0.001)
        XCTAssertLessThanOrEqual(session.createdAt.timeIntervalSince(after), 0.001)
        XCTAssertNil(session.metadata)
        XCTAssertNil(session.revokedAt)
        XCTAssertEqual(session.slidingExpiration, false)
        XCTAssertNil(session.boundUserAgent)
        XCTAssertGreaterThanOrEqual(session.token.count, 32)
        XCTAssertEqual(session.tokenHash, hashToken(token: session.token))
        XCTAssertNotNil(UUID(uuidString: session.id), session.id)
        XCTAssertEqual(session.id, session.id.lowercased())
    }

    func testCreateSessionCustomExpiresInIsExact() throws {
        for seconds: TimeInterval in [1, 60, 7200, 90_061, 30 * 86_400] {
            let session = try createSession(options: CreateSessionOptions(userId: "u", expiresIn: seconds))
            XCTAssertEqual(session.expiresAt.timeIntervalSince(session.createdAt), seconds, accuracy: 1e-6)
            XCTAssertEqual(session.lifetime, seconds)
        }
    }

    func testCreateSessionMetadataRoundTripsAndSlidingIsKept() throws {
        let metadata = ["userAgent": "UA/1", "ip": "10.0.0.1", "ünïcødé": "✓", "": ""]
        let session = try createSession(options: CreateSessionOptions(
            userId: "alice", metadata: metadata, slidingExpiration: true))
        XCTAssertEqual(session.metadata, metadata)
        XCTAssertEqual(session.slidingExpiration, true)
        // The free function never binds a user agent.
        XCTAssertNil(session.boundUserAgent)
    }

    func testCreateSessionGivesUniqueIdsAndTokens() throws {
        let sessions = try (0..<200).map { _ in try createSession(options: CreateSessionOptions(userId: "u")) }
        XCTAssertEqual(Set(sessions.map(\.id)).count, 200)
        XCTAssertEqual(Set(sessions.map(\.token)).count, 200)
    }

    func testCreateSessionRejectsBadInput() {
        assertThrows("InvalidUserId", try createSession(options: CreateSessionOptions(userId: "")))
        assertThrows("InvalidUserId", try createSession(options: CreateSessionOptions(
            userId: String(repeating: "u", count: 257))))
        XCTAssertNoThrow(try createSession(options: CreateSessionOptions(userId: String(repeating: "u", count: 256))))
        // 129 two-byte characters are 258 bytes.
        assertThrows("InvalidUserId", try createSession(options: CreateSessionOptions(
            userId: String(repeating: "é", count: 129))))
        assertThrows("InvalidLifetime", try createSession(options: CreateSessionOptions(userId: "u", expiresIn: 0)))
        assertThrows("InvalidLifetime", try createSession(options: CreateSessionOptions(
            userId: "u", expiresIn: 30 * 86_400 + 1)))
        let many = Dictionary(uniqueKeysWithValues: (0..<65).map { ("k\($0)", "v") })
        assertThrows("MetadataTooLarge", try createSession(options: CreateSessionOptions(userId: "u", metadata: many)))
        let big = ["k": String(repeating: "x", count: 8192)]
        assertThrows("MetadataTooLarge", try createSession(options: CreateSessionOptions(userId: "u", metadata: big)))
    }

    // MARK: validateSession

    func testValidateSessionAcceptsTheRightToken() throws {
        let session = try createSession(options: CreateSessionOptions(userId: "alice"))
        let result = validateSession(token: session.token, session: session)
        XCTAssertTrue(result.valid)
        XCTAssertNil(result.error)
        assertSameSession(result.session, session)
    }

    func testValidateSessionWrongTokenIsInvalidToken() throws {
        let session = try createSession(options: CreateSessionOptions(userId: "alice"))
        let other = try generateSecureToken()
        for token in [other, "", session.tokenHash, String(session.token.dropLast()),
                      String(repeating: "a", count: 1_000_000), "a\0b", "ünïcødé ✓"] {
            let result = validateSession(token: token, session: session)
            XCTAssertFalse(result.valid)
            XCTAssertEqual(result.error, .invalidToken)
            XCTAssertNil(result.session)
        }
    }

    func testValidateSessionRevokedExpiredAndUserAgent() throws {
        let session = try createSession(options: CreateSessionOptions(userId: "alice"))

        let revoked = destroySession(session: session)
        XCTAssertEqual(validateSession(token: session.token, session: revoked).error, .sessionRevoked)

        var expired = session
        expired.expiresAt = Date(timeIntervalSinceNow: -1)
        XCTAssertEqual(validateSession(token: session.token, session: expired).error, .sessionExpired)

        var bound = session
        bound.boundUserAgent = "UA/1"
        XCTAssertEqual(validateSession(token: session.token, session: bound, userAgent: "UA/2").error, .userAgentMismatch)
        XCTAssertEqual(validateSession(token: session.token, session: bound).error, .userAgentMismatch)
        XCTAssertTrue(validateSession(token: session.token, session: bound, userAgent: "UA/1").valid)

        // Bug 5: revoked and expired are reported before the user agent.
        var revokedBound = revoked
        revokedBound.boundUserAgent = "UA/1"
        XCTAssertEqual(validateSession(token: session.token, session: revokedBound, userAgent: "UA/2").error,
                       .sessionRevoked)
        var expiredBound = expired
        expiredBound.boundUserAgent = "UA/1"
        XCTAssertEqual(validateSession(token: session.token, session: expiredBound, userAgent: "UA/2").error,
                       .sessionExpired)
        // Revoked before expired; a wrong token before everything.
        var both = revoked
        both.expiresAt = expired.expiresAt
        XCTAssertEqual(validateSession(token: session.token, session: both).error, .sessionRevoked)
        XCTAssertEqual(validateSession(token: "wrong", session: both).error, .invalidToken)
    }

    func testValidateSessionExpiredAtExpiresAtExactly() throws {
        // Bug 6: valid strictly before expires_at, expired at it. The free function uses
        // the system clock, so the boundary is placed around "now".
        var session = try createSession(options: CreateSessionOptions(userId: "alice"))
        session.expiresAt = Date(timeIntervalSinceNow: 60)
        XCTAssertTrue(validateSession(token: session.token, session: session).valid)
        session.expiresAt = Date()
        XCTAssertEqual(validateSession(token: session.token, session: session).error, .sessionExpired)
        session.expiresAt = Date(timeIntervalSinceNow: 60)
        session.absoluteExpiresAt = Date()
        XCTAssertEqual(validateSession(token: session.token, session: session).error, .sessionExpired)
    }

    // MARK: destroySession

    func testDestroySessionSetsRevokedAtOnce() throws {
        let session = try createSession(options: CreateSessionOptions(userId: "alice"))
        let before = Date()
        let revoked = destroySession(session: session)
        let revokedAt = try XCTUnwrap(revoked.revokedAt)
        XCTAssertEqual(revokedAt.timeIntervalSince(before), 0, accuracy: 1)
        XCTAssertEqual(revoked.id, session.id)
        XCTAssertEqual(revoked.token, session.token)
        // Destroying again keeps the first revocation time.
        var earlier = session
        earlier.revokedAt = Date(timeIntervalSince1970: 1_000_000)
        XCTAssertEqual(destroySession(session: earlier).revokedAt, Date(timeIntervalSince1970: 1_000_000))
    }

    // MARK: refreshSession

    func testRefreshSessionGivesNewTokenAndLaterExpiry() throws {
        var session = try createSession(options: CreateSessionOptions(userId: "alice", expiresIn: 3600))
        session.expiresAt = Date(timeIntervalSinceNow: 10)
        let refreshed = try refreshSession(session: session)
        XCTAssertNotEqual(refreshed.token, session.token)
        XCTAssertNotEqual(refreshed.tokenHash, session.tokenHash)
        XCTAssertEqual(refreshed.tokenHash, hashToken(token: refreshed.token))
        XCTAssertGreaterThan(refreshed.expiresAt, session.expiresAt)
        XCTAssertEqual(refreshed.expiresAt.timeIntervalSinceNow, 3600, accuracy: 5)
        XCTAssertEqual(refreshed.id, session.id)
        assertSameTime(refreshed.createdAt, session.createdAt)
        assertSameTime(refreshed.absoluteExpiresAt, session.absoluteExpiresAt)
        XCTAssertFalse(validateSession(token: session.token, session: refreshed).valid)
        XCTAssertTrue(validateSession(token: refreshed.token, session: refreshed).valid)
    }

    func testRefreshSessionSlideOnlyKeepsTheToken() throws {
        var session = try createSession(options: CreateSessionOptions(userId: "alice", expiresIn: 3600))
        session.expiresAt = Date(timeIntervalSinceNow: 10)
        let slid = try refreshSession(session: session, slideOnly: true)
        XCTAssertEqual(slid.token, session.token)
        XCTAssertEqual(slid.tokenHash, session.tokenHash)
        XCTAssertGreaterThan(slid.expiresAt, session.expiresAt)
    }

    func testRefreshSessionIsCappedAtTheAbsoluteEnd() throws {
        // Bug 3: no refresh extends past absolute_expires_at.
        var session = try createSession(options: CreateSessionOptions(userId: "alice", expiresIn: 3600))
        session.absoluteExpiresAt = Date(timeIntervalSinceNow: 100)
        let refreshed = try refreshSession(session: session)
        XCTAssertEqual(refreshed.expiresAt, refreshed.absoluteExpiresAt)
        assertSameTime(refreshed.expiresAt, session.absoluteExpiresAt)
    }

    func testRefreshSessionRefusesRevokedAndExpired() throws {
        let session = try createSession(options: CreateSessionOptions(userId: "alice"))
        assertThrows("SessionRevoked", try refreshSession(session: destroySession(session: session)))
        var expired = session
        expired.expiresAt = Date(timeIntervalSinceNow: -1)
        assertThrows("SessionExpired", try refreshSession(session: expired))
        assertThrows("SessionExpired", try refreshSession(session: expired, slideOnly: true))
        // Revoked is reported before expired.
        assertThrows("SessionRevoked", try refreshSession(session: destroySession(session: expired)))
    }

    // MARK: toPublicSession

    func testPublicSessionHasNoTokenNorHash() throws {
        let session = try createSession(options: CreateSessionOptions(userId: "alice", metadata: ["k": "v"]))
        let view = toPublicSession(session: session)
        XCTAssertEqual(view.id, session.id)
        XCTAssertEqual(view.userId, "alice")
        assertSameTime(view.createdAt, session.createdAt)
        assertSameTime(view.expiresAt, session.expiresAt)
        XCTAssertEqual(view.metadata, ["k": "v"])
        let labels = Mirror(reflecting: view).children.compactMap(\.label)
        XCTAssertEqual(Set(labels), ["id", "userId", "createdAt", "expiresAt", "metadata"])
        let dump = String(describing: view)
        XCTAssertFalse(dump.contains(session.token))
        XCTAssertFalse(dump.contains(session.tokenHash))
    }
}
