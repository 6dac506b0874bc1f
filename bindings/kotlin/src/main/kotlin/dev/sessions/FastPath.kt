package dev.sessions

import com.sun.jna.JNIEnv
import com.sun.jna.Library
import com.sun.jna.Native
import com.sun.jna.NativeLibrary
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.time.Duration
import java.time.Instant

/*
 * The per-request fast path: `SessionManager.validate` without UniFFI's per-call code.
 *
 * `validate` runs on every request, and UniFFI's generated Kotlin spends most of a call
 * on JNA objects (a RustBuffer structure per argument and result, a call-status structure,
 * the argument and result buffers: five JNA calls and their allocations), far more than
 * the Rust call itself. The library has one JNI method for it (src/unsafe_code/fast_path_jni.rs),
 *
 *   static native int validate(long handle, long input, int tokenLen, int userAgentLen,
 *                              long out, int outCap)
 *
 * that calls the manager's own `validate` and writes the result into a caller-owned buffer
 * in a small documented layout (src/fast_path.rs), and this file builds from it the same
 * `ValidationResult` / `Session` the generated code builds. Every argument is a primitive,
 * so a call is the JVM's plain JNI transition: no JNA objects, no argument conversion, no
 * JNIEnv call inside (a JNA direct-mapped call of the same C entry cost about 125 ns more:
 * 221 against 95 ns for a whole call with an empty token, BENCHMARKS.md).
 *
 * One copy of the library: the method is not looked up by symbol name in a file given
 * to `System.load` (JNA deletes the temporary file it unpacked the jar's library into as
 * soon as it has loaded it, so that file cannot be loaded again, and unpacking another
 * would be a second core with its own managers). Instead, once per process, the library
 * instance JNA loaded for the generated bindings is asked, through JNA, to bind [Jni.validate]
 * to its entry (`sessions_jni_register`: JNI `RegisterNatives`, given this thread's JNIEnv
 * and the class). No path is involved, so it works the same from a jar, a directory, a
 * `jna.library.path` or an Android APK.
 *
 * Per thread it keeps two direct buffers (the UTF-8 arguments, the result) whose native
 * addresses are fetched once per buffer and passed as plain numbers, and a scratch array
 * for the strings: no allocation per call beyond the result's own objects. Nothing is
 * cached: every call validates in Rust, in the same manager (same store, rules and clock).
 *
 * Behaviour is the regular path's: a result the fast path cannot give (a handle the
 * library does not know, any other error code, a platform or JVM where the method could
 * not be bound) is answered by the regular path; an error `validate` failed with is
 * fetched through UniFFI (`takeFastPathError`) and thrown as the regular path throws it.
 * Stores, clocks and listeners written in Kotlin or Java are called by the library during
 * the call exactly as on the regular path, and [SessionManager] runs the call inside the
 * same [HostFaults] frame.
 */
internal object FastPath {
    /** `validate` failed: its error waits in `takeFastPathError` (src/fast_path.rs). */
    const val FAILED = -3

    /** The fixed part of a valid result (src/fast_path.rs). */
    const val HEADER_LEN = 88

    /** The first capacity of a thread's result buffer; it grows to the largest result seen. */
    const val INITIAL_CAPACITY = 1024

    /** The longest token or user agent (UTF-16 units) the fast path takes. */
    const val MAX_INPUT_CHARS = 8192

    private val ERRORS = arrayOf(
        ValidationError.INVALID_TOKEN,
        ValidationError.SESSION_EXPIRED,
        ValidationError.SESSION_REVOKED,
        ValidationError.USER_AGENT_MISMATCH,
        ValidationError.TOKEN_REUSED,
    )

    /**
     * Whether this platform can take the fast path: 64-bit (the buffers' addresses are
     * passed as `long`s and the layout was only tested there; 32-bit Android ABIs use the
     * regular path) and [Jni.validate] bound to the library.
     */
    val available: Boolean by lazy { Native.POINTER_SIZE == 8 && Jni.bound }

    /** The JNI entry, bound on first use to the library instance the generated `UniffiLib` loaded. */
    internal object Jni {
        /** Whether [validate] is bound ([register] succeeded). */
        val bound: Boolean = register()

        /**
         * The library's fast-path entry (src/unsafe_code/fast_path_jni.rs): the token's
         * UTF-8 is the [tokenLen] bytes at [input], the user agent's the [userAgentLen]
         * bytes after it (negative: no user agent); the result goes to [out], capacity
         * [outCap]. Returns the result's length or a negative code (src/fast_path.rs).
         */
        @JvmStatic
        external fun validate(handle: Long, input: Long, tokenLen: Int, userAgentLen: Int, out: Long, outCap: Int): Int

        /**
         * Writes at [out] (capacity [outCap]) the result [validate] kept for this thread
         * because it did not fit its buffer, and forgets it, without validating again
         * (src/unsafe_code/fast_path_jni.rs). Returns its length (nothing written and the
         * result still kept when it is larger than [outCap]) or [NO_PENDING].
         */
        @JvmStatic
        external fun takePending(out: Long, outCap: Int): Int

        /**
         * Asks the library JNA loaded for the generated bindings to bind [validate]
         * (`sessions_jni_register(JNIEnv *, jclass)`, JNI `RegisterNatives`); false when
         * it cannot (a library without the entry, a JVM refusing it): the regular path
         * then answers every call.
         */
        private fun register(): Boolean = try {
            UniffiLib.ensureInitialized() // the generated bindings load (and check) the library first
            val entry = generatedLibrary().getFunction("sessions_jni_register")
            // JNIEnv.CURRENT is the calling thread's JNIEnv; OPTION_ALLOW_OBJECTS passes the
            // Class as a JNI reference (jclass), as JNA documents for raw JNI calls.
            val status = entry.invoke(
                Int::class.javaPrimitiveType,
                arrayOf(JNIEnv.CURRENT, Jni::class.java),
                mapOf(Library.OPTION_ALLOW_OBJECTS to true),
            )
            status == 0
        } catch (e: LinkageError) {
            false
        } catch (e: RuntimeException) {
            false
        }
    }

    /**
     * The `NativeLibrary` the generated code loaded: `Native.register(UniffiLib::class.java,
     * name)` asks `NativeLibrary.getInstance(name, {classloader: UniffiLib's})`, which is
     * cached by name and options, so the same call here returns that same instance (the
     * same loaded file, hence the same registry of managers). The name is the generated
     * `findLibraryName`'s: the `uniffi.component.sessions.libraryOverride` property, or
     * the cdylib name.
     */
    internal fun generatedLibrary(): NativeLibrary {
        val name = System.getProperty("uniffi.component.sessions.libraryOverride") ?: "sessions"
        return NativeLibrary.getInstance(
            name,
            mapOf(Library.OPTION_CLASSLOADER to UniffiLib::class.java.classLoader),
        )
    }

    /**
     * One thread's buffers, used by one call at a time ([busy] while a call uses them).
     * A call made on the same thread during another (a Kotlin store, clock or listener
     * validating inside `validate`) gets buffers of its own: the outer call's input is
     * still being read by the library and its output not yet written, so neither may be
     * overwritten or replaced (a replaced direct buffer may be freed while the library
     * still writes into it).
     */
    internal class Buffers {
        var busy = false
        var input: ByteBuffer = direct(256)
        var inputAddress: Long = address(input)
        var out: ByteBuffer = direct(INITIAL_CAPACITY)
        var outAddress: Long = address(out)
        var scratch = ByteArray(INITIAL_CAPACITY)

        fun growInput(size: Int) {
            input = direct(maxOf(size, 2 * input.capacity()))
            inputAddress = address(input)
        }

        fun growOut(size: Int) {
            out = direct(maxOf(size, 2 * out.capacity()))
            outAddress = address(out)
        }

        companion object {
            fun direct(size: Int): ByteBuffer = ByteBuffer.allocateDirect(size).order(ByteOrder.LITTLE_ENDIAN)

            fun address(buffer: ByteBuffer): Long = com.sun.jna.Pointer.nativeValue(Native.getDirectBufferPointer(buffer))
        }
    }

    private val buffers = ThreadLocal.withInitial { Buffers() }

    /** This thread's buffers (internal for the benchmark's comparison with the JNA call, benches/kotlin). */
    internal fun threadBuffers(): Buffers = buffers.get()

    /**
     * Validates [token] (well-formed: no unpaired surrogate) with the manager behind
     * [handle] through the JNI entry; null when the regular path must answer (an
     * error code other than [FAILED]). Throws the [SessionException] `validate` failed
     * with, as the regular path throws it.
     */
    @Throws(SessionException::class)
    fun validate(handle: Long, token: String, userAgent: String?): ValidationResult? {
        // Longer arguments go to the regular path: a thread's input buffer stays small.
        if (token.length > MAX_INPUT_CHARS || (userAgent != null && userAgent.length > MAX_INPUT_CHARS)) return null
        val own = buffers.get()
        val b = if (own.busy) Buffers() else own // a nested call: see Buffers
        b.busy = true
        try {
            val tokenLen = putUtf8(b, token, 0)
            val uaLen = if (userAgent == null) -1 else putUtf8(b, userAgent, tokenLen)
            // The input buffer may have grown while the user agent was written.
            var size = Jni.validate(handle, b.inputAddress, tokenLen, uaLen, b.outAddress, b.out.capacity())
            while (size > b.out.capacity()) { // a larger result than ever before on this thread
                // Kept by the library for this thread: fetched, not validated a second time
                // (which could slide the session again or count a grace-period token as reuse).
                b.growOut(size)
                size = Jni.takePending(b.outAddress, b.out.capacity())
            }
            if (size >= 0) return decode(b, size)
            if (size == FAILED) takeFastPathError() // throws the SessionException validate failed with
            return null
        } finally {
            b.busy = false
        }
    }

    /**
     * Writes [s] as UTF-8 into the thread's input buffer at [at] (growing it as needed);
     * returns its length in bytes. [s] has no unpaired surrogate (checked by the caller).
     */
    internal fun putUtf8(b: Buffers, s: String, at: Int): Int {
        val worst = at + 3 * s.length // at most 3 bytes per UTF-16 unit
        if (worst > b.input.capacity()) {
            val old = b.input
            b.growInput(worst)
            for (i in 0 until at) b.input.put(i, old.get(i))
        }
        val buf = b.input
        var i = 0
        var o = at
        val n = s.length
        while (i < n) {
            val c = s[i].code
            when {
                c < 0x80 -> buf.put(o++, c.toByte())
                c < 0x800 -> {
                    buf.put(o++, (0xC0 or (c shr 6)).toByte())
                    buf.put(o++, (0x80 or (c and 0x3F)).toByte())
                }
                Character.isHighSurrogate(s[i]) -> {
                    val cp = Character.toCodePoint(s[i], s[++i])
                    buf.put(o++, (0xF0 or (cp shr 18)).toByte())
                    buf.put(o++, (0x80 or ((cp shr 12) and 0x3F)).toByte())
                    buf.put(o++, (0x80 or ((cp shr 6) and 0x3F)).toByte())
                    buf.put(o++, (0x80 or (cp and 0x3F)).toByte())
                }
                else -> {
                    buf.put(o++, (0xE0 or (c shr 12)).toByte())
                    buf.put(o++, (0x80 or ((c shr 6) and 0x3F)).toByte())
                    buf.put(o++, (0x80 or (c and 0x3F)).toByte())
                }
            }
            i++
        }
        return o - at
    }

    /** The result in the thread's output buffer, [size] bytes (layout in src/fast_path.rs). */
    internal fun decode(b: Buffers, size: Int): ValidationResult {
        val out = b.out
        val status = out.get(0).toInt()
        if (status != 0) return ValidationResult(false, null, ERRORS[status - 1])
        val flags = out.get(1).toInt() and 0xFF
        val plain = (out.getShort(2).toInt() and 1) != 0
        val entries = out.getInt(4)
        val version = out.getLong(8)
        val count = 4 + 2 * entries +
            (if (flags and 16 != 0) 1 else 0) + (if (flags and 32 != 0) 1 else 0) + (if (flags and 128 != 0) 1 else 0)
        val area = HEADER_LEN + 4 * count
        val areaLen = size - area
        if (b.scratch.size < areaLen) b.scratch = ByteArray(maxOf(areaLen, 2 * b.scratch.size))
        val bytes = b.scratch
        out.position(area)
        out.get(bytes, 0, areaLen)
        out.position(0)
        val charset = if (plain) Charsets.ISO_8859_1 else Charsets.UTF_8
        var at = 0
        var index = 0
        fun next(): String {
            val n = out.getInt(HEADER_LEN + 4 * index++)
            // The validated session's token is always empty (raw tokens are never stored).
            val s = if (n == 0) "" else String(bytes, at, n, charset)
            at += n + 1 // and the NUL after it
            return s
        }
        val id = next()
        val userId = next()
        val token = next()
        val tokenHash = next()
        val bound = if (flags and 16 != 0) next() else null
        val previous = if (flags and 32 != 0) next() else null
        val rotationKey = if (flags and 128 != 0) next() else null
        val metadata = if (flags and 1 != 0) {
            val m = LinkedHashMap<String, String>(mapCapacity(entries))
            repeat(entries) {
                val key = next()
                m[key] = next()
            }
            m
        } else {
            null
        }
        val session = Session(
            id = id,
            userId = userId,
            token = token,
            tokenHash = tokenHash,
            createdAt = instant(out, 0),
            expiresAt = instant(out, 1),
            metadata = metadata,
            revokedAt = if (flags and 2 != 0) instant(out, 3) else null,
            slidingExpiration = if (flags and 4 != 0) flags and 8 != 0 else null,
            boundUserAgent = bound,
            lifetime = Duration.ofSeconds(out.getLong(76), (out.getInt(84).toLong() and 0xFFFF_FFFFL)),
            absoluteExpiresAt = instant(out, 2),
            version = version,
            previousTokenHash = previous,
            rotatedAt = if (flags and 64 != 0) instant(out, 4) else null,
            rotationKey = rotationKey,
        )
        return ValidationResult(true, session, null)
    }

    /** The [i]th timestamp of the header: seconds rounded down and nanoseconds, exact. */
    private fun instant(out: ByteBuffer, i: Int): Instant =
        Instant.ofEpochSecond(out.getLong(16 + 12 * i), out.getInt(24 + 12 * i).toLong() and 0xFFFF_FFFFL)

    /** A `LinkedHashMap` capacity holding [n] entries without rehashing. */
    private fun mapCapacity(n: Int): Int = if (n < 3) n + 1 else (n / 0.75f + 1f).toInt()
}
