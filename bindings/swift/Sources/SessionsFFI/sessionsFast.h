// Handwritten (not generated): the C entry point of the per-request fast path, defined
// in the Rust library (src/unsafe_code/fast_path_abi.rs; result layout and handles in
// src/fast_path.rs). Used by Sources/Sessions/FastPath.swift.
#pragma once
#include <stddef.h>
#include <stdint.h>

// Validates `token` (UTF-8, `token_len` bytes) with the manager behind `handle`
// (SessionManager.fastPathHandle()). `user_agent` NULL means none. Writes the result
// into `out` when it fits in `out_cap` bytes. Returns the result's length (larger
// than `out_cap`: nothing was written, and the result is kept for this thread until
// sessions_fast_take_pending fetches it), or -1 unknown handle, -2 bad argument,
// -3 validate failed (takeFastPathError() throws the error), -4 panic, -5 too large.
int32_t sessions_fast_validate(uint64_t handle,
                               const uint8_t *token, size_t token_len,
                               const uint8_t *user_agent, size_t user_agent_len,
                               uint8_t *out, size_t out_cap);

// Writes the result sessions_fast_validate kept for this thread (it did not fit its
// `out_cap`) into `out` and forgets it, without validating again. Returns its length
// (larger than `out_cap`: nothing written, still kept), -6 when nothing is kept, -2 for
// a NULL `out` with a non-zero `out_cap`, -4 panic.
int32_t sessions_fast_take_pending(uint8_t *out, size_t out_cap);
