// Swift side of the per-request benchmark (issue 14), run by scripts/benchmarks.py
// (`python3 scripts/benchmarks.py --swift` for this section alone). Prints one JSON
// object as its last line.
//
// Usage: ValidateBench <path of libswift_rust_reference.so>
//   (cargo build --release --example swift_rust_reference; see rust_reference.rs)
//
// Side by side in one process, CPU time of this thread (clock_gettime with
// CLOCK_THREAD_CPUTIME_ID), 1,000 sessions with one metadata entry each on the in-memory
// store with the system clock, the median of 5 interleaved rounds after a warm-up round:
// - `validateFast` (the per-request fast path: one C call, the result decoded in Swift),
// - `validate` (the regular UniFFI-generated call),
// - Rust's own `SessionManager::validate`, called in this process from the cargo example
//   benches/swift/rust_reference.rs (loaded with dlopen; its own manager with the same
//   fixture), timed by the same clock on the same thread,
// - the pure-Swift manager of PureSessions.swift,
// each for a valid and an unknown token, the caller reading the result
// (`result.session?.userId`); and `create` through UniFFI against the pure-Swift `create`.

import Foundation
import Sessions

let sessionCount = 1000
let rounds = 5
let calls = 20_000  // Swift calls per case and round
let rustBatch = 10_000, rustBatches = 4  // Rust calls per round: 40,000
let creates = 2000

/// This thread's CPU time, in nanoseconds.
func threadCPUNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Keeps results observable so the optimizer cannot drop the calls.
var sink = 0

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("ValidateBench: \(message)\n".utf8))
    exit(1)
}

/// CPU nanoseconds per call of `call` over `calls` calls cycling through `tokens`.
func perCall(_ tokens: [String], _ call: (String) throws -> Int) rethrows -> Double {
    var acc = 0
    let n = tokens.count
    let start = threadCPUNanos()
    for i in 0..<calls { acc &+= try call(tokens[i % n]) }
    let spent = threadCPUNanos() - start
    sink &+= acc
    return Double(spent) / Double(calls)
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

// --- Rust's own validate, in this process. -----------------------------------------
guard CommandLine.arguments.count == 2 else { fail("usage: ValidateBench <libswift_rust_reference.so>") }
guard let reference = dlopen(CommandLine.arguments[1], RTLD_NOW | RTLD_LOCAL) else {
    fail("cannot load \(CommandLine.arguments[1]): \(String(cString: dlerror()))")
}
typealias Prepare = @convention(c) (UInt32, UInt32) -> Int32
typealias Run = @convention(c) () -> Int64
guard let prepareSymbol = dlsym(reference, "sessions_rust_reference_prepare"),
      let runSymbol = dlsym(reference, "sessions_rust_reference_run") else {
    fail("the reference library lacks its entry points")
}
let rustPrepare = unsafeBitCast(prepareSymbol, to: Prepare.self)
let rustRun = unsafeBitCast(runSymbol, to: Run.self)

/// CPU nanoseconds per Rust `validate` (kind 0 valid, 1 unknown); each batch of owned
/// tokens is made untimed, as benches/hotpath.rs does.
func rustPerCall(_ kind: UInt32) -> Double {
    var spent: UInt64 = 0
    for _ in 0..<rustBatches {
        guard rustPrepare(kind, UInt32(rustBatch)) == 0 else { fail("the Rust reference's fixture failed") }
        let start = threadCPUNanos()
        let acc = rustRun()
        spent += threadCPUNanos() - start
        guard acc >= 0 else { fail("Rust validate failed") }
        // Valid: every user id read ("userN", 5 to 7 bytes); unknown: every result an error.
        guard kind == 0 ? acc >= 5 * rustBatch : acc == rustBatch else { fail("unexpected Rust results") }
        sink &+= Int(acc)
    }
    return Double(spent) / Double(rustBatch * rustBatches)
}

// --- The fixtures. -----------------------------------------------------------------
do {
    let manager = try SessionManager(config: SessionConfig())
    guard let pure = PureManager() else { fail("no libcrypto.so.3 for the pure-Swift yardstick") }
    let tokens = try (0..<sessionCount).map {
        try manager.create(options: CreateSessionOptions(userId: "user\($0)", metadata: ["k": "v"])).token
    }
    let pureSessions = (0..<sessionCount).map { pure.create(userId: "user\($0)", metadata: ["k": "v"]) }
    let pureTokens = pureSessions.map(\.token)
    // The yardstick's tokens and digests are the library's: 43 base64url characters, and
    // the same SHA-256 hex as `hashToken`.
    guard pureSessions.allSatisfy({ $0.token.utf8.count == 43 && $0.tokenHash == hashToken(token: $0.token) }) else {
        fail("the pure-Swift manager's tokens or digests differ from the library's")
    }
    let unknown = try (0..<sessionCount).map { _ in try generateSecureToken(bytes: 32) }

    func read(_ r: ValidationResult) -> Int { r.session?.userId.utf8.count ?? (r.error == nil ? 0 : 1) }
    let fast = { (t: String) throws -> Int in read(try manager.validateFast(token: t)) }
    let uniffi = { (t: String) throws -> Int in read(try manager.validate(token: t)) }
    let pureCall = { (t: String) -> Int in
        let r = pure.validate(token: t)
        return r.session?.userId.utf8.count ?? (r.error == nil ? 0 : 1)
    }
    // Each path must answer as expected before it is timed.
    let checks: [(String, (String) throws -> Int, [String], Bool)] = [
        ("fast", fast, tokens, true), ("uniffi", uniffi, tokens, true), ("pure", pureCall, pureTokens, true),
        ("fast", fast, unknown, false), ("uniffi", uniffi, unknown, false), ("pure", pureCall, unknown, false),
    ]
    for (name, call, toks, valid) in checks {
        let got = try call(toks[0])
        guard valid ? got >= 5 : got == 1 else { fail("\(name) answered \(got) for a \(valid ? "valid" : "unknown") token") }
    }

    enum Case { case swift([String], (String) throws -> Int), rust(UInt32) }
    let cases: [(String, Case)] = [
        ("valid_fast", .swift(tokens, fast)), ("valid_uniffi", .swift(tokens, uniffi)),
        ("valid_rust", .rust(0)), ("valid_pure", .swift(pureTokens, pureCall)),
        ("unknown_fast", .swift(unknown, fast)), ("unknown_uniffi", .swift(unknown, uniffi)),
        ("unknown_rust", .rust(1)), ("unknown_pure", .swift(unknown, pureCall)),
    ]
    var samples: [String: [Double]] = [:]
    for round in 0...rounds {  // round 0 warms up
        for (name, c) in cases {
            let ns: Double
            switch c {
            case let .swift(toks, call): ns = try perCall(toks, call)
            case let .rust(kind): ns = rustPerCall(kind)
            }
            if round > 0 { samples[name, default: []].append(ns) }
        }
    }

    var createSamples: [String: [Double]] = ["create_uniffi": [], "create_pure": []]
    let options = CreateSessionOptions(userId: "bench", metadata: ["k": "v"])
    for round in 0...rounds {
        var start = threadCPUNanos()
        for _ in 0..<creates { sink &+= try manager.create(options: options).token.utf8.count }
        let uniffiCreate = Double(threadCPUNanos() - start) / Double(creates)
        start = threadCPUNanos()
        for _ in 0..<creates { sink &+= pure.create(userId: "bench", metadata: ["k": "v"]).token.utf8.count }
        let pureCreate = Double(threadCPUNanos() - start) / Double(creates)
        if round > 0 {
            createSamples["create_uniffi"]!.append(uniffiCreate)
            createSamples["create_pure"]!.append(pureCreate)
        }
    }

    let figures = samples.merging(createSamples) { a, _ in a }
        .sorted { $0.key < $1.key }
        .map { "\"\($0.key)_ns\": \(String(format: "%.1f", median($0.value)))" }
    print("{\(figures.joined(separator: ", ")), \"sink\": \(sink)}")
} catch {
    fail("\(error)")
}
