package dev.sessions.bench

import com.sun.jna.Native
import dev.sessions.FastPath
import dev.sessions.ValidationResult

/*
 * The benchmark's yardstick for the JNI entry: the fast path as it was before it (JNA
 * direct mapping of the library's C entry `sessions_fast_validate`, the same C entry the
 * Swift and Python packages call), with FastPath.kt's own argument encoding, buffers and
 * decoding, so the two rows differ only in how the library is called.
 */
internal object JnaEntry {
    init {
        Native.register(JnaEntry::class.java, FastPath.generatedLibrary())
    }

    /** `sessions_fast_validate` (src/unsafe_code/fast_path_abi.rs), pointers and sizes as longs. */
    @JvmStatic
    external fun sessions_fast_validate(
        handle: Long,
        token: Long,
        tokenLen: Long,
        userAgent: Long,
        userAgentLen: Long,
        out: Long,
        outCap: Long,
    ): Int

    /** [FastPath.validate] for a token and no user agent, through the JNA call. */
    fun validate(handle: Long, token: String): ValidationResult {
        val b = FastPath.threadBuffers()
        val len = FastPath.putUtf8(b, token, 0)
        val size = sessions_fast_validate(handle, b.inputAddress, len.toLong(), 0, 0, b.outAddress, b.out.capacity().toLong())
        check(size in 0..b.out.capacity()) { "unexpected result $size" }
        return FastPath.decode(b, size)
    }
}
