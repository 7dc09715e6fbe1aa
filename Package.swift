// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "upscale",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "upscale", targets: ["upscale"]),
        .library(name: "UpscaleKit", targets: ["UpscaleKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
    ],
    targets: [
        // C wrappers: system libraries found by pkg-config, and the one C target that may longjmp.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        // oneDNN (Debian's libdnnl-dev ships no pkg-config file; `make deps` checks for its header).
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .target(name: "CImageCodec", dependencies: ["CPNG", "CJPEG"], linkerSettings: [.linkedLibrary("z")]),
        .target(name: "CKernels"),
        // Byte-exact paths, regular-file checks, atomic outputs and their temporaries.
        .target(name: "SRFiles"),
        // Tensor core: the only code that calls BLAS.
        .target(name: "SRTensor", dependencies: ["CBLAS", "CDNNL", "CKernels", "SRFiles"]),
        // Layers with forward and backward side by side, losses, optimisers.
        .target(name: "SRNN", dependencies: ["SRTensor"]),
        // Generator, discriminator, VGG feature extractor.
        .target(name: "SRModels", dependencies: ["CDNNL", "SRFiles", "SRNN", "SRTensor", "ZIPFoundation"]),
        // Image I/O, resampling and metrics.
        .target(name: "SRImage", dependencies: ["CImageCodec", "SRFiles"]),
        // Degradations for training and evaluation: blur kernels, noise, resizes, JPEG (Real-ESRGAN's pipeline).
        .target(name: "SRDegradation", dependencies: ["SRImage", "SRTensor"]),
        // Streaming tiled inference.
        .target(name: "SRTiling", dependencies: ["SRTensor", "SRImage"]),
        // Training.
        .target(
            name: "SRTraining",
            dependencies: ["SRDegradation", "SRFiles", "SRModels", "SRNN", "SRTensor", "SRImage", "SRTiling"]),
        // Command implementations (thin), and the executable.
        .target(
            name: "UpscaleKit",
            dependencies: [
                "SRDegradation", "SRFiles", "SRTiling", "SRTraining", "SRModels", "SRImage", "SRTensor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(name: "upscale", dependencies: ["UpscaleKit"]),
        // Speed and memory, as ratios measured in one run (`make bench`).
        .executableTarget(
            name: "upscale-bench", dependencies: ["SRTensor", "SRNN", "SRModels", "SRImage", "SRTiling", "SRTraining"],
            path: "Benchmarks/upscale-bench"),
        .executableTarget(
            name: "conv-backends", dependencies: ["CBLAS", "CDNNL", "SRTensor"], path: "Benchmarks/conv-backends"),
        // Tests.
        .target(name: "SRTestSupport", dependencies: ["SRTensor", "SRNN"], path: "Tests/SRTestSupport"),
        .target(name: "CPNGCheck", path: "Tests/CPNGCheck", linkerSettings: [.linkedLibrary("z")]),
        .testTarget(
            name: "SRTensorTests", dependencies: ["SRTensor", "SRTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SRNNTests", dependencies: ["SRNN", "SRTensor", "SRTestSupport"]),
        .testTarget(
            name: "SRModelsTests", dependencies: ["SRModels", "SRNN", "SRTensor", "SRTestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "SRImageTests", dependencies: ["CImageCodec", "CPNGCheck", "SRImage", "SRTensor"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "SRDegradationTests", dependencies: ["SRDegradation", "SRImage", "SRTensor"]),
        .testTarget(name: "SRTilingTests", dependencies: ["SRTiling", "SRModels", "SRImage", "SRTensor"]),
        .testTarget(
            name: "SRTrainingTests", dependencies: ["SRDegradation", "SRTraining", "SRModels", "SRImage", "SRTensor"]),
        .testTarget(
            name: "UpscaleCLITests",
            dependencies: ["upscale", "UpscaleKit", "SRImage", "SRModels", "SRTensor", "SRTraining"],
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v5]
)
