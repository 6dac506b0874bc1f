package dev.sessions

import java.time.Duration
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.CountDownLatch
import java.util.concurrent.CyclicBarrier
import java.util.concurrent.ThreadLocalRandom
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong
import java.util.concurrent.atomic.AtomicReference
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlin.test.fail

/**
 * Many JVM threads on one manager (bug 4: concurrent refreshes race; bug 7: non-atomic
 * writes). Uses the system clock: sessions live 24 hours, so nothing expires meanwhile.
 */
class ConcurrencyTest {
    private val threads = 8

    // A rotation grace far longer than any test here, so that no token is treated as
    // reused however slow the machine (the system clock runs these tests).
    private fun manager(kind: String) = newManager(kind, SessionConfig(rotationGrace = Duration.ofMinutes(10)))

    @EachStore
    fun `bug 4 - of many concurrent refreshes of one token exactly one wins`(kind: String) {
        manager(kind).use { m ->
            val barrier = CyclicBarrier(threads)
            repeat(if (kind == "memory") 200 else 100) {
                val s = m.create(opts("race"))
                val winners = ConcurrentLinkedQueue<Session>()
                val losers = AtomicInteger()
                val unexpected = ConcurrentLinkedQueue<Throwable>()
                val workers = (1..threads).map {
                    Thread {
                        try {
                            barrier.await(10, TimeUnit.SECONDS)
                            winners += m.refresh(s.token)
                        } catch (e: Throwable) {
                            unexpected += e
                        }
                    }.apply { start() }
                }
                workers.forEach { it.join() }
                assertTrue(unexpected.isEmpty(), unexpected.toString())
                // One rotation is written, and within the rotation grace every refresh
                // gets its token: nobody is logged out.
                assertEquals(threads, winners.size)
                assertEquals(1, winners.map { it.token }.toSet().size)
                assertEquals(0, losers.get())
                assertTrue(m.validate(winners.first().token).valid)
                assertEquals(2L, m.get(s.id)!!.version)
            }
        }
    }

    @EachStore
    fun `8 threads hammer create, validate, refresh and destroy for 3 seconds and every invariant holds`(kind: String) {
        manager(kind).use { m ->
            val rotatedOut = ConcurrentLinkedQueue<String>() // tokens that must never validate again
            val revoked = ConcurrentHashMap<String, String>() // session id -> its last token
            val live = ConcurrentHashMap<String, String>() // session id -> current token (owned by one thread)
            val created = AtomicLong()
            // A few sessions every thread fights over.
            val shared = (1..4).map { AtomicReference(m.create(opts("shared"))) }
            created.addAndGet(shared.size.toLong())
            val sharedWins = ConcurrentHashMap<String, MutableSet<String>>() // presented token -> tokens its refreshes got
            val errors = ConcurrentLinkedQueue<Throwable>()
            val ops = AtomicLong()
            val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3)
            val go = CountDownLatch(1)

            val workers = (0 until threads).map { n ->
                Thread {
                    val rnd = ThreadLocalRandom.current()
                    val mine = HashMap<String, String>()
                    try {
                        go.await()
                        while (System.nanoTime() < deadline) {
                            when (rnd.nextInt(10)) {
                                0, 1 -> {
                                    val s = m.create(opts("user-$n-${rnd.nextInt(4)}", metadata = mapOf("n" to "$n")))
                                    created.incrementAndGet()
                                    mine[s.id] = s.token
                                }
                                2, 3, 4 -> mine.entries.randomOrNull()?.let { (id, token) ->
                                    val r = m.validate(token)
                                    if (!r.valid || r.session?.id != id) fail("own live session $id did not validate: ${r.error}")
                                }
                                5 -> mine.entries.randomOrNull()?.let { (id, token) ->
                                    val r = m.refresh(token)
                                    check(r.id == id)
                                    rotatedOut += token
                                    mine[id] = r.token
                                }
                                6 -> mine.entries.randomOrNull()?.let { (id, token) ->
                                    check(m.destroy(id))
                                    mine.remove(id)
                                    revoked[id] = token
                                }
                                7 -> {
                                    val ref = shared[rnd.nextInt(shared.size)]
                                    val cur = ref.get()
                                    try {
                                        val next = m.refresh(cur.token)
                                        sharedWins.computeIfAbsent(cur.token) { ConcurrentHashMap.newKeySet() }.add(next.token)
                                        rotatedOut += cur.token
                                        ref.compareAndSet(cur, next)
                                    } catch (e: SessionException.InvalidToken) {
                                        // Lost the race to another thread: expected.
                                    }
                                }
                                8 -> {
                                    val cur = shared[rnd.nextInt(shared.size)].get()
                                    val r = m.validate(cur.token)
                                    if (!r.valid) check(r.error == ValidationError.INVALID_TOKEN) { "shared: ${r.error}" }
                                }
                                else -> {
                                    m.validate(generateSecureToken())
                                        .also { check(it.error == ValidationError.INVALID_TOKEN) }
                                    m.listForUser("user-$n-0").forEach { check(it.token.isEmpty()) }
                                }
                            }
                            ops.incrementAndGet()
                        }
                    } catch (e: Throwable) {
                        errors += e
                    } finally {
                        live.putAll(mine)
                    }
                }.apply { start() }
            }
            go.countDown()
            workers.forEach { it.join(30_000) }
            assertTrue(workers.none { it.isAlive }, "workers hung")
            assertTrue(errors.isEmpty(), errors.joinToString("\n") { it.stackTraceToString() })
            println("[$kind] ${ops.get()} operations by $threads threads in 3 s; ${created.get()} sessions")

            // Invariants.
            assertTrue(sharedWins.values.all { it.size == 1 }, "a shared token was rotated twice")
            for (t in rotatedOut) {
                // Valid only as its session's immediate predecessor, within the grace.
                val r = m.validate(t)
                if (r.valid) assertEquals(hashToken(t), r.session!!.previousTokenHash, "rotated-out token validated")
                else assertTrue(r.error == ValidationError.INVALID_TOKEN || r.error == ValidationError.SESSION_REVOKED, "${r.error}")
            }
            for ((id, t) in revoked) {
                assertEquals(ValidationError.SESSION_REVOKED, m.validate(t).error)
                assertTrue(m.get(id)!!.revokedAt != null)
            }
            for ((id, t) in live) {
                val r = m.validate(t)
                assertTrue(r.valid && r.session!!.id == id, "live session $id lost: ${r.error}")
            }
            for (ref in shared) assertTrue(m.validate(ref.get().token).valid)
            assertEquals(created.get().toULong(), m.count(), "sessions lost or duplicated")
            assertEquals(0UL, m.purgeExpired())
        }
    }
}
