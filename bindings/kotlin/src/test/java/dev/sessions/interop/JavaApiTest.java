package dev.sessions.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sessions.CreateSessionOptions;
import dev.sessions.HostErrors;
import dev.sessions.ListenerException;
import dev.sessions.PublicSession;
import dev.sessions.Session;
import dev.sessions.SessionConfig;
import dev.sessions.SessionEvent;
import dev.sessions.SessionException;
import dev.sessions.SessionExport;
import dev.sessions.SessionLimitAction;
import dev.sessions.SessionListener;
import dev.sessions.SessionManager;
import dev.sessions.SessionsKt;
import dev.sessions.ValidationError;
import dev.sessions.RevocationReason;
import dev.sessions.ValidationResult;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole API as a plain Java program sees it: no reflection, no Kotlin-only
 * constructs ({@code Companion}, mangled names, default-argument bridges), a store and a
 * clock written in Java. In another package than the library, so only public API is used.
 */
class JavaApiTest {
    private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");
    private final JavaClock clock = new JavaClock(START);

    private static CreateSessionOptions forUser(String userId) {
        return new CreateSessionOptions(userId, null, null, false);
    }

    @Test
    void configurationAndOptionsAreBuiltWithConstructorsAndSetters() throws Exception {
        SessionConfig defaults = new SessionConfig();
        assertNull(defaults.getDefaultExpiresIn());
        assertNull(defaults.getMaxLifetime());
        assertEquals("session:", defaults.getPrefix());
        assertFalse(defaults.getBindToUserAgent());
        assertEquals(64, defaults.getMaxMetadataEntries());
        assertEquals(8192, defaults.getMaxMetadataBytes());
        assertNull(defaults.getAutoPurgeInterval());
        assertNull(defaults.getRotationGrace());
        assertNull(defaults.getMaxSessionsPerUser());
        assertNull(defaults.getSessionLimitAction());

        SessionConfig config = new SessionConfig();
        config.setDefaultExpiresIn(Duration.ofHours(1));
        config.setMaxLifetime(Duration.ofDays(7));
        config.setPrefix("app:");
        config.setBindToUserAgent(true);
        config.setMaxMetadataEntries(8);
        config.setMaxMetadataBytes(1024);
        config.setAutoPurgeInterval(Duration.ofMinutes(10));
        config.setRotationGrace(Duration.ofSeconds(5));
        config.setMaxSessionsPerUser(3);
        config.setSessionLimitAction(SessionLimitAction.REFUSE);
        SessionConfig same = new SessionConfig(
            Duration.ofHours(1), Duration.ofDays(7), "app:", true, 8, 1024, Duration.ofMinutes(10),
            Duration.ofSeconds(5), 3, SessionLimitAction.REFUSE);
        assertEquals(same, config);
        assertEquals(same.hashCode(), config.hashCode());

        CreateSessionOptions options = new CreateSessionOptions(
            "alice", Duration.ofMinutes(5), Map.of("userAgent", "JavaApp/1.0"), true);
        assertEquals("alice", options.getUserId());
        assertEquals(Duration.ofMinutes(5), options.getExpiresIn());
        assertTrue(options.getSlidingExpiration());
        options.setUserId("bob");
        assertEquals("bob", options.getUserId());

        try (SessionManager m = new SessionManager(config, clock)) {
            assertEquals("app:", m.prefix());
            Session s = m.create(new CreateSessionOptions("alice", null, Map.of("userAgent", "UA"), false));
            assertEquals(START.plus(Duration.ofHours(1)), s.getExpiresAt());
            assertEquals(START.plus(Duration.ofDays(7)), s.getAbsoluteExpiresAt());
            assertEquals("UA", s.getBoundUserAgent());
        }
    }

    @Test
    void everyManagerMethodFromJava() throws Exception {
        SessionConfig config = new SessionConfig();
        config.setDefaultExpiresIn(Duration.ofHours(1));
        try (SessionManager m = new SessionManager(config, clock)) {
            Session s = m.create(forUser("alice"));
            assertEquals(43, s.getToken().length());
            assertEquals(SessionsKt.hashToken(s.getToken()), s.getTokenHash());
            assertEquals("alice", s.getUserId());
            assertEquals(START, s.getCreatedAt());
            assertEquals(Duration.ofHours(1), s.getLifetime());

            ValidationResult ok = m.validate(s.getToken());
            assertTrue(ok.getValid());
            assertNull(ok.getError());
            assertEquals(s.getId(), ok.getSession().getId());
            assertEquals("", ok.getSession().getToken());
            assertTrue(m.validate(s.getToken(), "any agent").getValid());
            assertEquals(ValidationError.INVALID_TOKEN, m.validate("nope").getError());

            Session rotated = m.refresh(s.getToken());
            assertNotEquals(s.getToken(), rotated.getToken());
            // Within the rotation grace the old token stands for the new one.
            assertTrue(m.validate(s.getToken()).getValid());
            assertEquals(rotated.getToken(), m.refresh(s.getToken()).getToken());
            Session again = m.refresh(rotated.getToken(), null);
            assertTrue(m.validate(again.getToken()).getValid());
            assertEquals(ValidationError.INVALID_TOKEN, m.validate(s.getToken()).getError());

            Session stored = m.get(s.getId());
            assertNotNull(stored);
            assertEquals("", stored.getToken());
            assertNull(m.get("no such id"));

            PublicSession pub = m.toPublicSession(stored);
            assertEquals(s.getId(), pub.getId());
            assertEquals("alice", pub.getUserId());

            Session second = m.create(forUser("alice"));
            List<Session> listed = m.listForUser("alice");
            assertEquals(2, listed.size());
            assertEquals(2L, m.count());

            assertTrue(m.destroy(second.getId()));
            assertFalse(m.destroy(second.getId()));
            assertEquals(ValidationError.SESSION_REVOKED, m.validate(second.getToken()).getError());
            long revoked = m.destroyAllForUser("alice");
            assertEquals(1L, revoked);
            assertEquals(0, m.listForUser("alice").size());

            String exported = m.exportJson();
            assertTrue(exported.startsWith("["), exported);
            SessionExport export = m.exportSessions();
            assertEquals(exported, export.getJson());
            long exportedCount = export.getExported();
            assertEquals(2L, exportedCount);
            assertTrue(export.getDamaged().isEmpty());
            clock.advance(Duration.ofHours(2));
            long purged = m.purgeExpired();
            assertEquals(2L, purged);
            assertEquals(0L, m.count());

            try (SessionManager other = new SessionManager(new SessionConfig())) {
                long imported = other.importJson(exported);
                assertEquals(2L, imported);
                assertEquals(2L, other.count());
            }
        }
    }

    @Test
    void openIsAStaticMethod(@TempDir Path dir) throws Exception {
        String path = dir.resolve("sessions.sqlite").toString();
        Session s;
        try (SessionManager m = SessionManager.open(path, new SessionConfig())) {
            s = m.create(forUser("alice"));
        }
        try (SessionManager m = SessionManager.open(path, new SessionConfig(), clock)) {
            // A new instance on the same file: the session survived.
            assertEquals("alice", m.get(s.getId()).getUserId());
        }
        try (SessionManager m = SessionManager.open(path, new SessionConfig())) {
            assertTrue(m.validate(s.getToken()).getValid());
        }
    }

    @Test
    void aStoreAndAClockWrittenInJava() throws Exception {
        JavaStore store = new JavaStore();
        SessionConfig config = new SessionConfig();
        config.setDefaultExpiresIn(Duration.ofHours(1));
        try (SessionManager m = SessionManager.withStore(config, store, clock)) {
            Session s = m.create(new CreateSessionOptions("alice", null, null, true));
            assertEquals(START, s.getCreatedAt());
            clock.advance(Duration.ofMinutes(45));
            ValidationResult slid = m.validate(s.getToken());
            assertTrue(slid.getValid());
            assertEquals(START.plus(Duration.ofMinutes(105)), slid.getSession().getExpiresAt());
            Session r = m.refresh(s.getToken());
            // The Java store finds a session by its previous token hash too (the grace).
            assertEquals(r.getToken(), m.refresh(s.getToken()).getToken());
            m.create(forUser("alice"));
            assertEquals(2L, m.count());
            assertEquals(2L, m.destroyAllForUser("alice"));
            assertEquals(ValidationError.SESSION_REVOKED, m.validate(r.getToken()).getError());
            clock.advance(Duration.ofHours(3));
            assertEquals(2L, m.purgeExpired());
            assertEquals(0, store.rawTokensSeen);
        }
        try (SessionManager m = SessionManager.withStore(new SessionConfig(), new JavaStore())) {
            assertTrue(m.validate(m.create(forUser("bob")).getToken()).getValid());
        }
    }

    @Test
    void updateMetadataAJavaListenerTheSessionLimitAndTokenReuse() throws Exception {
        JavaStore store = new JavaStore();
        SessionConfig config = new SessionConfig();
        config.setMaxSessionsPerUser(2);
        config.setRotationGrace(Duration.ofSeconds(5));
        List<SessionEvent> events = new CopyOnWriteArrayList<>();
        try (SessionManager m = SessionManager.withStore(config, store, clock)) {
            m.addListener(events::add); // SessionListener is a functional interface for Java
            Session a = m.create(new CreateSessionOptions("alice", null, Map.of("theme", "dark"), false));
            Map<String, String> changes = new HashMap<>();
            changes.put("theme", null); // null removes a key
            changes.put("lang", "de");
            Session updated = m.updateMetadata(a.getId(), changes);
            assertEquals(Map.of("lang", "de"), updated.getMetadata());
            assertEquals("", updated.getToken());
            assertEquals(Map.of("lang", "de"), m.get(a.getId()).getMetadata());
            assertEquals("missing", assertThrows(SessionException.SessionNotFound.class,
                () -> m.updateMetadata("missing", Map.of("k", "v"))).getSessionId());
            Map<String, String> tooMany = new HashMap<>();
            for (int i = 0; i < 65; i++) {
                tooMany.put("k" + i, "v");
            }
            assertThrows(SessionException.MetadataTooLarge.class, () -> m.updateMetadata(a.getId(), tooMany));
            assertThrows(IllegalArgumentException.class, () -> m.updateMetadata(a.getId(), Map.of("k", "\uD800")));

            // At most two active sessions: the third create revokes the oldest.
            clock.advance(Duration.ofSeconds(1));
            Session b = m.create(forUser("alice"));
            clock.advance(Duration.ofSeconds(1));
            Session c = m.create(forUser("alice"));
            assertEquals(ValidationError.SESSION_REVOKED, m.validate(a.getToken()).getError());
            assertTrue(m.validate(b.getToken()).getValid());
            assertTrue(m.validate(c.getToken()).getValid());

            // A rotated-out token presented after the grace revokes its session.
            Session b2 = m.refresh(b.getToken());
            clock.advance(Duration.ofSeconds(5));
            assertEquals(ValidationError.TOKEN_REUSED, m.validate(b.getToken()).getError());
            assertEquals(ValidationError.SESSION_REVOKED, m.validate(b2.getToken()).getError());

            List<String> kinds = new ArrayList<>();
            for (SessionEvent e : events) {
                kinds.add(e.getClass().getSimpleName());
            }
            assertEquals(List.of("Created", "MetadataUpdated", "Created", "Created", "Revoked", "Rotated", "Revoked"), kinds);
            SessionEvent.Revoked limit = (SessionEvent.Revoked) events.get(4);
            assertEquals(a.getId(), limit.getSessionId());
            assertEquals(RevocationReason.SESSION_LIMIT, limit.getReason());
            assertEquals(RevocationReason.TOKEN_REUSE, ((SessionEvent.Revoked) events.get(6)).getReason());
            assertEquals(0, store.rawTokensSeen);
        }

        // Refuse: the Java store reports the limit with the library's own checked exception.
        config.setMaxSessionsPerUser(1);
        config.setSessionLimitAction(SessionLimitAction.REFUSE);
        try (SessionManager m = SessionManager.withStore(config, new JavaStore(), clock)) {
            Session only = m.create(forUser("alice"));
            SessionException.SessionLimitReached refused =
                assertThrows(SessionException.SessionLimitReached.class, () -> m.create(forUser("alice")));
            assertEquals(1, refused.getLimit());
            assertEquals(1L, m.count());
            assertTrue(m.validate(only.getToken()).getValid());
        }
        for (int bad : new int[] {0, -1, Integer.MIN_VALUE}) {
            config.setMaxSessionsPerUser(bad);
            assertThrows(SessionException.InvalidConfig.class, () -> new SessionManager(config));
        }
    }

    @Test
    void aJavaListenerThatFailsNeverFailsTheChange() throws Exception {
        List<SessionEvent> seen = new CopyOnWriteArrayList<>();
        try (SessionManager m = new SessionManager(new SessionConfig(), clock)) {
            m.addListener(event -> {
                throw new IllegalStateException("audit log down");
            });
            m.addListener(event -> {
                throw HostErrors.raise(new ListenerException.Failed("queue full"));
            });
            m.addListener(seen::add);
            Session s = m.create(forUser("alice"));
            assertTrue(m.destroy(s.getId()));
            assertEquals(2, seen.size());
            assertEquals(ValidationError.SESSION_REVOKED, m.validate(s.getToken()).getError());

            SessionListener broken = event -> {
                throw new AssertionError("listener invariant broken");
            };
            m.addListener(broken);
            AssertionError e = assertThrows(AssertionError.class, () -> m.create(forUser("bob")));
            assertEquals("listener invariant broken", e.getMessage());
            assertEquals(1, m.listForUser("bob").size()); // the create itself happened
        }
    }

    @Test
    void freeFunctions() throws Exception {
        String token = SessionsKt.generateSecureToken(32);
        assertEquals(43, token.length());
        assertEquals(22, SessionsKt.generateSecureToken(16).length());
        assertEquals(64, SessionsKt.hashToken(token).length());

        Session s = SessionsKt.createSession(forUser("alice"));
        ValidationResult r = SessionsKt.validateSession(s.getToken(), s, null);
        assertTrue(r.getValid());
        assertEquals(ValidationError.INVALID_TOKEN, SessionsKt.validateSession("x", s, null).getError());

        Session rotated = SessionsKt.refreshSession(s, false);
        assertNotEquals(s.getToken(), rotated.getToken());
        Session slid = SessionsKt.refreshSession(s, true);
        assertEquals(s.getToken(), slid.getToken());

        Session revoked = SessionsKt.destroySession(s);
        assertNotNull(revoked.getRevokedAt());
        assertEquals(ValidationError.SESSION_REVOKED, SessionsKt.validateSession(s.getToken(), revoked, null).getError());
        assertThrows(SessionException.SessionRevoked.class, () -> SessionsKt.refreshSession(revoked, false));

        PublicSession pub = SessionsKt.toPublicSession(s);
        assertEquals(s.getId(), pub.getId());
    }

    @Test
    void errorsAreCaughtByTypeAndExposeTheirFields() throws Exception {
        SessionConfig bound = new SessionConfig();
        bound.setBindToUserAgent(true);
        JavaStore store = new JavaStore();
        try (SessionManager m = SessionManager.withStore(bound, store, clock)) {
            try {
                m.create(forUser(""));
                fail("an empty user id was accepted");
            } catch (SessionException.InvalidUserId e) {
                assertFalse(e.getReason().isEmpty());
            }
            SessionException.InvalidLifetime lifetime = assertThrows(SessionException.InvalidLifetime.class,
                () -> m.create(new CreateSessionOptions("a", Duration.ZERO, null, false)));
            assertFalse(lifetime.getReason().isEmpty());
            SessionException.MetadataTooLarge large = assertThrows(SessionException.MetadataTooLarge.class,
                () -> m.create(new CreateSessionOptions("a", null, Map.of("userAgent", "x".repeat(9000)), false)));
            assertFalse(large.getReason().isEmpty());
            SessionException.InvalidTokenLength length = assertThrows(SessionException.InvalidTokenLength.class,
                () -> SessionsKt.generateSecureToken(8));
            assertEquals(8, length.getBytes());
            assertEquals(16, length.getMin());
            assertEquals(1024, length.getMax());
            assertThrows(SessionException.InvalidTokenLength.class, () -> SessionsKt.generateSecureToken(-1));
            assertThrows(SessionException.InvalidToken.class, () -> m.refresh("nope"));

            Session s = m.create(new CreateSessionOptions("a", Duration.ofSeconds(1), Map.of("userAgent", "UA"), false));
            assertThrows(SessionException.UserAgentMismatch.class, () -> m.refresh(s.getToken(), "other"));
            clock.advance(Duration.ofSeconds(1));
            assertThrows(SessionException.SessionExpired.class, () -> m.refresh(s.getToken(), "UA"));
            Session t = m.create(new CreateSessionOptions("a", null, Map.of("userAgent", "UA"), false));
            m.destroy(t.getId());
            assertThrows(SessionException.SessionRevoked.class, () -> m.refresh(t.getToken(), "UA"));
            assertEquals("missing",
                assertThrows(SessionException.SessionNotFound.class, () -> m.destroy("missing")).getSessionId());
            SessionException.Import notJson = assertThrows(SessionException.Import.class, () -> m.importJson("not json"));
            assertFalse(notJson.getReason().isEmpty());
            assertNull(notJson.getEntry());
            SessionException.Import badEntry = assertThrows(SessionException.Import.class,
                () -> m.importJson("[{\"id\": \"x\", \"userId\": \"\"}]"));
            Long entry = badEntry.getEntry();
            assertEquals(0L, entry);
            assertNotNull(badEntry.getField());
            assertThrows(SessionException.UserAgentRequired.class, () -> m.create(forUser("a")));

            // A Java store fails with an unchecked exception: Store, with it as the cause.
            IllegalStateException down = new IllegalStateException("redis down");
            store.failure = () -> down;
            SessionException.Store failed = assertThrows(SessionException.Store.class, m::count);
            assertSame(down, failed.getCause());
            assertTrue(failed.getReason().contains("redis down"), failed.getReason());
            store.failure = null;

            // A Java clock that fails: Clock, with its exception as the cause.
            IOException ntp = new IOException("ntp unreachable");
            clock.failure = () -> ntp;
            SessionException.Clock clockFailed = assertThrows(SessionException.Clock.class, m::purgeExpired);
            assertSame(ntp, clockFailed.getCause());
            clock.failure = null;

            // Every variant is a SessionException, catchable as one.
            SessionException any = assertThrows(SessionException.class, () -> m.refresh("nope"));
            assertTrue(any instanceof SessionException.InvalidToken);
        }
        SessionConfig badPrefix = new SessionConfig();
        badPrefix.setPrefix("");
        assertThrows(SessionException.InvalidConfig.class, () -> new SessionManager(badPrefix));
        SessionConfig negative = new SessionConfig();
        negative.setMaxMetadataEntries(-1);
        assertThrows(SessionException.InvalidConfig.class, () -> new SessionManager(negative));
        // No call makes the OS random generator fail; the variant can still be made and read.
        assertEquals("no entropy", new SessionException.Random("no entropy").getReason());
    }

    @Test
    void noStringFormShowsTheRawTokenAndErrorsReadAsSentences() throws Exception {
        List<String> logged = new ArrayList<>();
        Logger logger = Logger.getAnonymousLogger();
        logger.setUseParentHandlers(false);
        logger.addHandler(new Handler() {
            private final SimpleFormatter formatter = new SimpleFormatter();

            @Override
            public void publish(LogRecord record) {
                logged.add(formatter.format(record));
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        });
        try (SessionManager m = new SessionManager(new SessionConfig(), clock)) {
            Session s = m.create(forUser("alice"));
            ValidationResult carrying = new ValidationResult(true, s, null);
            logger.log(Level.INFO, "issued {0} / {1}", new Object[] {s, carrying});
            logger.info("issued " + s);
            List<String> texts = new ArrayList<>(List.of(
                s.toString(), String.valueOf(s), "session " + s, String.format("%s", s),
                carrying.toString(), List.of(s).toString(), m.validate(s.getToken()).toString()));
            texts.addAll(logged);
            for (String text : texts) {
                assertFalse(text.contains(s.getToken()), text);
                assertFalse(text.contains(s.getTokenHash()), text);
            }
            assertTrue(s.toString().contains("<redacted>"), s.toString());
            assertTrue(logged.get(0).contains(s.getId()), logged.get(0));

            SessionException e = assertThrows(SessionException.class, () -> m.refresh("nope"));
            assertEquals(
                "the token is not valid (unknown, malformed, or rotated out); the client must sign in again",
                e.toString());
            SessionException.InvalidUserId userId =
                assertThrows(SessionException.InvalidUserId.class, () -> m.create(forUser("")));
            assertTrue(userId.toString().startsWith("the user id is invalid: "), userId.toString());
            assertTrue(userId.toString().contains(userId.getReason()), userId.toString());
        }
    }

    @Test
    void anErrorInAJavaStoreReachesTheCallerAndNothingIsStored() throws Exception {
        JavaStore store = new JavaStore();
        try (SessionManager m = SessionManager.withStore(new SessionConfig(), store, clock)) {
            AssertionError broken = new AssertionError("store invariant broken");
            store.error = broken;
            AssertionError caught = assertThrows(AssertionError.class, () -> m.create(forUser("alice")));
            assertSame(broken, caught);
            assertTrue(caught.getSuppressed()[0] instanceof SessionException.Store);
            store.error = null;
            assertEquals(0L, m.count());
        }
    }

    @Test
    void aLoneSurrogateTokenIsInvalidAndAUserIdWithOneIsRefused() throws Exception {
        try (SessionManager m = new SessionManager(new SessionConfig(), clock)) {
            assertEquals(ValidationError.INVALID_TOKEN, m.validate("\uD800").getError());
            assertThrows(SessionException.InvalidToken.class, () -> m.refresh("\uDC00"));
            assertThrows(SessionException.InvalidUserId.class, () -> m.create(forUser("bob\uD800")));
            assertEquals(0L, m.count());
        }
    }
}
