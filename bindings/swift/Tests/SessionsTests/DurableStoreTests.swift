// The SQLite-backed manager (`SessionManager.open`) from Swift: sessions survive a new
// manager on the same file, changes are seen across managers, bad files and bad
// configurations are refused.

import Foundation
import XCTest
import Sessions

final class DurableStoreTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory()
    }

    override func tearDown() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
        super.tearDown()
    }

    func testSessionsSurviveAndChangesAreSeenAcrossManagers() throws {
        let path = directory.appendingPathComponent("sessions.sqlite").path
        let clock = TestClock(start2026)
        let first = try SessionManager.open(path: path, config: SessionConfig(), clock: clock)
        let session = try first.create(options: CreateSessionOptions(userId: "alice", metadata: ["k": "v"]))
        let other = try first.create(options: CreateSessionOptions(userId: "alice"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))

        let second = try SessionManager.open(path: path, config: SessionConfig(), clock: clock)
        XCTAssertEqual(try second.count(), 2)
        XCTAssertTrue(try second.validate(token: session.token).valid)
        XCTAssertEqual(try second.get(sessionId: session.id)?.metadata, ["k": "v"])
        XCTAssertEqual(try second.get(sessionId: session.id)?.token, "")

        // A revocation or rotation in one manager is seen by the other at once.
        XCTAssertTrue(try first.destroy(sessionId: session.id))
        XCTAssertEqual(try second.validate(token: session.token).error, .sessionRevoked)
        let rotated = try second.refresh(token: other.token)
        // Within the rotation grace the other manager reproduces the same new token.
        XCTAssertEqual(try first.refresh(token: other.token).token, rotated.token)
        XCTAssertTrue(try first.validate(token: rotated.token).valid)
        XCTAssertEqual(try first.listForUser(userId: "alice").map(\.id), [other.id])
    }

    func testBadFilesAndConfigurationsAreRefused() throws {
        let garbage = directory.appendingPathComponent("not-a-database.sqlite")
        let bytes = Data("this is not a sessions database".utf8)
        try bytes.write(to: garbage)
        assertThrows("Store", try SessionManager.open(path: garbage.path, config: SessionConfig()))
        XCTAssertEqual(try Data(contentsOf: garbage), bytes, "the file must be left untouched")

        let missingDir = directory.appendingPathComponent("no/such/dir/s.sqlite").path
        assertThrows("Store", try SessionManager.open(path: missingDir, config: SessionConfig()))

        let fresh = directory.appendingPathComponent("fresh.sqlite").path
        assertThrows("InvalidLifetime", try SessionManager.open(path: fresh, config: SessionConfig(maxLifetime: 0)))
        XCTAssertFalse(FileManager.default.fileExists(atPath: fresh), "no file for a bad configuration")
    }
}
