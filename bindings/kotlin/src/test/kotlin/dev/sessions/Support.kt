package dev.sessions

import java.time.Duration
import java.time.Instant
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicReference
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.ValueSource

/** A clock implemented in Kotlin that only moves when told to: no sleeping in tests. */
class ManualClock(start: Instant = Instant.parse("2026-01-01T00:00:00Z")) : Clock {
    private val current = AtomicReference(start)

    /** Set to make `now()` throw (to test how clock failures reach the caller). */
    @Volatile var failure: (() -> Exception)? = null

    override fun now(): Instant {
        failure?.let { throw it() }
        return current.get()
    }

    fun advance(by: Duration) {
        current.updateAndGet { it.plus(by) }
    }

    fun set(at: Instant) = current.set(at)
}

/**
 * A [SessionStore] implemented in Kotlin: two maps under one lock, so every method is
 * atomic, as the trait requires. It keeps the store contract: compare-and-swap checks
 * the version, changes it makes itself bump it, revocation is final, and a batch
 * insert is all or nothing.
 */
class KotlinStore : SessionStore {
    private val lock = Any()
    private val byId = LinkedHashMap<String, Session>() // in the order sessions were stored
    private val idByHash = HashMap<String, String>()
    private val idByPrevious = HashMap<String, String>()

    /** Set to make every call throw (to test how store failures reach the caller). */
    @Volatile var failure: (() -> Exception)? = null

    /** Raw tokens the library handed to this store (must stay 0: bug 8). */
    val rawTokensSeen = AtomicInteger(0)

    /** How many times the library called this store. */
    val calls = AtomicInteger(0)

    private fun enter() {
        calls.incrementAndGet()
        failure?.let { throw it() }
    }

    private fun observe(session: Session) {
        if (session.token.isNotEmpty()) rawTokensSeen.incrementAndGet()
    }

    override fun insert(session: Session) = insertAll(listOf(session))

    override fun insertAll(sessions: List<Session>) {
        enter()
        sessions.forEach(::observe)
        synchronized(lock) {
            val ids = HashSet<String>()
            val hashes = HashSet<String>()
            for (session in sessions) {
                if (byId.containsKey(session.id) || !ids.add(session.id)) {
                    throw SessionException.Store("duplicate session id ${session.id}")
                }
                if (idByHash.containsKey(session.tokenHash) || !hashes.add(session.tokenHash)) {
                    throw SessionException.Store("duplicate token hash")
                }
            }
            for (session in sessions) {
                byId[session.id] = session.copy(token = "")
                idByHash[session.tokenHash] = session.id
                session.previousTokenHash?.let { idByPrevious[it] = session.id }
            }
        }
    }

    override fun get(sessionId: String): Session? {
        enter()
        return synchronized(lock) { byId[sessionId] }
    }

    override fun findByTokenHash(tokenHash: String): Session? {
        enter()
        return synchronized(lock) { (idByHash[tokenHash] ?: idByPrevious[tokenHash])?.let { byId[it] } }
    }

    override fun compareAndSwap(expectedTokenHash: String, expectedVersion: Long, session: Session): Boolean {
        enter()
        observe(session)
        synchronized(lock) {
            val currentId = idByHash[expectedTokenHash] ?: return false
            if (currentId != session.id) return false
            val current = byId.getValue(currentId)
            if (current.version != expectedVersion || current.revokedAt != null) return false
            if (session.tokenHash != expectedTokenHash && idByHash.containsKey(session.tokenHash)) {
                throw SessionException.Store("duplicate token hash")
            }
            idByHash.remove(expectedTokenHash)
            current.previousTokenHash?.let { idByPrevious.remove(it) }
            byId[session.id] = session.copy(token = "")
            idByHash[session.tokenHash] = session.id
            session.previousTokenHash?.let { idByPrevious[it] = session.id }
            return true
        }
    }

    override fun listForUser(userId: String): List<Session> {
        enter()
        return synchronized(lock) { byId.values.filter { it.userId == userId }.sortedBy { it.createdAt } }
    }

    override fun revokeAllForUser(userId: String, at: Instant): List<String> {
        enter()
        synchronized(lock) {
            // In the order they were stored, as the built-in stores return them (the order
            // of the events).
            val revoked = byId.values.filter { it.userId == userId && it.revokedAt == null }
            for (s in revoked) byId[s.id] = s.copy(revokedAt = at, version = s.version + 1)
            return revoked.map { it.id }
        }
    }

    override fun insertLimited(session: Session, maxActive: Int, now: Instant, revokeOldest: Boolean): List<String> {
        enter()
        observe(session)
        synchronized(lock) {
            val active = byId.values
                .filter { it.userId == session.userId && it.revokedAt == null && it.expiresAt.isAfter(now) }
                .sortedWith(compareBy<Session>({ it.createdAt }, { it.id }))
            val excess = maxOf(0, active.size + 1 - maxActive)
            if (excess > 0 && !revokeOldest) throw SessionException.SessionLimitReached(maxActive)
            if (byId.containsKey(session.id) || idByHash.containsKey(session.tokenHash)) {
                throw SessionException.Store("duplicate session id or token hash")
            }
            byId[session.id] = session.copy(token = "")
            idByHash[session.tokenHash] = session.id
            val revoked = active.take(excess)
            for (s in revoked) byId[s.id] = s.copy(revokedAt = now, version = s.version + 1)
            return revoked.map { it.id }
        }
    }

    override fun purgeExpired(now: Instant): Long {
        enter()
        synchronized(lock) {
            val gone = byId.values.filter { !it.expiresAt.isAfter(now) }
            for (s in gone) {
                byId.remove(s.id)
                idByHash.remove(s.tokenHash)
                s.previousTokenHash?.let { idByPrevious.remove(it) }
            }
            return gone.size.toLong()
        }
    }

    override fun count(): Long {
        enter()
        return synchronized(lock) { byId.size.toLong() }
    }

    override fun allSessions(): SessionScan {
        enter()
        return synchronized(lock) { SessionScan(byId.values.sortedBy { it.createdAt }, emptyList()) }
    }
}

/** The Rust name of a [SessionException] variant (`SessionException.InvalidToken` -> `InvalidToken`). */
val SessionException.variant: String get() = this::class.simpleName!!

/** `INVALID_TOKEN` -> `InvalidToken`, the Rust spelling used by the conformance scenarios. */
val ValidationError.rustName: String
    get() = name.lowercase().split('_').joinToString("") { it.replaceFirstChar(Char::uppercase) }

fun config(
    defaultExpiresIn: Duration? = null,
    maxLifetime: Duration? = null,
    bindToUserAgent: Boolean = false,
    prefix: String = "session:",
) = SessionConfig(
    defaultExpiresIn = defaultExpiresIn,
    maxLifetime = maxLifetime,
    prefix = prefix,
    bindToUserAgent = bindToUserAgent,
)

fun opts(
    userId: String,
    expiresIn: Duration? = null,
    metadata: Map<String, String>? = null,
    sliding: Boolean = false,
) = CreateSessionOptions(userId = userId, expiresIn = expiresIn, metadata = metadata, slidingExpiration = sliding)

/** Runs a test once per store kind, passing `"memory"` or `"kotlin"` (see [newManager]). */
@Target(AnnotationTarget.FUNCTION)
@Retention(AnnotationRetention.RUNTIME)
@ParameterizedTest
@ValueSource(strings = ["memory", "kotlin"])
annotation class EachStore

/** An [AsyncSessionManager] over the store [kind] names, as [newManager]. */
fun newAsyncManager(kind: String, config: SessionConfig = config(), clock: Clock? = null): AsyncSessionManager =
    when (kind) {
        "memory" -> AsyncSessionManager(config, clock)
        "kotlin" -> AsyncSessionManager.withStore(config, KotlinStore(), clock)
        else -> error("unknown store kind $kind")
    }

/** A manager over the Rust in-memory store (`"memory"`) or a [KotlinStore] (`"kotlin"`). */
fun newManager(kind: String, config: SessionConfig = config(), clock: Clock? = null): SessionManager =
    when (kind) {
        "memory" -> SessionManager(config, clock)
        "kotlin" -> SessionManager.withStore(config, KotlinStore(), clock)
        else -> error("unknown store kind $kind")
    }
