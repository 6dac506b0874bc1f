//! Compiles `c/no_unwind_info.c` without unwind information (see that file for why).

fn main() {
    println!("cargo:rerun-if-changed=c/no_unwind_info.c");
    cc::Build::new()
        .file("c/no_unwind_info.c")
        .flag("-fno-asynchronous-unwind-tables")
        .flag("-fno-unwind-tables")
        .flag("-fno-exceptions")
        .flag("-fno-optimize-sibling-calls")
        .compile("sessions_no_unwind_info");
}
