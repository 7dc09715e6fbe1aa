import SRModels
import SRNN
import SRTensor
import SRTestSupport
import XCTest

final class UNetDiscriminatorTests: XCTestCase {
    /// With LeakyReLU slopes of 1 the network is linear, so the check is exact through every skip.
    func testPerPixelLogitsAndFiniteDifferenceGradients() {
        let discriminator = UNetDiscriminator(features: 4, slope: 1)
        var random = SeededGenerator(seed: 6)
        discriminator.initialize(generator: &random)
        for (name, parameter) in discriminator.namedParameters where name.hasSuffix("bias") {
            parameter.value = randomTensor(parameter.value.shape, seed: 3, low: -0.2, high: 0.2)
        }
        let input = randomTensor([2, 3, 16, 8], seed: 8, low: 0, high: 1)
        XCTAssertEqual(discriminator.inference(input).shape, [2, 1, 16, 8])
        XCTAssertEqual(
            Set(discriminator.namedParameters.map(\.name)).isSuperset(of: [
                "conv0.weight", "conv1.weight_orig", "conv3.weight_u", "conv6.weight_v", "conv8.weight_orig",
                "conv9.bias",
            ]), true)
        checkGradients(discriminator, input: input, epsilon: 1e-2, tolerance: 1e-2)
    }

    /// With the real slope (0.2), a looser bound: perturbations cross kinks somewhere.
    func testLeakyGradients() {
        let discriminator = UNetDiscriminator(features: 4)
        var random = SeededGenerator(seed: 6)
        discriminator.initialize(generator: &random)
        checkGradients(
            discriminator, input: randomTensor([1, 3, 8, 8], seed: 8, low: 0, high: 1), epsilon: 1e-3,
            tolerance: 8e-2)
    }

    /// Features at several layers in one pass equal separate extractors' features, and the pullback of
    /// several gradients is the sum of the separate pullbacks.
    func testVGGFeaturesAtSeveralLayersInOnePass() throws {
        var random = SeededGenerator(seed: 9)
        var weights: [String: Tensor] = [:]
        for (name, shape) in [("conv1_1", [64, 3, 3, 3]), ("conv1_2", [64, 64, 3, 3]), ("conv2_1", [128, 64, 3, 3])] {
            weights[name + ".weight"] = Tensor.randomNormal(shape: shape, standardDeviation: 0.05, generator: &random)
            weights[name + ".bias"] = Tensor.randomUniform(shape: [shape[0]], low: -0.1, high: 0.1, generator: &random)
        }
        let full = try VGGFeatureExtractor(upTo: "conv2_1")
        try full.load(weights: weights)
        let input = randomTensor([1, 3, 8, 6], seed: 2, low: 0, high: 1)
        let layers = ["conv2_1", "relu1_1"]
        let (outputs, pullback) = full.forward(input, collecting: layers)
        var expectedGradient: Tensor?
        var gradients: [Tensor] = []
        for (index, layer) in layers.enumerated() {
            let single = try VGGFeatureExtractor(upTo: layer)
            try single.load(weights: weights)
            let (output, singlePullback) = single.forward(input)
            XCTAssertLessThanOrEqual(outputs[index].maxAbsDifference(output), 1e-4, layer)
            let gradient = randomTensor(output.shape, seed: UInt64(index))
            gradients.append(gradient)
            let contribution = singlePullback(gradient)
            if expectedGradient == nil { expectedGradient = contribution } else { expectedGradient!.add(contribution) }
        }
        XCTAssertLessThanOrEqual(pullback(gradients).maxAbsDifference(expectedGradient!), 1e-3)
    }
}
