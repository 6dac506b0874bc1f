package dev.sessions.interop;

import dev.sessions.HostErrors;
import dev.sessions.Session;
import dev.sessions.SessionException;
import dev.sessions.SessionScan;
import dev.sessions.SessionStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A {@link SessionStore} written in Java: three maps under one lock, so every method is
 * atomic, as the trait requires. The interface's methods declare no checked exceptions,
 * so a Java store reports failure with an unchecked exception (or an Error), which the
 * library turns into {@code SessionException.Store}, or throws one of the library's own
 * (checked) exceptions through {@link HostErrors#raise}.
 */
final class JavaStore implements SessionStore {
    private final Object lock = new Object();
    private final Map<String, Session> byId = new LinkedHashMap<>(); // in the order stored
    private final Map<String, String> idByHash = new HashMap<>();
    private final Map<String, String> idByPrevious = new HashMap<>();

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
                put(s);
            }
        }
    }

    /** Stores {@code s} (a copy without its token) and indexes it; the lock is held. */
    private void put(Session s) {
        Session stored = new Session(s.getId(), s.getUserId(), "", s.getTokenHash(), s.getCreatedAt(),
            s.getExpiresAt(), s.getMetadata(), s.getRevokedAt(), s.getSlidingExpiration(),
            s.getBoundUserAgent(), s.getLifetime(), s.getAbsoluteExpiresAt(), s.getVersion(),
            s.getPreviousTokenHash(), s.getRotatedAt(), s.getRotationKey());
        byId.put(s.getId(), stored);
        idByHash.put(s.getTokenHash(), s.getId());
        if (s.getPreviousTokenHash() != null) {
            idByPrevious.put(s.getPreviousTokenHash(), s.getId());
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
            if (id == null) {
                id = idByPrevious.get(tokenHash);
            }
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
            if (current.getPreviousTokenHash() != null) {
                idByPrevious.remove(current.getPreviousTokenHash());
            }
            put(session);
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
    public List<String> revokeAllForUser(String userId, Instant at) {
        enter(null);
        synchronized (lock) {
            List<String> revoked = new ArrayList<>();
            for (Session s : byId.values()) {
                if (s.getUserId().equals(userId) && s.getRevokedAt() == null) {
                    revoke(s, at);
                    revoked.add(s.getId());
                }
            }
            return revoked;
        }
    }

    /** Revokes a stored session at {@code at} (version + 1); the lock is held. */
    private static void revoke(Session stored, Instant at) {
        stored.setRevokedAt(at);
        stored.setVersion(stored.getVersion() + 1);
    }

    @Override
    public List<String> insertLimited(Session session, int maxActive, Instant now, boolean revokeOldest) {
        enter(session);
        synchronized (lock) {
            List<Session> active = new ArrayList<>();
            for (Session s : byId.values()) {
                if (s.getUserId().equals(session.getUserId()) && s.getRevokedAt() == null
                        && s.getExpiresAt().isAfter(now)) {
                    active.add(s);
                }
            }
            active.sort(Comparator.comparing(Session::getCreatedAt).thenComparing(Session::getId));
            int excess = Math.max(0, active.size() + 1 - maxActive);
            if (excess > 0 && !revokeOldest) {
                throw HostErrors.raise(new SessionException.SessionLimitReached(maxActive));
            }
            if (byId.containsKey(session.getId()) || idByHash.containsKey(session.getTokenHash())) {
                throw new IllegalStateException("duplicate session " + session.getId());
            }
            put(session);
            List<String> revoked = new ArrayList<>();
            for (Session s : active.subList(0, excess)) {
                revoke(s, now);
                revoked.add(s.getId());
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
                if (s.getPreviousTokenHash() != null) {
                    idByPrevious.remove(s.getPreviousTokenHash());
                }
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
