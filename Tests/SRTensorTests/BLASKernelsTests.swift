import SRTensor
import XCTest

/// The choice of OpenBLAS kernels from cpuid features, as `BLASKernels.selectBestCore()` makes it.
final class BLASKernelsTests: XCTestCase {
    let xeon207: CPUFeatures = [
        .intel, .sse3, .avx, .fma, .avx2, .avx512f, .avx512dq, .avx512bw, .avx512vl, .avx512bf16, .amx,
    ]
    let zen3: CPUFeatures = [.amd, .sse3, .avx, .fma, .avx2]

    func testAnAVX512XeonDetectedAsPrescottGetsSkylakeXKernels() {
        // Debian 12's OpenBLAS 0.3.21 on an Intel family 6 model 207 host.
        XCTAssertEqual(BLASKernels.replacement(for: "Prescott", features: xeon207), "SkylakeX")
        XCTAssertEqual(BLASKernels.replacement(for: "Haswell", features: xeon207), "SkylakeX")
        XCTAssertNil(BLASKernels.replacement(for: "SkylakeX", features: xeon207))
        XCTAssertNil(BLASKernels.replacement(for: "Cooperlake", features: xeon207))
    }

    func testAVX2ProcessorsKeepACorrectChoiceAndMendAWrongOne() {
        XCTAssertNil(BLASKernels.replacement(for: "Zen", features: zen3))
        XCTAssertNil(BLASKernels.replacement(for: "Haswell", features: zen3))
        XCTAssertEqual(BLASKernels.replacement(for: "Prescott", features: zen3), "Zen")
        XCTAssertEqual(
            BLASKernels.replacement(for: "Nehalem", features: [.intel, .sse3, .avx, .fma, .avx2]), "Haswell")
        XCTAssertEqual(BLASKernels.replacement(for: "Core2", features: [.intel, .sse3, .avx]), "Sandybridge")
    }

    func testNeverDowngradesOrGuessesWithoutVectorSupport() {
        // AVX-512 without the OS saving ZMM state (or without BW/VL) must not get SkylakeX kernels.
        XCTAssertEqual(
            BLASKernels.replacement(for: "Prescott", features: [.intel, .sse3, .avx, .fma, .avx2, .avx512f]), "Haswell")
        XCTAssertNil(BLASKernels.replacement(for: "SkylakeX", features: zen3))
        XCTAssertNil(BLASKernels.replacement(for: "Prescott", features: [.sse3]))
        XCTAssertNil(BLASKernels.replacement(for: "Prescott", features: []))
    }
}
