package dev.sessions

import java.time.Duration
import java.time.Instant
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/** The seed's stateless API (REFERENCE.md section 1) through the free functions. */
class FreeFunctionsTest {
    private val base64url = Regex("^[A-Za-z0-9_-]+$")

    @Test
    fun `generateSecureToken gives 43 base64url characters by default, and unique tokens`() {
        val tokens = (1..200).map { generateSecureToken() }
        tokens.forEach {
            assertEquals(43, it.length)
            assertTrue(base64url.matches(it), it)
        }
        assertEquals(tokens.size, tokens.toSet().size)
    }

    @Test
    fun `generateSecureToken(64) gives at least 64 characters`() {
        val t = generateSecureToken(64u)
        assertTrue(t.length >= 64)
        assertEquals(86, t.length)
        assertEquals(22, generateSecureToken(16u).length)
        assertEquals(1366, generateSecureToken(1024u).length)
    }

    @Test
    fun `generateSecureToken refuses lengths outside 16 to 1024 bytes`() {
        for (bytes in listOf(0u, 15u, 1025u, UInt.MAX_VALUE)) {
            val e = assertFailsWith<SessionException.InvalidTokenLength> { generateSecureToken(bytes) }
            assertEquals(bytes, e.bytes)
            assertEquals(16u, e.min)
            assertEquals(1024u, e.max)
        }
    }

    @Test
    fun `hashToken is deterministic lowercase hex SHA-256 that differs from the token`() {
        assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hashToken("abc"))
        val t = generateSecureToken()
        val h = hashToken(t)
        assertEquals(h, hashToken(t))
        assertNotEquals(t, h)
        assertTrue(Regex("^[0-9a-f]{64}$").matches(h))
        assertNotEquals(h, hashToken(t + "x"))
        // Non-ASCII is hashed as UTF-8.
        assertEquals(
            java.security.MessageDigest.getInstance("SHA-256").digest("tök€n😀".toByteArray())
                .joinToString("") { "%02x".format(it) },
            hashToken("tök€n😀"),
        )
    }

    @Test
    fun `createSession uses the default 24 hours exactly and a 30 day absolute cap`() {
        val before = Instant.now()
        val s = createSession(opts("alice"))
        assertEquals(Duration.ofHours(24), Duration.between(s.createdAt, s.expiresAt))
        assertEquals(Duration.ofDays(30), Duration.between(s.createdAt, s.absoluteExpiresAt))
        assertEquals(Duration.ofHours(24), s.lifetime)
        assertFalse(s.createdAt.isBefore(before.minusSeconds(1)))
        assertEquals("alice", s.userId)
        assertEquals(43, s.token.length)
        assertEquals(hashToken(s.token), s.tokenHash)
        assertTrue(Regex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$").matches(s.id), s.id)
        assertNull(s.revokedAt)
        assertNull(s.metadata)
        assertEquals(false, s.slidingExpiration)
        assertNull(s.boundUserAgent)
    }

    @Test
    fun `createSession with custom expiresIn and metadata round-trips them exactly`() {
        val md = mapOf("ip" to "10.0.0.1", "userAgent" to "UA/1.0", "ünï" to "cödé 😀")
        val s = createSession(opts("bob", expiresIn = Duration.ofMillis(90_500), metadata = md, sliding = true))
        assertEquals(Duration.ofMillis(90_500), Duration.between(s.createdAt, s.expiresAt))
        assertEquals(md, s.metadata)
        assertEquals(true, s.slidingExpiration)
        // The free function never binds a user agent.
        assertNull(s.boundUserAgent)
        assertNotEquals(s.id, createSession(opts("bob")).id)
    }

    @Test
    fun `createSession rejects bad input with typed exceptions`() {
        assertFailsWith<SessionException.InvalidUserId> { createSession(opts("")) }
        assertFailsWith<SessionException.InvalidUserId> { createSession(opts("u".repeat(257))) }
        createSession(opts("u".repeat(256)))
        assertFailsWith<SessionException.InvalidLifetime> { createSession(opts("a", expiresIn = Duration.ZERO)) }
        assertFailsWith<SessionException.InvalidLifetime> { createSession(opts("a", expiresIn = Duration.ofDays(31))) }
        assertFailsWith<SessionException.MetadataTooLarge> {
            createSession(opts("a", metadata = (0..64).associate { "k$it" to "v" }))
        }
        assertFailsWith<SessionException.MetadataTooLarge> {
            createSession(opts("a", metadata = mapOf("k" to "x".repeat(8192))))
        }
        createSession(opts("a", metadata = mapOf("k" to "x".repeat(8191))))
        // A negative Duration cannot be lowered at all: the generated code refuses it in Kotlin.
        assertFailsWith<IllegalArgumentException> { createSession(opts("a", expiresIn = Duration.ofSeconds(-1))) }
    }

    @Test
    fun `validateSession accepts the right token and names each failure`() {
        val s = createSession(opts("alice"))
        val ok = validateSession(s.token, s)
        assertTrue(ok.valid)
        assertNull(ok.error)
        assertEquals(s, ok.session)

        val wrong = validateSession(generateSecureToken(), s)
        assertFalse(wrong.valid)
        assertNull(wrong.session)
        assertEquals(ValidationError.INVALID_TOKEN, wrong.error)

        val expired = s.copy(expiresAt = Instant.now().minusSeconds(1))
        assertEquals(ValidationError.SESSION_EXPIRED, validateSession(s.token, expired).error)

        val revoked = destroySession(s)
        assertEquals(ValidationError.SESSION_REVOKED, validateSession(s.token, revoked).error)

        val bound = s.copy(boundUserAgent = "UA1")
        assertTrue(validateSession(s.token, bound, "UA1").valid)
        assertEquals(ValidationError.USER_AGENT_MISMATCH, validateSession(s.token, bound, "UA2").error)
        assertEquals(ValidationError.USER_AGENT_MISMATCH, validateSession(s.token, bound).error)
        // Unbound sessions accept any user agent.
        assertTrue(validateSession(s.token, s, "anything").valid)
    }

    @Test
    fun `bug 5 - validateSession checks revoked and expired before the user agent`() {
        val s = createSession(opts("alice")).copy(boundUserAgent = "UA1")
        assertEquals(ValidationError.SESSION_REVOKED, validateSession(s.token, destroySession(s), "UA2").error)
        val expired = s.copy(expiresAt = Instant.now().minusSeconds(1))
        assertEquals(ValidationError.SESSION_EXPIRED, validateSession(s.token, expired, "UA2").error)
        // A wrong token beats everything, as the seed's hash comparison would.
        assertEquals(ValidationError.INVALID_TOKEN, validateSession("nope", destroySession(s), "UA2").error)
    }

    @Test
    fun `bug 6 - validateSession treats expiresAt as already expired, and the absolute end too`() {
        val s = createSession(opts("alice"))
        val atNow = s.copy(expiresAt = Instant.now())
        assertEquals(ValidationError.SESSION_EXPIRED, validateSession(s.token, atNow).error)
        val capped = s.copy(absoluteExpiresAt = Instant.now().minusMillis(1))
        assertEquals(ValidationError.SESSION_EXPIRED, validateSession(s.token, capped).error)
    }

    @Test
    fun `validateSession with a corrupt stored hash is just invalid`() {
        val s = createSession(opts("alice"))
        assertEquals(ValidationError.INVALID_TOKEN, validateSession(s.token, s.copy(tokenHash = "zz")).error)
        assertEquals(ValidationError.INVALID_TOKEN, validateSession(s.token, s.copy(tokenHash = "")).error)
        // Uppercase hex of the right hash still matches (it is parsed, not string-compared).
        assertTrue(validateSession(s.token, s.copy(tokenHash = s.tokenHash.uppercase())).valid)
    }

    @Test
    fun `destroySession sets revokedAt once`() {
        val s = createSession(opts("alice"))
        val d = destroySession(s)
        assertNotNull(d.revokedAt)
        assertEquals(s.copy(revokedAt = d.revokedAt, version = s.version + 1), d)
        val again = destroySession(d)
        assertEquals(d.revokedAt, again.revokedAt)
    }

    @Test
    fun `refreshSession issues a new token and hash and a later expiry`() {
        val s0 = createSession(opts("alice", expiresIn = Duration.ofHours(1)))
        val s = s0.copy(expiresAt = s0.expiresAt.minusSeconds(600))
        val r = refreshSession(s)
        assertNotEquals(s.token, r.token)
        assertNotEquals(s.tokenHash, r.tokenHash)
        assertEquals(hashToken(r.token), r.tokenHash)
        assertTrue(r.expiresAt.isAfter(s.expiresAt))
        assertEquals(s.id, r.id)
        assertFalse(validateSession(s.token, r).valid)
        assertTrue(validateSession(r.token, r).valid)
    }

    @Test
    fun `refreshSession slideOnly keeps the token and moves the expiry later`() {
        val s0 = createSession(opts("alice", expiresIn = Duration.ofHours(1)))
        val s = s0.copy(expiresAt = s0.expiresAt.minusSeconds(600))
        val r = refreshSession(s, slideOnly = true)
        assertEquals(s.token, r.token)
        assertEquals(s.tokenHash, r.tokenHash)
        assertTrue(r.expiresAt.isAfter(s.expiresAt))
    }

    @Test
    fun `bug 3 - refreshSession never extends past the absolute end`() {
        val s0 = createSession(opts("alice", expiresIn = Duration.ofHours(1)))
        val cap = Instant.now().plusSeconds(60)
        val s = s0.copy(absoluteExpiresAt = cap)
        assertEquals(cap, refreshSession(s).expiresAt)
    }

    @Test
    fun `refreshSession refuses revoked and expired sessions`() {
        val s = createSession(opts("alice"))
        assertFailsWith<SessionException.SessionRevoked> { refreshSession(destroySession(s)) }
        assertFailsWith<SessionException.SessionExpired> {
            refreshSession(s.copy(expiresAt = Instant.now().minusSeconds(1)))
        }
        assertFailsWith<SessionException.SessionExpired> {
            refreshSession(s.copy(expiresAt = Instant.now().minusSeconds(1)), slideOnly = true)
        }
    }

    @Test
    fun `toPublicSession carries neither token nor hash`() {
        val s = createSession(opts("alice", metadata = mapOf("a" to "b")))
        val p = toPublicSession(s)
        assertEquals(PublicSession(s.id, s.userId, s.createdAt, s.expiresAt, s.metadata), p)
        val fields = PublicSession::class.java.declaredFields.map { it.name.lowercase() }
        assertFalse(fields.any { it.contains("token") }, fields.toString())
        assertFalse(p.toString().contains(s.token))
        assertFalse(p.toString().contains(s.tokenHash))
    }

    @Test
    fun `timestamps are java time Instant with nanosecond precision and survive a round trip`() {
        val s = createSession(opts("alice"))
        val odd = Instant.parse("1969-07-20T20:17:40.123456789Z")
        val moved = s.copy(createdAt = odd)
        assertEquals(odd, toPublicSession(moved).createdAt)
        val pre = Instant.parse("1900-01-01T00:00:00.000000001Z")
        assertEquals(pre, toPublicSession(s.copy(createdAt = pre)).createdAt)
    }
}
