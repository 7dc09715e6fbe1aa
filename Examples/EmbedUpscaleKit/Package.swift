// swift-tools-version:6.0
// A package that uses upscale as a library: `make example` builds and runs it, proving that the
// UpscaleKit product can be depended on (no unsafe build flags) and called from code.
import PackageDescription

let package = Package(
    name: "embed-upscale",
    dependencies: [.package(name: "upscale", path: "../..")],
    targets: [
        .executableTarget(name: "embed-upscale", dependencies: [.product(name: "UpscaleKit", package: "upscale")])
    ]
)
