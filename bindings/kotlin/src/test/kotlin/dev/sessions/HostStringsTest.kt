package dev.sessions

import java.nio.file.Files
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/**
 * Kotlin strings that have no UTF-8 form (an unpaired UTF-16 surrogate): each is either
 * refused with a typed error or answered like any unknown value, and never reaches a
 * store as a different string (issue 10, point 5).
 */
class HostStringsTest {
    private val clock = ManualClock()

    /** Unpaired surrogates (alone, at either end, reversed, between valid pairs) and where. */
    private val unpairedAt = mapOf(
        "\uD800" to 0,
        "\uDC00" to 0,
        "abc\uD83D" to 3,
        "\uDE00abc" to 0,
        "\uDE00\uD83D" to 0, // a pair in the wrong order
        "😀\uD800😀" to 2,
    )
    private val malformed = unpairedAt.keys.toList()

    @EachStore
    fun `a token with an unpaired surrogate is simply invalid`(kind: String) {
        newManager(kind, clock = clock).use { m ->
            val s = m.create(opts("alice"))
            for (t in malformed + (s.token + "\uD800")) {
                val r = m.validate(t)
                assertFalse(r.valid)
                assertNull(r.session)
                assertEquals(ValidationError.INVALID_TOKEN, r.error)
                assertEquals(ValidationError.INVALID_TOKEN, m.validate(t, "UA").error)
                assertFailsWith<SessionException.InvalidToken> { m.refresh(t) }
                assertFailsWith<SessionException.InvalidToken> { m.refresh(t, "UA") }
            }
            assertTrue(m.validate(s.token).valid)
        }
    }

    @EachStore
    fun `a user id with an unpaired surrogate is InvalidUserId and nothing is stored`(kind: String) {
        newManager(kind, clock = clock).use { m ->
            for ((u, at) in unpairedAt) {
                val e = assertFailsWith<SessionException.InvalidUserId> { m.create(opts(u)) }
                assertEquals("contains an unpaired UTF-16 surrogate at index $at, which has no UTF-8 form", e.reason)
                assertFailsWith<SessionException.InvalidUserId> { m.listForUser(u) }
                assertFailsWith<SessionException.InvalidUserId> { m.destroyAllForUser(u) }
            }
            assertEquals(0L, m.count())
            // Well-formed pairs are ordinary characters: stored and read back unchanged.
            val emoji = "😀 ünïcødé 𝄞"
            val s = m.create(opts(emoji, metadata = mapOf("😀" to "𝄞")))
            assertEquals(emoji, m.get(s.id)!!.userId)
            assertEquals(mapOf("😀" to "𝄞"), m.get(s.id)!!.metadata)
            assertEquals(1, m.listForUser(emoji).size)
        }
    }

    @EachStore
    fun `a session id with an unpaired surrogate is an unknown id`(kind: String) {
        newManager(kind, clock = clock).use { m ->
            m.create(opts("alice"))
            for (id in malformed) {
                assertNull(m.get(id))
                assertEquals(id, assertFailsWith<SessionException.SessionNotFound> { m.destroy(id) }.sessionId)
            }
        }
    }

    @EachStore
    fun `other strings with an unpaired surrogate are a typed error naming the parameter`(kind: String) {
        newManager(kind, config(bindToUserAgent = true), clock).use { m ->
            val s = m.create(opts("alice", metadata = mapOf("userAgent" to "UA")))
            val key = assertFailsWith<IllegalArgumentException> {
                m.create(opts("bob", metadata = mapOf("k\uD800" to "v")))
            }
            assertEquals("metadata key contains an unpaired UTF-16 surrogate at index 1, which has no UTF-8 form", key.message)
            val value = assertFailsWith<IllegalArgumentException> {
                m.create(opts("bob", metadata = mapOf("userAgent" to "\uDC00UA")))
            }
            assertTrue(value.message!!.startsWith("metadata value of \"userAgent\" contains"), value.message)
            assertTrue(assertFailsWith<IllegalArgumentException> { m.validate(s.token, "UA\uD800") }.message!!.startsWith("userAgent "))
            assertTrue(assertFailsWith<IllegalArgumentException> { m.refresh(s.token, "UA\uD800") }.message!!.startsWith("userAgent "))
            val import = assertFailsWith<SessionException.Import> { m.importJson("[{\"userId\": \"\uD800\"}]") }
            assertEquals("the JSON contains an unpaired UTF-16 surrogate at index 13, which has no UTF-8 form", import.reason)
            assertNull(import.entry)
            assertNull(import.field)
            assertTrue(m.listForUser("bob").isEmpty())
            assertTrue(m.validate(s.token, "UA").valid) // the session was not rotated
        }
    }

    @Test
    fun `a configuration or path with an unpaired surrogate is refused before anything is made`() {
        val e = assertFailsWith<SessionException.InvalidConfig> { SessionManager(config(prefix = "s\uD800:")) }
        assertTrue(e.reason.startsWith("prefix contains an unpaired UTF-16 surrogate"), e.reason)
        assertFailsWith<SessionException.InvalidConfig> { SessionManager.withStore(config(prefix = "\uDC00"), KotlinStore()) }
        val dir = Files.createTempDirectory("sessions-strings")
        try {
            assertFailsWith<SessionException.InvalidConfig> { SessionManager.open(dir.resolve("a.sqlite").toString(), config(prefix = "\uDC00")) }
            val path = "$dir/sessions\uD800.sqlite"
            assertTrue(assertFailsWith<IllegalArgumentException> { SessionManager.open(path, config()) }.message!!.startsWith("path "))
            dir.toFile().listFiles()!!.let { assertEquals(0, it.size, it.joinToString()) }
        } finally {
            dir.toFile().deleteRecursively()
        }
    }
}
