// A pure-Swift session manager doing what `SessionManager.validate` does on the in-memory
// store (Dictionary + struct, under a lock as a manager shared by request handlers needs),
// kept as the yardstick of the Swift benchmark (main.swift), as
// benches/python/pure_sessions.py and benches/kotlin/PureSessions.kt are for Python and
// Kotlin. Not part of the package: no rotation, no store contract, no limits; only the
// per-request checks in the library's order (unknown token, revoked, expired, user agent)
// and the sliding extension.
//
// SHA-256: Foundation on Linux has none (CryptoKit is Apple's; swift-crypto cannot be
// fetched here), so the digest comes from the system's OpenSSL libcrypto (libcrypto.so.3,
// the library Python's hashlib uses), loaded with dlopen: the SHA256_Init/Update/Final
// functions, which compute the digest directly (OpenSSL 3's one-shot SHA256() looks the
// algorithm up on every call).

import Foundation

/// SHA-256 from libcrypto.so.3; nil when the library is not there.
final class OpenSSLSHA256 {
    private typealias Init = @convention(c) (UnsafeMutableRawPointer) -> Int32
    private typealias Update = @convention(c) (UnsafeMutableRawPointer, UnsafeRawPointer?, Int) -> Int32
    private typealias Final = @convention(c) (UnsafeMutablePointer<UInt8>, UnsafeMutableRawPointer) -> Int32
    private let initialize: Init, update: Update, final: Final
    /// A SHA256_CTX (112 bytes in OpenSSL 3; room to spare), one per manager, used under its lock.
    private let context = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 16)

    init?() {
        guard let lib = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL),
              let i = dlsym(lib, "SHA256_Init"), let u = dlsym(lib, "SHA256_Update"),
              let f = dlsym(lib, "SHA256_Final") else { return nil }
        initialize = unsafeBitCast(i, to: Init.self)
        update = unsafeBitCast(u, to: Update.self)
        final = unsafeBitCast(f, to: Final.self)
    }

    /// The digest of `token`'s UTF-8.
    func digest(_ token: String) -> Digest {
        var token = token
        var out = Digest()
        token.withUTF8 { t in
            _ = initialize(context)
            _ = update(context, t.baseAddress, t.count)
            withUnsafeMutableBytes(of: &out) { _ = final($0.baseAddress!.assumingMemoryBound(to: UInt8.self), context) }
        }
        return out
    }
}

/// A SHA-256 digest as a dictionary key.
struct Digest: Hashable {
    var a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, d: UInt64 = 0

    var hex: String { withUnsafeBytes(of: self) { hexString($0) } }
}

/// Lower-case hex of `bytes`.
func hexString(_ bytes: UnsafeRawBufferPointer) -> String {
    let digits = Array("0123456789abcdef".utf8)
    return String(unsafeUninitializedCapacity: 2 * bytes.count) { out in
        for (i, byte) in bytes.enumerated() {
            out[2 * i] = digits[Int(byte >> 4)]
            out[2 * i + 1] = digits[Int(byte & 15)]
        }
        return 2 * bytes.count
    }
}

/// `count` bytes (a multiple of 8) from the OS CSPRNG (SystemRandomNumberGenerator).
func randomBytes(_ count: Int) -> [UInt8] {
    var rng = SystemRandomNumberGenerator()
    var words = (0..<(count / 8)).map { _ in rng.next() as UInt64 }
    return words.withUnsafeMutableBytes { Array($0) }
}

/// Unpadded base64url of `bytes`.
func base64url(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    var out: [UInt8] = []
    out.reserveCapacity((bytes.count * 4 + 2) / 3)
    var i = 0
    while i < bytes.count {
        let n = min(3, bytes.count - i)
        var v = UInt32(bytes[i]) << 16
        if n > 1 { v |= UInt32(bytes[i + 1]) << 8 }
        if n > 2 { v |= UInt32(bytes[i + 2]) }
        for k in 0...n { out.append(alphabet[Int((v >> (18 - 6 * k)) & 63)]) }
        i += 3
    }
    return String(decoding: out, as: UTF8.self)
}

/// A session as the pure manager keeps and returns it.
struct PureSession {
    var id: String
    var userId: String
    var token: String
    var tokenHash: String
    var createdAt: Date
    var expiresAt: Date
    var metadata: [String: String]?
    var revokedAt: Date?
    var slidingExpiration: Bool?
    var boundUserAgent: String?
    var lifetime: TimeInterval
    var absoluteExpiresAt: Date
    var version: Int64 = 1
}

/// What `validate` answers: a session, or the reason there is none.
struct PureResult {
    var valid: Bool
    var session: PureSession?
    var error: String?
}

final class PureManager {
    private let expiresIn: TimeInterval = 86_400
    private let maxLifetime: TimeInterval = 30 * 86_400
    private static let maxTokenBytes = 2048
    private let sha256: OpenSSLSHA256
    private let lock = NSLock()
    private var byDigest: [Digest: PureSession] = [:]

    init?() {
        guard let sha256 = OpenSSLSHA256() else { return nil }
        self.sha256 = sha256
    }

    /// A new session for `userId`; its token is only in the returned copy.
    func create(userId: String, metadata: [String: String]? = nil, sliding: Bool = false) -> PureSession {
        let token = base64url(randomBytes(32))
        let id = randomBytes(16).withUnsafeBytes { hexString($0) }
        let now = Date()
        lock.lock()
        defer { lock.unlock() }
        let digest = sha256.digest(token)
        var session = PureSession(
            id: id, userId: userId, token: "", tokenHash: digest.hex,
            createdAt: now, expiresAt: now + expiresIn, metadata: metadata, revokedAt: nil,
            slidingExpiration: sliding, boundUserAgent: nil, lifetime: expiresIn,
            absoluteExpiresAt: now + maxLifetime)
        byDigest[digest] = session
        session.token = token
        return session
    }

    /// The session `token` names if it passes the checks, else the reason it does not.
    func validate(token: String, userAgent: String? = nil) -> PureResult {
        if token.isEmpty || token.utf8.count > Self.maxTokenBytes {
            return PureResult(valid: false, session: nil, error: "invalid_token")
        }
        lock.lock()
        defer { lock.unlock() }
        let key = sha256.digest(token)
        guard var session = byDigest[key] else {
            return PureResult(valid: false, session: nil, error: "invalid_token")
        }
        if session.revokedAt != nil { return PureResult(valid: false, session: nil, error: "session_revoked") }
        let now = Date()
        if now >= session.expiresAt { return PureResult(valid: false, session: nil, error: "session_expired") }
        if let bound = session.boundUserAgent, userAgent != bound {
            return PureResult(valid: false, session: nil, error: "user_agent_mismatch")
        }
        if session.slidingExpiration == true && session.expiresAt.timeIntervalSince(now) < session.lifetime / 2 {
            session.expiresAt = min(now + session.lifetime, session.absoluteExpiresAt)
            session.version += 1
            byDigest[key] = session
        }
        return PureResult(valid: true, session: session, error: nil)
    }
}
