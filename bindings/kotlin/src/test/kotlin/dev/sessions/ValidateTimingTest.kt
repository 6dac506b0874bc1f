package dev.sessions

import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test

/**
 * Rough cost of one call from Kotlin (reported, not asserted). Skipped unless run with
 * `mvn test -Dsessions.bench=true -Dtest=ValidateTimingTest`. Reports the best of 15
 * batches of 2000 calls, which filters out some of the noise of a busy machine.
 */
class ValidateTimingTest {
    private fun best(f: (Int) -> Unit): Double {
        repeat(5_000) { f(it) } // warm-up
        return (1..15).minOf {
            val t0 = System.nanoTime()
            for (i in 0 until 2_000) f(i)
            (System.nanoTime() - t0) / 1000.0 / 2_000
        }
    }

    @Test
    fun `time validate from Kotlin`() {
        assumeTrue(System.getProperty("sessions.bench") != null, "set -Dsessions.bench=true to run")
        for ((kind, m) in listOf(
            "memory store" to SessionManager(config()),
            "Kotlin store" to SessionManager.withStore(config(), KotlinStore()),
        )) m.use {
            val tokens = (1..1000).map { m.create(opts("u$it", metadata = mapOf("ip" to "10.0.0.1"))).token }
            val valid = best { check(m.validate(tokens[it % 1000]).valid) }
            val unknown = best { m.validate(tokens[it % 1000] + "x") }
            println("[$kind] validate(valid token): %.1f us/call; validate(unknown token): %.1f us/call".format(valid, unknown))
        }
        val s = createSession(opts("alice"))
        println("[free fn] validateSession: %.1f us/call".format(best { validateSession(s.token, s) }))
        println("[free fn] hashToken: %.1f us/call".format(best { hashToken(s.token) }))
    }
}
