/*
 * One function compiled WITHOUT unwind information (build.rs passes
 * -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-exceptions, and
 * -fno-optimize-sibling-calls so that the call below keeps this function's frame).
 *
 * Why: during interpreter shutdown, CPython 3.11-3.13 ends a thread that takes the GIL
 * back with pthread_exit(), whose forced unwind walks the thread's stack from the
 * GIL-taking call outwards. Any frame of this extension on that walk gets its
 * personality routine called by the C library's unwinder (libgcc_s); in the
 * manylinux wheels the extension is linked by zig, which links its own unwinder in
 * statically, and that personality routine then reads libgcc_s's unwind context with
 * the other unwinder's functions: the process ended in SIGSEGV instead of exiting
 * whenever a daemon thread was inside `validate` at exit.
 *
 * The extension takes the GIL back only through this function. An unwinder that
 * finds no unwind information for a frame treats it as the end of the stack, and
 * glibc's pthread_exit then ends the thread with a longjmp to the thread's start: the
 * extension's frames above this one are neither unwound nor entered again (what they
 * own is never freed; the thread is ending and nothing else refers to its stack).
 * This is what happens to a daemon thread inside a ctypes call, and to any thread in
 * C code built without unwind tables.
 *
 * Safety (for the caller, src/unsafe_code.rs): `call` may be called with `argument`;
 * it returns, or ends the thread (pthread_exit) without returning, and never unwinds
 * otherwise. The extension takes the GIL back with `sessions_fastpath_restore_thread`,
 * which passes CPython's PyEval_RestoreThread itself: C to C, since a Rust function in
 * between (PyO3's PyEval_RestoreThread is one) puts a frame with a personality routine
 * back on the walk.
 */

void sessions_fastpath_call_without_unwind_info(void (*call)(void *), void *argument) {
    call(argument);
    /* Keeps the call above out of tail position whatever the optimizer decides. */
    __asm__ __volatile__("" ::: "memory");
}

/* CPython's, from the interpreter that loads the extension (PyThreadState * there). */
extern void PyEval_RestoreThread(void *state);

/* PyEval_RestoreThread(state) from a frame without unwind information. */
void sessions_fastpath_restore_thread(void *state) {
    sessions_fastpath_call_without_unwind_info(PyEval_RestoreThread, state);
    __asm__ __volatile__("" ::: "memory");
}
