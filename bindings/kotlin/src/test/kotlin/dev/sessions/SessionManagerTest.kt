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
import org.junit.jupiter.api.AfterEach

/**
 * Every method of [SessionManager], run against the library's in-memory store and
 * against [KotlinStore] (a store implemented in Kotlin), with a Kotlin clock.
 */
class SessionManagerTest {
    private val start: Instant = Instant.parse("2026-01-01T00:00:00Z")
    private val clock = ManualClock(start)
    private val opened = mutableListOf<SessionManager>()

    private fun manager(kind: String, config: SessionConfig = config()): SessionManager {
        val m = newManager(kind, config, clock)
        opened += m
        return m
    }

    @AfterEach
    fun close() = opened.forEach { it.close() }

    @EachStore
    fun `create stores a session without its raw token and get finds it`(kind: String) {
        val m = manager(kind)
        val s = m.create(opts("alice", metadata = mapOf("ip" to "1.2.3.4")))
        assertEquals(start, s.createdAt)
        assertEquals(start.plus(Duration.ofHours(24)), s.expiresAt)
        assertEquals(start.plus(Duration.ofDays(30)), s.absoluteExpiresAt)
        assertEquals(43, s.token.length)
        val stored = assertNotNull(m.get(s.id))
        assertEquals("", stored.token)
        assertEquals(s.copy(token = ""), stored)
        assertNull(m.get("no-such-id"))
        assertNull(m.get(""))
        assertEquals(1UL, m.count())
    }

    @EachStore
    fun `validate returns the session and each failure reason`(kind: String) {
        val m = manager(kind, config(defaultExpiresIn = Duration.ofHours(1)))
        val s = m.create(opts("alice"))
        val ok = m.validate(s.token)
        assertTrue(ok.valid)
        assertNull(ok.error)
        assertEquals(s.copy(token = ""), ok.session)
        assertEquals(ValidationError.INVALID_TOKEN, m.validate(generateSecureToken()).error)
        assertEquals(ValidationError.INVALID_TOKEN, m.validate("").error)
        assertEquals(ValidationError.INVALID_TOKEN, m.validate(s.tokenHash).error)

        clock.advance(Duration.ofHours(1))
        val expired = m.validate(s.token)
        assertFalse(expired.valid)
        assertNull(expired.session)
        assertEquals(ValidationError.SESSION_EXPIRED, expired.error)

        val t = m.create(opts("alice"))
        assertTrue(m.destroy(t.id))
        assertEquals(ValidationError.SESSION_REVOKED, m.validate(t.token).error)
    }

    @EachStore
    fun `bug 6 - expired at expiresAt exactly, valid one microsecond before`(kind: String) {
        val m = manager(kind)
        val s = m.create(opts("bob", expiresIn = Duration.ofSeconds(60)))
        clock.set(s.expiresAt.minusNanos(1_000))
        assertTrue(m.validate(s.token).valid)
        clock.set(s.expiresAt)
        assertEquals(ValidationError.SESSION_EXPIRED, m.validate(s.token).error)
        assertFailsWith<SessionException.SessionExpired> { m.refresh(s.token) }
    }

    @EachStore
    fun `bug 1 and 7 - refresh rotates the token and the old one is refused at once`(kind: String) {
        val m = manager(kind, config(defaultExpiresIn = Duration.ofHours(1)))
        val s = m.create(opts("alice"))
        clock.advance(Duration.ofMinutes(10))
        val r = m.refresh(s.token)
        assertEquals(s.id, r.id)
        assertNotEquals(s.token, r.token)
        assertNotEquals(s.tokenHash, r.tokenHash)
        assertEquals(hashToken(r.token), r.tokenHash)
        assertEquals(start.plus(Duration.ofMinutes(70)), r.expiresAt)
        // Within the rotation grace the old token validates and gives the same new token.
        assertTrue(m.validate(s.token).valid)
        assertEquals(r.token, m.refresh(s.token).token)
        assertTrue(m.validate(r.token).valid)
        val stored = assertNotNull(m.get(s.id))
        assertEquals(r.tokenHash, stored.tokenHash)
        assertEquals("", stored.token)
        assertEquals(1UL, m.count())
    }

    @EachStore
    fun `refresh failures are exceptions`(kind: String) {
        val m = manager(kind, config(bindToUserAgent = true))
        assertFailsWith<SessionException.InvalidToken> { m.refresh("nope") }
        assertFailsWith<SessionException.InvalidToken> { m.refresh("") }
        val revoked = m.create(opts("a", metadata = mapOf("userAgent" to "UA1")))
        m.destroy(revoked.id)
        assertFailsWith<SessionException.SessionRevoked> { m.refresh(revoked.token, "UA1") }
        val bound = m.create(opts("a", metadata = mapOf("userAgent" to "UA1")))
        assertFailsWith<SessionException.UserAgentMismatch> { m.refresh(bound.token, "UA2") }
        assertFailsWith<SessionException.UserAgentMismatch> { m.refresh(bound.token) }
        val r = m.refresh(bound.token, "UA1")
        assertEquals("UA1", r.boundUserAgent)
        val short = m.create(opts("a", expiresIn = Duration.ofSeconds(5), metadata = mapOf("userAgent" to "UA1")))
        clock.advance(Duration.ofSeconds(5))
        assertFailsWith<SessionException.SessionExpired> { m.refresh(short.token) }
    }

    @EachStore
    fun `bug 5 - user agent binding is checked after revoked and expired, and on refresh`(kind: String) {
        val m = manager(kind, config(bindToUserAgent = true, defaultExpiresIn = Duration.ofHours(1)))
        val s = m.create(opts("alice", metadata = mapOf("userAgent" to "Firefox/1")))
        assertEquals("Firefox/1", s.boundUserAgent)
        assertTrue(m.validate(s.token, "Firefox/1").valid)
        assertEquals(ValidationError.USER_AGENT_MISMATCH, m.validate(s.token, "Chrome/2").error)
        assertEquals(ValidationError.USER_AGENT_MISMATCH, m.validate(s.token).error)

        // A binding manager never issues an unbound session (field report: binding failed open).
        val before = m.count()
        assertFailsWith<SessionException.UserAgentRequired> { m.create(opts("alice")) }
        assertEquals(before, m.count())

        val e = m.create(opts("alice", metadata = mapOf("userAgent" to "Firefox/1")))
        clock.advance(Duration.ofHours(1))
        assertEquals(ValidationError.SESSION_EXPIRED, m.validate(e.token, "Chrome/2").error)
        val r = m.create(opts("alice", metadata = mapOf("userAgent" to "Firefox/1")))
        m.destroy(r.id)
        assertEquals(ValidationError.SESSION_REVOKED, m.validate(r.token, "Chrome/2").error)
        assertFailsWith<SessionException.SessionRevoked> { m.refresh(r.token, "Chrome/2") }
    }

    @EachStore
    fun `without bindToUserAgent the userAgent metadata binds nothing`(kind: String) {
        val m = manager(kind)
        val s = m.create(opts("alice", metadata = mapOf("userAgent" to "Firefox/1")))
        assertNull(s.boundUserAgent)
        assertTrue(m.validate(s.token, "Chrome/2").valid)
        assertTrue(m.refresh(s.token, "Chrome/2").token.isNotEmpty())
    }

    @EachStore
    fun `bug 3 - sliding expiry slides once less than half the window remains`(kind: String) {
        val m = manager(kind, config(defaultExpiresIn = Duration.ofHours(1)))
        val s = m.create(opts("alice", sliding = true))
        val fixed = m.create(opts("alice"))
        assertEquals(true, s.slidingExpiration)
        clock.advance(Duration.ofMinutes(20))
        // 40 minutes remain (>= half): no slide, no write.
        assertEquals(s.expiresAt, assertNotNull(m.validate(s.token).session).expiresAt)
        clock.advance(Duration.ofMinutes(20))
        // 20 minutes remain: slides to now + 1 hour.
        val slid = assertNotNull(m.validate(s.token).session)
        assertEquals(start.plus(Duration.ofMinutes(100)), slid.expiresAt)
        assertEquals(slid.expiresAt, assertNotNull(m.get(s.id)).expiresAt)
        assertEquals(s.token.let(::hashToken), assertNotNull(m.get(s.id)).tokenHash)
        clock.set(start.plus(Duration.ofMinutes(99)))
        assertTrue(m.validate(s.token).valid)
        assertEquals(ValidationError.SESSION_EXPIRED, m.validate(fixed.token).error)
        clock.set(start.plus(Duration.ofMinutes(200)))
        assertEquals(ValidationError.SESSION_EXPIRED, m.validate(s.token).error)
    }

    @EachStore
    fun `bug 3 - neither sliding nor refresh extends past the absolute cap`(kind: String) {
        val m = manager(kind, config(defaultExpiresIn = Duration.ofHours(1), maxLifetime = Duration.ofHours(2)))
        val s = m.create(opts("alice", sliding = true))
        assertEquals(start.plus(Duration.ofHours(2)), s.absoluteExpiresAt)
        var token = s.token
        var last = s
        repeat(6) {
            clock.advance(Duration.ofMinutes(35))
            if (clock.now() < s.absoluteExpiresAt) {
                last = m.refresh(token)
                token = last.token
                assertFalse(last.expiresAt.isAfter(s.absoluteExpiresAt))
            }
        }
        assertEquals(s.absoluteExpiresAt, last.expiresAt)
        clock.set(s.absoluteExpiresAt.minusMillis(1))
        assertTrue(m.validate(token).valid)
        clock.set(s.absoluteExpiresAt)
        assertEquals(ValidationError.SESSION_EXPIRED, m.validate(token).error)
        assertFailsWith<SessionException.SessionExpired> { m.refresh(token) }
    }

    @EachStore
    fun `bug 2 - listForUser and destroyAllForUser work`(kind: String) {
        val m = manager(kind)
        val a1 = m.create(opts("alice"))
        clock.advance(Duration.ofSeconds(1))
        val a2 = m.create(opts("alice", expiresIn = Duration.ofMinutes(1)))
        clock.advance(Duration.ofSeconds(1))
        val a3 = m.create(opts("alice"))
        val b = m.create(opts("bob"))
        assertEquals(listOf(a1.id, a2.id, a3.id), m.listForUser("alice").map { it.id })
        assertTrue(m.listForUser("alice").all { it.token.isEmpty() })
        assertEquals(listOf(b.id), m.listForUser("bob").map { it.id })
        assertEquals(emptyList(), m.listForUser("carol"))

        assertTrue(m.destroy(a1.id))
        clock.advance(Duration.ofMinutes(1))
        // a1 revoked, a2 expired: neither listed.
        assertEquals(listOf(a3.id), m.listForUser("alice").map { it.id })

        // Revokes the two not yet revoked (a2 expired but not revoked, a3).
        assertEquals(2UL, m.destroyAllForUser("alice"))
        assertEquals(0UL, m.destroyAllForUser("alice"))
        assertEquals(0UL, m.destroyAllForUser("nobody"))
        assertEquals(emptyList(), m.listForUser("alice"))
        assertEquals(ValidationError.SESSION_REVOKED, m.validate(a3.token).error)
        assertTrue(m.validate(b.token).valid)
        assertEquals(4UL, m.count())

        assertFailsWith<SessionException.InvalidUserId> { m.listForUser("") }
        assertFailsWith<SessionException.InvalidUserId> { m.destroyAllForUser("") }
        assertFailsWith<SessionException.InvalidUserId> { m.listForUser("x".repeat(257)) }
    }

    @EachStore
    fun `destroy returns true then false and names an unknown id`(kind: String) {
        val m = manager(kind)
        val s = m.create(opts("alice"))
        assertTrue(m.destroy(s.id))
        assertFalse(m.destroy(s.id))
        val revokedAt = assertNotNull(assertNotNull(m.get(s.id)).revokedAt)
        assertEquals(start, revokedAt)
        val e = assertFailsWith<SessionException.SessionNotFound> { m.destroy("missing") }
        assertEquals("missing", e.sessionId)
    }

    @EachStore
    fun `purgeExpired removes expired sessions only, revoked ones once expired`(kind: String) {
        val m = manager(kind)
        val short = m.create(opts("a", expiresIn = Duration.ofMinutes(1)))
        val long = m.create(opts("a", expiresIn = Duration.ofHours(1)))
        val revoked = m.create(opts("a", expiresIn = Duration.ofHours(1)))
        m.destroy(revoked.id)
        assertEquals(0UL, m.purgeExpired())
        clock.advance(Duration.ofMinutes(1))
        assertEquals(1UL, m.purgeExpired())
        assertEquals(0UL, m.purgeExpired())
        assertNull(m.get(short.id))
        assertEquals(ValidationError.INVALID_TOKEN, m.validate(short.token).error)
        assertEquals(2UL, m.count())
        clock.advance(Duration.ofHours(1))
        assertEquals(2UL, m.purgeExpired())
        assertEquals(0UL, m.count())
        assertNull(m.get(long.id))
    }

    @EachStore
    fun `create enforces input limits`(kind: String) {
        val m = manager(kind, config(maxLifetime = Duration.ofHours(2), defaultExpiresIn = Duration.ofHours(1)))
        assertFailsWith<SessionException.InvalidUserId> { m.create(opts("")) }
        assertFailsWith<SessionException.InvalidLifetime> { m.create(opts("a", expiresIn = Duration.ofHours(3))) }
        assertFailsWith<SessionException.InvalidLifetime> { m.create(opts("a", expiresIn = Duration.ZERO)) }
        assertFailsWith<SessionException.MetadataTooLarge> {
            m.create(opts("a", metadata = (0..64).associate { "k$it" to "v" }))
        }
        assertEquals(0UL, m.count())
        val small = SessionManager(SessionConfig(maxMetadataEntries = 1u, maxMetadataBytes = 4u), clock).also { opened += it }
        small.create(opts("a", metadata = mapOf("ab" to "cd")))
        assertFailsWith<SessionException.MetadataTooLarge> { small.create(opts("a", metadata = mapOf("ab" to "cde"))) }
        assertFailsWith<SessionException.MetadataTooLarge> { small.create(opts("a", metadata = mapOf("a" to "b", "c" to "d"))) }
    }

    @EachStore
    fun `configuration errors are thrown by the constructor`(kind: String) {
        fun build(c: SessionConfig) = newManager(kind, c)
        assertFailsWith<SessionException.InvalidLifetime> { build(config(defaultExpiresIn = Duration.ZERO)) }
        assertFailsWith<SessionException.InvalidLifetime> { build(config(maxLifetime = Duration.ZERO)) }
        assertFailsWith<SessionException.InvalidLifetime> {
            build(config(defaultExpiresIn = Duration.ofDays(2), maxLifetime = Duration.ofDays(1)))
        }
        build(config(defaultExpiresIn = Duration.ofDays(1), maxLifetime = Duration.ofDays(1))).close()
        assertFailsWith<SessionException.InvalidConfig> { build(config(prefix = "")) }
        assertFailsWith<SessionException.InvalidConfig> { build(config(prefix = "p".repeat(65))) }
        build(config(prefix = "p".repeat(64))).close()
        assertFailsWith<SessionException.InvalidConfig> { build(SessionConfig(maxMetadataEntries = 4097u)) }
        assertFailsWith<SessionException.InvalidConfig> { build(SessionConfig(maxMetadataBytes = 1024u * 1024u + 1u)) }
        build(SessionConfig(maxMetadataEntries = 4096u, maxMetadataBytes = 1024u * 1024u)).close()
        assertFailsWith<SessionException.InvalidConfig> { build(SessionConfig(autoPurgeInterval = Duration.ZERO)) }
    }

    @EachStore
    fun `create purges expired sessions once per autoPurgeInterval, and only when it is set`(kind: String) {
        val m = manager(kind, SessionConfig(autoPurgeInterval = Duration.ofHours(1)))
        val gone = m.create(opts("a", expiresIn = Duration.ofMinutes(1)))
        clock.advance(Duration.ofMinutes(59))
        m.create(opts("a"))
        assertEquals(2UL, m.count(), "an hour has not passed since the first create")
        clock.advance(Duration.ofMinutes(1))
        m.create(opts("a"))
        assertEquals(2UL, m.count())
        assertNull(m.get(gone.id))

        val off = manager(kind)
        off.create(opts("a", expiresIn = Duration.ofMinutes(1)))
        clock.advance(Duration.ofHours(2))
        off.create(opts("a"))
        assertEquals(2UL, off.count())
    }

    @EachStore
    fun `prefix and toPublicSession`(kind: String) {
        val m = manager(kind)
        assertEquals("session:", m.prefix())
        assertEquals("app:", manager(kind, config(prefix = "app:")).prefix())
        val s = m.create(opts("alice", metadata = mapOf("k" to "v")))
        assertEquals(PublicSession(s.id, "alice", s.createdAt, s.expiresAt, mapOf("k" to "v")), m.toPublicSession(s))
        assertEquals(toPublicSession(s), m.toPublicSession(s))
    }

    @EachStore
    fun `bad tokens are just invalid - 1 MB, NUL, non-ASCII, near misses`(kind: String) {
        val m = manager(kind)
        val s = m.create(opts("alice"))
        val bad = listOf(
            "a".repeat(1_000_000),
            s.token.repeat(30_000),
            "\u0000",
            s.token + "\u0000",
            "\u0000" + s.token,
            "tök€n😀",
            "🙂".repeat(600),
            s.token.dropLast(1),
            s.token.uppercase(),
            " " + s.token,
            s.tokenHash,
            "a".repeat(2048),
        )
        for (t in bad) {
            val r = m.validate(t, t)
            assertFalse(r.valid)
            assertEquals(ValidationError.INVALID_TOKEN, r.error, "token of length ${t.length}")
            assertFailsWith<SessionException.InvalidToken> { m.refresh(t) }
        }
        // Garbage as user agent or ids is harmless too.
        assertTrue(m.validate(s.token, "\u0000" + "x".repeat(1_000_000)).valid)
        assertNull(m.get("\u0000".repeat(10)))
        assertFailsWith<SessionException.SessionNotFound> { m.destroy("ü".repeat(100_000)) }
        // A lone surrogate is not a string UniFFI can lower: refused in Kotlin, before the call.
        assertFailsWith<java.nio.charset.CharacterCodingException> { m.validate("\uD800") }
        assertTrue(m.validate(s.token).valid)
    }

    @EachStore
    fun `SessionManager is AutoCloseable and refuses calls after close`(kind: String) {
        val m = manager(kind)
        assertTrue(m is AutoCloseable)
        val token = m.use { it.create(opts("alice")).token }
        assertTrue(token.isNotEmpty())
        val e = assertFailsWith<IllegalStateException> { m.validate(token) }
        assertTrue(e.message!!.contains("destroyed"), e.message)
        m.close() // closing twice is harmless
        SessionManager(config()).use { assertEquals(0UL, it.count()) }
    }

    @EachStore
    fun `a manager with the system clock`(kind: String) {
        val m = newManager(kind)
        m.use {
            val before = Instant.now().minusSeconds(1)
            val s = it.create(opts("alice"))
            assertTrue(s.createdAt.isAfter(before))
            assertTrue(it.validate(s.token).valid)
        }
    }
}
