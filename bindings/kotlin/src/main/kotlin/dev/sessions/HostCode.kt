package dev.sessions

import java.time.Instant

/*
 * What host code (a SessionStore, Clock or SessionListener written in Kotlin or Java) may do inside a
 * library call, and what a host string may contain.
 *
 * UniFFI's generated callback code catches only `kotlin.Exception`: an `Error` thrown
 * by a host store or clock (NotImplementedError from TODO(), AssertionError,
 * OutOfMemoryError, StackOverflowError, ...) escapes into JNA, which prints it and
 * returns to Rust as if the call had succeeded, so the library would report success
 * for a write that never happened. Every store, clock and listener handed to a
 * [SessionManager] is therefore wrapped: whatever it throws is turned into its declared
 * error ([SessionException.Store] / [ClockException.Failed] / [ListenerException.Failed])
 * before it leaves the host code,
 * so Rust always sees a failure, and [SessionManager] then surfaces the original once
 * the call has unwound (see [HostFaults]).
 */

/**
 * Failures of host code during one [SessionManager] call, kept per thread (the library
 * calls a store or clock on the thread that called it).
 */
internal object HostFaults {
    private class Frame(val outer: Frame?) {
        var store: Throwable? = null
        var clock: Throwable? = null
        var fatal: Throwable? = null
    }

    private val current = ThreadLocal<Frame?>()

    /**
     * Runs one library call. If host code threw an `Error` during it, that `Error` is
     * thrown once the call has unwound (with the library's error, if any, attached as
     * suppressed). If the call failed with [SessionException.Store] or
     * [SessionException.Clock] because host code threw an exception, that exception is
     * the error's `cause`.
     */
    fun <R> surface(call: () -> R): R {
        val frame = Frame(current.get())
        current.set(frame)
        val result = try {
            call()
        } catch (e: Throwable) {
            leave(frame)
            throw surfaced(frame, e)
        }
        leave(frame)
        frame.fatal?.let { throw it }
        return result
    }

    private fun leave(frame: Frame) {
        // set(null), not remove(): the thread's map entry stays, so the next call's set()
        // finds it instead of allocating a new one (this runs on every validate).
        current.set(frame.outer)
    }

    private fun surfaced(frame: Frame, error: Throwable): Throwable {
        frame.fatal?.let { fatal ->
            if (fatal !== error) runCatching { fatal.addSuppressed(error) }
            return fatal
        }
        val cause = when (error) {
            is SessionException.Store -> frame.store
            is SessionException.Clock -> frame.clock
            else -> null
        }
        if (cause != null && error.cause == null) runCatching { error.initCause(cause) }
        return error
    }

    /** The [SessionException.Store] a store's [thrown] throwable becomes. */
    fun storeFailure(method: String, thrown: Throwable): SessionException.Store {
        record(thrown) { it.store = thrown }
        return SessionException.Store("SessionStore.$method threw ${describe(thrown)}")
    }

    /** The [ClockException.Failed] a clock's [thrown] throwable becomes. */
    fun clockFailure(thrown: Throwable): ClockException.Failed {
        record(thrown) { it.clock = thrown }
        return ClockException.Failed("Clock.now threw ${describe(thrown)}")
    }

    /** The [ListenerException.Failed] a listener's [thrown] throwable becomes. */
    fun listenerFailure(thrown: Throwable): ListenerException.Failed {
        record(thrown) { }
        return ListenerException.Failed("SessionListener.onEvent threw ${describe(thrown)}")
    }

    private inline fun record(thrown: Throwable, exception: (Frame) -> Unit) {
        if (thrown is InterruptedException) {
            // The library cannot throw it through Rust: keep the thread's interrupt status
            // for the caller, as code that cannot rethrow InterruptedException must.
            Thread.currentThread().interrupt()
        }
        val frame = current.get() ?: return
        if (thrown is Exception) {
            exception(frame)
        } else {
            val fatal = frame.fatal
            if (fatal == null) frame.fatal = thrown else if (fatal !== thrown) runCatching { fatal.addSuppressed(thrown) }
        }
    }

    /**
     * `java.io.IOException: disk full`: the class and the text, even for the library's own
     * exceptions (whose toString() is only the sentence) or a toString() that throws.
     */
    private fun describe(thrown: Throwable): String =
        try {
            val text = thrown.toString()
            if (text.startsWith(thrown.javaClass.name)) text else "${thrown.javaClass.name}: $text"
        } catch (_: Throwable) {
            thrown.javaClass.name
        }
}

/**
 * For a [SessionStore], [Clock] or [SessionListener] written in Java: the generated
 * interfaces declare no checked exceptions, and the library's exceptions are checked in
 * Java, so `throw new SessionException.SessionLimitReached(limit)` does not compile in
 * such a method. `throw HostErrors.raise(new SessionException.SessionLimitReached(limit));`
 * does: [raise] throws its argument as it is (it never returns), and the library receives
 * exactly that error. (Any other exception a Java implementation throws also fails the
 * call, as [SessionException.Store] / [SessionException.Clock] / a logged listener
 * failure, with the exception as the cause.)
 */
object HostErrors {
    /** Throws [error] unchanged; declared to return an exception only so `throw` can precede the call. */
    @JvmStatic
    fun raise(error: SessionException): RuntimeException = throw error

    /** Throws [error] unchanged (see the first [raise]). */
    @JvmStatic
    fun raise(error: ClockException): RuntimeException = throw error

    /** Throws [error] unchanged (see the first [raise]). */
    @JvmStatic
    fun raise(error: ListenerException): RuntimeException = throw error
}

/**
 * A host [SessionStore] as the library sees it: every method either returns what the
 * host returned or throws a [SessionException] (the host's own, unchanged, or a
 * [SessionException.Store] naming what the host threw).
 */
internal class GuardedSessionStore(private val host: SessionStore) : SessionStore {
    private inline fun <T> guard(method: String, call: () -> T): T =
        try {
            call()
        } catch (e: SessionException) {
            throw e
        } catch (t: Throwable) {
            throw HostFaults.storeFailure(method, t)
        }

    override fun insert(session: Session) = guard("insert") { host.insert(session) }

    override fun insertAll(sessions: List<Session>) = guard("insertAll") { host.insertAll(sessions) }

    override fun get(sessionId: String): Session? = guard("get") { host.get(sessionId) }

    override fun findByTokenHash(tokenHash: String): Session? =
        guard("findByTokenHash") { host.findByTokenHash(tokenHash) }

    override fun compareAndSwap(expectedTokenHash: String, expectedVersion: Long, session: Session): Boolean =
        guard("compareAndSwap") { host.compareAndSwap(expectedTokenHash, expectedVersion, session) }

    override fun listForUser(userId: String): List<Session> = guard("listForUser") { host.listForUser(userId) }

    override fun insertLimited(session: Session, maxActive: Int, now: Instant, revokeOldest: Boolean): List<String> =
        guard("insertLimited") { host.insertLimited(session, maxActive, now, revokeOldest) }

    override fun revokeAllForUser(userId: String, at: Instant): List<String> =
        guard("revokeAllForUser") { host.revokeAllForUser(userId, at) }

    override fun purgeExpired(now: Instant): Long = guard("purgeExpired") { host.purgeExpired(now) }

    override fun count(): Long = guard("count") { host.count() }

    override fun allSessions(): SessionScan = guard("allSessions") { host.allSessions() }
}

/**
 * A host [Clock] as the library sees it: it returns the host's time or throws a
 * [ClockException] (the host's own, unchanged, or a [ClockException.Failed] naming what
 * the host threw).
 */
internal class GuardedClock(private val host: Clock) : Clock {
    override fun now(): Instant =
        try {
            host.now()
        } catch (e: ClockException) {
            throw e
        } catch (t: Throwable) {
            throw HostFaults.clockFailure(t)
        }
}

/**
 * A host [SessionListener] as the library sees it: an exception it throws becomes a
 * [ListenerException.Failed] naming it (the library logs it and the change stands), and
 * an `Error` is also rethrown to the manager's caller once the call has unwound (the
 * change it was told about is already stored).
 */
internal class GuardedSessionListener(private val host: SessionListener) : SessionListener {
    override fun onEvent(event: SessionEvent) =
        try {
            host.onEvent(event)
        } catch (e: ListenerException) {
            throw e
        } catch (t: Throwable) {
            throw HostFaults.listenerFailure(t)
        }
}

/** [listener], guarded unless it is implemented in Rust. */
internal fun guarded(listener: SessionListener): SessionListener =
    if (listener is SessionListenerImpl || listener is GuardedSessionListener) listener else GuardedSessionListener(listener)

/** [store], guarded unless it is implemented in Rust (it cannot throw a JVM throwable). */
internal fun guarded(store: SessionStore): SessionStore =
    if (store is SessionStoreImpl || store is GuardedSessionStore) store else GuardedSessionStore(store)

/** [clock], guarded unless it is implemented in Rust. */
internal fun guarded(clock: Clock?): Clock? =
    if (clock == null || clock is ClockImpl || clock is GuardedClock) clock else GuardedClock(clock)

/**
 * The index of the first unpaired surrogate in this string, or -1. A string with one
 * cannot be encoded as UTF-8, so it never reaches the library (UniFFI would throw a
 * `MalformedInputException` while converting it).
 */
internal fun String.loneSurrogateIndex(): Int {
    var i = 0
    while (i < length) {
        val c = this[i]
        if (Character.isHighSurrogate(c)) {
            if (i + 1 < length && Character.isLowSurrogate(this[i + 1])) {
                i += 2
                continue
            }
            return i
        }
        if (Character.isLowSurrogate(c)) return i
        i++
    }
    return -1
}

internal fun String.isWellFormed(): Boolean = loneSurrogateIndex() < 0

/** Why this string cannot be passed on, for error messages. */
internal fun String.malformedReason(): String =
    "contains an unpaired UTF-16 surrogate at index ${loneSurrogateIndex()}, which has no UTF-8 form"

/** Throws [IllegalArgumentException] naming [parameter] if [value] is not well-formed. */
internal fun requireWellFormed(value: String?, parameter: String) {
    if (value != null && !value.isWellFormed()) {
        throw IllegalArgumentException("$parameter ${value.malformedReason()}")
    }
}
