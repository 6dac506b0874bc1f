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
        // Within the rotation grace a parallel refresh of the old token gets the same token.
        check(sessions.refresh(session.token).token == rotated.token) { "grace refresh gave another token" }
        try {
            sessions.refresh("not-a-token")
            exitProcess(1)
        } catch (e: SessionException.InvalidToken) {
            // expected
        }
        check(sessions.validate(rotated.token).valid)
    }
    val lib = com.sun.jna.NativeLibrary.getInstance("sessions").file
    print("consumer OK: created, validated and rotated a session (native library loaded from $lib)\n")
}
