// Handwritten (not generated): what the generated bindings cannot say themselves.
// generate.sh never touches this file.

import Foundation

/// `dump(session)`, Xcode's variables view and anything else built on `Mirror` show the
/// session as its `description` does: the token as `<redacted>` (empty when the session
/// has none) and only the first 8 hex digits of its hash. Without this, `Mirror` would
/// list the stored properties, raw token included. (`print`, `String(describing:)`,
/// `debugDescription` and string interpolation use the core's redacted `Display` and
/// `Debug`, which the generated code forwards.)
extension Session: CustomReflectable {
    public var customMirror: Mirror {
        Mirror(self, children: [
            "id": id,
            "userId": userId,
            "token": token.isEmpty ? "" : "<redacted>",
            "tokenHash": String(tokenHash.prefix(8)),
            "createdAt": createdAt,
            "expiresAt": expiresAt,
            "metadata": metadata as Any,
            "revokedAt": revokedAt as Any,
            "slidingExpiration": slidingExpiration as Any,
            "boundUserAgent": boundUserAgent as Any,
            "lifetime": lifetime,
            "absoluteExpiresAt": absoluteExpiresAt,
            "version": version,
        ], displayStyle: .struct)
    }
}

// The core exports its one-sentence `Display` messages for the error types, and the
// generated code has them as `description`, but UniFFI 0.32 does not declare
// `CustomStringConvertible` for errors (it does for records and enums). Declared here,
// `String(describing:)`, string interpolation, `print` and `localizedDescription`
// (the generated `errorDescription` is `String(reflecting:)`) all give the message
// instead of Swift's print-out of the enum case. If a later UniFFI declares it itself,
// these two lines stop compiling and can go.
extension SessionError: CustomStringConvertible {}
extension ClockError: CustomStringConvertible {}
