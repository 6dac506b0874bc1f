"""The package's PEP 517 build backend: maturin, with the crate compiled once.

maturin writes the Python module with the crate's own `uniffi-bindgen` binary (same
uniffi as the library, so the generated code matches the compiled scaffolding). It runs
that binary as `cargo run --bin uniffi-bindgen ...`, in cargo's dev profile: a second,
debug build of the crate and all its dependencies (about a gigabyte and minutes) next
to the release build that goes into the wheel.

This backend is maturin's, with one change: while a wheel is built, a `cargo` wrapper
comes first on PATH that adds `--release` to that one command, so the binary is built
in the release profile, beside the library maturin has just compiled, and shares all
of its dependencies. Every other cargo command passes through unchanged.

Without a POSIX shell (Windows) the wrapper is not installed and the build is what
maturin does on its own: correct, only slower.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import tempfile
from typing import Any, Iterator, Mapping

import maturin
from maturin import (  # noqa: F401  (PEP 517 hooks taken from maturin unchanged)
    build_sdist,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

_WRAPPER = """#!/bin/sh
# Written by sessions_build.py for one build: `cargo run --bin uniffi-bindgen ...` runs
# in the release profile; everything else goes to cargo unchanged.
if [ "$1" = run ] && [ "$2" = --bin ] && [ "$3" = uniffi-bindgen ]; then
  shift
  exec {cargo} run --release "$@"
fi
exec {cargo} "$@"
"""


@contextlib.contextmanager
def release_bindgen() -> Iterator[None]:
    """Puts the `cargo` wrapper first on PATH (this process and its children)."""
    cargo = shutil.which("cargo")
    if cargo is None or os.name != "posix":
        yield
        return
    saved = os.environ.get("PATH", "")
    with tempfile.TemporaryDirectory(prefix="sessions-build-") as shim:
        wrapper = os.path.join(shim, "cargo")
        with open(wrapper, "w", encoding="utf-8") as f:
            f.write(_WRAPPER.format(cargo=shlex.quote(cargo)))
        os.chmod(wrapper, 0o755)
        os.environ["PATH"] = shim + os.pathsep + saved
        try:
            yield
        finally:
            os.environ["PATH"] = saved


def build_wheel(
    wheel_directory: str,
    config_settings: Mapping[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    with release_bindgen():
        return maturin.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(
    wheel_directory: str,
    config_settings: Mapping[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    with release_bindgen():
        return maturin.build_editable(wheel_directory, config_settings, metadata_directory)

