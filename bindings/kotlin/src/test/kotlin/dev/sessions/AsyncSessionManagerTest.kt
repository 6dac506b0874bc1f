package dev.sessions

import java.nio.file.Files
import java.time.Duration
import java.util.concurrent.CountDownLatch
import java.util.concurrent.CyclicBarrier
import java.util.concurrent.ExecutionException
import java.util.concurrent.Semaphore
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.yield
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * [AsyncSessionManager] from coroutines and from Java's CompletableFuture: every suspend
 * method, the same typed errors and string checks, a Kotlin store and clock called off
 * the caller's thread, cancellation (a cancelled call happened in full or not at all;
 * the store's invariants hold after many cancelled creates and refreshes) and many
 * coroutines at once. The library's worker pool (8 threads) is shared by the process.
 */
class AsyncSessionManagerTest {
    private fun opts(user: String) = CreateSessionOptions(user, null, null, false)

    /** A [KotlinStore] that can hold inserts, records its threads and can drain the pool. */
    private class GatedStore(private val inner: KotlinStore = KotlinStore()) : SessionStore by inner {
        val open = AtomicBoolean(true)
        private val released = CountDownLatch(1)
        val insideInsert = Semaphore(0)
        val threads: MutableSet<Thread> = java.util.concurrent.ConcurrentHashMap.newKeySet()
        @Volatile var barrier: CyclicBarrier? = null

        fun hold() = open.set(false)
        fun release() { open.set(true); released.countDown() }

        override fun insert(session: Session) {
            threads += Thread.currentThread()
            insideInsert.release()
            if (!open.get()) check(released.await(30, TimeUnit.SECONDS)) { "held for 30 s" }
            inner.insert(session)
        }

        override fun compareAndSwap(expectedTokenHash: String, expectedVersion: Long, session: Session): Boolean {
            threads += Thread.currentThread()
            return inner.compareAndSwap(expectedTokenHash, expectedVersion, session)
        }

        override fun count(): Long {
            barrier?.await(30, TimeUnit.SECONDS)
            return inner.count()
        }
    }

    /** Returns once every job queued on the pool before it has finished (all 8 workers meet in `count`). */
    private suspend fun drain(m: AsyncSessionManager, store: GatedStore) = coroutineScope {
        store.barrier = CyclicBarrier(WORKERS)
        try {
            (1..WORKERS).map { async { m.count() } }.awaitAll()
        } finally {
            store.barrier = null
        }
    }

    private class Recorder : SessionListener {
        val events = java.util.Collections.synchronizedList(ArrayList<SessionEvent>())
        override fun onEvent(event: SessionEvent) { events += event }
    }

    @Test
    fun `every method works awaited`() = runBlocking {
        val clock = ManualClock()
        AsyncSessionManager(SessionConfig(), clock).use { m ->
            val recorder = Recorder()
            m.addListener(recorder)
            assertEquals(SessionConfig().prefix, m.prefix())
            val s = m.create(CreateSessionOptions("alice", null, mapOf("role" to "admin"), true))
            val checked = m.validate(s.token)
            assertTrue(checked.valid)
            assertEquals(s.id, checked.session?.id)
            assertEquals("", m.get(s.id)?.token)
            assertEquals(s.id, m.toPublicSession(s).id)
            assertEquals(mapOf("theme" to "dark"), m.updateMetadata(s.id, mapOf("role" to null, "theme" to "dark")).metadata)
            clock.advance(Duration.ofSeconds(1))
            val rotated = m.refresh(s.token)
            assertNotEquals(s.token, rotated.token)
            assertEquals(rotated.token, m.refresh(s.token).token)
            val second = m.create(opts("alice"))
            assertEquals(listOf(s.id, second.id), m.listForUser("alice").map { it.id })
            assertEquals(2L, m.count())
            assertEquals(2L, m.exportSessions().exported)
            AsyncSessionManager(SessionConfig(), clock).use { other -> assertEquals(2L, other.importJson(m.exportJson())) }
            assertTrue(m.destroy(second.id))
            assertFalse(m.destroy(second.id))
            assertEquals(1L, m.destroyAllForUser("alice"))
            assertEquals(ValidationError.SESSION_REVOKED, m.validate(rotated.token).error)
            clock.advance(Duration.ofHours(25))
            assertEquals(2L, m.purgeExpired())
            assertEquals(0L, m.count())
            assertEquals(7, recorder.events.size)
        }
    }

    @Test
    fun `errors are the same typed exceptions`() = runBlocking {
        AsyncSessionManager(SessionConfig()).use { m ->
            assertThrows<SessionException.InvalidToken> { runBlocking { m.refresh("not-a-token") } }
            val missing = assertThrows<SessionException.SessionNotFound> { runBlocking { m.destroy("nope") } }
            assertEquals("nope", missing.sessionId)
            assertThrows<SessionException.InvalidUserId> { runBlocking { m.create(opts("")) } }
            assertThrows<SessionException.Import> { runBlocking { m.importJson("[{}]") } }
            assertEquals(ValidationError.INVALID_TOKEN, m.validate("").error)
            // Unpaired surrogates are answered before the library, as by SessionManager.
            assertEquals(ValidationError.INVALID_TOKEN, m.validate("\uD800").error)
            assertThrows<SessionException.InvalidToken> { runBlocking { m.refresh("\uD800") } }
            assertThrows<SessionException.InvalidUserId> { runBlocking { m.create(opts("a\uD800")) } }
            assertThrows<IllegalArgumentException> { runBlocking { m.validate("t", "\uDC00") } }
            assertNull(m.get("\uD800"))
        }
        assertThrows<SessionException.InvalidConfig> { AsyncSessionManager(SessionConfig(prefix = "")) }
        Unit
    }

    @Test
    fun `open, asAsync and fromManager share one manager`() = runBlocking {
        val dir = Files.createTempDirectory("sessions-async")
        val path = dir.resolve("s.sqlite").toString()
        AsyncSessionManager.open(path, SessionConfig()).use { m ->
            val s = m.create(opts("bob"))
            SessionManager.open(path, SessionConfig()).use { sync ->
                assertTrue(sync.validate(s.token).valid)
                val shared: AsyncSessionManager = sync.asAsync()
                val recorder = Recorder()
                sync.addListener(recorder)
                assertTrue(shared.destroy(s.id))
                assertEquals(ValidationError.SESSION_REVOKED, AsyncSessionManager.fromManager(sync).validate(s.token).error)
                assertEquals(1, recorder.events.size)
            }
        }
        dir.toFile().deleteRecursively()
        Unit
    }

    @Test
    fun `a Kotlin store and clock run off the caller's thread and their failures are typed`() = runBlocking {
        val store = GatedStore()
        val clockThreads = java.util.concurrent.ConcurrentHashMap.newKeySet<Thread>()
        val clock = object : Clock {
            override fun now(): java.time.Instant {
                clockThreads += Thread.currentThread()
                return java.time.Instant.parse("2026-01-01T00:00:00Z")
            }
        }
        AsyncSessionManager.withStore(SessionConfig(), store, clock).use { m ->
            val s = m.create(opts("carol"))
            m.refresh(s.token)
        }
        val caller = Thread.currentThread()
        assertTrue(store.threads.isNotEmpty() && caller !in store.threads)
        assertTrue(clockThreads.isNotEmpty() && caller !in clockThreads)

        val failing = KotlinStore().apply { failure = { java.io.IOException("disk full") } }
        AsyncSessionManager.withStore(SessionConfig(), failing).use { m ->
            val e = assertThrows<SessionException.Store> { runBlocking { m.create(opts("x")) } }
            assertTrue(e.toString().contains("disk full"), e.toString())
        }
        val erroring = KotlinStore().apply { failure = { throw NotImplementedError("TODO") } }
        AsyncSessionManager.withStore(SessionConfig(), erroring).use { m ->
            // An Error thrown on a library thread fails the call; it is never a success.
            assertThrows<SessionException.Store> { runBlocking { m.create(opts("x")) } }
        }
        val broken = ManualClock().apply { failure = { ClockException.Failed("no time") } }
        AsyncSessionManager(SessionConfig(), broken).use { m ->
            assertThrows<SessionException.Clock> { runBlocking { m.create(opts("x")) } }
        }
        Unit
    }

    @Test
    fun `a cancelled create that started is stored in full`() = runBlocking {
        val store = GatedStore()
        AsyncSessionManager.withStore(SessionConfig(), store).use { m ->
            store.hold()
            val job = launch(Dispatchers.Default) { m.create(opts("erin")) }
            assertTrue(withContext(Dispatchers.IO) { store.insideInsert.tryAcquire(30, TimeUnit.SECONDS) })
            job.cancel()
            store.release()
            job.join()
            assertTrue(job.isCancelled)
            drain(m, store)
            assertEquals(1, m.listForUser("erin").size)
        }
    }

    @Test
    fun `a cancelled create that had not started never runs`() = runBlocking {
        val store = GatedStore()
        AsyncSessionManager.withStore(SessionConfig(), store).use { m ->
            store.hold()
            val held = (0 until WORKERS).map { i -> async(Dispatchers.Default) { m.create(opts("held$i")) } }
            assertTrue(withContext(Dispatchers.IO) { store.insideInsert.tryAcquire(WORKERS, 30, TimeUnit.SECONDS) })
            val queued = launch(Dispatchers.Default) { m.create(opts("never")) }
            delay(20) // it reached the library and waits in its queue
            queued.cancelAndJoin()
            store.release()
            held.awaitAll()
            drain(m, store)
            assertEquals(emptyList<Session>(), m.listForUser("never"))
            assertEquals(WORKERS.toLong(), m.count())
        }
    }

    @Test
    fun `many cancelled creates and refreshes leave the store consistent`() = runBlocking {
        val store = GatedStore()
        AsyncSessionManager.withStore(SessionConfig(), store).use { m ->
            val originals = (0 until 40).map { m.create(opts("user${it % 5}")) }
            val jobs = (0 until 200).map { i ->
                launch(Dispatchers.Default) {
                    if (i % 2 == 0) m.create(opts("user${i % 5}")) else m.refresh(originals[(i * 7) % originals.size].token)
                }
            }
            jobs.forEachIndexed { i, job ->
                if (i % 3 == 0) yield()
                job.cancel()
            }
            jobs.forEach { it.join() }
            drain(m, store)
            val export = m.exportSessions()
            assertTrue(export.damaged.isEmpty())
            val count = m.count()
            assertEquals(export.exported, count)
            assertEquals(count, (0 until 5).sumOf { m.listForUser("user$it").size }.toLong())
            assertTrue(count in 40L..140L, "$count")
            for (original in originals) {
                val stored = m.get(original.id) ?: error("gone")
                assertNull(stored.revokedAt)
                assertTrue(stored.version <= 2L, "rotated ${stored.version - 1} times")
                assertTrue(m.validate(original.token).valid)
            }
        }
    }

    @Test
    fun `eight coroutines at once on SQLite`() = runBlocking {
        val dir = Files.createTempDirectory("sessions-async")
        AsyncSessionManager.open(dir.resolve("s.sqlite").toString(), SessionConfig()).use { m ->
            (0 until 8).map { n ->
                async(Dispatchers.Default) {
                    repeat(10) {
                        val s = m.create(opts("u$n"))
                        assertTrue(m.validate(s.token).valid)
                        assertTrue(m.validate(m.refresh(s.token).token).valid)
                    }
                }
            }.awaitAll()
            assertEquals(80L, m.count())
        }
        dir.toFile().deleteRecursively()
        Unit
    }

    @Test
    fun `the Python loop wake-ups cannot be turned on from Kotlin`() {
        AsyncSessionManager(SessionConfig()).use { m ->
            assertThrows<UnsupportedOperationException> { m.setLoopWakeups(true) }
            assertEquals(0L, runBlocking { m.count() })
        }
    }

    @Test
    fun `CompletableFuture twins for Java`() {
        AsyncSessionManager(SessionConfig()).use { m ->
            val s = m.createFuture(opts("java")).get(30, TimeUnit.SECONDS)
            assertTrue(m.validateFuture(s.token).get(30, TimeUnit.SECONDS).valid)
            assertEquals(1L, m.countFuture().get(30, TimeUnit.SECONDS))
            val failed = assertThrows<ExecutionException> { m.refreshFuture("not-a-token").get(30, TimeUnit.SECONDS) }
            assertTrue(failed.cause is SessionException.InvalidToken, "${failed.cause}")
            assertEquals(1L, m.destroyAllForUserFuture("java").get(30, TimeUnit.SECONDS))
        }
    }

    @Test
    fun `the README's coroutine example runs`() {
        val dir = Files.createTempDirectory("sessions-readme")
        // --- README: Kotlin coroutines (the path aside) ---
        val sessions = AsyncSessionManager.open(dir.resolve("sessions.sqlite").toString(),
            SessionConfig(bindToUserAgent = true))

        suspend fun signIn(user: String, ua: String): String =
            sessions.create(CreateSessionOptions(userId = user, metadata = mapOf("userAgent" to ua))).token

        suspend fun currentUser(token: String, ua: String): String? =
            sessions.validate(token, ua).session?.userId   // null: sign in again

        suspend fun rotate(token: String, ua: String): String? = try {
            sessions.refresh(token, ua).token               // within the grace: the same new token
        } catch (e: SessionException.SessionExpired) { null }

        runBlocking {
            val token = signIn("alice", "MyApp/1.0")
            check(currentUser(token, "MyApp/1.0") == "alice")
            val rotated = rotate(token, "MyApp/1.0")
            check(rotated != null && rotated == rotate(token, "MyApp/1.0"))
            withTimeout(5_000) { sessions.destroyAllForUser("alice") }   // a timeout cancels all or nothing
            check(currentUser(rotated, "MyApp/1.0") == null)
        }
        // --- end of the README example ---
        sessions.close()
        dir.toFile().deleteRecursively()
    }

    private companion object {
        const val WORKERS = 8 // the library's worker pool bound (src/asynchronous/pool.rs)
    }
}
