// swift-tools-version:5.9
//
// Swift package for the `sessions` Rust library (UniFFI bindings).
//
// The Swift sources and the C header are generated from the compiled library and are
// not checked in: run `bindings/swift/generate.sh` (or `bindings/swift/test.sh`) first.
// The package links `libsessions` from SESSIONS_LIB_DIR, by default the repository's
// `target/release` (built with `cargo build --release --lib`).
import PackageDescription

let rustLibDir = Context.environment["SESSIONS_LIB_DIR"]
    ?? (Context.packageDirectory + "/../../target/release")

let package = Package(
    name: "Sessions",
    products: [
        .library(name: "Sessions", targets: ["Sessions"]),
    ],
    targets: [
        // Generated: sessionsFFI.h and module.modulemap (uniffi's sessionsFFI.modulemap).
        .systemLibrary(name: "SessionsFFI", path: "Sources/SessionsFFI"),
        // Generated: Sessions.swift.
        .target(
            name: "Sessions",
            dependencies: ["SessionsFFI"],
            path: "Sources/Sessions",
            linkerSettings: [
                .linkedLibrary("sessions"),
                .unsafeFlags(["-L", rustLibDir, "-Xlinker", "-rpath", "-Xlinker", rustLibDir]),
            ]
        ),
        .testTarget(name: "SessionsTests", dependencies: ["Sessions"]),
    ]
)
