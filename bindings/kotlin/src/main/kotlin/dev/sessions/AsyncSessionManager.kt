package dev.sessions

import java.util.concurrent.CompletableFuture
import kotlinx.coroutines.DelicateCoroutinesApi
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.GlobalScope
import kotlinx.coroutines.future.future

/**
 * The session manager for coroutines (Ktor, Android, any `CoroutineScope`): the same
 * constructors and methods as [SessionManager], each method that works on the store a
 * `suspend` function ([addListener], [prefix] and [toPublicSession] return at once).
 *
 * ```kotlin
 * val sessions = AsyncSessionManager.open("sessions.sqlite", SessionConfig())
 * suspend fun signIn(user: String): Session = sessions.create(CreateSessionOptions(user, null, null, false))
 * ```
 *
 * A call never blocks its thread: the library runs the store's work on its own pool of
 * at most 8 threads and resumes the coroutine when it is done, so a call from
 * `Dispatchers.Default` or a UI thread is fine. A store, clock or listener written in
 * Kotlin or Java is called on those library threads (it must be thread-safe) and is
 * guarded as with [SessionManager]: whatever it throws makes the call fail with
 * [SessionException.Store] / [SessionException.Clock] naming what was thrown (never a
 * silent success); since it ran on a library thread, the thrown object is not attached
 * as the `cause`, and an `Error` is not rethrown to the caller.
 *
 * **Cancellation** (`job.cancel()`, `withTimeout`) never leaves half a change: the
 * operation either ran in full (it is one atomic store change) or never started; the
 * caller gets `CancellationException` either way.
 *
 * Strings with an unpaired UTF-16 surrogate are answered before the library, as by
 * [SessionManager]. **Java**: each method has a `...Future` twin returning a
 * `CompletableFuture` (cancelling it cancels the call as above), and [open], [withStore]
 * and [fromManager] are static. `AutoCloseable`.
 */
open class AsyncSessionManager : AsyncSessionManagerBase {
    /**
     * A manager keeping sessions in memory (gone when the process ends), using the
     * system clock unless [clock] is given.
     */
    @JvmOverloads
    @Throws(SessionException::class)
    constructor(config: SessionConfig, clock: Clock? = null) :
        super(SessionManager.checked(config), guarded(clock))

    /** @suppress The generated constructors build the manager from a Rust handle. */
    internal constructor(withHandle: UniffiWithHandle, handle: Long) : super(withHandle, handle)

    /** @suppress A manager with no Rust object behind it, for fakes in tests. */
    constructor(noHandle: NoHandle) : super(noHandle)

    companion object {
        /**
         * A manager keeping sessions in the SQLite database file at [path], created if
         * missing (see [SessionManager.open]); it opens the file before returning.
         */
        @JvmStatic
        @JvmOverloads
        @Throws(SessionException::class)
        fun open(path: String, config: SessionConfig, clock: Clock? = null): AsyncSessionManager {
            requireWellFormed(path, "path")
            return AsyncSessionManagerBase.open(path, SessionManager.checked(config), guarded(clock))
        }

        /**
         * A manager over [store], a [SessionStore] written in Kotlin or Java, using the
         * system clock unless [clock] is given. The store is called on the library's
         * threads, several calls at once: it must be thread-safe.
         */
        @JvmStatic
        @JvmOverloads
        @Throws(SessionException::class)
        fun withStore(config: SessionConfig, store: SessionStore, clock: Clock? = null): AsyncSessionManager =
            AsyncSessionManagerBase.withStore(SessionManager.checked(config), guarded(store), guarded(clock))

        /**
         * The coroutine face of [manager]: both share its store, clock, listeners and
         * configuration (the same as `manager.asAsync()`).
         */
        @JvmStatic
        fun fromManager(manager: SessionManager): AsyncSessionManager = AsyncSessionManagerBase.fromManager(manager)
    }

    @Throws(SessionException::class)
    override suspend fun create(options: CreateSessionOptions): Session {
        if (!options.userId.isWellFormed()) {
            throw SessionException.InvalidUserId(options.userId.malformedReason())
        }
        options.metadata?.forEach { (key, value) ->
            requireWellFormed(key, "metadata key")
            requireWellFormed(value, "metadata value of \"${key}\"")
        }
        return super.create(options)
    }

    @Throws(SessionException::class)
    override suspend fun validate(token: String, userAgent: String?): ValidationResult {
        if (!token.isWellFormed()) return ValidationResult(false, null, ValidationError.INVALID_TOKEN)
        requireWellFormed(userAgent, "userAgent")
        return super.validate(token, userAgent)
    }

    @Throws(SessionException::class)
    override suspend fun refresh(token: String, userAgent: String?): Session {
        if (!token.isWellFormed()) throw SessionException.InvalidToken()
        requireWellFormed(userAgent, "userAgent")
        return super.refresh(token, userAgent)
    }

    @Throws(SessionException::class)
    override suspend fun destroy(sessionId: String): Boolean {
        if (!sessionId.isWellFormed()) throw SessionException.SessionNotFound(sessionId)
        return super.destroy(sessionId)
    }

    @Throws(SessionException::class)
    override suspend fun get(sessionId: String): Session? {
        if (!sessionId.isWellFormed()) return null
        return super.get(sessionId)
    }

    @Throws(SessionException::class)
    override suspend fun listForUser(userId: String): List<Session> {
        if (!userId.isWellFormed()) throw SessionException.InvalidUserId(userId.malformedReason())
        return super.listForUser(userId)
    }

    @Throws(SessionException::class)
    override suspend fun destroyAllForUser(userId: String): Long {
        if (!userId.isWellFormed()) throw SessionException.InvalidUserId(userId.malformedReason())
        return super.destroyAllForUser(userId)
    }

    @Throws(SessionException::class)
    override suspend fun updateMetadata(sessionId: String, changes: Map<String, String?>): Session {
        if (!sessionId.isWellFormed()) throw SessionException.SessionNotFound(sessionId)
        changes.forEach { (key, value) ->
            requireWellFormed(key, "metadata key")
            requireWellFormed(value, "metadata value of \"${key}\"")
        }
        return super.updateMetadata(sessionId, changes)
    }

    /**
     * Registers [listener] (guarded, as by [SessionManager.addListener]); it is called on the
     * library's threads. Not a `suspend` function (no store work): registered on return.
     */
    override fun addListener(listener: SessionListener) = super.addListener(guarded(listener))

    @Throws(SessionException::class)
    override suspend fun importJson(json: String): Long {
        if (!json.isWellFormed()) throw SessionException.Import(null, null, "the JSON ${json.malformedReason()}")
        return super.importJson(json)
    }

    /**
     * @suppress Internal to the Python package's asyncio integration (its wake-ups would
     * never be delivered to a coroutine): always throws [UnsupportedOperationException].
     */
    override fun setLoopWakeups(enabled: Boolean): Int =
        throw UnsupportedOperationException("setLoopWakeups is internal to the Python package")

    // Java: CompletableFuture twins. Each starts the call at once (on the calling thread
    // until it waits for the library) and completes on the library's thread.

    @OptIn(DelicateCoroutinesApi::class)
    private fun <T> java(call: suspend () -> T): CompletableFuture<T> =
        GlobalScope.future(Dispatchers.Unconfined) { call() }

    /** [create] for Java. */
    fun createFuture(options: CreateSessionOptions): CompletableFuture<Session> = java { create(options) }

    /** [validate] for Java. */
    @JvmOverloads
    fun validateFuture(token: String, userAgent: String? = null): CompletableFuture<ValidationResult> =
        java { validate(token, userAgent) }

    /** [refresh] for Java. */
    @JvmOverloads
    fun refreshFuture(token: String, userAgent: String? = null): CompletableFuture<Session> =
        java { refresh(token, userAgent) }

    /** [destroy] for Java. */
    fun destroyFuture(sessionId: String): CompletableFuture<Boolean> = java { destroy(sessionId) }

    /** [get] for Java. */
    fun getFuture(sessionId: String): CompletableFuture<Session?> = java { get(sessionId) }

    /** [listForUser] for Java. */
    fun listForUserFuture(userId: String): CompletableFuture<List<Session>> = java { listForUser(userId) }

    /** [destroyAllForUser] for Java. */
    fun destroyAllForUserFuture(userId: String): CompletableFuture<Long> = java { destroyAllForUser(userId) }

    /** [updateMetadata] for Java. */
    fun updateMetadataFuture(sessionId: String, changes: Map<String, String?>): CompletableFuture<Session> =
        java { updateMetadata(sessionId, changes) }

    /** [addListener] for Java, as a completed future (Java can call [addListener] directly). */
    fun addListenerFuture(listener: SessionListener): CompletableFuture<Unit> =
        CompletableFuture.completedFuture(addListener(listener))

    /** [purgeExpired] for Java. */
    fun purgeExpiredFuture(): CompletableFuture<Long> = java { purgeExpired() }

    /** [count] for Java. */
    fun countFuture(): CompletableFuture<Long> = java { count() }

    /** [prefix] for Java, as a completed future (Java can call [prefix] directly). */
    fun prefixFuture(): CompletableFuture<String> = CompletableFuture.completedFuture(prefix())

    /** [toPublicSession] for Java, as a completed future (Java can call [toPublicSession] directly). */
    fun toPublicSessionFuture(session: Session): CompletableFuture<PublicSession> =
        CompletableFuture.completedFuture(toPublicSession(session))

    /** [exportJson] for Java. */
    fun exportJsonFuture(): CompletableFuture<String> = java { exportJson() }

    /** [exportSessions] for Java. */
    fun exportSessionsFuture(): CompletableFuture<SessionExport> = java { exportSessions() }

    /** [importJson] for Java. */
    fun importJsonFuture(json: String): CompletableFuture<Long> = java { importJson(json) }
}

/**
 * @suppress
 *
 * As for [SessionManager] (see `FfiConverterTypeSessionManager`): the generated named
 * constructors of the renamed `AsyncSessionManagerBase` return this subclass.
 */
internal object FfiConverterTypeAsyncSessionManager {
    fun lift(value: Long): AsyncSessionManager = AsyncSessionManager(UniffiWithHandle, value)
}
