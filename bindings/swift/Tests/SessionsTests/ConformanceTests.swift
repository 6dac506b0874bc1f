// The shared conformance scenarios (tests/conformance/scenarios/*.json, format in
// tests/conformance/README.md) run from Swift, on the in-memory store, on a store
// implemented in Swift and on the SQLite store, each with a clock implemented in Swift,
// through SessionManager and through AsyncSessionManager (each call awaited).
//
// Every scenario runs on a fresh SessionManager. A scenario stops at its first failing
// step; each failing scenario is reported as its own XCTest failure naming the file,
// the scenario, the step index and what differed.

import Foundation
import XCTest
import Sessions

/// Fewer scenarios than this means files went missing.
private let minScenarios = 30

/// Whether the scenarios' `validate` steps on a `SessionManager` go through
/// `validateFast` (the per-request fast path; every store below) or the generated
/// `validate` (one run, below). `AsyncSessionManager` runs use its own `validate`.
nonisolated(unsafe) private var validateThroughFastPath = true

final class ConformanceTests: XCTestCase {
    func testScenariosOnMemoryStoreThroughTheRegularValidate() throws {
        validateThroughFastPath = false
        defer { validateThroughFastPath = true }
        try runAll(storeName: "memory, regular validate") { config, clock in
            try SessionManager(config: config, clock: clock)
        }
    }

    func testScenariosOnMemoryStore() throws {
        try runAll(storeName: "memory") { config, clock in
            try SessionManager(config: config, clock: clock)
        }
    }

    func testScenariosOnSwiftStore() throws {
        try runAll(storeName: "Swift") { config, clock in
            try SessionManager.withStore(config: config, store: SwiftStore(), clock: clock)
        }
    }

    func testScenariosOnSqliteStore() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try runAll(storeName: "SQLite") { config, clock in
            let path = directory.appendingPathComponent("\(UUID().uuidString).sqlite").path
            return try SessionManager.open(path: path, config: config, clock: clock)
        }
    }

    func testScenariosOnMemoryStoreAsync() throws {
        try runAll(storeName: "memory, async") { config, clock in
            AwaitedManager(try AsyncSessionManager(config: config, clock: clock))
        }
    }

    func testScenariosOnSwiftStoreAsync() throws {
        try runAll(storeName: "Swift, async") { config, clock in
            AwaitedManager(try AsyncSessionManager.withStore(config: config, store: SwiftStore(), clock: clock))
        }
    }

    func testScenariosOnSqliteStoreAsync() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try runAll(storeName: "SQLite, async") { config, clock in
            let path = directory.appendingPathComponent("\(UUID().uuidString).sqlite").path
            return AwaitedManager(try AsyncSessionManager.open(path: path, config: config, clock: clock))
        }
    }

    private func runAll(storeName: String,
                        makeManager: (SessionConfig, TestClock) throws -> ScenarioManager) throws {
        let scenarios = try loadScenarios()
        XCTAssertGreaterThanOrEqual(scenarios.count, minScenarios,
                                    "only \(scenarios.count) conformance scenarios found in \(scenarioDir.path)")
        var failed = 0
        for (file, parsed) in scenarios {
            let outcome: String?
            switch parsed {
            case .failure(let error):
                outcome = "\(error)"
            case .success(let json):
                outcome = runScenario(json, makeManager: makeManager)
            }
            if let why = outcome {
                failed += 1
                XCTFail("conformance (\(storeName) store) \(file): \(why)")
            }
        }
        print("conformance (\(storeName) store): \(scenarios.count - failed) of \(scenarios.count) scenarios passed")
    }
}

// MARK: - Loading

/// `<repo>/tests/conformance/scenarios`, found from this file's path (or
/// $SESSIONS_SCENARIO_DIR, to try scenarios kept elsewhere).
private let scenarioDir: URL = {
    if let dir = ProcessInfo.processInfo.environment["SESSIONS_SCENARIO_DIR"], !dir.isEmpty {
        return URL(fileURLWithPath: dir, isDirectory: true)
    }
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<5 { url.deleteLastPathComponent() } // SessionsTests, Tests, swift, bindings, file
    return url.appendingPathComponent("tests/conformance/scenarios", isDirectory: true)
}()

struct ScenarioError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

typealias JSON = [String: Any]

private func loadScenarios() throws -> [(String, Result<JSON, ScenarioError>)] {
    let names = try FileManager.default.contentsOfDirectory(atPath: scenarioDir.path)
        .filter { $0.hasSuffix(".json") }
        .sorted()
    return names.map { name in
        let url = scenarioDir.appendingPathComponent(name)
        do {
            let data = try Data(contentsOf: url)
            guard let json = try JSONSerialization.jsonObject(with: data) as? JSON else {
                return (name, .failure(ScenarioError("scenario is not a JSON object")))
            }
            return (name, .success(json))
        } catch {
            return (name, .failure(ScenarioError("invalid JSON: \(error)")))
        }
    }
}

// MARK: - Running a scenario

private let scenarioKeys: Set<String> = ["name", "rule", "config", "config_error", "start", "steps"]

/// Runs one scenario; nil when it passes, else why it failed.
private func runScenario(_ scenario: JSON,
                         makeManager: (SessionConfig, TestClock) throws -> ScenarioManager) -> String? {
    let name = (scenario["name"] as? String) ?? "(unnamed)"
    do {
        try runNamedScenario(scenario, makeManager: makeManager)
        return nil
    } catch {
        return "\"\(name)\": \(error)"
    }
}

private func runNamedScenario(_ scenario: JSON,
                              makeManager: (SessionConfig, TestClock) throws -> ScenarioManager) throws {
    try checkKeys(scenario, scenarioKeys, "scenario")
    let clock = TestClock(nanos: try Time.parse(try reqStr(scenario, "start")))
    let config = try configFrom(scenario["config"])
    let steps: [Any]
    switch scenario["steps"] {
    case nil: steps = []
    case let array as [Any]: steps = array
    default: throw ScenarioError("\"steps\" is not an array")
    }
    let built: Result<ScenarioManager, Error> = Result { try makeManager(config, clock) }
    if let wanted = try optStr(scenario, "config_error") {
        guard steps.isEmpty else { throw ScenarioError("a scenario with \"config_error\" must have no steps") }
        switch built {
        case .success: throw ScenarioError("config: expected error \(wanted), got a manager")
        case .failure(let error) where errorName(error) == wanted: return
        case .failure(let error): throw ScenarioError("config: expected error \(wanted), got \(error)")
        }
    }
    let manager: ScenarioManager
    switch built {
    case .success(let m): manager = m
    case .failure(let error): throw ScenarioError("config: expected a manager, got \(error)")
    }
    let runner = Runner(manager: manager, clock: clock)
    for (index, step) in steps.enumerated() {
        let op = ((step as? JSON)?["op"] as? String) ?? "?"
        do {
            try runner.step(step)
        } catch {
            throw ScenarioError("step \(index) (\(op)): \(error)")
        }
    }
}

/// What a name (`"as": "a"`) remembers: the session's id and token when it was bound.
private struct Binding {
    let id: String
    let token: String
}

private let stepKeys: Set<String> = [
    "op", "seconds", "at", "user_id", "expires_in_s", "metadata", "metadata_generate",
    "sliding", "as", "token", "token_literal", "token_repeat", "user_agent", "session",
    "session_id_literal", "expect", "entries", "changes",
]

/// Expectation keys checked on a returned session.
private let sessionKeys: [String] = [
    "session", "user_id", "created_at", "expires_at", "absolute_expires_at", "metadata",
    "bound_user_agent", "revoked", "token_empty",
]

/// The expectation keys an operation accepts besides `error`, and whether it accepts
/// the session keys.
private func expectKeys(_ op: String) throws -> ([String], Bool) {
    switch op {
    case "create": return ([], true)
    case "validate": return (["valid", "validation_error"], true)
    case "refresh": return (["new_token", "same_token"], true)
    case "update_metadata": return ([], true)
    case "events": return (["events"], false)
    case "get": return (["found"], true)
    case "destroy": return (["result"], false)
    case "destroy_all", "purge", "count": return (["count"], false)
    case "import": return (["count", "error_field"], false)
    case "list": return (["sessions"], false)
    default: throw ScenarioError("unknown op \(String(reflecting: op))")
    }
}

/// The differences found in one step.
private final class Diffs {
    var items: [String] = []
    func push(_ what: String) { items.append(what) }
    func eq<T: Equatable>(_ field: String, _ expected: T, _ got: T) {
        if expected != got { push("\(field): expected \(show(expected)), got \(show(got))") }
    }
    private func show<T>(_ value: T) -> String { String(reflecting: value) }
    func check() throws {
        if !items.isEmpty { throw ScenarioError(items.joined(separator: "; ")) }
    }
}

/// Keeps the lifecycle events it is given, for `events` steps.
private final class Recorder: SessionListener, @unchecked Sendable {
    private let lock = NSLock()
    private var events: [SessionEvent] = []

    func onEvent(event: SessionEvent) throws {
        lock.withLock { events.append(event) }
    }

    /// The events so far as `events` expectations spell them (session by id); forgets them.
    func take() -> [[String: String]] {
        lock.withLock {
            defer { events.removeAll() }
            return events.map { event -> [String: String] in
                switch event {
                case .created(let id, _): return ["type": "Created", "session": id]
                case .rotated(let id, _): return ["type": "Rotated", "session": id]
                case .metadataUpdated(let id, _): return ["type": "MetadataUpdated", "session": id]
                case .revoked(let id, _, let reason):
                    let name: String
                    switch reason {
                    case .destroy: name = "Destroy"
                    case .destroyAll: name = "DestroyAll"
                    case .sessionLimit: name = "SessionLimit"
                    case .tokenReuse: name = "TokenReuse"
                    }
                    return ["type": "Revoked", "session": id, "reason": name]
                case .purged(let count): return ["type": "Purged", "count": String(count)]
                }
            }
        }
    }
}

/// The manager calls a scenario makes: `SessionManager` has them as they are, and
/// `AwaitedManager` awaits each on an `AsyncSessionManager`.
protocol ScenarioManager {
    func addListener(listener: SessionListener)
    func create(options: CreateSessionOptions) throws -> Session
    func validate(token: String, userAgent: String?) throws -> ValidationResult
    func refresh(token: String, userAgent: String?) throws -> Session
    func destroy(sessionId: String) throws -> Bool
    func destroyAllForUser(userId: String) throws -> Int64
    func listForUser(userId: String) throws -> [Session]
    func get(sessionId: String) throws -> Session?
    func purgeExpired() throws -> Int64
    func count() throws -> Int64
    func updateMetadata(sessionId: String, changes: [String: String?]) throws -> Session
    func importJson(json: String) throws -> Int64
}

extension SessionManager: ScenarioManager {}

/// An `AsyncSessionManager` whose every call the calling thread waits for.
final class AwaitedManager: ScenarioManager {
    let manager: AsyncSessionManager
    init(_ manager: AsyncSessionManager) { self.manager = manager }

    func addListener(listener: SessionListener) {
        manager.addListener(listener: listener)  // not async: no store work
    }
    func create(options: CreateSessionOptions) throws -> Session {
        let m = manager
        return try awaited { try await m.create(options: options) }
    }
    func validate(token: String, userAgent: String?) throws -> ValidationResult {
        let m = manager
        return try awaited { try await m.validate(token: token, userAgent: userAgent) }
    }
    func refresh(token: String, userAgent: String?) throws -> Session {
        let m = manager
        return try awaited { try await m.refresh(token: token, userAgent: userAgent) }
    }
    func destroy(sessionId: String) throws -> Bool {
        let m = manager
        return try awaited { try await m.destroy(sessionId: sessionId) }
    }
    func destroyAllForUser(userId: String) throws -> Int64 {
        let m = manager
        return try awaited { try await m.destroyAllForUser(userId: userId) }
    }
    func listForUser(userId: String) throws -> [Session] {
        let m = manager
        return try awaited { try await m.listForUser(userId: userId) }
    }
    func get(sessionId: String) throws -> Session? {
        let m = manager
        return try awaited { try await m.get(sessionId: sessionId) }
    }
    func purgeExpired() throws -> Int64 {
        let m = manager
        return try awaited { try await m.purgeExpired() }
    }
    func count() throws -> Int64 {
        let m = manager
        return try awaited { try await m.count() }
    }
    func updateMetadata(sessionId: String, changes: [String: String?]) throws -> Session {
        let m = manager
        return try awaited { try await m.updateMetadata(sessionId: sessionId, changes: changes) }
    }
    func importJson(json: String) throws -> Int64 {
        let m = manager
        return try awaited { try await m.importJson(json: json) }
    }
}

private final class Runner {
    let manager: ScenarioManager
    let clock: TestClock
    var bindings: [String: Binding] = [:]
    let recorder = Recorder()

    init(manager: ScenarioManager, clock: TestClock) {
        self.manager = manager
        self.clock = clock
        manager.addListener(listener: recorder)
    }

    func step(_ value: Any) throws {
        guard let step = value as? JSON else { throw ScenarioError("step is not a JSON object") }
        try checkKeys(step, stepKeys, "step")
        let op = try reqStr(step, "op")
        switch op {
        case "advance":
            guard let seconds = number(step["seconds"]), seconds.isFinite, seconds >= 0 else {
                throw ScenarioError("\"seconds\" must be a number >= 0")
            }
            // Whole nanoseconds, rounded, so that 59.999 is exactly 59 999 ms.
            clock.advance(seconds: seconds)
            return
        case "set_clock":
            clock.set(nanos: try Time.parse(try reqStr(step, "at")))
            return
        default:
            break
        }
        guard let expectValue = step["expect"] else { throw ScenarioError("missing \"expect\"") }
        guard let expect = expectValue as? JSON else { throw ScenarioError("expect is not a JSON object") }
        let (extra, sessionFields) = try expectKeys(op)
        try checkKeys(expect, Set(["error"] + extra + (sessionFields ? sessionKeys : [])), "expect")
        let diffs = Diffs()
        switch op {
        case "create": try create(step, expect, diffs)
        case "validate": try validate(step, expect, diffs)
        case "refresh": try refresh(step, expect, diffs)
        case "destroy":
            let id = try sessionId(step)
            if let result = try outcome(expect, diffs, { try self.manager.destroy(sessionId: id) }),
               let wanted = try optBool(expect, "result") {
                diffs.eq("result", wanted, result)
            }
        case "destroy_all":
            let userId = try reqStr(step, "user_id")
            try checkCount(expect, diffs) { try self.manager.destroyAllForUser(userId: userId) }
        case "list": try list(step, expect, diffs)
        case "get": try get(step, expect, diffs)
        case "purge": try checkCount(expect, diffs) { try self.manager.purgeExpired() }
        case "count": try checkCount(expect, diffs) { try self.manager.count() }
        case "update_metadata":
            let id = try sessionId(step)
            guard let changesJSON = step["changes"] as? JSON else { throw ScenarioError("\"changes\" must be an object") }
            var changes: [String: String?] = [:]
            for (key, value) in changesJSON {
                if value is NSNull { changes[key] = .some(nil) } else if let text = value as? String {
                    changes[key] = .some(text)
                } else { throw ScenarioError("change \(key) is not a string or null") }
            }
            if let session = try outcome(expect, diffs, { try self.manager.updateMetadata(sessionId: id, changes: changes) }) {
                try checkSession(expect, session, diffs)
            }
        case "events":
            let got = recorder.take()
            guard let wantedValues = expect["events"] as? [Any] else { throw ScenarioError("\"events\" must be an array") }
            var wanted: [[String: String]] = []
            for value in wantedValues {
                guard let event = value as? JSON else { throw ScenarioError("an event is not an object") }
                var row: [String: String] = [:]
                for (key, v) in event {
                    if key == "session", let name = v as? String { row[key] = try binding(name).id }
                    else if let text = v as? String { row[key] = text }
                    else if let n = v as? NSNumber { row[key] = n.stringValue }
                }
                wanted.append(row)
            }
            diffs.eq("events", wanted, got)
        case "import":
            guard let entries = step["entries"] else { throw ScenarioError("missing \"entries\"") }
            let data = try JSONSerialization.data(withJSONObject: entries, options: [.fragmentsAllowed])
            let json = String(decoding: data, as: UTF8.self)
            if let wanted = try optStr(expect, "error_field") {
                do {
                    _ = try manager.importJson(json: json)
                    diffs.push("expected an Import error on \(wanted), got success")
                } catch let SessionError.Import(_, field, _) {
                    diffs.eq("error_field", wanted, field ?? "")
                }
            }
            try checkCount(expect, diffs) { try self.manager.importJson(json: json) }
        default: throw ScenarioError("unknown op \(String(reflecting: op))")
        }
        try diffs.check()
    }

    private func create(_ step: JSON, _ expect: JSON, _ diffs: Diffs) throws {
        let options = CreateSessionOptions(
            userId: try reqStr(step, "user_id"),
            expiresIn: try optU64(step, "expires_in_s").map { TimeInterval($0) },
            metadata: try createMetadata(step),
            slidingExpiration: try optBool(step, "sliding") ?? false
        )
        if let session = try outcome(expect, diffs, { try self.manager.create(options: options) }) {
            try checkSession(expect, session, diffs)
            try bind(step, session)
        }
    }

    private func validate(_ step: JSON, _ expect: JSON, _ diffs: Diffs) throws {
        let token = try presentedToken(step)
        let userAgent = try optStr(step, "user_agent")
        guard let result = try outcome(expect, diffs, {
            if validateThroughFastPath, let manager = self.manager as? SessionManager {
                return try manager.validateFast(token: token, userAgent: userAgent)
            }
            return try self.manager.validate(token: token, userAgent: userAgent)
        }) else { return }
        if let valid = try optBool(expect, "valid") {
            diffs.eq("valid", valid, result.valid)
        }
        if let wanted = try optStr(expect, "validation_error") {
            diffs.eq("validation_error", wanted as String?, result.error.map(validationErrorName))
        }
        if let session = result.session {
            try checkSession(expect, session, diffs)
        } else if sessionKeys.contains(where: { expect[$0] != nil }) {
            diffs.push("expected a session in the result, got none (error \(String(describing: result.error)))")
        }
    }

    private func refresh(_ step: JSON, _ expect: JSON, _ diffs: Diffs) throws {
        let token = try presentedToken(step)
        let userAgent = try optStr(step, "user_agent")
        guard let session = try outcome(expect, diffs, {
            try self.manager.refresh(token: token, userAgent: userAgent)
        }) else { return }
        try checkSession(expect, session, diffs)
        if let wanted = try optBool(expect, "new_token") {
            let rotated = session.token != token && session.tokenHash != hashToken(token: token)
            diffs.eq("new_token", wanted, rotated)
        }
        if let name = try optStr(expect, "same_token") {
            diffs.eq("same_token", try binding(name).token, session.token)
        }
        try bind(step, session)
    }

    private func list(_ step: JSON, _ expect: JSON, _ diffs: Diffs) throws {
        let userId = try reqStr(step, "user_id")
        guard let sessions = try outcome(expect, diffs, { try self.manager.listForUser(userId: userId) }),
              let namesValue = expect["sessions"]
        else { return }
        guard let names = namesValue as? [Any] else {
            throw ScenarioError("\"sessions\" must be an array of binding names")
        }
        var wanted = Set<String>()
        for name in names {
            guard let name = name as? String else { throw ScenarioError("\"sessions\" must hold strings") }
            wanted.insert(try binding(name).id)
        }
        let got = Set(sessions.map(\.id))
        if got.count != sessions.count {
            diffs.push("list returned duplicate sessions: \(sessions.map(\.id))")
        }
        if got != wanted {
            diffs.push("sessions: expected \(describeIds(wanted)), got \(describeIds(got))")
        }
    }

    private func get(_ step: JSON, _ expect: JSON, _ diffs: Diffs) throws {
        let id = try sessionId(step)
        guard let found = try outcome(expect, diffs, { try self.manager.get(sessionId: id) }) else { return }
        if let wanted = try optBool(expect, "found") {
            diffs.eq("found", wanted, found != nil)
        }
        if let session = found {
            try checkSession(expect, session, diffs)
        }
    }

    /// Compares a call's outcome with `expect.error`; the value when the call succeeded
    /// as expected.
    private func outcome<T>(_ expect: JSON, _ diffs: Diffs, _ call: () throws -> T) throws -> T? {
        let wanted = try optStr(expect, "error")
        do {
            let value = try call()
            if let wanted {
                diffs.push("expected error \(wanted), got success")
                return nil
            }
            return value
        } catch {
            if let wanted {
                if errorName(error) != wanted { diffs.push("expected error \(wanted), got \(error)") }
            } else {
                diffs.push("expected success, got error \(error)")
            }
            return nil
        }
    }

    private func checkCount(_ expect: JSON, _ diffs: Diffs, _ call: () throws -> Int64) throws {
        if let count = try outcome(expect, diffs, call), let wanted = try optU64(expect, "count") {
            diffs.eq("count", Int64(exactly: wanted), count)
        }
    }

    /// Checks the session fields named in `expect`.
    private func checkSession(_ expect: JSON, _ session: Session, _ diffs: Diffs) throws {
        if let name = try optStr(expect, "session") {
            if try binding(name).id != session.id {
                diffs.push("session: expected the id of \(String(reflecting: name)), got another")
            }
        }
        if let userId = try optStr(expect, "user_id") {
            diffs.eq("user_id", userId, session.userId)
        }
        let times: [(String, Date)] = [
            ("created_at", session.createdAt),
            ("expires_at", session.expiresAt),
            ("absolute_expires_at", session.absoluteExpiresAt),
        ]
        for (field, got) in times {
            if let wanted = try optStr(expect, field) {
                let wantedMillis = Time.millis(nanos: try Time.parse(wanted))
                if wantedMillis != Time.millis(got) {
                    diffs.eq(field, Time.show(millis: wantedMillis), Time.show(got))
                }
            }
        }
        if let wanted = expect["metadata"] {
            diffs.eq("metadata", try stringMap(wanted), session.metadata)
        }
        if let wanted = expect["bound_user_agent"] {
            let expected: String?
            switch wanted {
            case is NSNull: expected = nil
            case let s as String: expected = s
            default: throw ScenarioError("\"bound_user_agent\" must be a string or null")
            }
            diffs.eq("bound_user_agent", expected, session.boundUserAgent)
        }
        if let revoked = try optBool(expect, "revoked") {
            diffs.eq("revoked", revoked, session.revokedAt != nil)
        }
        if let empty = try optBool(expect, "token_empty") {
            diffs.eq("token_empty", empty, session.token.isEmpty)
        }
    }

    /// Binds the step's `as` name, if any, to the session's id and token.
    private func bind(_ step: JSON, _ session: Session) throws {
        if let name = try optStr(step, "as") {
            bindings[name] = Binding(id: session.id, token: session.token)
        }
    }

    private func binding(_ name: String) throws -> Binding {
        guard let b = bindings[name] else {
            throw ScenarioError("no session is bound to \(String(reflecting: name))")
        }
        return b
    }

    /// The token a `validate` or `refresh` step presents.
    private func presentedToken(_ step: JSON) throws -> String {
        let given = ["token", "token_literal", "token_repeat"].filter { step[$0] != nil }.count
        guard given == 1 else {
            throw ScenarioError("exactly one of token, token_literal, token_repeat is required")
        }
        if let name = try optStr(step, "token") { return try binding(name).token }
        if let literal = try optStr(step, "token_literal") { return literal }
        guard let pair = step["token_repeat"] as? [Any], pair.count == 2,
              let unit = pair[0] as? String, let times = number(pair[1]), times >= 0,
              times == times.rounded()
        else { throw ScenarioError("\"token_repeat\" must be [string, count]") }
        return String(repeating: unit, count: Int(times))
    }

    /// The session id a `destroy` or `get` step names.
    private func sessionId(_ step: JSON) throws -> String {
        switch (try optStr(step, "session"), try optStr(step, "session_id_literal")) {
        case (let name?, nil): return try binding(name).id
        case (nil, let literal?): return literal
        default: throw ScenarioError("exactly one of session, session_id_literal is required")
        }
    }

    /// Ids shown by binding name where one is known.
    private func describeIds(_ ids: Set<String>) -> String {
        let shown = ids.map { id -> String in
            let names = bindings.filter { $0.value.id == id }.map(\.key).sorted()
            return names.isEmpty ? id : names.joined(separator: "/")
        }.sorted()
        return "[\(shown.joined(separator: ", "))]"
    }
}

// MARK: - Scenario fields

private func configFrom(_ value: Any?) throws -> SessionConfig {
    var config = SessionConfig()
    guard let value else { return config }
    guard let object = value as? JSON else { throw ScenarioError("config is not a JSON object") }
    for (key, value) in object {
        let bad = ScenarioError("config key \(String(reflecting: key)) has a value of the wrong type: \(value)")
        func seconds() throws -> TimeInterval {
            guard let n = wholeNumber(value) else { throw bad }
            return TimeInterval(n)
        }
        func small() throws -> Int32 {
            // Signed, and may be negative: scenarios check that negative limits are refused.
            guard let d = number(value), d == d.rounded(), let small = Int32(exactly: d) else { throw bad }
            return small
        }
        switch key {
        case "default_expires_in_s": config.defaultExpiresIn = try seconds()
        case "max_lifetime_s": config.maxLifetime = try seconds()
        case "bind_to_user_agent":
            guard let b = boolean(value) else { throw bad }
            config.bindToUserAgent = b
        case "prefix":
            guard let s = value as? String else { throw bad }
            config.prefix = s
        case "max_metadata_entries": config.maxMetadataEntries = try small()
        case "max_metadata_bytes": config.maxMetadataBytes = try small()
        case "rotation_grace_s": config.rotationGrace = try seconds()
        case "max_sessions_per_user": config.maxSessionsPerUser = try small()
        case "session_limit_action":
            switch value as? String {
            case "RevokeOldest": config.sessionLimitAction = .revokeOldest
            case "Refuse": config.sessionLimitAction = .refuse
            default: throw bad
            }
        default: throw ScenarioError("unknown config key \(String(reflecting: key))")
        }
    }
    return config
}

/// The metadata a `create` step passes: `metadata`, `metadata_generate`, or none.
private func createMetadata(_ step: JSON) throws -> [String: String]? {
    switch (step["metadata"], step["metadata_generate"]) {
    case (_?, _?): throw ScenarioError("both \"metadata\" and \"metadata_generate\"")
    case (let given?, nil): return try stringMap(given)
    case (nil, let generate?):
        guard let generate = generate as? JSON else { throw ScenarioError("metadata_generate is not a JSON object") }
        try checkKeys(generate, ["entries", "bytes"], "metadata_generate")
        switch (try optU64(generate, "entries"), try optU64(generate, "bytes")) {
        case (let n?, nil):
            return Dictionary(uniqueKeysWithValues: (0..<n).map { ("k\($0)", "v") })
        case (nil, let n?) where n >= 1:
            return ["k": String(repeating: "x", count: Int(n - 1))]
        default:
            throw ScenarioError("\"metadata_generate\" needs exactly one of entries, bytes >= 1")
        }
    case (nil, nil): return nil
    }
}

/// An object of strings, or `null` (nil).
private func stringMap(_ value: Any) throws -> [String: String]? {
    if value is NSNull { return nil }
    guard let object = value as? JSON else { throw ScenarioError("metadata is not a JSON object") }
    var out: [String: String] = [:]
    for (k, v) in object {
        guard let s = v as? String else {
            throw ScenarioError("metadata value of \(String(reflecting: k)) is not a string")
        }
        out[k] = s
    }
    return out
}

private func checkKeys(_ map: JSON, _ allowed: Set<String>, _ what: String) throws {
    if let key = map.keys.sorted().first(where: { !allowed.contains($0) }) {
        throw ScenarioError("unknown \(what) key \(String(reflecting: key))")
    }
}

/// A JSON boolean.
private func boolean(_ value: Any?) -> Bool? {
    value as? Bool
}

/// A JSON number as a Double.
private func number(_ value: Any?) -> Double? {
    guard let value, !(value is String), !(value is NSNull) else { return nil }
    if let n = value as? NSNumber { return n.doubleValue }
    if let d = value as? Double { return d }
    if let i = value as? Int { return Double(i) }
    return nil
}

/// A JSON number that is a whole number >= 0.
private func wholeNumber(_ value: Any?) -> UInt64? {
    guard let d = number(value), d >= 0, d == d.rounded(), d < 1.8e19 else { return nil }
    return UInt64(d)
}

private func optStr(_ map: JSON, _ key: String) throws -> String? {
    switch map[key] {
    case nil, is NSNull: return nil
    case let s as String: return s
    case let other?: throw ScenarioError("\(String(reflecting: key)) must be a string, got \(other)")
    }
}

private func reqStr(_ map: JSON, _ key: String) throws -> String {
    guard let s = try optStr(map, key) else { throw ScenarioError("missing \(String(reflecting: key))") }
    return s
}

private func optBool(_ map: JSON, _ key: String) throws -> Bool? {
    guard let value = map[key] else { return nil }
    guard let b = boolean(value) else {
        throw ScenarioError("\(String(reflecting: key)) must be a boolean, got \(value)")
    }
    return b
}

private func optU64(_ map: JSON, _ key: String) throws -> UInt64? {
    guard let value = map[key] else { return nil }
    guard let n = wholeNumber(value) else {
        throw ScenarioError("\(String(reflecting: key)) must be a whole number >= 0, got \(value)")
    }
    return n
}
