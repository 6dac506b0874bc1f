package dev.sessions

import java.io.File
import java.nio.file.Files
import java.time.Duration
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import org.json.JSONArray
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Test

/** `SessionManager.open` (SQLite file) and `exportJson` / `importJson`, from Kotlin. */
class DurableAndInterchangeTest {
    private val clock = ManualClock()
    private val dir: File = Files.createTempDirectory("sessions-kotlin-").toFile()

    @AfterEach
    fun cleanUp() {
        dir.deleteRecursively()
    }

    @Test
    fun `open keeps sessions in a SQLite file across managers`() {
        val path = File(dir, "sessions.db").path
        val (s, revoked) = SessionManager.open(path, config(), clock).use { m ->
            val s = m.create(opts("alice", metadata = mapOf("k" to "v")))
            val r = m.create(opts("alice"))
            assertTrue(m.destroy(r.id))
            s to r
        }
        assertTrue(File(path).exists())
        SessionManager.open(path, config(), clock).use { m ->
            assertEquals(2UL, m.count())
            val v = m.validate(s.token)
            assertTrue(v.valid)
            assertEquals(mapOf("k" to "v"), v.session!!.metadata)
            assertEquals(ValidationError.SESSION_REVOKED, m.validate(revoked.token).error)
            val rotated = m.refresh(s.token)
            assertEquals(rotated.token, m.refresh(s.token).token) // within the rotation grace
            clock.advance(Duration.ofSeconds(10))
            assertEquals(ValidationError.TOKEN_REUSED, m.validate(s.token).error)
            assertEquals(ValidationError.SESSION_REVOKED, m.validate(rotated.token).error)
        }
    }

    @Test
    fun `two managers on one file see each other's changes`() {
        val path = File(dir, "shared.db").path
        SessionManager.open(path, config(), clock).use { a ->
            SessionManager.open(path, config(), clock).use { b ->
                val s = a.create(opts("alice"))
                assertTrue(b.validate(s.token).valid)
                assertTrue(b.destroy(s.id))
                assertEquals(ValidationError.SESSION_REVOKED, a.validate(s.token).error)
            }
        }
    }

    @Test
    fun `open refuses a file that is not a sessions database, and a bad config first`() {
        val junk = File(dir, "junk.db").apply { writeText("this is not sqlite") }
        assertFailsWith<SessionException.Store> { SessionManager.open(junk.path, config(), clock) }
        assertEquals("this is not sqlite", junk.readText())
        assertFailsWith<SessionException.Store> { SessionManager.open(File(dir, "no/such/dir/x.db").path, config()) }
        val fresh = File(dir, "fresh.db")
        assertFailsWith<SessionException.InvalidLifetime> {
            SessionManager.open(fresh.path, config(defaultExpiresIn = Duration.ZERO))
        }
        assertFalse(fresh.exists())
    }

    @EachStore
    fun `exportJson then importJson moves every session, without raw tokens`(kind: String) {
        fun build() = newManager(kind, clock = clock)
        build().use { from ->
            val a = from.create(opts("alice", metadata = mapOf("ip" to "1.2.3.4"), sliding = true))
            clock.advance(Duration.ofSeconds(1))
            val b = from.create(opts("bob"))
            from.destroy(b.id)
            val json = from.exportJson()
            assertFalse(json.contains(a.token))
            val arr = JSONArray(json)
            assertEquals(2, arr.length())
            assertEquals(a.tokenHash, arr.getJSONObject(0).getString("tokenHash"))
            build().use { to ->
                assertEquals(2UL, to.importJson(json))
                assertTrue(to.validate(a.token).valid)
                assertEquals(ValidationError.SESSION_REVOKED, to.validate(b.token).error)
                assertEquals(mapOf("ip" to "1.2.3.4"), assertNotNull(to.get(a.id)).metadata)
                // Importing the same sessions twice is refused as a whole.
                val e = assertFailsWith<SessionException.Import> { to.importJson(json) }
                assertEquals(0UL, e.entry, e.reason)
                assertEquals("id", e.field)
                assertEquals(2UL, to.count())
            }
        }
    }

    @Test
    fun `importJson names malformed input and imports nothing`() {
        SessionManager(config(), clock).use { m ->
            for (bad in listOf("", "{", "{}", "[{\"id\": 1}]", "\u0000")) {
                assertFailsWith<SessionException.Import>(bad) { m.importJson(bad) }
            }
            assertEquals(0UL, m.importJson("[]"))
            assertEquals(0UL, m.count())
        }
    }

    @Test
    fun `a Kotlin store failing during export surfaces as Store`() {
        val store = KotlinStore()
        SessionManager.withStore(config(), store, clock).use { m ->
            m.create(opts("alice"))
            store.failure = { IllegalStateException("export broke") }
            val e = assertFailsWith<SessionException.Store> { m.exportJson() }
            assertTrue(e.reason.contains("export broke"))
        }
    }
}
