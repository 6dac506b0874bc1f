// Uses the Sessions package from outside its repository: create, validate and refresh
// a session, in memory and in a SQLite file, and check what a log line shows. Exits
// non-zero (with the reason) on the first thing that is not as documented.

import Foundation
import Sessions

func check(_ condition: Bool, _ what: String) {
    if !condition {
        FileHandle.standardError.write(Data("consumer-check: FAILED: \(what)\n".utf8))
        exit(1)
    }
}

func run(_ manager: SessionManager, _ label: String) throws {
    let session = try manager.create(options: CreateSessionOptions(
        userId: "alice", metadata: ["userAgent": "ConsumerCheck/1.0"], slidingExpiration: true))
    check(session.token.count == 43, "\(label): a 43-character token")

    let result = try manager.validate(token: session.token, userAgent: "ConsumerCheck/1.0")
    check(result.valid && result.session?.id == session.id, "\(label): the new token validates")

    let rotated = try manager.refresh(token: session.token, userAgent: "ConsumerCheck/1.0")
    check(rotated.id == session.id && rotated.token != session.token, "\(label): refresh rotates the token")
    check(try manager.validate(token: rotated.token).valid, "\(label): the rotated token validates")
    // Within the rotation grace (10 s by default) a parallel refresh of the old token
    // gets the same new token; an unknown token is refused.
    let again = try manager.refresh(token: session.token, userAgent: "ConsumerCheck/1.0")
    check(again.token == rotated.token, "\(label): a refresh within the grace returns the same token")
    do {
        _ = try manager.refresh(token: "not-a-token")
        check(false, "\(label): an unknown token is refused")
    } catch SessionError.InvalidToken {
        // As documented.
    }

    let line = "\(label): session \(rotated)"
    check(!line.contains(rotated.token) && !line.contains(rotated.tokenHash),
          "\(label): a log line shows neither the token nor the full hash")
    print(line)
}

do {
    try run(try SessionManager(config: SessionConfig(defaultExpiresIn: 3600)), "memory")
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("consumer-check-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("sessions.sqlite").path
    try run(try SessionManager.open(path: path, config: SessionConfig()), "sqlite")
    check(try SessionManager.open(path: path, config: SessionConfig()).count() == 1,
          "sqlite: the session is in the file")
    print("consumer-check: ok")
} catch {
    check(false, "unexpected error: \(error)")
}
