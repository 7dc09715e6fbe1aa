import Foundation
import SRModels
import SRTensor
import SRTestSupport
import XCTest

/// The oneDNN inference plan against the reference path (the layers' own im2col + sgemm code), on
/// every layer shape the shipped models use: ×2, ×3 and ×4 generators, 3×3 and 9×9 outer kernels,
/// odd tile sizes, interior and edge tiles, and the shipped weights themselves.
final class GeneratorBackendTests: XCTestCase {
    /// oneDNN accumulates in another order than sgemm: differences stay at float rounding.
    let tolerance: Float = 2e-5

    func randomGenerator(_ config: GeneratorConfig, seed: UInt64) -> Generator {
        let generator = Generator(config: config)
        var random = SeededGenerator(seed: seed)
        generator.initialize(generator: &random)
        // Non-zero biases, so the fused bias is checked too.
        for (_, parameter) in generator.namedParameters where parameter.value.shape.count == 1 {
            for i in 0..<parameter.value.count { parameter.value.scalars[i] = Float(i % 7) * 0.01 - 0.03 }
        }
        return generator
    }

    func testOneDNNPlanMatchesTheReferenceOnEveryShape() throws {
        try XCTSkipUnless(DNNL.isAvailable, "oneDNN is not available")
        let configurations = [
            GeneratorConfig(features: 16, blocks: 2, scale: 4), GeneratorConfig(features: 16, blocks: 1, scale: 2),
            GeneratorConfig(features: 16, blocks: 1, scale: 3), GeneratorConfig(features: 32, blocks: 0, scale: 4),
            GeneratorConfig(features: 16, blocks: 1, scale: 4, firstKernel: 9, lastKernel: 9),
            GeneratorConfig(features: 16, blocks: 2, scale: 4, architecture: .compact),
            GeneratorConfig(features: 32, blocks: 1, scale: 3, architecture: .compact),
            GeneratorConfig(features: 16, blocks: 0, scale: 2, architecture: .compact),
        ]
        let sizes = [(13, 17), (1, 1), (37, 29), (24, 24)]
        for (index, config) in configurations.enumerated() {
            let generator = randomGenerator(config, seed: UInt64(index))
            for (height, width) in sizes {
                let input = Tensor.randomUniform(shape: [1, 3, height, width], generator: &seededRandom)
                let fast = try generator.oneDNNInference(input)
                let reference = generator.referenceInference(input)
                XCTAssertEqual(fast.shape, reference.shape)
                XCTAssertLessThanOrEqual(fast.maxAbsDifference(reference), tolerance, "\(config) at \(height)×\(width)")
                // The plan is kept and reused for the next tile of the same size.
                let again = try generator.oneDNNInference(input)
                XCTAssertEqual(again.maxAbsDifference(fast), 0)
            }
        }
    }

    func testPlansFollowWeightChanges() throws {
        try XCTSkipUnless(DNNL.isAvailable, "oneDNN is not available")
        let generator = randomGenerator(GeneratorConfig(features: 16, blocks: 1, scale: 2), seed: 5)
        let input = Tensor.randomUniform(shape: [1, 3, 9, 11], generator: &seededRandom)
        let before = try generator.oneDNNInference(input)
        let other = randomGenerator(GeneratorConfig(features: 16, blocks: 1, scale: 2), seed: 6)
        try generator.loadStateDictionary(other.stateDictionary())
        let after = try generator.oneDNNInference(input)
        XCTAssertGreaterThan(after.maxAbsDifference(before), 1e-3)
        XCTAssertLessThanOrEqual(after.maxAbsDifference(generator.referenceInference(input)), tolerance)
    }

    func testShippedModelsMatchOnTileSizedInputs() throws {
        try XCTSkipUnless(DNNL.isAvailable, "oneDNN is not available")
        var weights = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { weights.deleteLastPathComponent() }
        for name in ["x4-psnr", "x4-psnr-msrresnet", "x4-gan", "x2-psnr"] {
            let generator = try Generator.load(path: weights.appendingPathComponent("weights/\(name).safetensors").path)
            // An interior tile (core 32 + the exact overlap each side) and an edge tile.
            for (height, width) in [
                (32 + 2 * generator.config.exactOverlap, 32 + 2 * generator.config.exactOverlap), (40, 23),
            ] {
                let input = Tensor.randomUniform(shape: [1, 3, height, width], generator: &seededRandom)
                let difference = try generator.oneDNNInference(input).maxAbsDifference(
                    generator.referenceInference(input))
                XCTAssertLessThanOrEqual(difference, 1e-4, "\(name) at \(height)×\(width)")
            }
        }
    }

    /// Where Winograd runs at all, it takes every 3×3 convolution of 8k channels of the shipped models, also on
    /// AVX-512 hosts, where oneDNN would keep the maps in 16-channel blocks unless asked for nChw8c (x4-psnr:
    /// all but conv_first, 3 → 48; x2-psnr: also not conv_up, 32 → 12; x4-gan: all but conv_first and the 64 → 3 conv_last).
    func testShippedModelsRunWinogradWhereItIsEnabled() throws {
        try XCTSkipUnless(DNNL.isAvailable && WinogradConvolution.isEnabled, "Winograd does not run here")
        var weights = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { weights.deleteLastPathComponent() }
        for (name, expected) in [("x4-psnr", (18, 19)), ("x2-psnr", (17, 19)), ("x4-gan", (15, 17))] {
            let generator = try Generator.load(path: weights.appendingPathComponent("weights/\(name).safetensors").path)
            let count = try XCTUnwrap(generator.winogradCount(height: 64, width: 48), name)
            XCTAssertEqual([count.winograd, count.convolutions], [expected.0, expected.1], name)
        }
    }

    func testShapesWithoutFastKernelsFallBackToTheReference() {
        // 6 channels: where oneDNN has only its (slow) reference code for them (AVX2 hosts), the plan is
        // refused and inference takes the reference path; elsewhere the plan must match it.
        let narrow = randomGenerator(GeneratorConfig(features: 6, blocks: 1, scale: 2), seed: 4)
        let input = Tensor.randomUniform(shape: [1, 3, 5, 6], generator: &seededRandom)
        let reference = narrow.referenceInference(input)
        if let fast = try? narrow.oneDNNInference(input) {
            XCTAssertLessThanOrEqual(fast.maxAbsDifference(reference), tolerance)
        }
        XCTAssertLessThanOrEqual(narrow.inference(input).maxAbsDifference(reference), tolerance)
    }

    func testPReLUGeneratorsFallBackToTheReference() {
        let generator = randomGenerator(GeneratorConfig(features: 4, blocks: 1, scale: 2, activation: .prelu), seed: 3)
        let input = Tensor.randomUniform(shape: [1, 3, 5, 6], generator: &seededRandom)
        XCTAssertThrowsError(try generator.oneDNNInference(input))
        XCTAssertEqual(generator.inference(input).maxAbsDifference(generator.referenceInference(input)), 0)
    }

    var seededRandom = SeededGenerator(seed: 42)
}
