// Handwritten (not generated): the per-request fast path. `validateFast` runs the
// manager's own `validate` through one primitive-only C call (`sessions_fast_validate`,
// declared in SessionsFFI/sessionsFast.h; a result larger than the buffer is fetched
// with `sessions_fast_take_pending`, without validating again) instead of UniFFI's
// generated per-call code, and builds the same `ValidationResult` from the result's documented layout
// (src/fast_path.rs). Nothing is cached: every call validates in Rust, in this manager.

import Foundation
import SessionsFFI

extension SessionManager {
    /// Validates a token exactly as `validate(token:userAgent:)` does (same manager,
    /// store, clock and rules; same result; the same `SessionError` when the store or
    /// clock fails), through the fast path: use it for the per-request call.
    public func validateFast(token: String, userAgent: String? = nil) throws -> ValidationResult {
        let thread = FastThread.current
        let handle = thread.handle(for: self)
        var token = token, agent = userAgent
        // This thread's buffer, unless a call on this thread is already using it (a store
        // or clock written in Swift calling `validateFast` from inside `validate`).
        let own = !thread.busy
        let out = own ? thread.buffer : UnsafeMutableRawBufferPointer.allocate(
            byteCount: FastThread.bufferLength, alignment: 8)
        thread.busy = true
        defer { if own { thread.busy = false } else { out.deallocate() } }
        var size = FastPath.run(handle, &token, &agent, out)
        if size >= 0 && size <= out.count { return FastPath.decode(UnsafeRawBufferPointer(out), size) }
        while size > 0 {  // larger than the buffer: the library kept it for this thread
            // Fetched into the heap, not validated a second time (which could slide the
            // session again or count a grace-period token as reuse).
            let big = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
            defer { big.deallocate() }
            let got = Int(sessions_fast_take_pending(big.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                                     big.count))
            if got >= 0 && got <= big.count { return FastPath.decode(UnsafeRawBufferPointer(big), got) }
            size = got
        }
        if Int32(size) == FastPath.failed { try takeFastPathError() }
        // A handle the library does not know: the regular path answers.
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

/// What one thread keeps between calls: the handle of the manager it called last (so
/// the per-request call takes no lock) and its result buffer (so none is set up per call).
final class FastThread {
    static let bufferLength = 4096

    private var key: ObjectIdentifier?
    private weak var manager: SessionManager?
    private var lastHandle: UInt64 = 0
    /// `bufferLength` bytes, owned by this object (allocated once, freed in deinit).
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FastThread.bufferLength, alignment: 8)
    /// True while a call on this thread is using `buffer`.
    var busy = false

    deinit { buffer.deallocate() }

    func handle(for manager: SessionManager) -> UInt64 {
        // The weak reference, not the key alone, decides: an address reused by a later
        // manager never gets an earlier one's handle.
        if key == ObjectIdentifier(manager), self.manager === manager { return lastHandle }
        let handle = FastHandles.shared.handle(for: manager)
        key = ObjectIdentifier(manager)
        self.manager = manager
        lastHandle = handle
        return handle
    }

    /// The thread-specific slot holding each thread's `FastThread`, retained once by
    /// `current` and released by the slot's destructor when the thread exits.
    private static let slot: pthread_key_t = {
        var key = pthread_key_t()
        #if os(Linux) || os(Android)
        let status = pthread_key_create(&key) { p in
            if let p { Unmanaged<FastThread>.fromOpaque(p).release() }
        }
        #else
        let status = pthread_key_create(&key) { p in Unmanaged<FastThread>.fromOpaque(p).release() }
        #endif
        precondition(status == 0, "pthread_key_create failed: \(status)")
        return key
    }()

    /// This thread's state, made on its first call.
    static var current: FastThread {
        if let p = pthread_getspecific(slot) {
            // The slot only ever holds a `FastThread` retained below, released only when
            // this thread exits, so the object is alive for the whole of this call.
            return Unmanaged<FastThread>.fromOpaque(p).takeUnretainedValue()
        }
        let state = FastThread()
        pthread_setspecific(slot, Unmanaged.passRetained(state).toOpaque())
        return state
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

    /// One C call writing into `out`: the result's length, or a negative error code
    /// (src/fast_path.rs). Returns only an `Int`, so no result struct travels through
    /// the closures. `inout` only for `withUTF8` (which never changes the strings' value).
    static func run(_ handle: UInt64, _ token: inout String, _ agent: inout String?,
                    _ out: UnsafeMutableRawBufferPointer) -> Int {
        let o = out.baseAddress?.assumingMemoryBound(to: UInt8.self)
        return token.withUTF8 { t in
            guard agent != nil else {
                return Int(sessions_fast_validate(handle, t.baseAddress, t.count, nil, 0, o, out.count))
            }
            return agent!.withUTF8 { u in
                Int(sessions_fast_validate(handle, t.baseAddress, t.count, u.baseAddress ?? empty, u.count,
                                           o, out.count))
            }
        }
    }

    /// The C call alone (for tests of handles and buffers).
    static func callRaw(_ handle: UInt64, _ token: UnsafeBufferPointer<UInt8>,
                        _ out: UnsafeMutableBufferPointer<UInt8>) -> Int32 {
        sessions_fast_validate(handle, token.baseAddress, token.count, nil, 0, out.baseAddress, out.count)
    }

    /// The result in `b[0..<size]` (layout in src/fast_path.rs). The strings are read in
    /// order with one cursor, straight into the result (no intermediate array).
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
        if flags & 16 != 0 { count += 1 }
        if flags & 32 != 0 { count += 1 }
        if flags & 128 != 0 { count += 1 }
        var lengthAt = headerLength  // the next string's length
        var at = headerLength + 4 * count  // the next string's bytes
        func string() -> String {
            let n = u32(lengthAt)
            lengthAt += 4
            defer { at += n + 1 }  // and the NUL after it
            return String(decoding: UnsafeRawBufferPointer(rebasing: b[at..<(at + n)]), as: UTF8.self)
        }
        let id = string(), userId = string(), token = string(), tokenHash = string()
        let bound = flags & 16 != 0 ? string() : nil
        let previous = flags & 32 != 0 ? string() : nil
        let key = flags & 128 != 0 ? string() : nil
        var metadata: [String: String]?
        if flags & 1 != 0 {
            var m = [String: String](minimumCapacity: entries)
            for _ in 0..<entries {
                let k = string()
                m[k] = string()
            }
            metadata = m
        }
        let lifetime = Double(UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 76, as: UInt64.self)))
            + Double(u32(84)) / 1.0e9
        return ValidationResult(valid: true, session: Session(
            id: id, userId: userId, token: token, tokenHash: tokenHash,
            createdAt: time(0), expiresAt: time(1), metadata: metadata,
            revokedAt: flags & 2 != 0 ? time(3) : nil,
            slidingExpiration: flags & 4 != 0 ? flags & 8 != 0 : nil,
            boundUserAgent: bound, lifetime: lifetime, absoluteExpiresAt: time(2),
            version: i64(8), previousTokenHash: previous,
            rotatedAt: flags & 64 != 0 ? time(4) : nil, rotationKey: key), error: nil)
    }
}
