package dev.sessions

import java.time.Duration
import java.time.Instant
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/**
 * Stores and clocks implemented in Kotlin: what crosses the boundary, and how Kotlin
 * exceptions thrown inside them reach the caller.
 */
class ForeignTraitsTest {
    private val clock = ManualClock()

    @Test
    fun `the library never hands a raw token to a Kotlin store (bug 8)`() {
        val store = KotlinStore()
        SessionManager.withStore(config(defaultExpiresIn = Duration.ofHours(1)), store, clock).use { m ->
            val s = m.create(opts("alice", sliding = true))
            val r = m.refresh(s.token)
            clock.advance(Duration.ofMinutes(45))
            assertTrue(m.validate(r.token).valid) // slides: a compare-and-swap
            m.destroy(s.id)
            m.destroyAllForUser("alice")
            m.purgeExpired()
            assertTrue(store.calls.get() > 6)
            assertEquals(0, store.rawTokensSeen.get())
        }
    }

    @Test
    fun `a Kotlin RuntimeException inside the store reaches the caller as SessionException Store`() {
        val store = KotlinStore()
        SessionManager.withStore(config(), store, clock).use { m ->
            val s = m.create(opts("alice"))
            store.failure = { IllegalStateException("disk on fire") }
            val calls = listOf<Pair<String, () -> Any?>>(
                "create" to { m.create(opts("bob")) },
                "validate" to { m.validate(s.token) },
                "refresh" to { m.refresh(s.token) },
                "destroy" to { m.destroy(s.id) },
                "get" to { m.get(s.id) },
                "listForUser" to { m.listForUser("alice") },
                "destroyAllForUser" to { m.destroyAllForUser("alice") },
                "purgeExpired" to { m.purgeExpired() },
                "count" to { m.count() },
            )
            for ((name, call) in calls) {
                val e = assertFailsWith<SessionException.Store>(name) { call() }
                assertTrue(e.reason.contains("disk on fire"), "$name: ${e.reason}")
            }
            // The manager is still usable once the store recovers.
            store.failure = null
            assertTrue(m.validate(s.token).valid)
            assertEquals(1UL, m.count())
        }
    }

    @Test
    fun `a SessionException thrown by the store passes through unchanged`() {
        val store = KotlinStore()
        SessionManager.withStore(config(), store, clock).use { m ->
            val s = m.create(opts("alice"))
            store.failure = { SessionException.Store("quota exceeded") }
            assertEquals("quota exceeded", assertFailsWith<SessionException.Store> { m.validate(s.token) }.reason)
            store.failure = { SessionException.SessionNotFound("x") }
            assertEquals("x", assertFailsWith<SessionException.SessionNotFound> { m.count() }.sessionId)
        }
    }

    @Test
    fun `a store that throws a checked-style Exception does not crash the JVM`() {
        val store = KotlinStore()
        SessionManager.withStore(config(), store, clock).use { m ->
            store.failure = { java.io.IOException("connection reset") }
            val e = assertFailsWith<SessionException.Store> { m.create(opts("a")) }
            assertTrue(e.reason.contains("connection reset"), e.reason)
        }
    }

    @Test
    fun `the store's duplicate check surfaces as Store`() {
        // A store that reports a duplicate on insert: the manager passes the error on.
        val store = object : SessionStore by KotlinStore() {
            override fun insert(session: Session) = throw SessionException.Store("duplicate session id ${session.id}")
        }
        SessionManager.withStore(config(), store, clock).use { m ->
            val e = assertFailsWith<SessionException.Store> { m.create(opts("a")) }
            assertTrue(e.reason.startsWith("duplicate session id"))
        }
    }

    @Test
    fun `a store returning a session whose hash does not match is not trusted`() {
        // A buggy store that matches any hash: the manager's own constant-time check refuses it.
        val real = KotlinStore()
        val loose = object : SessionStore by real {
            override fun findByTokenHash(tokenHash: String): Session? = real.listForUser("alice").firstOrNull()
        }
        SessionManager.withStore(config(), loose, clock).use { m ->
            val s = m.create(opts("alice"))
            assertTrue(m.validate(s.token).valid)
            assertEquals(ValidationError.INVALID_TOKEN, m.validate(generateSecureToken()).error)
            assertFailsWith<SessionException.InvalidToken> { m.refresh(generateSecureToken()) }
        }
    }

    @Test
    fun `a ClockException Failed thrown by the Kotlin clock reaches the caller as SessionException Clock`() {
        SessionManager(config(), clock).use { m ->
            val s = m.create(opts("alice"))
            clock.failure = { ClockException.Failed("ntp unreachable") }
            val e = assertFailsWith<SessionException.Clock> { m.validate(s.token) }
            assertEquals("ntp unreachable", e.reason)
            assertFailsWith<SessionException.Clock> { m.create(opts("alice")) }
            assertFailsWith<SessionException.Clock> { m.purgeExpired() }
            assertFailsWith<SessionException.Clock> { m.destroy(s.id) }
            assertFailsWith<SessionException.Clock> { m.listForUser("alice") }
            assertFailsWith<SessionException.Clock> { m.destroyAllForUser("alice") }
            clock.failure = null
            assertTrue(m.validate(s.token).valid)
        }
    }

    @Test
    fun `any other exception from the Kotlin clock reaches the caller as SessionException Clock`() {
        SessionManager(config(), clock).use { m ->
            val s = m.create(opts("alice"))
            for (thrown in listOf(IllegalStateException("clock broke"), SessionException.Store("clock broke"))) {
                clock.failure = { thrown }
                val e = assertFailsWith<SessionException.Clock> { m.validate(s.token) }
                assertTrue(e.reason.contains("clock broke"), e.reason)
            }
            clock.failure = null
            assertTrue(m.validate(s.token).valid)
        }
    }

    @Test
    fun `every SessionException variant can be raised and caught from Kotlin`() {
        val seen = mutableSetOf<String>()
        fun expect(variant: String, block: () -> Unit) {
            val e = assertFailsWith<SessionException>(variant) { block() }
            assertEquals(variant, e.variant)
            assertNotNull(e.message)
            seen += e.variant
        }
        val store = KotlinStore()
        SessionManager.withStore(config(bindToUserAgent = true), store, clock).use { m ->
            expect("InvalidUserId") { m.create(opts("")) }
            expect("InvalidLifetime") { m.create(opts("a", expiresIn = Duration.ZERO)) }
            expect("MetadataTooLarge") { m.create(opts("a", metadata = mapOf("k" to "x".repeat(9000)))) }
            expect("InvalidTokenLength") { generateSecureToken(8u) }
            expect("InvalidToken") { m.refresh("nope") }
            val s = m.create(opts("a", expiresIn = Duration.ofSeconds(1), metadata = mapOf("userAgent" to "UA")))
            expect("UserAgentMismatch") { m.refresh(s.token, "other") }
            clock.advance(Duration.ofSeconds(1))
            expect("SessionExpired") { m.refresh(s.token, "UA") }
            expect("UserAgentRequired") { m.create(opts("a")) }
            val t = m.create(opts("a", metadata = mapOf("userAgent" to "UA")))
            m.destroy(t.id)
            expect("SessionRevoked") { m.refresh(t.token) }
            expect("SessionNotFound") { m.destroy("missing") }
            expect("Import") { m.importJson("not json") }
            expect("InvalidConfig") { SessionManager(config(prefix = "")) }
            // No library call can be made to raise Random (the OS RNG failing): it still
            // crosses the boundary both ways when a Kotlin store raises it.
            for (e in listOf(
                SessionException.Random("no entropy"), SessionException.Store("io"),
                SessionException.TokenReused(), SessionException.SessionLimitReached(3u),
            )) {
                store.failure = { e }
                expect(e.variant) { m.count() }
            }
            store.failure = null
            clock.failure = { ClockException.Failed("stopped") }
            expect("Clock") { m.purgeExpired() }
            clock.failure = null
        }
        val all = SessionException::class.java.declaredClasses
            .filter { SessionException::class.java.isAssignableFrom(it) }
            .map { it.simpleName }
            .toSet()
        assertEquals(17, all.size)
        assertEquals(all, seen)
    }

    @Test
    fun `Kotlin clock values reach the session to the microsecond, rounded`() {
        // Instants and durations are kept to whole microseconds, which every host type
        // (Python datetime, Kotlin Instant, Swift Date) holds exactly.
        val at = Instant.parse("2030-06-15T12:34:56.123456789Z")
        val kept = Instant.parse("2030-06-15T12:34:56.123457Z")
        clock.set(at)
        SessionManager(config(), clock).use { m ->
            val s = m.create(opts("alice", expiresIn = Duration.ofNanos(1_500_000_501)))
            assertEquals(kept, s.createdAt)
            assertEquals(kept.plusNanos(1_500_001_000), s.expiresAt)
            assertEquals(Duration.ofNanos(1_500_001_000), s.lifetime)
            assertEquals(kept, assertNotNull(m.get(s.id)).createdAt)
        }
    }

    @Test
    fun `Kotlin clock readings outside the supported range are Clock errors`() {
        for (at in listOf("1969-12-31T23:59:59.500Z", "1970-01-01T00:00:00.500Z", "2100-01-01T00:00:00Z")) {
            clock.set(Instant.parse(at))
            SessionManager(config(), clock).use { m ->
                val e = assertFailsWith<SessionException.Clock>(at) { m.create(opts("alice")) }
                assertTrue(e.reason.contains("outside the supported range"), e.reason)
                assertEquals(0UL, m.count())
            }
        }
    }
}
