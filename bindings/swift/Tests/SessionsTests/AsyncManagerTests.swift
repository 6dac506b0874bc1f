// AsyncSessionManager from Swift concurrency: every async method, the same typed errors,
// a Swift store and clock called on the library's threads, cancellation (Swift's is
// cooperative: a call already made runs in full and returns its result; the store's
// invariants hold after many cancelled tasks) and a TaskGroup of eight tasks on SQLite.

import Foundation
import XCTest
import Sessions

/// The outcome of an awaited call, handed from the task to the waiting thread.
private final class AwaitBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}

/// Runs `body` and waits for it on the calling thread (for synchronous callers such as
/// the conformance runner; never call it from a task on the cooperative pool).
func awaited<T>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = AwaitBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do {
            let value = try await body()
            box.result = Result<T, Error>.success(value)
        } catch {
            box.result = Result<T, Error>.failure(error)
        }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

/// The name of the calling thread (the library names its workers `sessions-pool-N`).
private func threadName() -> String {
#if os(Linux)
    let comm = try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)
    return comm?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
#else
    var name = [CChar](repeating: 0, count: 64)
    pthread_getname_np(pthread_self(), &name, name.count)
    return String(cString: name)
#endif
}

/// A SwiftStore that records its threads' names and can hold `insert` until released.
private final class GatedStore: SessionStore, @unchecked Sendable {
    let inner = SwiftStore()
    private let lock = NSLock()
    private var names: Set<String> = []
    private var held = false
    private let released = DispatchSemaphore(value: 0)
    let insideInsert = DispatchSemaphore(value: 0)

    var threads: Set<String> { lock.withLock { names } }
    func hold() { lock.withLock { held = true } }
    func release() {
        lock.withLock { held = false }
        released.signal()
    }
    private func seen() { let name = threadName(); lock.withLock { _ = names.insert(name) } }

    func insert(session: Session) throws {
        seen()
        insideInsert.signal()
        if lock.withLock({ held }) {
            _ = released.wait(timeout: .now() + 30)
            released.signal() // let every other held insert through too
        }
        try inner.insert(session: session)
    }
    func insertAll(sessions: [Session]) throws { seen(); try inner.insertAll(sessions: sessions) }
    func insertLimited(session: Session, maxActive: Int32, now: Date, revokeOldest: Bool) throws -> [String] {
        seen(); return try inner.insertLimited(session: session, maxActive: maxActive, now: now, revokeOldest: revokeOldest)
    }
    func get(sessionId: String) throws -> Session? { seen(); return try inner.get(sessionId: sessionId) }
    func findByTokenHash(tokenHash: String) throws -> Session? { seen(); return try inner.findByTokenHash(tokenHash: tokenHash) }
    func compareAndSwap(expectedTokenHash: String, expectedVersion: Int64, session: Session) throws -> Bool {
        seen(); return try inner.compareAndSwap(expectedTokenHash: expectedTokenHash, expectedVersion: expectedVersion, session: session)
    }
    func listForUser(userId: String) throws -> [Session] { seen(); return try inner.listForUser(userId: userId) }
    func revokeAllForUser(userId: String, at: Date) throws -> [String] { seen(); return try inner.revokeAllForUser(userId: userId, at: at) }
    func purgeExpired(now: Date) throws -> Int64 { seen(); return try inner.purgeExpired(now: now) }
    func count() throws -> Int64 { seen(); return try inner.count() }
    func allSessions() throws -> SessionScan { seen(); return try inner.allSessions() }
}

private final class EventRecorder: SessionListener, @unchecked Sendable {
    private let lock = NSLock()
    private var events: [SessionEvent] = []
    var count: Int { lock.withLock { events.count } }
    func onEvent(event: SessionEvent) throws { lock.withLock { events.append(event) } }
}

private func options(_ user: String) -> CreateSessionOptions {
    CreateSessionOptions(userId: user, expiresIn: nil, metadata: nil, slidingExpiration: false)
}

final class AsyncManagerTests: XCTestCase {
    func testEveryMethodAwaited() async throws {
        let clock = TestClock("2026-01-01T00:00:00Z")
        let m = try AsyncSessionManager(config: SessionConfig(), clock: clock)
        let recorder = EventRecorder()
        m.addListener(listener: recorder)
        let got1 = m.prefix()
        XCTAssertEqual(got1, SessionConfig().prefix)
        let s = try await m.create(options: CreateSessionOptions(
            userId: "alice", expiresIn: nil, metadata: ["role": "admin"], slidingExpiration: true))
        let checked = try await m.validate(token: s.token)
        XCTAssertTrue(checked.valid)
        XCTAssertEqual(checked.session?.id, s.id)
        let got2 = try await m.get(sessionId: s.id)?.token
        XCTAssertEqual(got2, "")
        let got3 = m.toPublicSession(session: s).id
        XCTAssertEqual(got3, s.id)
        let updated = try await m.updateMetadata(sessionId: s.id, changes: ["role": nil, "theme": "dark"])
        XCTAssertEqual(updated.metadata, ["theme": "dark"])
        clock.advance(seconds: 1)
        let rotated = try await m.refresh(token: s.token)
        XCTAssertNotEqual(rotated.token, s.token)
        let got4 = try await m.refresh(token: s.token).token
        XCTAssertEqual(got4, rotated.token)
        let second = try await m.create(options: options("alice"))
        let got5 = try await m.listForUser(userId: "alice").map(\.id)
        XCTAssertEqual(got5, [s.id, second.id])
        let got6 = try await m.count()
        XCTAssertEqual(got6, 2)
        let got7 = try await m.exportSessions().exported
        XCTAssertEqual(got7, 2)
        let other = try AsyncSessionManager(config: SessionConfig(), clock: clock)
        let got8 = try await other.importJson(json: try await m.exportJson())
        XCTAssertEqual(got8, 2)
        let got9 = try await m.destroy(sessionId: second.id)
        XCTAssertTrue(got9)
        let got10 = try await m.destroy(sessionId: second.id)
        XCTAssertFalse(got10)
        let got11 = try await m.destroyAllForUser(userId: "alice")
        XCTAssertEqual(got11, 1)
        let got12 = try await m.validate(token: rotated.token).error
        XCTAssertEqual(got12, .sessionRevoked)
        clock.advance(seconds: 25 * 3600)
        let got13 = try await m.purgeExpired()
        XCTAssertEqual(got13, 2)
        let got14 = try await m.count()
        XCTAssertEqual(got14, 0)
        XCTAssertEqual(recorder.count, 7)
    }

    func testErrorsAreTheSameTypedErrors() async throws {
        let m = try AsyncSessionManager(config: SessionConfig())
        do {
            _ = try await m.refresh(token: "not-a-token")
            XCTFail("refresh of an unknown token succeeded")
        } catch SessionError.InvalidToken {}
        do {
            _ = try await m.destroy(sessionId: "nope")
            XCTFail("destroy of an unknown id succeeded")
        } catch SessionError.SessionNotFound(let id) {
            XCTAssertEqual(id, "nope")
        }
        do {
            _ = try await m.create(options: options(""))
            XCTFail("an empty user id was accepted")
        } catch SessionError.InvalidUserId {}
        let got15 = try await m.validate(token: "").error
        XCTAssertEqual(got15, .invalidToken)
        XCTAssertThrowsError(try AsyncSessionManager(config: SessionConfig(prefix: ""))) { error in
            XCTAssertEqual(errorName(error), "InvalidConfig")
        }
    }

    func testOpenAsAsyncAndFromManagerShareOneManager() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("s.sqlite").path
        let m = try AsyncSessionManager.open(path: path, config: SessionConfig())
        let s = try await m.create(options: options("bob"))
        let sync = try SessionManager.open(path: path, config: SessionConfig())
        XCTAssertTrue(try sync.validate(token: s.token).valid)
        let recorder = EventRecorder()
        sync.addListener(listener: recorder)
        let got16 = try await sync.asAsync().destroy(sessionId: s.id)
        XCTAssertTrue(got16)
        let viaFromManager = try await AsyncSessionManager.fromManager(manager: sync).validate(token: s.token)
        XCTAssertEqual(viaFromManager.error, .sessionRevoked)
        XCTAssertEqual(recorder.count, 1)
    }

    func testSwiftStoreAndClockRunOnTheLibraryThreads() async throws {
        final class NamedClock: Clock, @unchecked Sendable {
            private let lock = NSLock()
            private var seen: Set<String> = []
            var names: Set<String> { lock.withLock { seen } }
            func now() throws -> Date {
                let name = threadName()
                lock.withLock { _ = seen.insert(name) }
                return Date(timeIntervalSince1970: 1_767_225_600)
            }
        }
        let store = GatedStore()
        let clock = NamedClock()
        let m = try AsyncSessionManager.withStore(config: SessionConfig(), store: store, clock: clock)
        let s = try await m.create(options: options("carol"))
        _ = try await m.refresh(token: s.token)
        for names in [store.threads, clock.names] {
            XCTAssertFalse(names.isEmpty)
            for name in names { XCTAssertTrue(name.hasPrefix("sessions-pool-"), name) }
        }
        let failing = SwiftStore()
        failing.failWith(SwiftStoreFailure(what: "disk full"))
        let broken = try AsyncSessionManager.withStore(config: SessionConfig(), store: failing)
        do {
            _ = try await broken.create(options: options("x"))
            XCTFail("a failing store reported success")
        } catch SessionError.Store(let reason) {
            XCTAssertTrue(reason.contains("disk full"), reason)
        }
        let noTime = try AsyncSessionManager(config: SessionConfig(),
                                             clock: FailingClock(ClockError.Failed(reason: "no time")))
        do {
            _ = try await noTime.create(options: options("x"))
            XCTFail("a failing clock reported success")
        } catch SessionError.Clock {}
    }

    func testACancelledTaskStillCompletesACallItStarted() async throws {
        let store = GatedStore()
        let m = try AsyncSessionManager.withStore(config: SessionConfig(), store: store)
        store.hold()
        let task = Task { try await m.create(options: options("erin")) }
        XCTAssertEqual(store.insideInsert.wait(timeout: .now() + 30), .success)
        task.cancel()
        store.release()
        let session = try await task.value // Swift's cancellation is cooperative: it ran in full
        let got17 = try await m.validate(token: session.token).valid
        XCTAssertTrue(got17)
        let got18 = try await m.count()
        XCTAssertEqual(got18, 1)
    }

    func testManyCancelledTasksLeaveTheStoreConsistent() async throws {
        let m = try AsyncSessionManager(config: SessionConfig())
        var originals: [Session] = []
        for i in 0..<40 { originals.append(try await m.create(options: options("user\(i % 5)"))) }
        let tokens = originals.map(\.token)
        var tasks: [Task<Void, Error>] = []
        for i in 0..<200 {
            tasks.append(Task {
                if i % 2 == 0 {
                    _ = try await m.create(options: options("user\(i % 5)"))
                } else {
                    _ = try await m.refresh(token: tokens[(i * 7) % tokens.count])
                }
            })
        }
        for task in tasks { task.cancel() }
        for task in tasks { try await task.value }
        let export = try await m.exportSessions()
        XCTAssertTrue(export.damaged.isEmpty)
        let count = try await m.count()
        XCTAssertEqual(export.exported, count)
        XCTAssertEqual(count, 140) // every call ran in full
        var listed = 0
        for u in 0..<5 { listed += try await m.listForUser(userId: "user\(u)").count }
        XCTAssertEqual(Int64(listed), count)
        for original in originals {
            let stored = try await m.get(sessionId: original.id)
            XCTAssertNil(stored?.revokedAt)
            XCTAssertLessThanOrEqual(stored?.version ?? 99, 2)
            let got19 = try await m.validate(token: original.token).valid
            XCTAssertTrue(got19)
        }
    }

    func testEightTasksAtOnceOnSqlite() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let m = try AsyncSessionManager.open(path: directory.appendingPathComponent("s.sqlite").path,
                                             config: SessionConfig())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<8 {
                group.addTask {
                    for _ in 0..<10 {
                        let s = try await m.create(options: options("u\(n)"))
                        let got20 = try await m.validate(token: s.token).valid
                        XCTAssertTrue(got20)
                        let new = try await m.refresh(token: s.token)
                        let got21 = try await m.validate(token: new.token).valid
                        XCTAssertTrue(got21)
                    }
                }
            }
            try await group.waitForAll()
        }
        let got22 = try await m.count()
        XCTAssertEqual(got22, 80)
    }
}
