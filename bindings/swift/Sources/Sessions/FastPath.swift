// Handwritten (not generated): the per-request fast path. `validateFast` runs the
// manager's own `validate` through one primitive-only C call (`sessions_fast_validate`,
// declared in SessionsFFI/sessionsFast.h) instead of UniFFI's generated per-call code,
// and builds the same `ValidationResult` from the result's documented layout
// (src/fast_path.rs). Nothing is cached: every call validates in Rust, in this manager.

import Foundation
import SessionsFFI

extension SessionManager {
    /// Validates a token exactly as `validate(token:userAgent:)` does (same manager,
    /// store, clock and rules; same result; the same `SessionError` when the store or
    /// clock fails), through the fast path: use it for the per-request call.
    public func validateFast(token: String, userAgent: String? = nil) throws -> ValidationResult {
        let handle = FastHandles.shared.handle(for: self)
        var token = token
        let result: ValidationResult? = try token.withUTF8 { t in
            guard var agent = userAgent else {
                return try FastPath.call(handle, t, nil, 0)
            }
            return try agent.withUTF8 { u in
                try FastPath.call(handle, t, u.baseAddress ?? FastPath.empty, u.count)
            }
        }
        if let result { return result }
        return try validate(token: token, userAgent: userAgent)
    }
}

/// Each manager's fast-path handle, asked for once. Keyed by object identity and
/// checked against a weak reference, so an address reused by a later manager never
/// gets an earlier one's handle (handles are never reused by the library either).
final class FastHandles: @unchecked Sendable {
    static let shared = FastHandles()

    private final class Entry {
        weak var manager: SessionManager?
        let handle: UInt64
        init(_ manager: SessionManager, _ handle: UInt64) {
            self.manager = manager
            self.handle = handle
        }
    }

    private let lock = NSLock()
    private var entries: [ObjectIdentifier: Entry] = [:]

    func handle(for manager: SessionManager) -> UInt64 {
        let key = ObjectIdentifier(manager)
        lock.lock()
        if let entry = entries[key], entry.manager === manager {
            lock.unlock()
            return entry.handle
        }
        lock.unlock()
        let handle = manager.fastPathHandle()
        lock.lock()
        if entries.count >= 1024 { entries = entries.filter { $0.value.manager != nil } }
        entries[key] = Entry(manager, handle)
        lock.unlock()
        return handle
    }
}

enum FastPath {
    static let failed: Int32 = -3
    static let headerLength = 88
    static let empty: UnsafePointer<UInt8> = {
        let byte = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        byte.initialize(to: 0)
        return UnsafePointer(byte)
    }()
    static let errors: [ValidationError] = [
        .invalidToken, .sessionExpired, .sessionRevoked, .userAgentMismatch, .tokenReused,
    ]

    /// One call, decoded; nil when the regular path must answer (a handle the library
    /// does not know). Throws the library's error when `validate` failed.
    static func call(_ handle: UInt64, _ token: UnsafeBufferPointer<UInt8>,
                     _ agent: UnsafePointer<UInt8>?, _ agentLength: Int) throws -> ValidationResult? {
        try withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 8) { out in
            var size = Int(sessions_fast_validate(
                handle, token.baseAddress, token.count, agent, agentLength,
                out.baseAddress?.assumingMemoryBound(to: UInt8.self), out.count))
            if size >= 0 && size <= out.count {
                return decode(UnsafeRawBufferPointer(out), size)
            }
            while size > 0 {  // larger than the stack buffer: once more into the heap
                let big = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
                defer { big.deallocate() }
                let got = Int(sessions_fast_validate(
                    handle, token.baseAddress, token.count, agent, agentLength,
                    big.baseAddress?.assumingMemoryBound(to: UInt8.self), big.count))
                if got >= 0 && got <= big.count { return decode(UnsafeRawBufferPointer(big), got) }
                size = got
            }
            if Int32(size) == failed { try takeFastPathError() }
            return nil
        }
    }

    /// The C call alone (for tests of handles and buffers).
    static func callRaw(_ handle: UInt64, _ token: UnsafeBufferPointer<UInt8>,
                        _ out: UnsafeMutableBufferPointer<UInt8>) -> Int32 {
        sessions_fast_validate(handle, token.baseAddress, token.count, nil, 0, out.baseAddress, out.count)
    }

    /// The result in `b[0..<size]` (layout in src/fast_path.rs).
    static func decode(_ b: UnsafeRawBufferPointer, _ size: Int) -> ValidationResult {
        let status = Int(b[0])
        guard status == 0 else {
            return ValidationResult(valid: false, session: nil, error: errors[status - 1])
        }
        let flags = b[1]
        func u32(_ at: Int) -> Int { Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
        func i64(_ at: Int) -> Int64 { Int64(littleEndian: b.loadUnaligned(fromByteOffset: at, as: Int64.self)) }
        func time(_ i: Int) -> Date {  // as UniFFI's own conversion
            let seconds = i64(16 + 12 * i)
            let nanos = Double(u32(24 + 12 * i))
            return Date(timeIntervalSince1970: Double(seconds)).addingTimeInterval(nanos / 1.0e9)
        }
        let entries = u32(4)
        var count = 4 + 2 * entries
        for bit: UInt8 in [16, 32, 128] where flags & bit != 0 { count += 1 }
        var strings: [String] = []
        strings.reserveCapacity(count)
        var at = headerLength + 4 * count
        for i in 0..<count {
            let n = u32(headerLength + 4 * i)
            strings.append(String(decoding: UnsafeRawBufferPointer(rebasing: b[at..<(at + n)]), as: UTF8.self))
            at += n + 1  // and the NUL after it
        }
        var i = 4
        func next(_ bit: UInt8) -> String? {
            guard flags & bit != 0 else { return nil }
            defer { i += 1 }
            return strings[i]
        }
        let bound = next(16), previous = next(32), key = next(128)
        var metadata: [String: String]?
        if flags & 1 != 0 {
            var m = [String: String](minimumCapacity: entries)
            for j in stride(from: i, to: i + 2 * entries, by: 2) { m[strings[j]] = strings[j + 1] }
            metadata = m
        }
        let lifetime = Double(UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 76, as: UInt64.self)))
            + Double(u32(84)) / 1.0e9
        let session = Session(
            id: strings[0], userId: strings[1], token: strings[2], tokenHash: strings[3],
            createdAt: time(0), expiresAt: time(1), metadata: metadata,
            revokedAt: flags & 2 != 0 ? time(3) : nil,
            slidingExpiration: flags & 4 != 0 ? flags & 8 != 0 : nil,
            boundUserAgent: bound, lifetime: lifetime, absoluteExpiresAt: time(2),
            version: i64(8), previousTokenHash: previous,
            rotatedAt: flags & 64 != 0 ? time(4) : nil, rotationKey: key)
        return ValidationResult(valid: true, session: session, error: nil)
    }
}
