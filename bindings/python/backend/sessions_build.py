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

The package's compiled accelerator `sessions._fastpath` (`native/`: a small PyO3
crate, abi3 for CPython >= 3.11, which neither contains nor links the core) is built
next, with maturin and the same cross-build options (`MATURIN_PEP517_ARGS`: target,
zig, manylinux compatibility), and its one file is added to the wheel (and to the
wheel's RECORD). The core crate is not built again. `SESSIONS_NO_EXTENSION=1` builds
the wheel without it (the package then validates through its ctypes fast path), as
does an editable install.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
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
        name = maturin.build_wheel(wheel_directory, config_settings, metadata_directory)
    if os.environ.get("SESSIONS_NO_EXTENSION") != "1":
        add_extension(os.path.join(wheel_directory, name))
    return name


# Where the accelerator's crate is: beside backend/ (the repository's bindings/python/,
# and the sdist's root, which carries it as pyproject.toml's `include` says).
NATIVE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "native")
EXTENSION = "sessions/_fastpath.abi3.so"


def build_extension(out: str) -> str:
    """Builds `sessions._fastpath` (release, the wheel's own target and compatibility)
    into `out`; returns the path of its shared library."""
    args = shlex.split(os.environ.get("MATURIN_PEP517_ARGS", ""))
    # The core's build keeps its symbol table (strip=false: uniffi-bindgen reads the
    # metadata there); the extension has none to keep and is stripped (native/Cargo.toml).
    for i in range(len(args) - 1, 0, -1):
        if args[i - 1] == "--config" and args[i].startswith("profile.release.strip"):
            del args[i - 1 : i + 1]
    command = [sys.executable, "-m", "maturin", "build", "--release", "--quiet",
               "--manifest-path", os.path.join(NATIVE, "Cargo.toml"), "--out", out, *args]
    if "--target" not in args:  # a native build: abi3 for this interpreter's platform
        command += ["--interpreter", sys.executable]
    subprocess.run(command, check=True, cwd=NATIVE)
    wheels = [f for f in os.listdir(out) if f.endswith(".whl")]
    if len(wheels) != 1:
        raise RuntimeError(f"building sessions._fastpath gave {wheels}")
    with zipfile.ZipFile(os.path.join(out, wheels[0])) as built:
        libs = [n for n in built.namelist() if n.endswith(".abi3.so")]
        if len(libs) != 1:
            raise RuntimeError(f"sessions._fastpath's wheel holds {libs}, not one .abi3.so")
        path = os.path.join(out, "_fastpath.abi3.so")
        with open(path, "wb") as f:
            f.write(built.read(libs[0]))
    return path


def add_extension(wheel: str) -> None:
    """Builds the accelerator and adds it to `wheel` as sessions/_fastpath.abi3.so."""
    with tempfile.TemporaryDirectory(prefix="sessions-fastpath-") as work:
        with open(build_extension(work), "rb") as f:
            data = f.read()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rewritten = os.path.join(work, "wheel.whl")
        with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(rewritten, "w", zipfile.ZIP_DEFLATED) as dst:
            names = src.namelist()
            if EXTENSION in names:
                raise RuntimeError(f"{wheel} already holds {EXTENSION}")
            record = next(n for n in names if n.endswith(".dist-info/RECORD"))
            for info in src.infolist():
                if info.filename == record:
                    continue
                dst.writestr(info, src.read(info))
            lib = zipfile.ZipInfo(EXTENSION, date_time=(1980, 1, 1, 0, 0, 0))
            lib.external_attr = 0o755 << 16
            lib.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(lib, data)
            lines = src.read(record).decode().splitlines()
            own = [line for line in lines if line.startswith(record + ",")]
            rows = [line for line in lines if line and not line.startswith(record + ",")]
            rows.append(f"{EXTENSION},sha256={digest},{len(data)}")
            info = src.getinfo(record)
            dst.writestr(info, "\n".join(rows + own) + "\n")
        shutil.move(rewritten, wheel)


def build_editable(
    wheel_directory: str,
    config_settings: Mapping[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    with release_bindgen():
        return maturin.build_editable(wheel_directory, config_settings, metadata_directory)

