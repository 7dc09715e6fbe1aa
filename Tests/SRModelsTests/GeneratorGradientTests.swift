import Foundation
import SRModels
import SRNN
import SRTensor
import SRTestSupport
import XCTest

final class GeneratorGradientTests: XCTestCase {
    /// With every PReLU slope at 1 the generator is linear (no kinks anywhere), so finite differences are
    /// exact up to rounding and the whole chain — residual adds, pixel shuffles, the bilinear base —
    /// is checked tightly, for every scale.
    func testKinkFreeGeneratorGradientsAreExact() {
        for scale in [4, 3, 2] {
            let generator = Generator(config: GeneratorConfig(features: 4, blocks: 2, scale: scale, activation: .prelu))
            var random = SeededGenerator(seed: 3)
            generator.initialize(generator: &random)
            for (name, p) in generator.namedParameters {
                if name.hasSuffix("act.weight") || name.hasPrefix("act_") {
                    p.value = Tensor(repeating: 1, shape: p.value.shape)
                } else {
                    p.value.scale(by: 5)
                }
            }
            checkGradients(
                generator, input: randomTensor([2, 3, 5, 4], seed: 9, low: 0, high: 1), epsilon: 1e-2, tolerance: 1e-2)
        }
    }

    /// The BasicSR form with ReLU/LeakyReLU: a looser bound, since bias perturbations cross activation
    /// kinks somewhere in the image (a wrong backward gives errors of order one).
    func testLeakyGeneratorGradients() {
        // Seed 4: a draw whose biases keep clear of the kinks (ICNR's equal sub-pixel filters put some
        // other draws' samples on them; the kink-free tests above check the wiring exactly).
        let generator = Generator(config: GeneratorConfig(features: 4, blocks: 1, scale: 4))
        var random = SeededGenerator(seed: 4)
        generator.initialize(generator: &random)
        for (_, p) in generator.namedParameters { p.value.scale(by: 5) }
        checkGradients(
            generator, input: randomTensor([2, 3, 5, 4], seed: 9, low: 0, high: 1), epsilon: 1e-3, tolerance: 6e-2)
    }

    /// A generator training with branches (random, so they matter): gradients reach every branch tensor, and
    /// `folded()` is the plain network with the same output, which saves and loads as an ordinary file.
    func testBranchedGeneratorTrainsAndFoldsIntoAPlainOne() throws {
        var config = GeneratorConfig(features: 4, blocks: 2, scale: 2, activation: .prelu, architecture: .compact)
        config.branchExpansion = 2
        let generator = Generator(config: config)
        var random = SeededGenerator(seed: 6)
        generator.initialize(generator: &random)
        for (offset, (name, p)) in generator.namedParameters.enumerated() {
            p.value =
                name.hasSuffix("act.weight") || name.hasPrefix("act_")
                ? Tensor(repeating: 1, shape: p.value.shape)
                : randomTensor(p.value.shape, seed: UInt64(50 + offset), low: -0.4, high: 0.4)
        }
        XCTAssertTrue(generator.namedParameters.contains { $0.name == "body.1.conv2.branches.squeeze.weight" })
        let input = randomTensor([2, 3, 5, 4], seed: 9, low: 0, high: 1)
        checkGradients(generator, input: input, epsilon: 1e-2, tolerance: 1e-2)

        // The shipped layout (LeakyReLU), folded and saved.
        config.activation = .lrelu
        let leaky = Generator(config: config)
        for (offset, (_, p)) in leaky.namedParameters.enumerated() {
            p.value = randomTensor(p.value.shape, seed: UInt64(90 + offset), low: -0.4, high: 0.4)
        }
        let folded = leaky.folded()
        XCTAssertEqual(folded.config.branchExpansion, 0)
        XCTAssertEqual(folded.parameterCount, config.parameterCount, "the plain network's size")
        XCTAssertFalse(folded.namedParameters.contains { $0.name.contains("branches") })
        assertClose(folded.inference(input), leaky.forward(input).output, rtol: 1e-4, atol: 1e-5, "folded")
        let path = NSTemporaryDirectory() + "folded-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try folded.save(path: path)
        XCTAssertEqual(try Generator.load(path: path).stateDictionary(), folded.stateDictionary())
    }

    /// CompactResNet (the body's skip into conv_up, one pixel shuffle) at every scale.
    func testCompactGeneratorGradients() {
        for scale in [4, 3, 2] {
            // PReLU slopes of 1 make it linear, so the check is exact (the layout itself only uses LeakyReLU).
            let generator = Generator(
                config: GeneratorConfig(
                    features: 4, blocks: 2, scale: scale, activation: .prelu, architecture: .compact))
            var random = SeededGenerator(seed: 5)
            generator.initialize(generator: &random)
            for (name, p) in generator.namedParameters {
                if name.hasSuffix("act.weight") || name.hasPrefix("act_") {
                    p.value = Tensor(repeating: 1, shape: p.value.shape)
                } else {
                    p.value.scale(by: 5)
                }
            }
            checkGradients(
                generator, input: randomTensor([2, 3, 5, 4], seed: 9, low: 0, high: 1), epsilon: 1e-2,
                tolerance: 1e-2)
        }
    }

    /// ICNR: at initialisation every pixel-shuffle group is identical, so the learned residual is constant
    /// over each s×s output block (a nearest-neighbour upsampling: no checkerboard to start from).
    func testPixelShuffleConvolutionsStartAsNearestNeighbour() {
        for config in [
            GeneratorConfig(features: 8, blocks: 1, scale: 4, architecture: .compact),
            GeneratorConfig(features: 8, blocks: 1, scale: 3, architecture: .compact),
            GeneratorConfig(features: 8, blocks: 0, scale: 2),
        ] {
            let generator = Generator(config: config)
            var random = SeededGenerator(seed: 7)
            generator.initialize(generator: &random)
            let input = randomTensor([1, 3, 6, 5], seed: 2, low: 0, high: 1)
            let base = Upsample(factor: config.scale, mode: .bilinear).inference(input)
            let residual = generator.referenceInference(input) - base
            let s = config.scale
            var spread: Float = 0
            for c in 0..<3 {
                for y in 0..<(6 * s) {
                    for x in 0..<(5 * s) {
                        let corner = residual.scalars[(c * 6 * s + y / s * s) * 5 * s + x / s * s]
                        spread = max(spread, abs(residual.scalars[(c * 6 * s + y) * 5 * s + x] - corner))
                    }
                }
            }
            if config.architecture == .compact {
                XCTAssertLessThan(spread, 1e-6, "\(config)")
            }
            XCTAssertGreaterThan(residual.scalars.map(abs).max()!, 1e-6, "the residual is not all zero")
        }
    }
}
