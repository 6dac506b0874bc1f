// swift-tools-version:5.9
//
// The Swift side of the per-request benchmark (issue 14), run by scripts/benchmarks.py
// (`python3 scripts/benchmarks.py --swift` runs it alone): an executable depending on the
// Sessions package in bindings/swift by path, built with `-c release`. Not part of the
// Sessions package (its consumers never see it). See Sources/ValidateBench/main.swift.
import PackageDescription

let package = Package(
    name: "SessionsBench",
    dependencies: [
        // A path dependency's identity is its directory's name: "swift".
        .package(path: "../../../bindings/swift"),
    ],
    targets: [
        .executableTarget(
            name: "ValidateBench",
            dependencies: [.product(name: "Sessions", package: "swift")],
            path: "Sources/ValidateBench"
        ),
    ]
)
