package dev.sessions

import java.io.File
import java.math.BigDecimal
import java.math.RoundingMode
import java.time.Duration
import java.time.Instant
import java.time.OffsetDateTime
import java.time.temporal.ChronoUnit
import org.json.JSONArray
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicContainer
import org.junit.jupiter.api.DynamicNode
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.TestFactory
import org.junit.jupiter.api.fail
import kotlinx.coroutines.runBlocking

/**
 * Runs every JSON file in `tests/conformance/scenarios` (format: tests/conformance/README.md)
 * with a Kotlin clock, against the library's in-memory store and against [KotlinStore],
 * in three modes: "regular" ([SessionManager], `validate` through UniFFI's generated code
 * only), "fast" ([SessionManager], every `validate` answered by the fast path: a test
 * fails if it falls back) and "async" ([AsyncSessionManager], each call awaited).
 */
class ConformanceTest {
    private val scenarioDir: File = run {
        val root = System.getProperty("sessions.repoRoot") ?: "../.."
        File(root, "tests/conformance/scenarios").canonicalFile
    }

    @TestFactory
    fun scenarios(): List<DynamicNode> {
        val files = scenarioDir.listFiles { f -> f.name.endsWith(".json") }?.sortedBy { it.name }.orEmpty()
        assertTrue(files.isNotEmpty(), "no scenarios in $scenarioDir")
        return files.map { file ->
            DynamicContainer.dynamicContainer(
                file.nameWithoutExtension,
                file.toURI(),
                listOf("memory", "kotlin").flatMap { store ->
                    Mode.entries.map { mode ->
                        val name = "${file.nameWithoutExtension} [$store, ${mode.name.lowercase()}]"
                        DynamicTest.dynamicTest(name, file.toURI()) { ScenarioRun(file, store, mode).run() }
                    }
                }.stream(),
            )
        }
    }
}

/** How a scenario reaches the library (see [ConformanceTest]). */
private enum class Mode { REGULAR, FAST, ASYNC }

/** One scenario against one store, through [SessionManager] or [AsyncSessionManager]. */
private class ScenarioRun(private val file: File, private val storeKind: String, private val mode: Mode) {
    private val async = mode == Mode.ASYNC

    private val json = JSONObject(file.readText())
    private val clock = ManualClock(instant(json.getString("start")))
    private val bindings = HashMap<String, Binding>()
    private val recorder = Recorder()

    private data class Binding(val id: String, val token: String)

    /** Keeps the lifecycle events it is given, for `events` steps. */
    private class Recorder : SessionListener {
        private val events = ArrayList<SessionEvent>()

        @Synchronized override fun onEvent(event: SessionEvent) {
            events += event
        }

        /** The events so far, as `events` expectations spell them (session by id); forgets them. */
        @Synchronized fun take(): List<Map<String, Any>> = events.map { e ->
            when (e) {
                is SessionEvent.Created -> mapOf("type" to "Created", "session" to e.sessionId)
                is SessionEvent.Rotated -> mapOf("type" to "Rotated", "session" to e.sessionId)
                is SessionEvent.MetadataUpdated -> mapOf("type" to "MetadataUpdated", "session" to e.sessionId)
                is SessionEvent.Revoked -> mapOf(
                    "type" to "Revoked", "session" to e.sessionId,
                    "reason" to e.reason.name.lowercase().split('_').joinToString("") { it.replaceFirstChar(Char::uppercase) },
                )
                is SessionEvent.Purged -> mapOf("type" to "Purged", "count" to e.count.toLong())
            }
        }.also { events.clear() }
    }

    fun run() {
        val config = sessionConfig(json.optJSONObject("config") ?: JSONObject())
        if (json.has("config_error")) {
            val expected = json.getString("config_error")
            val error = try {
                if (async) newAsyncManager(storeKind, config, clock).close() else build(config).close()
                null
            } catch (e: SessionException) {
                e
            }
            if (error == null) fail("building the manager succeeded; expected $expected")
            assertEquals(expected, error.variant, "config_error")
            val steps = json.optJSONArray("steps")
            assertTrue(steps == null || steps.isEmpty, "a scenario with config_error must have no steps")
            return
        }
        val sync = if (async) null else build(config)
        val asyncManager = if (async) newAsyncManager(storeKind, config, clock) else null
        val api = Api(sync, asyncManager, mode)
        (sync ?: asyncManager!!).use {
            api.addListener(recorder)
            val steps = json.getJSONArray("steps")
            for (i in 0 until steps.length()) {
                val step = steps.getJSONObject(i)
                try {
                    step(api, step)
                } catch (e: Throwable) {
                    throw AssertionError("${file.name} [$storeKind, $mode] step ${i + 1} ${step}: ${e.message}", e)
                }
            }
        }
    }

    /** The manager under test: every call goes to [sync], or is awaited on [async]. */
    private class Api(val sync: SessionManager?, val async: AsyncSessionManager?, val mode: Mode) {
        private fun <T> call(blocking: (SessionManager) -> T, suspending: suspend (AsyncSessionManager) -> T): T =
            if (sync != null) blocking(sync) else runBlocking { suspending(async!!) }

        fun addListener(l: SessionListener) = call({ it.addListener(l) }, { it.addListener(l) })
        fun create(o: CreateSessionOptions) = call({ it.create(o) }, { it.create(o) })
        fun validate(t: String, ua: String?) = call(
            {
                when (mode) {
                    // Only arguments longer than the fast path takes may reach the regular path.
                    Mode.FAST -> it.validateFast(t, ua)
                        ?: if (maxOf(t.length, ua?.length ?: 0) > FastPath.MAX_INPUT_CHARS) it.validateRegular(t, ua)
                        else fail("the fast path did not answer")
                    else -> it.validateRegular(t, ua)
                }
            },
            { it.validate(t, ua) },
        )
        fun refresh(t: String, ua: String?) = call({ it.refresh(t, ua) }, { it.refresh(t, ua) })
        fun destroy(id: String) = call({ it.destroy(id) }, { it.destroy(id) })
        fun destroyAllForUser(u: String) = call({ it.destroyAllForUser(u) }, { it.destroyAllForUser(u) })
        fun listForUser(u: String) = call({ it.listForUser(u) }, { it.listForUser(u) })
        fun get(id: String) = call({ it.get(id) }, { it.get(id) })
        fun purgeExpired() = call({ it.purgeExpired() }, { it.purgeExpired() })
        fun count() = call({ it.count() }, { it.count() })
        fun importJson(j: String) = call({ it.importJson(j) }, { it.importJson(j) })
        fun updateMetadata(id: String, c: Map<String, String?>) = call({ it.updateMetadata(id, c) }, { it.updateMetadata(id, c) })
    }

    private fun build(config: SessionConfig) = newManager(storeKind, config, clock)

    private fun sessionConfig(c: JSONObject): SessionConfig {
        val known = setOf(
            "default_expires_in_s", "max_lifetime_s", "bind_to_user_agent", "prefix",
            "max_metadata_entries", "max_metadata_bytes", "rotation_grace_s", "max_sessions_per_user",
            "session_limit_action",
        )
        (c.keySet() - known).takeIf { it.isNotEmpty() }?.let { fail("unknown config keys $it") }
        val defaults = SessionConfig()
        return SessionConfig(
            defaultExpiresIn = if (c.has("default_expires_in_s")) seconds(c.get("default_expires_in_s")) else null,
            maxLifetime = if (c.has("max_lifetime_s")) seconds(c.get("max_lifetime_s")) else null,
            prefix = if (c.has("prefix")) c.getString("prefix") else defaults.prefix,
            bindToUserAgent = if (c.has("bind_to_user_agent")) c.getBoolean("bind_to_user_agent") else defaults.bindToUserAgent,
            maxMetadataEntries = if (c.has("max_metadata_entries")) c.getLong("max_metadata_entries").toInt() else defaults.maxMetadataEntries,
            maxMetadataBytes = if (c.has("max_metadata_bytes")) c.getLong("max_metadata_bytes").toInt() else defaults.maxMetadataBytes,
            rotationGrace = if (c.has("rotation_grace_s")) seconds(c.get("rotation_grace_s")) else null,
            maxSessionsPerUser = if (c.has("max_sessions_per_user")) c.getLong("max_sessions_per_user").toInt() else null,
            sessionLimitAction = when (c.optString("session_limit_action", "RevokeOldest")) {
                "Refuse" -> SessionLimitAction.REFUSE
                else -> SessionLimitAction.REVOKE_OLDEST
            },
        )
    }

    private fun step(m: Api, step: JSONObject) {
        val op = step.getString("op")
        when (op) {
            "advance" -> {
                val d = seconds(step.get("seconds"))
                clock.advance(d)
                return
            }
            "set_clock" -> {
                clock.set(instant(step.getString("at")))
                return
            }
        }
        val expect = step.optJSONObject("expect") ?: fail("step without expect")
        // Resolved before the call: a refresh may rebind the very name it presented.
        val presented = if (op == "validate" || op == "refresh") token(step) else null
        val outcome: Result<Any?> = try {
            Result.success(call(m, op, step, presented))
        } catch (e: SessionException) {
            Result.failure(e)
        }
        val error = outcome.exceptionOrNull() as SessionException?
        if (expect.has("error")) {
            if (error == null) fail("expected error ${expect.getString("error")}, but the call succeeded with ${outcome.getOrNull()}")
            assertEquals(expect.getString("error"), error.variant, "error")
            if (expect.has("error_field")) {
                assertEquals(expect.getString("error_field"), (error as SessionException.Import).field, "error_field")
            }
        } else if (error != null) {
            fail("unexpected ${error.variant}: ${error.message}")
        }
        val value = outcome.getOrNull()
        if (error == null && step.has("as")) {
            val s = value as? Session ?: fail("\"as\" on a step that returned no session")
            bindings[step.getString("as")] = Binding(s.id, s.token)
        }
        check(op, expect, value, error != null, presented)
    }

    private fun call(m: Api, op: String, step: JSONObject, presented: String?): Any? = when (op) {
        "create" -> m.create(createOptions(step))
        "validate" -> m.validate(presented!!, optString(step, "user_agent"))
        "refresh" -> m.refresh(presented!!, optString(step, "user_agent"))
        "destroy" -> m.destroy(sessionId(step))
        "destroy_all" -> m.destroyAllForUser(step.getString("user_id"))
        "list" -> m.listForUser(step.getString("user_id"))
        "get" -> m.get(sessionId(step))
        "purge" -> m.purgeExpired()
        "count" -> m.count()
        "import" -> m.importJson(step.get("entries").toString())
        "update_metadata" -> {
            val changes = step.getJSONObject("changes")
            m.updateMetadata(sessionId(step), changes.keySet().associateWith { if (changes.isNull(it)) null else changes.getString(it) })
        }
        "events" -> recorder.take()
        else -> fail("unknown op $op")
    }

    private fun createOptions(step: JSONObject): CreateSessionOptions {
        var metadata: MutableMap<String, String>? = step.optJSONObject("metadata")?.let(::stringMap)?.toMutableMap()
        step.optJSONObject("metadata_generate")?.let { g ->
            val generated = when {
                g.has("entries") -> (0 until g.getInt("entries")).associate { "k$it" to "v" }
                g.has("bytes") -> mapOf("k" to "x".repeat(g.getInt("bytes") - 1))
                else -> fail("metadata_generate needs entries or bytes: $g")
            }
            metadata = (metadata ?: mutableMapOf()).apply { putAll(generated) }
        }
        return CreateSessionOptions(
            userId = step.getString("user_id"),
            expiresIn = if (step.has("expires_in_s")) seconds(step.get("expires_in_s")) else null,
            metadata = metadata,
            slidingExpiration = step.optBoolean("sliding", false),
        )
    }

    private fun token(step: JSONObject): String {
        val forms = listOf("token", "token_literal", "token_repeat").filter { step.has(it) }
        if (forms.size != 1) fail("exactly one of token, token_literal, token_repeat expected, got $forms")
        return when (forms.single()) {
            "token" -> binding(step.getString("token")).token
            "token_literal" -> step.getString("token_literal")
            else -> {
                val r = step.getJSONArray("token_repeat")
                r.getString(0).repeat(r.getInt(1))
            }
        }
    }

    private fun sessionId(step: JSONObject): String = when {
        step.has("session") -> binding(step.getString("session")).id
        step.has("session_id_literal") -> step.getString("session_id_literal")
        else -> fail("session or session_id_literal expected")
    }

    private fun binding(name: String) = bindings[name] ?: fail("no binding named $name")

    private val sessionKeys = setOf(
        "session", "user_id", "created_at", "expires_at", "absolute_expires_at", "metadata",
        "bound_user_agent", "revoked", "token_empty", "new_token",
    )

    private fun check(op: String, expect: JSONObject, value: Any?, failed: Boolean, presented: String?) {
        val allowed = mutableSetOf("error")
        when (op) {
            "create" -> allowed += sessionKeys
            "refresh" -> allowed += sessionKeys + "same_token"
            "validate" -> allowed += sessionKeys + setOf("valid", "validation_error")
            "get" -> allowed += sessionKeys + "found"
            "destroy" -> allowed += "result"
            "destroy_all", "purge", "count" -> allowed += "count"
            "import" -> allowed += setOf("count", "error_field")
            "update_metadata" -> allowed += sessionKeys
            "events" -> allowed += "events"
            "list" -> allowed += "sessions"
        }
        (expect.keySet() - allowed).takeIf { it.isNotEmpty() }?.let { fail("expect keys $it are not defined for $op") }
        if (failed) {
            (expect.keySet() - "error" - "error_field").takeIf { it.isNotEmpty() }?.let { fail("keys $it expected on a call that failed") }
            return
        }
        val session: Session? = when (op) {
            "create", "update_metadata" -> value as Session
            "refresh" -> {
                val s = value as Session
                if (expect.has("same_token")) assertEquals(binding(expect.getString("same_token")).token, s.token, "same_token")
                s
            }
            "events" -> {
                @Suppress("UNCHECKED_CAST")
                val got = value as List<Map<String, Any>>
                val want = expect.getJSONArray("events").map { e ->
                    (e as JSONObject).toMap().mapValues { (k, v) -> if (k == "session") binding(v as String).id else v }
                        .mapValues { (_, v) -> if (v is Number) v.toLong() else v }
                }
                assertEquals(want, got, "events")
                null
            }
            "validate" -> {
                val r = value as ValidationResult
                if (expect.has("valid")) assertEquals(expect.getBoolean("valid"), r.valid, "valid (error ${r.error})")
                if (expect.has("validation_error")) assertEquals(expect.getString("validation_error"), r.error?.rustName, "validation_error")
                r.session
            }
            "get" -> {
                val s = value as Session?
                if (expect.has("found")) assertEquals(expect.getBoolean("found"), s != null, "found")
                s
            }
            "destroy" -> {
                if (expect.has("result")) assertEquals(expect.getBoolean("result"), value as Boolean, "result")
                null
            }
            "destroy_all", "purge", "count", "import" -> {
                if (expect.has("count")) assertEquals(expect.getLong("count").toLong(), value as Long, "count")
                null
            }
            "list" -> {
                if (expect.has("sessions")) {
                    val want = expect.getJSONArray("sessions").map { binding(it as String).id }.toSet()
                    assertEquals(want, (value as List<*>).map { (it as Session).id }.toSet(), "sessions")
                }
                null
            }
            else -> null
        }
        val keys = expect.keySet().intersect(sessionKeys)
        if (keys.isEmpty()) return
        if (session == null) fail("session fields $keys expected, but there is no session")
        for (k in keys) when (k) {
            "session" -> assertEquals(binding(expect.getString(k)).id, session.id, "session id")
            "user_id" -> assertEquals(expect.getString(k), session.userId, k)
            "created_at" -> assertInstant(expect.getString(k), session.createdAt, k)
            "expires_at" -> assertInstant(expect.getString(k), session.expiresAt, k)
            "absolute_expires_at" -> assertInstant(expect.getString(k), session.absoluteExpiresAt, k)
            "metadata" -> assertEquals(if (expect.isNull(k)) null else stringMap(expect.getJSONObject(k)), session.metadata, k)
            "bound_user_agent" -> assertEquals(if (expect.isNull(k)) null else expect.getString(k), session.boundUserAgent, k)
            "revoked" -> assertEquals(expect.getBoolean(k), session.revokedAt != null, k)
            "token_empty" -> assertEquals(expect.getBoolean(k), session.token.isEmpty(), k)
            "new_token" -> {
                if (op != "refresh") fail("new_token is only defined on refresh")
                val fresh = session.token != presented && session.tokenHash != hashToken(presented!!)
                assertEquals(expect.getBoolean(k), fresh, k)
            }
        }
    }

    private fun assertInstant(expected: String, actual: Instant, what: String) =
        assertEquals(instant(expected).truncatedTo(ChronoUnit.MILLIS), actual.truncatedTo(ChronoUnit.MILLIS), what)

    private fun stringMap(o: JSONObject): Map<String, String> = o.keySet().associateWith { o.getString(it) }

    private fun optString(o: JSONObject, key: String): String? = if (!o.has(key) || o.isNull(key)) null else o.getString(key)

    private fun instant(s: String): Instant = OffsetDateTime.parse(s).toInstant()

    /** A JSON number of seconds (maybe fractional) as an exact Duration, to the nanosecond. */
    private fun seconds(v: Any): Duration {
        val nanos = BigDecimal(v.toString()).movePointRight(9).setScale(0, RoundingMode.HALF_EVEN)
        return Duration.ofNanos(nanos.longValueExact())
    }
}
