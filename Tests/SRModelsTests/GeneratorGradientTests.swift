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
        let generator = Generator(config: GeneratorConfig(features: 4, blocks: 1, scale: 4))
        var random = SeededGenerator(seed: 3)
        generator.initialize(generator: &random)
        for (_, p) in generator.namedParameters { p.value.scale(by: 5) }
        checkGradients(
            generator, input: randomTensor([2, 3, 5, 4], seed: 9, low: 0, high: 1), epsilon: 1e-3, tolerance: 6e-2)
    }
}
