// Errors people can read: every SessionError, ClockError and ValidationError case has a
// one-sentence message (the core's Display) as its description, localizedDescription
// and string interpolation, and its fields stay readable by pattern matching.

import Foundation
import XCTest
import Sessions

final class MessageTests: XCTestCase {
    /// One value of every `SessionError` case, with recognisable field values.
    static let everySessionError: [SessionError] = [
        .InvalidUserId(reason: "must not be empty"),
        .InvalidLifetime(reason: "expires_in must be positive"),
        .MetadataTooLarge(reason: "65 entries, the limit is 64"),
        .InvalidConfig(reason: "prefix must not be empty"),
        .InvalidTokenLength(bytes: 8, min: 16, max: 1024),
        .InvalidToken,
        .SessionExpired,
        .SessionRevoked,
        .UserAgentMismatch,
        .SessionNotFound(sessionId: "no-such-id"),
        .Random(reason: "getrandom returned EIO"),
        .Store(reason: "disk full"),
        .Clock(reason: "ntp unreachable"),
        .Import(entry: 3, field: "userId", reason: "must not be empty"),
        .UserAgentRequired,
        .TokenReused,
        .SessionLimitReached(limit: 3),
    ]

    /// The case's name and the text of its fields, read back by pattern matching. There
    /// is no `default`: a new case does not compile until it is handled here (and then
    /// `testEverySessionErrorCaseIsListed` asks for it in `everySessionError`).
    static func fields(_ error: SessionError) -> (name: String, fields: [String]) {
        switch error {
        case let .InvalidUserId(reason): return ("InvalidUserId", [reason])
        case let .InvalidLifetime(reason): return ("InvalidLifetime", [reason])
        case let .MetadataTooLarge(reason): return ("MetadataTooLarge", [reason])
        case let .InvalidConfig(reason): return ("InvalidConfig", [reason])
        case let .InvalidTokenLength(bytes, min, max): return ("InvalidTokenLength", ["\(bytes)", "\(min)", "\(max)"])
        case .InvalidToken: return ("InvalidToken", [])
        case .SessionExpired: return ("SessionExpired", [])
        case .SessionRevoked: return ("SessionRevoked", [])
        case .UserAgentMismatch: return ("UserAgentMismatch", [])
        case let .SessionNotFound(sessionId): return ("SessionNotFound", [sessionId])
        case let .Random(reason): return ("Random", [reason])
        case let .Store(reason): return ("Store", [reason])
        case let .Clock(reason): return ("Clock", [reason])
        case let .Import(entry, field, reason):
            return ("Import", [entry.map { "\($0)" }, field, reason].compactMap { $0 })
        case .UserAgentRequired: return ("UserAgentRequired", [])
        case .TokenReused: return ("TokenReused", [])
        case let .SessionLimitReached(limit): return ("SessionLimitReached", ["\(limit)"])
        }
    }

    static let caseCount = 17

    /// Asserts `message` reads as one sentence about `name`, not as Swift's print-out of
    /// the enum value.
    func assertOneSentence(_ message: String, _ name: String,
                           file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertGreaterThan(message.count, 15, "\(name): too short to say anything: \(message)", file: file, line: line)
        XCTAssertFalse(message.contains("\n"), "\(name): more than one line: \(message)", file: file, line: line)
        XCTAssertFalse(message.contains(". "), "\(name): more than one sentence: \(message)", file: file, line: line)
        XCTAssertFalse(message.hasPrefix(name), "\(name): the enum case, not a message: \(message)", file: file, line: line)
        for enumForm in ["SessionError.", "ClockError.", "ValidationError.", "Sessions.", "(reason:", "reason="] {
            XCTAssertFalse(message.contains(enumForm), "\(name): \(message)", file: file, line: line)
        }
        XCTAssertTrue(message.first?.isLetter ?? false, "\(name): \(message)", file: file, line: line)
        XCTAssertTrue(message.contains(" "), "\(name): \(message)", file: file, line: line)
    }

    func testEverySessionErrorCaseIsListed() {
        let names = Set(Self.everySessionError.map { Self.fields($0).name })
        XCTAssertEqual(names.count, Self.caseCount)
        XCTAssertEqual(Self.everySessionError.count, Self.caseCount)
    }

    func testEverySessionErrorHasAOneSentenceMessageShowingItsFields() {
        var messages = Set<String>()
        for error in Self.everySessionError {
            let (name, fields) = Self.fields(error)
            let message = error.description
            assertOneSentence(message, name)
            for field in fields {
                XCTAssertTrue(message.contains(field), "\(name): \(message) does not show \(field)")
            }
            // Every way Swift turns an error into text gives the message.
            XCTAssertEqual(error.localizedDescription, message, name)
            XCTAssertEqual((error as Error).localizedDescription, message, name)
            XCTAssertEqual(error.errorDescription, message, name)
            XCTAssertEqual(String(describing: error), message, name)
            XCTAssertEqual(String(reflecting: error), message, name)
            XCTAssertEqual("\(error)", message, name)
            messages.insert(message)
        }
        XCTAssertEqual(messages.count, Self.caseCount, "two cases share a message")
    }

    func testMessagesSayWhatToDoWhereUseful() {
        for error in [SessionError.InvalidToken, .SessionExpired, .SessionRevoked] {
            XCTAssertTrue(error.description.contains("sign in again"), error.description)
        }
        XCTAssertTrue(SessionError.UserAgentRequired.description.contains("userAgent"),
                      SessionError.UserAgentRequired.description)
        // An import error names where the input is wrong; without a place it says none.
        let whole = SessionError.Import(entry: nil, field: nil, reason: "not a JSON array")
        assertOneSentence(whole.description, "Import")
        XCTAssertTrue(whole.description.contains("not a JSON array"), whole.description)
        XCTAssertFalse(whole.description.contains("entry"), whole.description)
        let entryOnly = SessionError.Import(entry: 7, field: nil, reason: "duplicate id")
        XCTAssertTrue(entryOnly.description.contains("7"), entryOnly.description)
    }

    func testErrorsThrownByTheLibraryCarryTheirMessageAndFields() throws {
        let manager = try SessionManager(config: SessionConfig(bindToUserAgent: true), clock: TestClock(start2026))
        var thrown: [SessionError] = []
        func capture(_ body: () throws -> Void) {
            do { try body(); XCTFail("no error thrown") } catch let error as SessionError { thrown.append(error) } catch {
                XCTFail("not a SessionError: \(error)")
            }
        }
        capture { _ = try manager.create(options: CreateSessionOptions(userId: "")) }
        capture { _ = try manager.create(options: CreateSessionOptions(userId: "a", expiresIn: 0, metadata: ["userAgent": "UA"])) }
        capture { _ = try manager.create(options: CreateSessionOptions(userId: "a")) }
        capture { _ = try manager.refresh(token: "no such token") }
        capture { _ = try generateSecureToken(bytes: 8) }
        capture { _ = try manager.importJson(json: "not json") }
        capture { _ = try SessionManager(config: SessionConfig(prefix: "")) }
        XCTAssertEqual(thrown.map { Self.fields($0).name }, [
            "InvalidUserId", "InvalidLifetime", "UserAgentRequired", "InvalidToken", "InvalidTokenLength",
            "Import", "InvalidConfig",
        ])
        for error in thrown {
            let (name, fields) = Self.fields(error)
            assertOneSentence(error.localizedDescription, name)
            for field in fields { XCTAssertTrue(error.localizedDescription.contains(field), error.localizedDescription) }
        }
        if case let .InvalidTokenLength(bytes, min, max)? = thrown.first(where: { Self.fields($0).name == "InvalidTokenLength" }) {
            XCTAssertEqual([bytes, min, max], [8, 16, 1024])
        } else {
            XCTFail("no InvalidTokenLength")
        }
    }

    func testClockErrorHasAOneSentenceMessage() {
        let error = ClockError.Failed(reason: "ntp unreachable")
        assertOneSentence(error.description, "Failed")
        XCTAssertTrue(error.description.contains("ntp unreachable"), error.description)
        XCTAssertEqual(error.localizedDescription, error.description)
        XCTAssertEqual("\(error)", error.description)
        guard case let .Failed(reason) = error else { return XCTFail("\(error)") }
        XCTAssertEqual(reason, "ntp unreachable")
    }

    func testEveryValidationErrorHasAOneSentenceMessage() {
        let all: [ValidationError] = [.invalidToken, .sessionExpired, .sessionRevoked, .userAgentMismatch, .tokenReused]
        var messages = Set<String>()
        for error in all {
            let name = validationErrorName(error)
            assertOneSentence(error.description, name)
            XCTAssertEqual("\(error)", error.description)
            // The same words as the SessionError of the same name (what refresh would throw).
            let same = Self.everySessionError.first { Self.fields($0).name == name }
            XCTAssertEqual(error.description, same?.description, name)
            messages.insert(error.description)
        }
        XCTAssertEqual(messages.count, all.count)
    }
}
