//! What the benchmarks share: where their figures go.

use std::fs;
use std::path::PathBuf;

/// `$CARGO_TARGET_DIR/criterion` (or `target/criterion`), beside criterion's own results.
fn figures_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
            PathBuf::from,
        )
        .join("criterion")
}

/// Prints `lines` (one JSON object each) and writes them to `file` in the figures
/// directory, where `scripts/benchmarks.py` reads them.
pub fn write_figures(file: &str, lines: &[String]) {
    for line in lines {
        println!("{line}");
    }
    let dir = figures_dir();
    let written =
        fs::create_dir_all(&dir).and_then(|()| fs::write(dir.join(file), lines.join("\n") + "\n"));
    if let Err(e) = written {
        eprintln!("cannot write {}: {e}", dir.join(file).display());
    }
}
