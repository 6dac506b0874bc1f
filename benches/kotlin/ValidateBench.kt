package dev.sessions.bench

import dev.sessions.CreateSessionOptions
import dev.sessions.FastPath
import dev.sessions.SessionConfig
import dev.sessions.SessionManager
import dev.sessions.generateSecureToken
import java.lang.management.ManagementFactory

/*
 * Kotlin side of the per-request benchmark (issue 14), run by scripts/benchmarks.py
 * through `mvn -Pbench` (bindings/kotlin/pom.xml). Prints one JSON object as its last line.
 *
 * Side by side in one JVM, CPU time of this thread (ThreadMXBean), 1,000 sessions with one
 * metadata entry each, the median of 5 interleaved rounds after a warm-up long enough for
 * the JIT: `SessionManager.validate` (the fast path, the default: one JNI call), the regular
 * UniFFI path (`validateRegular`), and the pure-Kotlin manager of PureSessions.kt; each
 * call's result is read (`result.session.userId`) as a caller would. Also the fast path's
 * entry call with an empty token (the library answers without hashing or a lookup: the
 * cost of the call and the result alone), the same fast path through the JNA direct-mapped
 * C entry it used before (JnaEntry.kt), the decoding of a valid result alone (the same
 * buffer decoded again: what the Kotlin side adds to the library's work), and `create`
 * against the pure-Kotlin `create`.
 */

private const val SESSIONS = 1000
private const val ROUNDS = 5

private val threadCpu = ManagementFactory.getThreadMXBean()

/** Keeps results observable so the JIT cannot drop the calls. */
@Volatile private var sink = 0

private fun cpuNanos(): Long = threadCpu.currentThreadCpuTime

/** CPU nanoseconds per call of [fn] over [calls] calls cycling through [tokens]. */
private fun perCall(calls: Int, tokens: List<String>, fn: (String) -> Int): Double {
    var acc = 0
    val n = tokens.size
    val start = cpuNanos()
    for (i in 0 until calls) acc += fn(tokens[i % n])
    val spent = cpuNanos() - start
    sink += acc
    return spent.toDouble() / calls
}

private fun median(values: List<Double>): Double = values.sorted()[values.size / 2]

fun main() {
    val manager = SessionManager(SessionConfig())
    val pure = PureManager()
    val options = { n: Int -> CreateSessionOptions("user$n", null, mapOf("k" to "v"), false) }
    val tokens = (0 until SESSIONS).map { manager.create(options(it)).token }
    val pureTokens = (0 until SESSIONS).map { pure.create("user$it", mapOf("k" to "v")).token }
    val unknown = (0 until SESSIONS).map { generateSecureToken() }
    val empty = listOf("")

    val fast = { t: String -> manager.validate(t, null).let { r -> if (r.valid) r.session!!.userId.length else r.error!!.ordinal } }
    val regular = { t: String ->
        manager.validateRegular(t, null).let { r -> if (r.valid) r.session!!.userId.length else r.error!!.ordinal }
    }
    val pureCall = { t: String -> pure.validate(t).let { r -> if (r.valid) r.session!!.userId.length else r.error!!.length } }
    val handle = manager.fastPathHandle().toLong()
    val jna = { t: String -> JnaEntry.validate(handle, t).let { r -> if (r.valid) r.session!!.userId.length else r.error!!.ordinal } }
    // Buffers of their own holding one valid result, decoded again and again.
    val decodeBuffers = FastPath.Buffers()
    val decodeSize = decodeBuffers.let { b ->
        FastPath.Jni.validate(handle, b.inputAddress, FastPath.putUtf8(b, tokens[0], 0), -1, b.outAddress, b.out.capacity())
    }
    check(decodeSize > FastPath.HEADER_LEN) { "no valid result to decode: $decodeSize" }
    val decode = { _: String -> FastPath.decode(decodeBuffers, decodeSize).session!!.userId.length }

    // (name, calls per round, tokens, call); the regular path is ~50x slower: fewer calls.
    val cases = listOf(
        Triple("valid_fast", tokens, fast) to 200_000,
        Triple("valid_regular", tokens, regular) to 20_000,
        Triple("valid_pure", pureTokens, pureCall) to 200_000,
        Triple("unknown_fast", unknown, fast) to 200_000,
        Triple("unknown_regular", unknown, regular) to 20_000,
        Triple("unknown_pure", unknown, pureCall) to 200_000,
        Triple("empty_token_fast", empty, fast) to 200_000,
        Triple("valid_jna", tokens, jna) to 200_000,
        Triple("unknown_jna", unknown, jna) to 200_000,
        Triple("empty_token_jna", empty, jna) to 200_000,
        Triple("decode_only", empty, decode) to 200_000,
    )
    repeat(3) { for ((case, calls) in cases) perCall(calls, case.second, case.third) } // warm-up (JIT)
    val samples = cases.associate { it.first.first to ArrayList<Double>() }
    repeat(ROUNDS) {
        for ((case, calls) in cases) samples.getValue(case.first).add(perCall(calls, case.second, case.third))
    }

    val creates = mapOf("create_regular" to ArrayList<Double>(), "create_pure" to ArrayList<Double>())
    val option = CreateSessionOptions("bench", null, mapOf("k" to "v"), false)
    repeat(ROUNDS + 1) { round ->
        var start = cpuNanos()
        repeat(5000) { manager.create(option) }
        val regularCreate = (cpuNanos() - start).toDouble() / 5000
        start = cpuNanos()
        repeat(5000) { pure.create("bench", mapOf("k" to "v")) }
        val pureCreate = (cpuNanos() - start).toDouble() / 5000
        if (round > 0) { // the first round warms up
            creates.getValue("create_regular").add(regularCreate)
            creates.getValue("create_pure").add(pureCreate)
        }
    }
    manager.close()

    val figures = (samples + creates).map { (name, v) -> "\"${name}_ns\": ${"%.1f".format(java.util.Locale.ROOT, median(v))}" }
    val java = System.getProperty("java.runtime.version") ?: System.getProperty("java.version")
    println("{${figures.joinToString(", ")}, \"java\": \"$java\", \"sink\": $sink}")
}
