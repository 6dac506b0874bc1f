package dev.sessions

import java.time.Duration
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertSame
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/**
 * Whatever a store or clock written in Kotlin throws (issue 10, point 5): the library
 * never reports success for an operation that did not happen, never crashes, an `Error`
 * reaches the caller as itself once the call has unwound, and an exception is the cause
 * of the library's error.
 */
class HostFaultsTest {
    private val clock = ManualClock()

    /** Something that is neither an Exception nor an Error. */
    class OddThrowable : Throwable("neither Exception nor Error")

    /** One of each kind of `Error` host code can throw, made fresh for every use. */
    private val errors: List<() -> Throwable> = listOf(
        { NotImplementedError("TODO: Redis") }, // what TODO() throws
        { AssertionError("invariant broken") },
        { StackOverflowError() },
        { OutOfMemoryError("simulated") },
        { OddThrowable() },
    )

    /**
     * A [KotlinStore] whose methods named in [failing] (all when empty) throw what
     * [fault] makes, before doing anything.
     */
    private class FaultyStore(val inner: KotlinStore = KotlinStore()) : SessionStore {
        @Volatile var fault: (() -> Throwable)? = null
        @Volatile var failing: Set<String> = emptySet()

        private fun hit(method: String) {
            val f = fault ?: return
            if (failing.isEmpty() || method in failing) throw f()
        }

        override fun insert(session: Session) = hit("insert").let { inner.insert(session) }
        override fun insertAll(sessions: List<Session>) = hit("insertAll").let { inner.insertAll(sessions) }
        override fun insertLimited(session: Session, maxActive: Int, now: java.time.Instant, revokeOldest: Boolean) =
            hit("insertLimited").let { inner.insertLimited(session, maxActive, now, revokeOldest) }
        override fun get(sessionId: String) = hit("get").let { inner.get(sessionId) }
        override fun findByTokenHash(tokenHash: String) = hit("findByTokenHash").let { inner.findByTokenHash(tokenHash) }
        override fun compareAndSwap(expectedTokenHash: String, expectedVersion: Long, session: Session) =
            hit("compareAndSwap").let { inner.compareAndSwap(expectedTokenHash, expectedVersion, session) }
        override fun listForUser(userId: String) = hit("listForUser").let { inner.listForUser(userId) }
        override fun revokeAllForUser(userId: String, at: java.time.Instant) =
            hit("revokeAllForUser").let { inner.revokeAllForUser(userId, at) }
        override fun purgeExpired(now: java.time.Instant) = hit("purgeExpired").let { inner.purgeExpired(now) }
        override fun count() = hit("count").let { inner.count() }
        override fun allSessions() = hit("allSessions").let { inner.allSessions() }
    }

    /** Every manager call that reaches the store, by name. */
    private fun storeCalls(m: SessionManager, s: Session): List<Pair<String, () -> Any?>> = listOf(
        "create" to { m.create(opts("bob")) },
        "validate" to { m.validate(s.token) },
        "refresh" to { m.refresh(s.token) },
        "destroy" to { m.destroy(s.id) },
        "get" to { m.get(s.id) },
        "listForUser" to { m.listForUser("alice") },
        "destroyAllForUser" to { m.destroyAllForUser("alice") },
        "purgeExpired" to { m.purgeExpired() },
        "count" to { m.count() },
        "exportJson" to { m.exportJson() },
        "exportSessions" to { m.exportSessions() },
        "importJson" to { m.importJson(IMPORT_ONE) },
        "updateMetadata" to { m.updateMetadata(s.id, mapOf("k" to "v")) },
    )

    private companion object {
        /** One valid session in the interchange form (import reaches insertAll). */
        const val IMPORT_ONE = """[{"id": "imported-1", "userId": "zoe",
            "tokenHash": "4c227630f2521be4ae18fca41f14a87169e3f00b890ab6251be668adc2ca9ed7",
            "createdAt": "2026-01-01T00:00:00.000Z", "expiresAt": "2026-01-01T01:00:00.000Z"}]"""
    }

    @Test
    fun `an Error thrown by a store reaches the caller as itself, from every call`() {
        val faulty = FaultyStore()
        SessionManager.withStore(config(), faulty, clock).use { m ->
            val s = m.create(opts("alice"))
            for (make in errors) {
                for ((name, call) in storeCalls(m, s)) {
                    val thrown = make()
                    faulty.fault = { thrown }
                    val caught = assertFailsWith<Throwable>(name) { call() }
                    assertSame(thrown, caught, "$name: $caught")
                    // The library's own view of the failure travels with it.
                    val store = caught.suppressed.single() as SessionException.Store
                    assertTrue(store.reason.contains(thrown.javaClass.name), store.reason)
                }
            }
            faulty.fault = null
            // Nothing happened: the one session is still there and valid.
            assertEquals(1L, m.count())
            assertTrue(m.validate(s.token).valid)
        }
    }

    @Test
    fun `a write whose store call threw an Error did not happen, and no success is reported`() {
        val faulty = FaultyStore()
        SessionManager.withStore(config(), faulty, clock).use { m ->
            val s = m.create(opts("alice"))
            faulty.fault = { NotImplementedError() }

            faulty.failing = setOf("insert")
            assertFailsWith<NotImplementedError> { m.create(opts("bob")) }

            faulty.failing = setOf("compareAndSwap")
            assertFailsWith<NotImplementedError> { m.refresh(s.token) }
            assertFailsWith<NotImplementedError> { m.destroy(s.id) }

            faulty.failing = setOf("revokeAllForUser")
            assertFailsWith<NotImplementedError> { m.destroyAllForUser("alice") }

            faulty.failing = setOf("purgeExpired")
            assertFailsWith<NotImplementedError> { m.purgeExpired() }

            faulty.failing = setOf("insertAll")
            assertFailsWith<NotImplementedError> { m.importJson(IMPORT_ONE) }

            faulty.failing = setOf("count")
            assertFailsWith<NotImplementedError> { m.count() }

            faulty.fault = null
            assertEquals(1L, m.count()) // bob was never stored
            assertTrue(m.listForUser("bob").isEmpty())
            assertTrue(m.validate(s.token).valid) // not rotated, not revoked
            assertNull(faulty.inner.get(s.id)!!.revokedAt)
        }
    }

    @Test
    fun `without the guard the generated layer reports an Error in insert as success`() {
        // Why SessionManager wraps host stores: UniFFI's generated callback code catches
        // only Exception, JNA swallows the Error, and Rust sees a successful insert.
        // (JNA prints the Error's stack trace to stderr here.)
        val faulty = FaultyStore()
        faulty.fault = { NotImplementedError("insert") }
        faulty.failing = setOf("insert")
        SessionManagerBase.withStore(config(), faulty, clock).use { raw ->
            val s = raw.create(opts("alice")) // "succeeds"
            faulty.fault = null
            assertEquals(0L, raw.count())
            assertFalse(raw.validate(s.token).valid)
        }
        // The same store through SessionManager: the create fails, as it must.
        faulty.fault = { NotImplementedError("insert") }
        SessionManager.withStore(config(), faulty, clock).use { m ->
            assertFailsWith<NotImplementedError> { m.create(opts("alice")) }
            faulty.fault = null
            assertEquals(0L, m.count())
        }
    }

    @Test
    fun `an exception thrown by a store is the cause of the Store error`() {
        val faulty = FaultyStore()
        SessionManager.withStore(config(), faulty, clock).use { m ->
            val s = m.create(opts("alice"))
            for ((name, call) in storeCalls(m, s)) {
                val io = java.io.IOException("connection reset")
                faulty.fault = { io }
                val e = assertFailsWith<SessionException.Store>(name) { call() }
                assertSame(io, e.cause, name)
                val expected = Regex("""SessionStore\.\w+ threw java\.io\.IOException: connection reset""")
                assertTrue(expected.matches(e.reason), "$name: ${e.reason}")
            }
            // The store's own SessionException passes through unchanged, without a cause.
            faulty.fault = { SessionException.Store("quota exceeded") }
            val own = assertFailsWith<SessionException.Store> { m.count() }
            assertEquals("quota exceeded", own.reason)
            assertNull(own.cause)
        }
    }

    @Test
    fun `a store that returns a negative count fails the call instead of reporting it`() {
        val inner = KotlinStore()
        val store = object : SessionStore by inner {
            override fun count() = -1L
            override fun purgeExpired(now: java.time.Instant) = Long.MIN_VALUE
        }
        SessionManager.withStore(config(), store, clock).use { m ->
            m.create(opts("alice"))
            for ((name, call) in listOf<Pair<String, () -> Long>>(
                "count" to { m.count() },
                "purge_expired" to { m.purgeExpired() },
            )) {
                val e = assertFailsWith<SessionException.Store>(name) { call() }
                assertTrue(e.reason.contains(name) && e.reason.contains("negative"), e.reason)
            }
        }
    }

    @Test
    fun `an Error in insertLimited (the per-user limit) fails the create and stores nothing`() {
        val faulty = FaultyStore()
        SessionManager.withStore(SessionConfig(maxSessionsPerUser = 1), faulty, clock).use { m ->
            val s = m.create(opts("alice"))
            faulty.failing = setOf("insertLimited")
            faulty.fault = { NotImplementedError("insertLimited") }
            assertFailsWith<NotImplementedError> { m.create(opts("alice")) }
            val io = java.io.IOException("limit index down")
            faulty.fault = { io }
            assertSame(io, assertFailsWith<SessionException.Store> { m.create(opts("alice")) }.cause)
            faulty.fault = null
            assertEquals(1L, m.count())
            assertTrue(m.validate(s.token).valid) // not revoked to make room
            assertFalse(m.create(opts("alice")).id == s.id)
            assertEquals(ValidationError.SESSION_REVOKED, m.validate(s.token).error)
        }
    }

    /** A listener that records events and, while [fault] is set, throws what it makes. */
    private class FaultyListener : SessionListener {
        val events = java.util.concurrent.CopyOnWriteArrayList<SessionEvent>()
        @Volatile var fault: (() -> Throwable)? = null

        override fun onEvent(event: SessionEvent) {
            events += event
            fault?.let { throw it() }
        }
    }

    @Test
    fun `an Error thrown by a listener reaches the caller once the change is stored`() {
        SessionManager(config(), clock).use { m ->
            val faulty = FaultyListener()
            val after = FaultyListener()
            m.addListener(faulty)
            m.addListener(after)
            for (make in errors) {
                val thrown = make()
                faulty.fault = { thrown }
                assertSame(thrown, assertFailsWith<Throwable> { m.create(opts("alice")) })
                assertTrue(thrown.suppressed.isEmpty(), thrown.suppressed.toList().toString())
            }
            faulty.fault = null
            // Every create happened, and every listener was told of each one.
            assertEquals(errors.size.toLong(), m.count())
            assertEquals(errors.size, after.events.size)
            assertTrue(after.events.all { it is SessionEvent.Created })
        }
    }

    @Test
    fun `an exception thrown by a listener is logged and the call succeeds`() {
        SessionManager(config(), clock).use { m ->
            val faulty = FaultyListener()
            val after = FaultyListener()
            m.addListener(faulty)
            m.addListener(after)
            faulty.fault = { IllegalStateException("audit log down") }
            val s = m.create(opts("alice"))
            faulty.fault = { ListenerException.Failed("own failure") }
            assertTrue(m.destroy(s.id))
            assertEquals(listOf("Created", "Revoked"), after.events.map { it.javaClass.simpleName })
            assertEquals(2, faulty.events.size)
            assertEquals(ValidationError.SESSION_REVOKED, m.validate(s.token).error)
        }
    }

    @Test
    fun `a Kotlin listener is wrapped exactly once`() {
        val kotlinListener = FaultyListener()
        val once = guarded(kotlinListener)
        assertTrue(once is GuardedSessionListener)
        assertSame(once, guarded(once))
    }

    @Test
    fun `an InterruptedException in a store fails the call and keeps the thread interrupted`() {
        val inner = KotlinStore()
        val store = object : SessionStore by inner {
            override fun insert(session: Session) = throw InterruptedException("shutting down")
        }
        SessionManager.withStore(config(), store, clock).use { m ->
            val e = assertFailsWith<SessionException.Store> { m.create(opts("alice")) }
            assertTrue(e.cause is InterruptedException)
            assertTrue(Thread.interrupted()) // and clears it
            assertEquals(0L, m.count())
        }
    }

    @Test
    fun `an Error thrown by a clock reaches the caller as itself, an exception as the cause of Clock`() {
        SessionManager(config(), clock).use { m ->
            val s = m.create(opts("alice"))
            for (make in errors) {
                val thrown = make()
                clock.failure = null
                val failing = object : Clock {
                    override fun now() = throw thrown
                }
                SessionManager(config(), failing).use { broken ->
                    assertSame(thrown, assertFailsWith<Throwable> { broken.create(opts("alice")) })
                    val clockError = thrown.suppressed.single() as SessionException.Clock
                    assertTrue(clockError.reason.startsWith("Clock.now threw "), clockError.reason)
                }
            }
            val broke = IllegalStateException("clock broke")
            clock.failure = { broke }
            val e = assertFailsWith<SessionException.Clock> { m.validate(s.token) }
            assertSame(broke, e.cause)
            assertEquals("Clock.now threw java.lang.IllegalStateException: clock broke", e.reason)
            clock.failure = { ClockException.Failed("ntp unreachable") }
            assertEquals("ntp unreachable", assertFailsWith<SessionException.Clock> { m.validate(s.token) }.reason)
            // The library's own exceptions print only their sentence: the reason names the class.
            clock.failure = { SessionException.Store("wrong type") }
            assertEquals(
                "Clock.now threw dev.sessions.SessionException\$Store: the session store failed: wrong type",
                assertFailsWith<SessionException.Clock> { m.validate(s.token) }.reason,
            )
            clock.failure = null
            assertTrue(m.validate(s.token).valid)
        }
    }

    @Test
    fun `an Error in the automatic purge surfaces although the create itself succeeded`() {
        // create purges on its own (autoPurgeInterval); the library logs a failed purge and
        // keeps the new session, but an Error is never swallowed: the caller gets it.
        val faulty = FaultyStore()
        SessionManager.withStore(SessionConfig(autoPurgeInterval = Duration.ofMinutes(1)), faulty, clock).use { m ->
            m.create(opts("alice")) // starts the interval
            clock.advance(Duration.ofMinutes(2))
            faulty.failing = setOf("purgeExpired")
            faulty.fault = { OutOfMemoryError("simulated") }
            assertFailsWith<OutOfMemoryError> { m.create(opts("bob")) }
            faulty.fault = null
            assertEquals(1, m.listForUser("bob").size) // the create itself happened
            // An exception in the purge stays what the library makes of it: logged, no error.
            clock.advance(Duration.ofMinutes(2))
            faulty.fault = { IllegalStateException("purge broke") }
            m.create(opts("carol"))
            faulty.fault = null
            assertEquals(3L, m.count())
        }
    }

    @Test
    fun `host faults stay with the thread that met them`() {
        // One thread's store calls throw an Error; seven others share the manager at the
        // same time and must neither see that Error nor fail.
        val inner = KotlinStore()
        val failingThread = "host-faults-failing"
        val store = object : SessionStore by inner {
            override fun count(): Long {
                if (Thread.currentThread().name == failingThread) throw AssertionError("only here")
                return inner.count()
            }
        }
        SessionManager.withStore(config(), store, clock).use { m ->
            val go = CountDownLatch(1)
            val seen = arrayOfNulls<String>(8)
            val threads = (0 until 8).map { i ->
                Thread({
                    go.await()
                    val out = StringBuilder()
                    repeat(50) {
                        try {
                            m.count()
                            m.create(opts("u$i"))
                            out.append('.')
                        } catch (e: AssertionError) {
                            out.append('E')
                        }
                    }
                    seen[i] = out.toString()
                }, if (i == 0) failingThread else "host-faults-$i")
            }
            threads.forEach { it.start() }
            go.countDown()
            threads.forEach { it.join(TimeUnit.SECONDS.toMillis(60)) }
            assertEquals("E".repeat(50), seen[0])
            for (other in seen.drop(1)) assertEquals(".".repeat(50), other)
            assertEquals(350L, m.count())
        }
    }
}
