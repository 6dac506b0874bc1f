package dev.sessions

/**
 * Creates, validates, rotates, revokes and purges sessions in a store.
 *
 * Safe to share between threads. `AutoCloseable`: `use { }` in Kotlin,
 * try-with-resources in Java. The same class serves Kotlin and Java:
 *
 * ```java
 * try (SessionManager m = SessionManager.open(path, new SessionConfig())) {
 *     Session s = m.create(new CreateSessionOptions("alice", null, null, false));
 *     ValidationResult r = m.validate(s.getToken());
 * }
 * ```
 *
 * On top of the generated [SessionManagerBase] (whose methods it inherits and documents),
 * this class
 * - guards every store and clock written in Kotlin or Java: whatever one throws makes
 *   the operation fail with [SessionException.Store] / [SessionException.Clock] (never
 *   a silent success); an exception it threw is that error's `cause`, and an `Error`
 *   (`NotImplementedError`, `OutOfMemoryError`, ...) is rethrown as itself once the
 *   library call has unwound (the library's error attached as suppressed);
 * - guards every [SessionListener] given to [addListener] the same way: an exception it
 *   throws is logged by the library as a failed listener (the change stands, the other
 *   listeners still get the event), and an `Error` is rethrown to the caller of the
 *   call that delivered the event, once that call has unwound (its change is stored);
 * - answers strings that have no UTF-8 form (an unpaired UTF-16 surrogate) without
 *   passing them on: such a token is simply [SessionException.InvalidToken] /
 *   [ValidationError.INVALID_TOKEN] (no issued token contains one), such a user id
 *   [SessionException.InvalidUserId], such a session id an unknown one, such a key
 *   prefix [SessionException.InvalidConfig], such JSON to import
 *   [SessionException.Import]; any other such string (metadata, metadata changes, user
 *   agent, path) is an
 *   [IllegalArgumentException] naming the parameter;
 * - gives Java static [open] and [withStore] and overloads without the optional
 *   arguments.
 */
open class SessionManager : SessionManagerBase {
    /**
     * A manager keeping sessions in memory (gone when the process ends), using the
     * system clock unless [clock] is given.
     */
    @JvmOverloads
    @Throws(SessionException::class)
    constructor(config: SessionConfig, clock: Clock? = null) : super(checked(config), guarded(clock))

    /** @suppress The generated constructors build the manager from a Rust handle. */
    internal constructor(withHandle: UniffiWithHandle, handle: Long) : super(withHandle, handle)

    /**
     * @suppress
     *
     * A manager with no Rust object behind it, for fakes in tests: every inherited method
     * fails. Subclass and override what the test needs.
     */
    constructor(noHandle: NoHandle) : super(noHandle)

    companion object {
        /**
         * A manager keeping sessions in the SQLite database file at [path], created if
         * missing, using the system clock unless [clock] is given. Sessions survive
         * restarts, and every process that opens the file sees the others' changes on its
         * next call. Fails with [SessionException.Store] if the file is not a sessions
         * database (it is then left untouched) or cannot be opened or created.
         */
        @JvmStatic
        @JvmOverloads
        @Throws(SessionException::class)
        fun open(path: String, config: SessionConfig, clock: Clock? = null): SessionManager {
            requireWellFormed(path, "path")
            return HostFaults.surface { SessionManagerBase.open(path, checked(config), guarded(clock)) }
        }

        /**
         * A manager over [store], a [SessionStore] written in Kotlin or Java (Redis, Room,
         * a database, ...), using the system clock unless [clock] is given.
         */
        @JvmStatic
        @JvmOverloads
        @Throws(SessionException::class)
        fun withStore(config: SessionConfig, store: SessionStore, clock: Clock? = null): SessionManager =
            HostFaults.surface { SessionManagerBase.withStore(checked(config), guarded(store), guarded(clock)) }

        /** [SessionManager.fastHandleValue] when the fast path is not taken (handles start at 1). */
        private const val NO_FAST_PATH = -1L

        internal fun checked(config: SessionConfig): SessionConfig {
            if (!config.prefix.isWellFormed()) {
                throw SessionException.InvalidConfig("prefix ${config.prefix.malformedReason()}")
            }
            return config
        }
    }

    @Throws(SessionException::class)
    override fun create(options: CreateSessionOptions): Session {
        if (!options.userId.isWellFormed()) {
            throw SessionException.InvalidUserId(options.userId.malformedReason())
        }
        options.metadata?.forEach { (key, value) ->
            requireWellFormed(key, "metadata key")
            requireWellFormed(value, "metadata value of \"${key}\"")
        }
        return HostFaults.surface { super.create(options) }
    }

    /**
     * Validates [token] (and [userAgent], when the manager binds sessions to one), as the
     * generated [SessionManagerBase.validate] documents, through the per-request fast
     * path: one JNI call of the library's fast-path entry (bound by `sessions_jni_register`) instead
     * of UniFFI's generated per-call code (FastPath.kt). Same manager, store, clock and
     * rules, the same result, the same exceptions; what the fast path cannot take goes
     * through UniFFI.
     */
    @Throws(SessionException::class)
    override fun validate(token: String, userAgent: String?): ValidationResult {
        if (!token.isWellFormed()) return ValidationResult(false, null, ValidationError.INVALID_TOKEN)
        requireWellFormed(userAgent, "userAgent")
        validateFast(token, userAgent)?.let { return it }
        return HostFaults.surface { super.validate(token, userAgent) }
    }

    /**
     * [validate] through the fast path alone, for well-formed [token] and [userAgent]
     * (no unpaired surrogate: [validate] checks first); null when the fast path does not
     * answer and the regular path must (see FastPath.kt).
     */
    @Throws(SessionException::class)
    internal fun validateFast(token: String, userAgent: String?): ValidationResult? {
        val handle = fastHandle()
        if (handle == NO_FAST_PATH) return null
        return HostFaults.surface { FastPath.validate(handle, token, userAgent) }
    }

    /**
     * [validate] through UniFFI's generated code only (the path [validate] falls back
     * to): for tests comparing both paths and for the benchmark.
     */
    @Throws(SessionException::class)
    internal fun validateRegular(token: String, userAgent: String?): ValidationResult {
        if (!token.isWellFormed()) return ValidationResult(false, null, ValidationError.INVALID_TOKEN)
        requireWellFormed(userAgent, "userAgent")
        return HostFaults.surface { super.validate(token, userAgent) }
    }

    /**
     * This manager's fast-path handle (0 before it is first needed), or [NO_FAST_PATH]
     * once closed or when the platform or this object cannot take the fast path.
     */
    @Volatile
    private var fastHandleValue = 0L

    /** This manager's fast-path handle, asked of the library once; [NO_FAST_PATH] if none. */
    private fun fastHandle(): Long {
        val known = fastHandleValue
        if (known != 0L) return known
        val handle = if (!FastPath.available) {
            NO_FAST_PATH
        } else {
            try {
                fastPathHandle().toLong()
            } catch (_: Exception) {
                NO_FAST_PATH // no Rust object (a fake) or already closed: the regular path answers
            }
        }
        synchronized(this) {
            // close() may have run meanwhile: it wins.
            if (fastHandleValue == 0L) fastHandleValue = handle
            return fastHandleValue
        }
    }

    /**
     * Releases the Rust object (see [SessionManagerBase.destroy]); from now on [validate]
     * fails as every other method does, whoever else still holds the Rust manager.
     */
    override fun destroy() {
        synchronized(this) { fastHandleValue = NO_FAST_PATH }
        super.destroy()
    }

    /** [validate] without a user agent. */
    @Throws(SessionException::class)
    fun validate(token: String): ValidationResult = validate(token, null)

    @Throws(SessionException::class)
    override fun refresh(token: String, userAgent: String?): Session {
        if (!token.isWellFormed()) throw SessionException.InvalidToken()
        requireWellFormed(userAgent, "userAgent")
        return HostFaults.surface { super.refresh(token, userAgent) }
    }

    /** [refresh] without a user agent. */
    @Throws(SessionException::class)
    fun refresh(token: String): Session = refresh(token, null)

    @Throws(SessionException::class)
    override fun destroy(sessionId: String): Boolean {
        if (!sessionId.isWellFormed()) throw SessionException.SessionNotFound(sessionId)
        return HostFaults.surface { super.destroy(sessionId) }
    }

    @Throws(SessionException::class)
    override fun get(sessionId: String): Session? {
        if (!sessionId.isWellFormed()) return null
        return HostFaults.surface { super.get(sessionId) }
    }

    @Throws(SessionException::class)
    override fun listForUser(userId: String): List<Session> {
        if (!userId.isWellFormed()) throw SessionException.InvalidUserId(userId.malformedReason())
        return HostFaults.surface { super.listForUser(userId) }
    }

    @Throws(SessionException::class)
    override fun destroyAllForUser(userId: String): Long {
        if (!userId.isWellFormed()) throw SessionException.InvalidUserId(userId.malformedReason())
        return HostFaults.surface { super.destroyAllForUser(userId) }
    }

    @Throws(SessionException::class)
    override fun updateMetadata(sessionId: String, changes: Map<String, String?>): Session {
        if (!sessionId.isWellFormed()) throw SessionException.SessionNotFound(sessionId)
        changes.forEach { (key, value) ->
            requireWellFormed(key, "metadata key")
            requireWellFormed(value, "metadata value of \"${key}\"")
        }
        return HostFaults.surface { super.updateMetadata(sessionId, changes) }
    }

    /**
     * Registers [listener] for this manager's lifecycle events (see [SessionListener]).
     * A listener written in Kotlin or Java is guarded: see the class documentation.
     */
    override fun addListener(listener: SessionListener) = super.addListener(guarded(listener))

    /**
     * This manager for coroutines: an [AsyncSessionManager] sharing its store, clock,
     * listeners and configuration.
     */
    override fun asAsync(): AsyncSessionManager = AsyncSessionManager.fromManager(this)

    @Throws(SessionException::class)
    override fun purgeExpired(): Long = HostFaults.surface { super.purgeExpired() }

    @Throws(SessionException::class)
    override fun count(): Long = HostFaults.surface { super.count() }

    @Throws(SessionException::class)
    override fun exportJson(): String = HostFaults.surface { super.exportJson() }

    @Throws(SessionException::class)
    override fun exportSessions(): SessionExport = HostFaults.surface { super.exportSessions() }

    @Throws(SessionException::class)
    override fun importJson(json: String): Long {
        if (!json.isWellFormed()) throw SessionException.Import(null, null, "the JSON ${json.malformedReason()}")
        return HostFaults.surface { super.importJson(json) }
    }
}

/**
 * @suppress
 *
 * UniFFI 0.32's TOML renaming (`SessionManager` -> `SessionManagerBase` in uniffi.toml)
 * leaves the return type of the generated named constructors (`SessionManagerBase.open`,
 * `SessionManagerBase.withStore`) as `SessionManager`, lifted by this converter: they
 * return this subclass, built on the Rust object's handle.
 */
internal object FfiConverterTypeSessionManager {
    fun lift(value: Long): SessionManager = SessionManager(UniffiWithHandle, value)
}
