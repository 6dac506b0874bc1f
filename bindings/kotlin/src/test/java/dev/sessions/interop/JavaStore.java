package dev.sessions.interop;

import dev.sessions.Session;
import dev.sessions.SessionScan;
import dev.sessions.SessionStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A {@link SessionStore} written in Java: two maps under one lock, so every method is
 * atomic, as the trait requires. The interface's methods declare no checked exceptions,
 * so a Java store reports failure with an unchecked exception (or an Error): the library
 * turns either into {@code SessionException.Store}.
 */
final class JavaStore implements SessionStore {
    private final Object lock = new Object();
    private final Map<String, Session> byId = new HashMap<>();
    private final Map<String, String> idByHash = new HashMap<>();

    /** When set, every call throws what it supplies, before doing anything. */
    volatile Supplier<? extends RuntimeException> failure;
    /** When set, every call throws this Error, before doing anything. */
    volatile Error error;
    /** Raw tokens the library handed to this store (must stay 0). */
    volatile int rawTokensSeen;

    private void enter(Session session) {
        Error e = error;
        if (e != null) {
            throw e;
        }
        Supplier<? extends RuntimeException> f = failure;
        if (f != null) {
            throw f.get();
        }
        if (session != null && !session.getToken().isEmpty()) {
            rawTokensSeen++;
        }
    }

    @Override
    public void insert(Session session) {
        insertAll(List.of(session));
    }

    @Override
    public void insertAll(List<Session> sessions) {
        for (Session s : sessions) {
            enter(s);
        }
        synchronized (lock) {
            Set<String> ids = new HashSet<>();
            Set<String> hashes = new HashSet<>();
            for (Session s : sessions) {
                if (byId.containsKey(s.getId()) || !ids.add(s.getId())
                        || idByHash.containsKey(s.getTokenHash()) || !hashes.add(s.getTokenHash())) {
                    throw new IllegalStateException("duplicate session " + s.getId());
                }
            }
            for (Session s : sessions) {
                byId.put(s.getId(), s);
                idByHash.put(s.getTokenHash(), s.getId());
            }
        }
    }

    @Override
    public Session get(String sessionId) {
        enter(null);
        synchronized (lock) {
            return byId.get(sessionId);
        }
    }

    @Override
    public Session findByTokenHash(String tokenHash) {
        enter(null);
        synchronized (lock) {
            String id = idByHash.get(tokenHash);
            return id == null ? null : byId.get(id);
        }
    }

    @Override
    public boolean compareAndSwap(String expectedTokenHash, long expectedVersion, Session session) {
        enter(session);
        synchronized (lock) {
            String id = idByHash.get(expectedTokenHash);
            if (id == null || !id.equals(session.getId())) {
                return false;
            }
            Session current = byId.get(id);
            if (current.getVersion() != expectedVersion || current.getRevokedAt() != null) {
                return false;
            }
            if (!session.getTokenHash().equals(expectedTokenHash) && idByHash.containsKey(session.getTokenHash())) {
                throw new IllegalStateException("duplicate token hash");
            }
            idByHash.remove(expectedTokenHash);
            byId.put(id, session);
            idByHash.put(session.getTokenHash(), id);
            return true;
        }
    }

    @Override
    public List<Session> listForUser(String userId) {
        enter(null);
        synchronized (lock) {
            List<Session> out = new ArrayList<>();
            for (Session s : byId.values()) {
                if (s.getUserId().equals(userId)) {
                    out.add(s);
                }
            }
            out.sort(Comparator.comparing(Session::getCreatedAt));
            return out;
        }
    }

    @Override
    public long revokeAllForUser(String userId, Instant at) {
        enter(null);
        synchronized (lock) {
            long revoked = 0;
            for (Session s : byId.values()) {
                if (s.getUserId().equals(userId) && s.getRevokedAt() == null) {
                    s.setRevokedAt(at);
                    s.setVersion(s.getVersion() + 1);
                    revoked++;
                }
            }
            return revoked;
        }
    }

    @Override
    public long purgeExpired(Instant now) {
        enter(null);
        synchronized (lock) {
            List<Session> gone = new ArrayList<>();
            for (Session s : byId.values()) {
                if (!s.getExpiresAt().isAfter(now)) {
                    gone.add(s);
                }
            }
            for (Session s : gone) {
                byId.remove(s.getId());
                idByHash.remove(s.getTokenHash());
            }
            return gone.size();
        }
    }

    @Override
    public long count() {
        enter(null);
        synchronized (lock) {
            return byId.size();
        }
    }

    @Override
    public SessionScan allSessions() {
        enter(null);
        synchronized (lock) {
            List<Session> out = new ArrayList<>(byId.values());
            out.sort(Comparator.comparing(Session::getCreatedAt));
            return new SessionScan(out, List.of());
        }
    }
}
