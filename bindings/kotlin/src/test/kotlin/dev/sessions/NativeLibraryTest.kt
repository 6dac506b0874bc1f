package dev.sessions

import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/** The tests load the native library the way a consumer of the jar does: from the class path. */
class NativeLibraryTest {
    @Test
    fun `the library is found on the class path under JNA's platform prefix, not via jna library path`() {
        assertNull(System.getProperty("jna.library.path"), "tests must not rely on jna.library.path")
        assertEquals("linux-x86-64", com.sun.jna.Platform.RESOURCE_PREFIX)
        assertNotNull(javaClass.classLoader.getResource("${com.sun.jna.Platform.RESOURCE_PREFIX}/libsessions.so"))
        // Loading happens on first use; a call proves the symbols and checksums matched.
        assertEquals(64, hashToken("").length)
    }

    @Test
    fun `types are the java time ones`() {
        val s = createSession(opts("alice"))
        assertTrue(s.createdAt is java.time.Instant)
        assertTrue(s.lifetime is java.time.Duration)
    }
}
