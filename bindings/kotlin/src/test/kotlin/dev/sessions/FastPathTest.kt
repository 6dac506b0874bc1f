package dev.sessions

import java.time.Duration
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertSame
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/**
 * The fast path of [SessionManager.validate] (FastPath.kt): the same results and the same
 * exceptions as UniFFI's generated code ([SessionManager.validateRegular]), for every kind
 * of result, large and non-ASCII results, from many threads, and with failing host code.
 * Every comparison first checks that the fast path answered (not the regular fallback).
 */
class FastPathTest {
    /** The fast path's answer, which must exist, and the regular path's, which must equal it. */
    private fun SessionManager.both(token: String, userAgent: String? = null): ValidationResult {
        val fast = assertNotNull(validateFast(token, userAgent), "the fast path did not answer")
        assertEquals(validateRegular(token, userAgent), fast)
        assertEquals(fast, validate(token, userAgent), "validate is the fast path's answer")
        return fast
    }

    @EachStore
    fun `valid, unknown, expired and revoked tokens give the regular path's results`(kind: String) {
        val clock = ManualClock()
        newManager(kind, config(defaultExpiresIn = Duration.ofMinutes(10)), clock).use { m ->
            val s = m.create(opts("alice", metadata = mapOf("k" to "v")))
            val valid = m.both(s.token)
            assertTrue(valid.valid)
            assertEquals(s.id, valid.session!!.id)
            assertEquals(s.createdAt, valid.session!!.createdAt)
            assertEquals(mapOf("k" to "v"), valid.session!!.metadata)

            assertEquals(ValidationError.INVALID_TOKEN, m.both(generateSecureToken()).error)
            assertEquals(ValidationError.INVALID_TOKEN, m.both("").error)
            assertEquals(ValidationError.INVALID_TOKEN, m.both("x".repeat(3000)).error)

            val revoked = m.create(opts("bob"))
            assertTrue(m.destroy(revoked.id))
            assertEquals(ValidationError.SESSION_REVOKED, m.both(revoked.token).error)

            clock.advance(Duration.ofMinutes(11))
            assertEquals(ValidationError.SESSION_EXPIRED, m.both(s.token).error)
        }
    }

    @EachStore
    fun `every optional field and sliding expiration decode as the regular path builds them`(kind: String) {
        val clock = ManualClock()
        val cfg = SessionConfig(
            defaultExpiresIn = Duration.ofSeconds(3600, 123_456_789),
            bindToUserAgent = true,
            rotationGrace = Duration.ofMinutes(5),
        )
        newManager(kind, cfg, clock).use { m ->
            val s = m.create(opts("alice", metadata = mapOf("userAgent" to "agent/1.0"), sliding = true))
            assertEquals(ValidationError.USER_AGENT_MISMATCH, m.both(s.token, "other agent").error)
            assertEquals(ValidationError.USER_AGENT_MISMATCH, m.both(s.token).error)
            // Not due to slide yet: both calls see the same stored session.
            val first = m.both(s.token, "agent/1.0")
            assertEquals("agent/1.0", first.session!!.boundUserAgent)
            assertEquals(true, first.session!!.slidingExpiration)
            assertEquals(3600L, first.session!!.lifetime.seconds)
            assertTrue(first.session!!.lifetime.nano > 0, "the lifetime's nanoseconds are decoded")

            // Past half the lifetime: the fast call slides (version + 1); the regular one
            // then reads what it stored.
            clock.advance(Duration.ofMinutes(40))
            val slid = assertNotNull(m.validateFast(s.token, "agent/1.0"))
            assertEquals(first.session!!.version + 1, slid.session!!.version)
            assertEquals(clock.now().plus(first.session!!.lifetime), slid.session!!.expiresAt)
            assertEquals(m.validateRegular(s.token, "agent/1.0"), slid)

            // Rotated: previous token hash, rotated-at and (inside the grace) the old token.
            val rotated = m.refresh(s.token, "agent/1.0")
            clock.advance(Duration.ofNanos(1))
            val current = m.both(rotated.token, "agent/1.0")
            assertNotNull(current.session!!.previousTokenHash)
            assertNotNull(current.session!!.rotatedAt)
            assertEquals(rotated.rotatedAt, current.session!!.rotatedAt)
            val old = m.both(s.token, "agent/1.0")
            assertTrue(old.valid)
            assertEquals(rotated.id, old.session!!.id)
        }
    }

    @EachStore
    fun `a token presented again after the grace is reported as reused by both paths`(kind: String) {
        // Reuse revokes the session, so each path gets its own manager and the same steps.
        val results = listOf(true, false).map { fast ->
            val clock = ManualClock()
            newManager(kind, SessionConfig(rotationGrace = Duration.ofSeconds(10)), clock).use { m ->
                val s = m.create(opts("alice"))
                val rotated = m.refresh(s.token)
                clock.advance(Duration.ofMinutes(1))
                fun validate(token: String) =
                    if (fast) assertNotNull(m.validateFast(token, null)) else m.validateRegular(token, null)
                listOf(validate(s.token), validate(rotated.token))
            }
        }
        assertEquals(
            listOf(
                ValidationResult(false, null, ValidationError.TOKEN_REUSED),
                ValidationResult(false, null, ValidationError.SESSION_REVOKED),
            ),
            results[0],
        )
        assertEquals(results[1], results[0])
    }

    @EachStore
    fun `large and non-ASCII results grow the thread's buffer and decode exactly`(kind: String) {
        val metadata = (0 until 400).associate { i ->
            "clé-$i-日本-\uD83D\uDE00" to "välue $i ${"x".repeat(i)} \u0000 end"
        }
        newManager(kind, SessionConfig(maxMetadataEntries = 1000, maxMetadataBytes = 1_000_000)).use { m ->
            val small = m.create(opts("ascii-user", metadata = mapOf("a" to "b")))
            val big = m.create(opts("usér \uD83D\uDE80", metadata = metadata))
            val nul = m.create(opts("nul\u0000user"))
            val empty = m.create(opts("empty", metadata = emptyMap()))
            repeat(2) {
                for (s in listOf(small, big, small, nul, empty)) {
                    val r = m.both(s.token)
                    assertEquals(s.userId, r.session!!.userId)
                    assertEquals(s.metadata, r.session!!.metadata)
                }
            }
            assertEquals(metadata, m.both(big.token).session!!.metadata)
            assertEquals(emptyMap(), m.both(empty.token).session!!.metadata)
            assertNull(m.both(nul.token).session!!.metadata)
            // A non-ASCII user agent and token go through as UTF-8.
            assertEquals(ValidationError.INVALID_TOKEN, m.both("tökén-\uD83D\uDE00", "ägent \uD83D\uDE00").error)
        }
    }

    /** A clock counting its `now()` reads: one validation reads it a fixed number of times. */
    private class CountingClock(private val inner: ManualClock = ManualClock()) : Clock {
        val reads = java.util.concurrent.atomic.AtomicInteger()
        override fun now(): java.time.Instant {
            reads.incrementAndGet()
            return inner.now()
        }
    }

    /** Runs [body] on a new thread (whose fast-path buffers start at their first size). */
    private fun <T> onFreshThread(body: () -> T): T {
        var result: Result<T>? = null
        val t = Thread { result = runCatching(body) }
        t.start()
        t.join()
        return result!!.getOrThrow()
    }

    @EachStore
    fun `a result larger than the thread's buffer is validated once, as by the regular path`(kind: String) {
        val clock = CountingClock()
        val cfg = SessionConfig(maxMetadataBytes = 1_000_000, defaultExpiresIn = Duration.ofMinutes(10))
        newManager(kind, cfg, clock).use { m ->
            val s = m.create(opts("big", metadata = mapOf("v" to "x".repeat(5_000)), sliding = true))
            val before = clock.reads.get()
            val regular = m.validateRegular(s.token, null)
            val regularReads = clock.reads.get() - before
            val fast = onFreshThread {
                val start = clock.reads.get()
                val r = assertNotNull(m.validateFast(s.token, null), "the fast path did not answer")
                r to clock.reads.get() - start
            }
            assertTrue(regularReads > 0)
            assertEquals(regularReads, fast.second, "one validation, not two")
            assertEquals(regular, fast.first)
        }
    }

    @EachStore
    fun `a 100 KB result on fresh threads equals the regular path's`(kind: String) {
        val cfg = SessionConfig(maxMetadataBytes = 1_000_000)
        newManager(kind, cfg).use { m ->
            val s = m.create(opts("huge", metadata = mapOf("v" to "y".repeat(100_000))))
            repeat(3) {
                val fast = onFreshThread { assertNotNull(m.validateFast(s.token, null), "the fast path did not answer") }
                assertEquals(m.validateRegular(s.token, null), fast)
                assertEquals(s.metadata, fast.session!!.metadata)
            }
        }
    }

    @Test
    fun `a user agent mismatch with a non-ASCII agent is decided on its UTF-8 bytes`() {
        SessionManager(config(bindToUserAgent = true)).use { m ->
            val s = m.create(opts("alice", metadata = mapOf("userAgent" to "Mozilla/5.0 (日本語; \uD83D\uDE00)")))
            assertTrue(m.both(s.token, "Mozilla/5.0 (日本語; \uD83D\uDE00)").valid)
            assertEquals(ValidationError.USER_AGENT_MISMATCH, m.both(s.token, "Mozilla/5.0 (日本語; \uD83D\uDE01)").error)
        }
    }

    @EachStore
    fun `eight threads validating at once each get their own results`(kind: String) {
        newManager(kind, SessionConfig(maxMetadataEntries = 1000, maxMetadataBytes = 1_000_000)).use { m ->
            val sessions = (0 until 64).map { i ->
                val size = if (i % 8 == 0) 300 else 1
                m.create(opts("user-$i-ü", metadata = (0 until size).associate { "k$it" to "v$i-$it-€" }))
            }
            val threads = 8
            val start = CountDownLatch(1)
            val pool = Executors.newFixedThreadPool(threads)
            try {
                val futures = (0 until threads).map { t ->
                    pool.submit<Int> {
                        start.await()
                        var checked = 0
                        repeat(200) { n ->
                            val s = sessions[(t * 7 + n) % sessions.size]
                            val r = assertNotNull(m.validateFast(s.token, null))
                            assertEquals(s.id, r.session!!.id)
                            assertEquals(s.userId, r.session!!.userId)
                            assertEquals(s.metadata, r.session!!.metadata)
                            if (n % 50 == 0) assertEquals(m.validateRegular(s.token, null), r)
                            val unknown = assertNotNull(m.validateFast("unknown-$t-$n", null))
                            assertEquals(ValidationError.INVALID_TOKEN, unknown.error)
                            checked++
                        }
                        checked
                    }
                }
                start.countDown()
                assertEquals(threads * 200, futures.sumOf { it.get(60, TimeUnit.SECONDS) })
            } finally {
                pool.shutdownNow()
            }
        }
    }

    /** The exception one validation throws (it must throw). */
    private fun thrown(call: () -> Unit): Throwable {
        try {
            call()
        } catch (t: Throwable) {
            return t
        }
        throw AssertionError("the call did not throw")
    }

    private fun assertSameFailure(regular: Throwable, fast: Throwable) {
        assertEquals(regular::class, fast::class)
        assertEquals(regular.message, fast.message)
        assertEquals(regular.cause?.let { it::class }, fast.cause?.let { it::class })
        assertEquals(regular.cause?.message, fast.cause?.message)
        assertEquals(regular.suppressed.map { it::class to it.message }, fast.suppressed.map { it::class to it.message })
    }

    @Test
    fun `a store failure is thrown by the fast path as by the regular one, with its cause`() {
        val store = KotlinStore()
        SessionManager.withStore(config(), store).use { m ->
            val s = m.create(opts("alice"))
            store.failure = { java.io.IOException("disk gone") }
            val regular = thrown { m.validateRegular(s.token, null) }
            val fast = thrown { m.validateFast(s.token, null) }
            assertTrue(fast is SessionException.Store, "$fast")
            assertSameFailure(regular, fast)
            assertTrue(fast.cause is java.io.IOException)
            assertSameFailure(regular, thrown { m.validate(s.token) })

            // The store's own SessionException reaches the caller unchanged.
            store.failure = { SessionException.Store("store says no") }
            val own = thrown { m.validateFast(s.token, null) }
            assertTrue(own is SessionException.Store && own.message!!.contains("store says no"), "$own")
            assertSameFailure(thrown { m.validateRegular(s.token, null) }, own)

            // An Error thrown by the store is rethrown as itself once the call unwound.
            val error = NotImplementedError("not yet")
            store.failure = { throw error }
            assertSame(error, thrown { m.validateFast(s.token, null) })
            assertSameFailure(thrown { m.validateRegular(s.token, null) }, thrown { m.validateFast(s.token, null) })

            // Nothing is left over for the next call.
            store.failure = null
            assertTrue(m.both(s.token).valid)
        }
    }

    /** A store that runs [hook] on each lookup by token hash (on the validating thread). */
    private class HookStore(val inner: KotlinStore = KotlinStore()) : SessionStore by inner {
        @Volatile var hook: (() -> Unit)? = null

        override fun findByTokenHash(tokenHash: String): Session? {
            hook?.invoke()
            return inner.findByTokenHash(tokenHash)
        }
    }

    /**
     * A store validating another token on the same thread during `validate` (new-user
     * trial): the nested call got the outer call's buffers, so the outer call read the
     * nested token (large outer result: the other user's session came back) or decoded
     * the nested result while the library wrote into a buffer that had been replaced
     * (large nested result).
     */
    @Test
    fun `a validation made by a store during validate does not disturb the outer one`() {
        for ((outerSize, nestedSize) in listOf(1_500 to 1, 1 to 5_000, 6_000 to 9_000)) {
            val store = HookStore()
            SessionManager.withStore(SessionConfig(maxMetadataBytes = 1 shl 20), store).use { m ->
                val alice = m.create(CreateSessionOptions("alice", null, mapOf("k" to "a".repeat(outerSize)), false))
                val mallory = m.create(CreateSessionOptions("mallory", null, mapOf("k" to "m".repeat(nestedSize)), false))
                var nested: ValidationResult? = null
                store.hook = {
                    store.hook = null
                    nested = m.validateFast(mallory.token, null)
                }
                var outer: ValidationResult? = null
                // A fresh thread: its buffers start at their first size.
                Thread { outer = m.validateFast(alice.token, null) }.apply { start(); join() }
                assertEquals("alice", outer?.session?.userId, "sizes $outerSize/$nestedSize")
                assertEquals(outerSize, outer?.session?.metadata?.get("k")?.length)
                assertEquals("mallory", nested?.session?.userId)
                assertEquals(nestedSize, nested?.session?.metadata?.get("k")?.length)
                assertEquals(m.validateRegular(alice.token, null), outer)
            }
        }
    }

    @Test
    fun `a listener validating a large session during validate's revocation does not disturb it`() {
        SessionManager(SessionConfig(maxMetadataBytes = 1 shl 20, rotationGrace = Duration.ZERO)).use { m ->
            val victim = m.create(opts("victim"))
            val other = m.create(CreateSessionOptions("other", null, mapOf("k" to "w".repeat(100_000)), false))
            val seen = mutableListOf<String?>()
            m.addListener(object : SessionListener {
                override fun onEvent(event: SessionEvent) {
                    if (event is SessionEvent.Revoked) seen += m.validateFast(other.token, null)?.session?.userId
                }
            })
            m.refresh(victim.token)
            var outer: Result<ValidationResult?>? = null
            Thread { outer = runCatching { m.validateFast(victim.token, null) } }.apply { start(); join() }
            assertEquals(ValidationError.TOKEN_REUSED, outer?.getOrThrow()?.error)
            assertEquals(listOf<String?>("other"), seen)
        }
    }

    @Test
    fun `a clock failure is thrown by the fast path as by the regular one`() {
        val clock = ManualClock()
        SessionManager(config(), clock).use { m ->
            val s = m.create(opts("alice"))
            clock.failure = { IllegalStateException("no time") }
            val fast = thrown { m.validateFast(s.token, null) }
            assertTrue(fast is SessionException.Clock, "$fast")
            assertSameFailure(thrown { m.validateRegular(s.token, null) }, fast)
            assertTrue(fast.cause is IllegalStateException)
        }
    }

    @Test
    fun `a closed manager fails as every other method does`() {
        val m = SessionManager(config())
        val s = m.create(opts("alice"))
        assertTrue(m.validate(s.token).valid)
        val async = m.asAsync() // still holds the Rust manager: the handle stays valid
        m.close()
        assertNull(m.validateFast(s.token, null))
        val regular = thrown { m.validateRegular(s.token, null) }
        assertSameFailure(regular, thrown { m.validate(s.token) })
        async.close()
    }

    @Test
    fun `the entry point is bound to the library instance the generated code loaded`() {
        // A second copy of the library would have its own registry, where this manager's
        // handle is unknown: validateFast would then return null.
        assertTrue(FastPath.Jni.bound, "the JNI entry was registered")
        assertTrue(FastPath.available)
        SessionManager(config()).use { m ->
            val s = m.create(opts("alice"))
            assertNotNull(m.validateFast(s.token, null))
            assertNotNull(m.validateFast("nope", null))
        }
        assertSame(FastPath.generatedLibrary(), FastPath.generatedLibrary())
    }

    /** Calls the JNI entry itself, as FastPath.kt does: token then user agent in one direct buffer. */
    private fun rawJni(handle: Long, token: String, userAgent: String? = null): Pair<Int, java.nio.ByteBuffer> {
        val t = token.toByteArray()
        val u = userAgent?.toByteArray()
        val input = java.nio.ByteBuffer.allocateDirect(t.size + (u?.size ?: 0) + 1).put(t).apply { u?.let { put(it) } }
        val out = java.nio.ByteBuffer.allocateDirect(4096).order(java.nio.ByteOrder.LITTLE_ENDIAN)
        fun address(b: java.nio.ByteBuffer) =
            com.sun.jna.Pointer.nativeValue(com.sun.jna.Native.getDirectBufferPointer(b))
        val r = FastPath.Jni.validate(handle, address(input), t.size, u?.size ?: -1, address(out), out.capacity())
        java.lang.ref.Reference.reachabilityFence(input)
        return r to out
    }

    @Test
    fun `the JNI entry reaches the manager UniFFI made, so there is one core, one registry and one store`() {
        SessionManager(config()).use { m ->
            // The handle comes from UniFFI's generated call into the library JNA loaded.
            val handle = m.fastPathHandle().toLong()
            val s = m.create(opts("alice", metadata = mapOf("k" to "v")))
            val (len, out) = rawJni(handle, s.token)
            assertTrue(len > FastPath.HEADER_LEN, "a valid result: $len")
            assertEquals(0, out.get(0).toInt())
            assertEquals(1L, out.getLong(8), "the version UniFFI's create stored")
            assertEquals(s.createdAt.epochSecond, out.getLong(16))
            // A revocation through UniFFI's generated code is seen by the JNI entry at once.
            assertTrue(m.destroy(s.id))
            val (revoked, out2) = rawJni(handle, s.token)
            assertEquals(1, revoked)
            assertEquals(3, out2.get(0).toInt(), "SESSION_REVOKED")
            assertEquals(ValidationError.SESSION_REVOKED, m.validateRegular(s.token, null).error)
            // A session created now is found too (the same store, not a copy).
            val later = m.create(opts("bob"))
            assertEquals(0, rawJni(handle, later.token).second.get(0).toInt())
            // A handle no manager has is an error code (-1), never another manager.
            assertEquals(-1, rawJni(handle + 1_000_000, later.token).first)
        }
    }

    @Test
    fun `the JNI entry splits token and user agent by their lengths and refuses bad arguments`() {
        SessionManager(config(bindToUserAgent = true)).use { m ->
            val handle = m.fastPathHandle().toLong()
            val s = m.create(opts("alice", metadata = mapOf("userAgent" to "agent/1")))
            assertEquals(0, rawJni(handle, s.token, "agent/1").second.get(0).toInt())
            assertEquals(4, rawJni(handle, s.token, "agent/2").second.get(0).toInt())
            assertEquals(4, rawJni(handle, s.token, null).second.get(0).toInt())
            assertEquals(-2, FastPath.Jni.validate(handle, 0, 5, -1, 0, 0), "a null address with a length")
            assertEquals(-2, FastPath.Jni.validate(handle, 0, -1, -1, 0, 0), "a negative length")
        }
    }

    @EachStore
    fun `eight threads validating while others rotate and revoke see every change at once`(kind: String) {
        newManager(kind, SessionConfig(rotationGrace = Duration.ofMinutes(5))).use { m ->
            val sessions = (0 until 32).map { m.create(opts("user-$it", metadata = mapOf("n" to "$it"))) }
            // The current tokens of each session (rotation adds one), and the revoked ids:
            // an id is added only after destroy returned.
            val tokens = sessions.map { java.util.concurrent.CopyOnWriteArrayList(listOf(it.token)) }
            val revoked = java.util.concurrent.ConcurrentHashMap.newKeySet<String>()
            val stop = java.util.concurrent.atomic.AtomicBoolean(false)
            val pool = Executors.newFixedThreadPool(10)
            try {
                val validators = (0 until 8).map { t ->
                    pool.submit<Int> {
                        var n = 0
                        var checked = 0
                        while (!stop.get() || n < 500) {
                            val i = (t * 13 + n++) % sessions.size
                            val list = tokens[i]
                            val token = list[(n / sessions.size) % list.size]
                            val wasRevoked = sessions[i].id in revoked
                            val r = assertNotNull(m.validateFast(token, null), "the fast path answered")
                            if (r.valid) {
                                assertTrue(!wasRevoked, "a session revoked before the call validated")
                                assertEquals(sessions[i].id, r.session!!.id)
                                assertEquals("user-$i", r.session!!.userId)
                                assertEquals(mapOf("n" to "$i"), r.session!!.metadata)
                            } else {
                                // Only revocation ends these sessions (rotation keeps both tokens valid).
                                assertEquals(ValidationError.SESSION_REVOKED, r.error, "session $i")
                            }
                            checked++
                        }
                        checked
                    }
                }
                val mutators = (0 until 2).map { w ->
                    pool.submit {
                        for (i in sessions.indices.filter { it % 2 == w }) {
                            val rotated = m.refresh(tokens[i].last(), null)
                            tokens[i].add(rotated.token)
                            if (i % 4 < 2) {
                                assertTrue(m.destroy(sessions[i].id))
                                revoked.add(sessions[i].id)
                            }
                            Thread.sleep(1)
                        }
                    }
                }
                mutators.forEach { it.get(60, TimeUnit.SECONDS) }
                stop.set(true)
                assertTrue(validators.sumOf { it.get(60, TimeUnit.SECONDS) } >= 8 * 500)
                // Afterwards every revoked session is refused through both paths, every other valid.
                for ((i, s) in sessions.withIndex()) {
                    val r = m.both(tokens[i].last())
                    assertEquals(s.id !in revoked, r.valid, "session $i")
                }
            } finally {
                stop.set(true)
                pool.shutdownNow()
            }
        }
    }

    @Test
    fun `arguments the fast path does not take go to the regular path`() {
        SessionManager(config()).use { m ->
            val s = m.create(opts("alice"))
            val long = "y".repeat(FastPath.MAX_INPUT_CHARS + 1)
            assertNull(m.validateFast(long, null))
            assertNull(m.validateFast(s.token, long))
            assertEquals(ValidationError.INVALID_TOKEN, m.validate(long).error)
            assertTrue(m.validate(s.token, long).valid)
            // An unpaired surrogate never reaches the library (SessionManager checks first).
            assertEquals(ValidationError.INVALID_TOKEN, m.validate("ab\uD800").error)
            assertFailsWith<IllegalArgumentException> { m.validate(s.token, "ua\uDC00") }
        }
    }

    @Test
    fun `a fake manager without a Rust object keeps its own validate`() {
        val fake = object : SessionManager(NoHandle) {}
        assertNull(fake.validateFast("t", null))
        assertFailsWith<Exception> { fake.validate("t") }
    }
}
