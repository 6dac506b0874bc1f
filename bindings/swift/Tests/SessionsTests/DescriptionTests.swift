// What a Swift program shows of a session when it prints or logs one: never the raw
// token, never the full token hash, in every string form Swift has (print,
// debugPrint, String(describing:), String(reflecting:), description,
// debugDescription, string interpolation, dump / Mirror, and the same inside an
// Optional, an Array and a Dictionary, which show their elements' debugDescription).

import Foundation
import XCTest
import Sessions

final class DescriptionTests: XCTestCase {
    /// Every string form of `value` a Swift program can produce, by name.
    static func renderings(_ value: Any) -> [(String, String)] {
        var printed = ""
        print(value, to: &printed)
        var debugPrinted = ""
        debugPrint(value, to: &debugPrinted)
        var dumped = ""
        dump(value, to: &dumped)
        return [
            ("print", printed),
            ("debugPrint", debugPrinted),
            ("String(describing:)", String(describing: value)),
            ("String(reflecting:)", String(reflecting: value)),
            ("interpolation", "user signed in: \(value)"),
            ("dump", dumped),
            ("Optional", String(describing: Optional(value))),
            ("Array", String(describing: [value])),
            ("Dictionary", String(describing: ["session": value])),
            ("Mirror children", Mirror(reflecting: value).children
                .map { "\($0.label ?? "_"): \($0.value)" }.joined(separator: ", ")),
        ]
    }

    /// Asserts that no rendering of `value` shows `token` or the whole of `hash`, and
    /// returns the renderings for further checks.
    @discardableResult
    func assertHides(token: String, hash: String, in value: Any, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) -> [(String, String)] {
        XCTAssertEqual(token.count, 43, "a real token", file: file, line: line)
        XCTAssertEqual(hash.count, 64, "a real hash", file: file, line: line)
        let all = Self.renderings(value)
        for (form, text) in all {
            XCTAssertFalse(text.contains(token), "\(what), \(form) shows the raw token: \(text)",
                           file: file, line: line)
            XCTAssertFalse(text.contains(hash), "\(what), \(form) shows the whole token hash: \(text)",
                           file: file, line: line)
            XCTAssertFalse(text.isEmpty, "\(what), \(form) is empty", file: file, line: line)
        }
        return all
    }

    private func managerWithSession() throws -> (SessionManager, Session) {
        let manager = try SessionManager(config: SessionConfig(), clock: TestClock(start2026))
        let session = try manager.create(options: CreateSessionOptions(
            userId: "alice", metadata: ["userAgent": "UA/1"], slidingExpiration: true))
        return (manager, session)
    }

    func testANewSessionShowsItsTokenRedactedAndEightHexDigitsOfItsHash() throws {
        let (_, session) = try managerWithSession()
        let all = assertHides(token: session.token, hash: session.tokenHash, in: session, "a new session")
        for (form, text) in all {
            XCTAssertTrue(text.contains("<redacted>"), "\(form) does not say the token is redacted: \(text)")
            XCTAssertTrue(text.contains(session.id), "\(form) does not identify the session: \(text)")
            XCTAssertTrue(text.contains(String(session.tokenHash.prefix(8))),
                          "\(form) lacks the start of the hash: \(text)")
        }
        // The properties themselves, as a log statement would call them.
        for text in [session.description, session.debugDescription] {
            XCTAssertFalse(text.contains(session.token), text)
            XCTAssertFalse(text.contains(session.tokenHash), text)
            XCTAssertTrue(text.contains("alice"), text)
        }
        // The fields stay readable: the redaction is only in what is shown.
        XCTAssertEqual(session.token.count, 43)
        XCTAssertEqual(session.tokenHash, hashToken(token: session.token))
    }

    func testEveryRecordHoldingASessionHidesItsToken() throws {
        let (manager, session) = try managerWithSession()
        let validated = try manager.validate(token: session.token, userAgent: "UA/1")
        XCTAssertTrue(validated.valid)
        let rotated = try manager.refresh(token: session.token, userAgent: "UA/1")
        let stored = try XCTUnwrap(try manager.get(sessionId: session.id))
        let listed = try manager.listForUser(userId: "alice")

        assertHides(token: session.token, hash: session.tokenHash, in: validated, "a ValidationResult")
        assertHides(token: rotated.token, hash: rotated.tokenHash, in: rotated, "a refreshed session")
        // After a refresh, neither the old nor the new token shows in what the store gives back.
        for (value, what) in [(stored as Any, "a stored session"), (listed as Any, "listForUser")] {
            assertHides(token: session.token, hash: session.tokenHash, in: value, what)
            assertHides(token: rotated.token, hash: rotated.tokenHash, in: value, what)
        }
        // The free functions' results too.
        let fresh = try createSession(options: CreateSessionOptions(userId: "bob"))
        assertHides(token: fresh.token, hash: fresh.tokenHash, in: fresh, "createSession")
        assertHides(token: fresh.token, hash: fresh.tokenHash,
                    in: validateSession(token: fresh.token, session: fresh), "validateSession")
        assertHides(token: fresh.token, hash: fresh.tokenHash, in: destroySession(session: fresh), "destroySession")
        let slid = try refreshSession(session: fresh)
        assertHides(token: slid.token, hash: slid.tokenHash, in: slid, "refreshSession")
        assertHides(token: fresh.token, hash: fresh.tokenHash, in: toPublicSession(session: fresh), "a PublicSession")
    }

    func testAStoredSessionWithoutATokenShowsNoTokenMarker() throws {
        let (manager, session) = try managerWithSession()
        let stored = try XCTUnwrap(try manager.get(sessionId: session.id))
        XCTAssertEqual(stored.token, "")
        var dumped = ""
        dump(stored, to: &dumped)
        XCTAssertFalse(dumped.contains("<redacted>"), dumped) // nothing to redact
        XCTAssertTrue(dumped.contains(String(session.tokenHash.prefix(8))), dumped)
        XCTAssertFalse(dumped.contains(session.tokenHash), dumped)
    }

    func testTheMirrorListsEveryFieldAndRedactsOnlyTheSecrets() throws {
        let (_, session) = try managerWithSession()
        let children = Mirror(reflecting: session).children
        XCTAssertEqual(children.compactMap(\.label), [
            "id", "userId", "token", "tokenHash", "createdAt", "expiresAt", "metadata", "revokedAt",
            "slidingExpiration", "boundUserAgent", "lifetime", "absoluteExpiresAt", "version",
        ])
        let byLabel = Dictionary(uniqueKeysWithValues: children.map { ($0.label!, $0.value) })
        XCTAssertEqual(byLabel["token"] as? String, "<redacted>")
        XCTAssertEqual(byLabel["tokenHash"] as? String, String(session.tokenHash.prefix(8)))
        XCTAssertEqual(byLabel["id"] as? String, session.id)
        XCTAssertEqual(byLabel["expiresAt"] as? Date, session.expiresAt)
        XCTAssertEqual(byLabel["lifetime"] as? TimeInterval, session.lifetime)
        XCTAssertEqual(byLabel["version"] as? Int64, session.version)
        XCTAssertEqual(Mirror(reflecting: session).displayStyle, .struct)
    }

    func testRecordsWithoutSecretsAreShownByTheCore() throws {
        // The core's Display: readable, and not Swift's memberwise dump of the struct.
        let config = SessionConfig(defaultExpiresIn: 3600, prefix: "app:")
        let options = CreateSessionOptions(userId: "carol", expiresIn: 60)
        for (value, expected) in [(config.description, "app:"), (options.description, "carol"),
                                  (config.debugDescription, "app:"), (options.debugDescription, "carol")] {
            XCTAssertTrue(value.contains(expected), value)
            XCTAssertFalse(value.isEmpty)
        }
        let (_, session) = try managerWithSession()
        let view = toPublicSession(session: session)
        XCTAssertTrue(view.description.contains(session.id), view.description)
        XCTAssertTrue("\(view)".contains("alice"), "\(view)")
    }
}
