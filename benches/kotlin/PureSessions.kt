package dev.sessions.bench

import java.nio.ByteBuffer
import java.security.MessageDigest
import java.security.SecureRandom
import java.time.Duration
import java.time.Instant
import java.util.Base64
import java.util.HexFormat
import java.util.concurrent.ConcurrentHashMap

/**
 * A pure-Kotlin session manager doing what `SessionManager.validate` does on the
 * in-memory store (MessageDigest SHA-256 + ConcurrentHashMap + data class), kept as the
 * yardstick for the Kotlin benchmark (ValidateBench.kt), as benches/python/pure_sessions.py
 * is for Python. Not part of the package: no rotation, no store contract, no limits; only
 * the per-request checks in the library's order (unknown token, revoked, expired, user
 * agent) and the sliding extension.
 */
class PureManager(
    private val expiresIn: Duration = Duration.ofDays(1),
    private val maxLifetime: Duration = Duration.ofDays(30),
) {
    /** A session as the pure manager keeps and returns it. */
    data class PureSession(
        val id: String,
        val userId: String,
        val token: String,
        val tokenHash: String,
        val createdAt: Instant,
        val expiresAt: Instant,
        val metadata: Map<String, String>?,
        val revokedAt: Instant?,
        val slidingExpiration: Boolean?,
        val boundUserAgent: String?,
        val lifetime: Duration,
        val absoluteExpiresAt: Instant,
        val version: Long = 1,
    )

    /** What [validate] answers: a session, or the reason there is none. */
    data class PureResult(val valid: Boolean, val session: PureSession?, val error: String?)

    private val byDigest = ConcurrentHashMap<ByteBuffer, PureSession>()
    private val random = SecureRandom()
    private val sha256 = ThreadLocal.withInitial { MessageDigest.getInstance("SHA-256") }

    private fun digest(token: String): ByteArray = sha256.get().digest(token.toByteArray(Charsets.UTF_8))

    /** A new session for [userId]; its token is only in the returned copy. */
    fun create(userId: String, metadata: Map<String, String>? = null, sliding: Boolean = false): PureSession {
        val raw = ByteArray(32).also(random::nextBytes)
        val token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw)
        val digest = digest(token)
        val now = Instant.now()
        val session = PureSession(
            id = HexFormat.of().formatHex(ByteArray(16).also(random::nextBytes)),
            userId = userId, token = token, tokenHash = HexFormat.of().formatHex(digest),
            createdAt = now, expiresAt = now + expiresIn, metadata = metadata?.toMap(), revokedAt = null,
            slidingExpiration = sliding, boundUserAgent = null, lifetime = expiresIn,
            absoluteExpiresAt = now + maxLifetime,
        )
        byDigest[ByteBuffer.wrap(digest)] = session.copy(token = "")
        return session
    }

    /** The session [token] names if it passes the checks, else the reason it does not. */
    fun validate(token: String, userAgent: String? = null): PureResult {
        if (token.isEmpty() || token.length > MAX_TOKEN_CHARS) return PureResult(false, null, "invalid_token")
        val key = ByteBuffer.wrap(digest(token))
        val session = byDigest[key] ?: return PureResult(false, null, "invalid_token")
        if (session.revokedAt != null) return PureResult(false, null, "session_revoked")
        val now = Instant.now()
        if (now >= session.expiresAt) return PureResult(false, null, "session_expired")
        if (session.boundUserAgent != null && userAgent != session.boundUserAgent) {
            return PureResult(false, null, "user_agent_mismatch")
        }
        if (session.slidingExpiration == true &&
            Duration.between(now, session.expiresAt) < session.lifetime.dividedBy(2)
        ) {
            val slid = byDigest.computeIfPresent(key) { _, s ->
                s.copy(expiresAt = minOf(now + s.lifetime, s.absoluteExpiresAt), version = s.version + 1)
            }
            return PureResult(true, slid, null)
        }
        return PureResult(true, session, null)
    }

    private companion object {
        const val MAX_TOKEN_CHARS = 2048
    }
}
