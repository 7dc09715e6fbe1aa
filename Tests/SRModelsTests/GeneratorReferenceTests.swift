import Foundation
import SRModels
import SRNN
import SRTensor
import SRTestSupport
import XCTest

/// The generator's forward pass against an independent numpy implementation
/// (Fixtures/make_generator_fixture.py), with BasicSR tensor names.
final class GeneratorReferenceTests: XCTestCase {
    func testForwardMatchesNumpyReference() throws {
        let path = try XCTUnwrap(
            Bundle.module.url(forResource: "Fixtures/tiny_generators", withExtension: "safetensors")
        ).path
        let file = try SafeTensors.read(path: path)
        let configurations: [String: GeneratorConfig] = [
            "x4_lrelu": GeneratorConfig(features: 8, blocks: 2, scale: 4),
            "x3_lrelu": GeneratorConfig(features: 6, blocks: 1, scale: 3),
            "x2_prelu_k9": GeneratorConfig(
                features: 5, blocks: 1, scale: 2, activation: .prelu, firstKernel: 9, lastKernel: 9),
            "x4_compact": GeneratorConfig(features: 8, blocks: 2, scale: 4, architecture: .compact),
            "x3_compact": GeneratorConfig(features: 6, blocks: 1, scale: 3, architecture: .compact),
        ]
        for (name, config) in configurations {
            let generator = Generator(config: config)
            var weights: [String: Tensor] = [:]
            for (key, tensor) in file.tensors where key.hasPrefix(name + "/") {
                let short = String(key.dropFirst(name.count + 1))
                if short != "input" && short != "expected" { weights[short] = tensor }
            }
            try generator.loadStateDictionary(weights)
            let input = try XCTUnwrap(file.tensors[name + "/input"])
            let expected = try XCTUnwrap(file.tensors[name + "/expected"])
            let output = generator.inference(input)
            XCTAssertEqual(output.shape, [1, 3, 7 * config.scale, 6 * config.scale])
            XCTAssertLessThanOrEqual(output.maxAbsDifference(expected), 1e-4, name)
            XCTAssertLessThanOrEqual(
                generator.forward(input).output.maxAbsDifference(generator.referenceInference(input)), 1e-5,
                "forward (oneDNN's training convolutions) equals reference inference up to rounding")
        }
    }

    func testLoadingChecksNamesAndShapes() throws {
        let generator = Generator(config: GeneratorConfig(features: 4, blocks: 1, scale: 2))
        var state = generator.stateDictionary()
        state["body.0.conv1.weight"] = nil
        state["extra.weight"] = Tensor(zeros: [1])
        state["conv_last.bias"] = Tensor(zeros: [4])
        XCTAssertThrowsError(try generator.loadStateDictionary(state)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("missing body.0.conv1.weight"), text)
            XCTAssertTrue(text.contains("unexpected extra.weight"), text)
            XCTAssertTrue(text.contains("conv_last.bias is [4], expected [3]"), text)
        }
    }

    func testFileRoundTripKeepsArchitectureInMetadata() throws {
        let config = GeneratorConfig(features: 4, blocks: 2, scale: 3, activation: .prelu)
        let generator = Generator(config: config)
        var random = SeededGenerator(seed: 1)
        generator.initialize(generator: &random)
        let path = NSTemporaryDirectory() + "gen-\(UUID().uuidString).safetensors"
        try generator.save(path: path)
        let back = try Generator.load(path: path)
        XCTAssertEqual(back.config, config)
        XCTAssertEqual(back.stateDictionary(), generator.stateDictionary())
        let file = try SafeTensors.read(path: path)
        XCTAssertEqual(file.metadata["num_block"], "2")
        XCTAssertNotNil(file.tensors["body.1.act.weight"])
        XCTAssertEqual(config.receptiveRadius, 1 + 4 + 1 + 2.0 / 3, accuracy: 1e-9)
    }

    func testDiscriminatorAndVGGShapesAndGradients() throws {
        let discriminator = Discriminator(features: 2, inputSize: 32)
        var random = SeededGenerator(seed: 2)
        discriminator.initialize(generator: &random)
        XCTAssertEqual(discriminator.inference(randomTensor([3, 3, 32, 32], seed: 1)).shape, [3, 1])
        XCTAssertTrue(discriminator.namedParameters.map(\.name).contains("conv4_1.weight"))
        // Ten LeakyReLU layers: bias perturbations cross kinks, hence the loose bound (layers are checked tightly
        // alone).
        checkGradients(
            discriminator, input: randomTensor([2, 3, 32, 32], seed: 3, low: 0, high: 1), epsilon: 1e-3, tolerance: 1e-1
        )
        let vgg = try VGGFeatureExtractor(upTo: "relu1_2")
        var weights: [String: Tensor] = [:]
        for (name, parameter) in vgg.namedParameters {
            weights[name] = randomTensor(parameter.value.shape, seed: 5, low: -0.05, high: 0.05)
        }
        try vgg.load(weights: weights)
        XCTAssertEqual(vgg.inference(randomTensor([1, 3, 8, 6], seed: 4, low: 0, high: 1)).shape, [1, 64, 8, 6])
        XCTAssertThrowsError(try VGGFeatureExtractor(upTo: "relu9_9"))
        XCTAssertEqual(try VGGFeatureExtractor(upTo: "conv5_3").namedParameters.count, 26)
    }

    func testCaffePreprocessGradient() {
        checkGradients(CaffePreprocess(), input: randomTensor([2, 3, 3, 2], seed: 1, low: 0, high: 1), epsilon: 1e-2)
    }
}
