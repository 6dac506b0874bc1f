# The project's two commands: `make demo` (the main job) and `make test` (every test).
# Both work on a fresh machine with Rust (rustup), Python 3.11 + pip, Java 17 + Maven:
# each step installs what it needs (Rust components, PyPI packages, Maven
# dependencies, the Swift toolchain). One cargo target directory and one (release)
# profile serve the Rust tests and every binding, so the library is built once.

export CARGO_TARGET_DIR ?= $(CURDIR)/target

.PHONY: demo test setup lint test-rust test-python test-kotlin test-swift bench

## The main job: install the Python package and walk one user through a session's life.
demo:
	bash bindings/python/demo.sh

## Every test: lint, Rust (unit, integration, conformance, stress), Python, Kotlin, Swift.
test: lint test-rust test-python test-kotlin test-swift
	@echo "make test: all suites passed"

setup:
	rustup component add rustfmt clippy

lint: setup
	cargo fmt --check
	cargo clippy --release --all-targets -- -D warnings
	cargo fmt --check --manifest-path bindings/python/native/Cargo.toml
	cargo clippy --release --all-targets --manifest-path bindings/python/native/Cargo.toml -- -D warnings

## Rust tests, with a standalone Redis and a 3-master Redis Cluster of their own
## (scripts/redis-servers.sh installs Debian's redis-server when missing, starts them
## on free loopback ports and stops them by pid when the tests end).
test-rust:
	bash scripts/redis-servers.sh cargo test --release
	cargo test --release --manifest-path bindings/python/native/Cargo.toml

test-python:
	bash scripts/redis-servers.sh bash bindings/python/test.sh

test-kotlin:
	bash bindings/kotlin/test.sh

test-swift:
	bash bindings/swift/test.sh

## Benchmarks (not part of `make test`): regenerates BENCHMARKS.md.
bench:
	python3 scripts/benchmarks.py
