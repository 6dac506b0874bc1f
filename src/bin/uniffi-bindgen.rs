//! The crate's own `uniffi-bindgen`, pinned to the same uniffi version as the library,
//! so generated Python, Kotlin and Swift code always matches the scaffolding.

fn main() {
    uniffi::uniffi_bindgen_main()
}
