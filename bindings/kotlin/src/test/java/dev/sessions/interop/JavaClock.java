package dev.sessions.interop;

import dev.sessions.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/** A {@link Clock} written in Java that only moves when told to. */
final class JavaClock implements Clock {
    private final AtomicReference<Instant> current;
    /** When set, {@code now()} throws what it supplies. */
    volatile Supplier<? extends Throwable> failure;

    JavaClock(Instant start) {
        current = new AtomicReference<>(start);
    }

    @Override
    public Instant now() {
        Supplier<? extends Throwable> f = failure;
        if (f != null) {
            throw JavaClock.<RuntimeException>sneaky(f.get());
        }
        return current.get();
    }

    void advance(Duration by) {
        current.updateAndGet(t -> t.plus(by));
    }

    /** Throws any throwable, checked or not, as Kotlin code may. */
    @SuppressWarnings("unchecked")
    private static <T extends Throwable> T sneaky(Throwable t) throws T {
        throw (T) t;
    }
}
