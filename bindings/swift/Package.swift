// swift-tools-version:5.9
//
// Swift package for the `sessions` Rust library (UniFFI bindings).
//
// The Swift sources and the C header are generated from the compiled library and are
// not checked in: run `bindings/swift/generate.sh` (or `test.sh`, or `install.sh`) first.
//
// The package links `libsessions` the way SwiftPM allows for any dependency, local or
// remote (no `unsafeFlags`): the module map of `SessionsFFI` says `link "sessions"`, and
// SwiftPM finds the library's directory through pkg-config (`sessions.pc`, written by
// generate.sh next to the library and installed by install.sh). At run time the dynamic
// loader finds `libsessions.so` like any other shared library (an installed prefix such
// as /usr/local/lib after ldconfig, or LD_LIBRARY_PATH); nothing in a binary points into
// a build directory.
import PackageDescription

let package = Package(
    name: "Sessions",
    products: [
        .library(name: "Sessions", targets: ["Sessions"]),
    ],
    targets: [
        // sessionsFFI.h is generated; module.modulemap is handwritten (it links libsessions).
        .systemLibrary(
            name: "SessionsFFI",
            path: "Sources/SessionsFFI",
            pkgConfig: "sessions"
        ),
        // Sessions.swift is generated; the other files here are handwritten.
        .target(
            name: "Sessions",
            dependencies: ["SessionsFFI"],
            path: "Sources/Sessions"
        ),
        .testTarget(name: "SessionsTests", dependencies: ["Sessions"]),
    ]
)
