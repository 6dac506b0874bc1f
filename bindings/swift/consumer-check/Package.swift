// swift-tools-version:5.9
//
// A package that uses Sessions as any other package would: a versioned URL dependency,
// no build settings of its own, no flags. bindings/swift/test.sh copies this directory
// out of the repository (mktemp -d), points the URL below at a tagged git repository
// made with bindings/swift/dist.sh, builds it and runs it. A real consumer names the
// repository the maintainers publish instead.
import PackageDescription

let package = Package(
    name: "ConsumerCheck",
    dependencies: [
        .package(url: "https://example.invalid/sessions-swift.git", from: "0.1.0"),
    ],
    targets: [
        .executableTarget(
            name: "ConsumerCheck",
            dependencies: [.product(name: "Sessions", package: "sessions-swift")]
        ),
    ]
)
