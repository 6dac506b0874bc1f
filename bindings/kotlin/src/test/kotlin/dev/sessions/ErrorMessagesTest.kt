package dev.sessions

import java.io.PrintWriter
import java.io.StringWriter
import java.time.Duration
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/**
 * Every [SessionException] variant, raised by the library wherever a call can raise it:
 * its text is the library's one sentence (`toString()`, string templates, the first
 * line of a stack trace), and its fields are readable (issue 11, errors).
 *
 * `message` is what UniFFI's generated code makes of the fields (`reason=...`, empty
 * for a variant without fields); it cannot be overridden outside the generated code,
 * so these tests hold `toString()` to the sentence and `message` only to not hiding
 * the fields.
 */
class ErrorMessagesTest {
    private val clock = ManualClock()

    /** One instance of every variant, each made by a real call where one can make it. */
    private fun everyVariant(): Map<String, SessionException> {
        val out = linkedMapOf<String, SessionException>()
        fun record(block: () -> Unit) {
            val e = assertFailsWith<SessionException> { block() }
            out[e.variant] = e
        }
        val store = KotlinStore()
        SessionManager.withStore(config(bindToUserAgent = true), store, clock).use { m ->
            record { m.create(opts("")) }
            record { m.create(opts("a", expiresIn = Duration.ZERO, metadata = mapOf("userAgent" to "UA"))) }
            record { m.create(opts("a", metadata = mapOf("userAgent" to "x".repeat(9000)))) }
            record { m.create(opts("a")) } // UserAgentRequired
            record { generateSecureToken(8) }
            record { m.refresh("nope") }
            val s = m.create(opts("a", expiresIn = Duration.ofSeconds(1), metadata = mapOf("userAgent" to "UA")))
            record { m.refresh(s.token, "other") }
            clock.advance(Duration.ofSeconds(1))
            record { m.refresh(s.token, "UA") }
            val t = m.create(opts("a", metadata = mapOf("userAgent" to "UA")))
            m.destroy(t.id)
            record { m.refresh(t.token, "UA") }
            record { m.destroy("missing") }
            record { m.importJson("not json") }
            store.failure = { java.io.IOException("disk full") }
            record { m.count() }
            store.failure = { SessionException.Random("no entropy") } // no call makes the OS RNG fail
            record { m.count() }
            store.failure = null
            clock.failure = { ClockException.Failed("ntp unreachable") }
            record { m.purgeExpired() }
            clock.failure = null
        }
        record { SessionManager(config(prefix = "")) }
        val limited = SessionConfig(maxSessionsPerUser = 1, sessionLimitAction = SessionLimitAction.REFUSE)
        SessionManager.withStore(limited, KotlinStore(), clock).use { m ->
            val s = m.create(opts("a"))
            record { m.create(opts("a")) } // SessionLimitReached
            m.refresh(s.token)
            clock.advance(Duration.ofSeconds(10)) // the default rotation grace
            record { m.refresh(s.token) } // TokenReused
        }
        return out
    }

    @Test
    fun `every variant reads as one sentence and keeps its fields`() {
        val all = everyVariant()
        val declared = SessionException::class.java.declaredClasses
            .filter { SessionException::class.java.isAssignableFrom(it) }
            .map { it.simpleName }
            .toSet()
        assertEquals(declared, all.keys, "a variant is not covered")
        for ((variant, e) in all) {
            val text = e.toString()
            assertTrue(text.isNotBlank() && !text.contains('\n'), "$variant: $text")
            assertTrue(text.first().isLowerCase(), "$variant: $text")
            assertFalse(text.contains("reason="), "$variant: $text")
            assertFalse(text.contains("SessionException"), "$variant: $text")
            assertEquals(text, "$e")
            val trace = StringWriter().also { e.printStackTrace(PrintWriter(it)) }.toString()
            assertEquals(text, trace.lineSequence().first(), variant)
            assertNotNull(e.message, variant)
        }
        assertEquals(
            "the token is not valid (unknown, malformed, or rotated out); the client must sign in again",
            all.getValue("InvalidToken").toString(),
        )
    }

    @Test
    fun `fields are readable and appear in the sentence`() {
        val all = everyVariant()
        val userId = all.getValue("InvalidUserId") as SessionException.InvalidUserId
        assertTrue(userId.reason.isNotEmpty() && userId.toString().contains(userId.reason), userId.toString())
        val length = all.getValue("InvalidTokenLength") as SessionException.InvalidTokenLength
        assertEquals(Triple(8, 16, 1024), Triple(length.bytes, length.min, length.max))
        assertTrue(length.toString().contains("8") && length.toString().contains("1024"), length.toString())
        val notFound = all.getValue("SessionNotFound") as SessionException.SessionNotFound
        assertEquals("missing", notFound.sessionId)
        assertTrue(notFound.toString().contains("missing"), notFound.toString())
        val store = all.getValue("Store") as SessionException.Store
        assertTrue(store.toString().contains("disk full"), store.toString())
        assertTrue(store.cause is java.io.IOException)
        val clockError = all.getValue("Clock") as SessionException.Clock
        assertEquals("ntp unreachable", clockError.reason)
        assertTrue(clockError.toString().contains("ntp unreachable"), clockError.toString())
        val limit = all.getValue("SessionLimitReached") as SessionException.SessionLimitReached
        assertEquals(1, limit.limit)
        assertTrue(limit.toString().startsWith("the user already has 1 active sessions"), limit.toString())
        val import = all.getValue("Import") as SessionException.Import
        assertTrue(import.reason.isNotEmpty() && import.toString().contains(import.reason), import.toString())
        val reasons = listOf(
            all.getValue("InvalidLifetime") to (all.getValue("InvalidLifetime") as SessionException.InvalidLifetime).reason,
            all.getValue("MetadataTooLarge") to (all.getValue("MetadataTooLarge") as SessionException.MetadataTooLarge).reason,
            all.getValue("InvalidConfig") to (all.getValue("InvalidConfig") as SessionException.InvalidConfig).reason,
            all.getValue("Random") to (all.getValue("Random") as SessionException.Random).reason,
        )
        for ((e, reason) in reasons) {
            assertTrue(reason.isNotEmpty() && e.toString().contains(reason), e.toString())
        }
    }

    @Test
    fun `an import error names the entry and the field`() {
        SessionManager(config(), clock).use { m ->
            val good = m.create(opts("alice"))
            val json = m.exportJson().replace("\"userId\":\"alice\"", "\"userId\":\"\"")
            m.destroyAllForUser("alice")
            SessionManager(config(), clock).use { other ->
                val e = assertFailsWith<SessionException.Import> { other.importJson(json) }
                assertEquals(0L, e.entry)
                assertEquals("userId", e.field)
                assertTrue(e.toString().startsWith("cannot import sessions: entry 0, field userId: "), e.toString())
                assertEquals(0L, other.count())
            }
            assertTrue(good.token.isNotEmpty())
        }
    }

    @Test
    fun `a clock error reads as a sentence too`() {
        val e = ClockException.Failed("ntp unreachable")
        assertEquals("the clock failed: ntp unreachable", e.toString())
        assertEquals("ntp unreachable", e.reason)
    }
}
