package dev.sessions

import java.io.ByteArrayOutputStream
import java.io.PrintStream
import java.time.Duration
import java.util.logging.Handler
import java.util.logging.Level
import java.util.logging.LogRecord
import java.util.logging.Logger
import java.util.logging.SimpleFormatter
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/**
 * No string form of a record shows the raw bearer token or the whole token hash (issue
 * 11, security): `toString()`, string templates, `String.format`, collections, and
 * log records all go through the library's redacted form.
 */
class RedactionTest {
    private val clock = ManualClock()

    /** The ways Kotlin and Java code turn a value into text. */
    private fun renderings(value: Any): List<String> {
        val logged = mutableListOf<String>()
        val logger = Logger.getAnonymousLogger().apply {
            useParentHandlers = false
            addHandler(object : Handler() {
                private val formatter = SimpleFormatter()
                override fun publish(record: LogRecord) {
                    logged += formatter.formatMessage(record)
                    logged += formatter.format(record)
                }
                override fun flush() {}
                override fun close() {}
            })
        }
        logger.log(Level.INFO, "issued {0}", value)
        logger.info("issued $value")
        val printed = ByteArrayOutputStream().also { PrintStream(it, true, "UTF-8").print(value) }.toString("UTF-8")
        return listOf(
            value.toString(),
            "$value",
            "session=$value; done",
            String.format("%s", value),
            java.lang.String.valueOf(value),
            StringBuilder().append(value).toString(),
            listOf(value).toString(),
            mapOf("k" to value).toString(),
            printed,
        ) + logged
    }

    private fun assertRedacted(value: Any, token: String, hash: String) {
        for (text in renderings(value)) {
            assertFalse(text.contains(token), "raw token in: $text")
            assertFalse(text.contains(hash), "whole token hash in: $text")
        }
    }

    @EachStore
    fun `a session, its validation result and its rotation never show the token or the whole hash`(kind: String) {
        newManager(kind, config(defaultExpiresIn = Duration.ofHours(1)), clock).use { m ->
            val s = m.create(opts("alice", metadata = mapOf("ip" to "10.0.0.1")))
            val text = s.toString()
            assertTrue(text.contains("<redacted>"), text)
            assertTrue(text.contains(s.tokenHash.take(8)), text) // enough to tell sessions apart
            assertTrue(text.contains(s.id), text)
            assertTrue(text.contains("alice"), text)
            assertTrue(text.contains("created_at: 2026-01-01T00:00:00"), text) // RFC 3339, not seconds since 1970
            assertRedacted(s, s.token, s.tokenHash)
            assertRedacted(s.copy(), s.token, s.tokenHash)

            // A result carrying a session that still has its token (free function).
            val carrying = ValidationResult(valid = true, session = s, error = null)
            assertTrue(carrying.toString().contains("<redacted>"), carrying.toString())
            assertRedacted(carrying, s.token, s.tokenHash)
            assertRedacted(m.validate(s.token), s.token, s.tokenHash)

            val r = m.refresh(s.token)
            assertRedacted(r, r.token, r.tokenHash)
            assertRedacted(r, s.token, s.tokenHash)
            assertRedacted(m.listForUser("alice"), r.token, r.tokenHash)
            assertRedacted(m.toPublicSession(r), r.token, r.tokenHash)

            // The free functions (system clock).
            val free = createSession(opts("carol"))
            assertRedacted(free, free.token, free.tokenHash)
            assertRedacted(validateSession(free.token, free), free.token, free.tokenHash)
            val freeRotated = refreshSession(free)
            assertRedacted(freeRotated, freeRotated.token, freeRotated.tokenHash)
            assertRedacted(destroySession(free), free.token, free.tokenHash)

            // A stored session has no token: shown as empty, not as "<redacted>".
            val stored = m.get(s.id)!!
            assertTrue(stored.toString().contains("token: \"\""), stored.toString())
        }
    }

    @EachStore
    fun `options, public sessions and configurations print readably`(kind: String) {
        newManager(kind, clock = clock).use { m ->
            val s = m.create(opts("alice"))
            val public = m.toPublicSession(s)
            assertTrue(public.toString().contains(s.id), public.toString())
            assertTrue(public.toString().contains("alice"), public.toString())
            val options = opts("bob", expiresIn = Duration.ofMinutes(5))
            assertTrue(options.toString().contains("bob"), options.toString())
            assertTrue(SessionConfig().toString().contains("session:"), SessionConfig().toString())
        }
    }

    @Test
    fun `validation errors print the library's sentence`() {
        for (e in ValidationError.entries) {
            val text = e.toString()
            assertTrue(text.length > 20 && text.first().isLowerCase() && !text.contains('\n'), "$e.name: $text")
        }
        assertEquals(
            "the token is not valid (unknown, malformed, or rotated out); the client must sign in again",
            ValidationError.INVALID_TOKEN.toString(),
        )
    }
}
