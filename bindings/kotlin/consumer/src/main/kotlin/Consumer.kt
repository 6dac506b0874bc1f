// A minimal consumer of the sessions jar: run by ../test.sh with only the jar, JNA and
// kotlin-stdlib on the class path.
import dev.sessions.CreateSessionOptions
import dev.sessions.SessionConfig
import dev.sessions.SessionException
import dev.sessions.SessionManager
import java.time.Duration
import kotlin.system.exitProcess

fun main() {
    check(System.getProperty("jna.library.path") == null) { "jna.library.path must not be set" }
    SessionManager(SessionConfig(defaultExpiresIn = Duration.ofHours(1))).use { sessions ->
        val session = sessions.create(CreateSessionOptions(userId = "alice"))
        val result = sessions.validate(session.token)
        check(result.valid && result.session?.id == session.id) { "validate failed: ${result.error}" }
        val rotated = sessions.refresh(session.token)
        check(rotated.token != session.token) { "refresh did not rotate the token" }
        // Within the rotation grace the old token gives the same new token.
        check(sessions.refresh(session.token).token == rotated.token) { "a second refresh rotated again" }
        check(sessions.validate(rotated.token).valid)
        try {
            sessions.refresh("not a token")
            exitProcess(1)
        } catch (e: SessionException.InvalidToken) {
            // expected
        }
    }
    val lib = com.sun.jna.NativeLibrary.getInstance("sessions").file
    // validate took the JNI fast path (FastPath.kt), bound through the library JNA loaded
    // from the jar, although JNA has deleted the temporary file it unpacked it into.
    val bound = Class.forName("dev.sessions.FastPath\$Jni").getDeclaredField("bound")
        .apply { isAccessible = true }.getBoolean(null)
    check(bound) { "the fast path's JNI method was not bound" }
    print("consumer fast path: JNI method bound (the unpacked library file still exists: ${lib?.exists()})\n")
    print("consumer OK: created, validated and rotated a session (native library loaded from $lib)\n")
}
