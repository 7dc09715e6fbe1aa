import SRNN
import SRTensor
import SRTestSupport
import XCTest

/// Finite-difference checks for every differentiable layer, on small odd shapes, inputs kept off kinks.
final class LayerGradientTests: XCTestCase {
    func testActivations() {
        let x = awayFromZero(randomTensor([2, 3, 5, 3], seed: 1))
        checkGradients(ReLU(), input: x)
        checkGradients(LeakyReLU(slope: 0.2), input: x)
        let prelu = PReLU(channels: 3)
        prelu.weight.value = randomTensor([3], seed: 2, low: 0.05, high: 0.5)
        checkGradients(prelu, input: x)
    }

    func testRearrangementsAndResampling() {
        checkGradients(PixelShuffle(factor: 2), input: randomTensor([2, 8, 3, 5], seed: 3))
        checkGradients(PixelShuffle(factor: 3), input: randomTensor([1, 9, 2, 3], seed: 4))
        checkGradients(PixelUnshuffle(factor: 2), input: randomTensor([2, 2, 6, 4], seed: 5))
        checkGradients(Upsample(factor: 2, mode: .nearest), input: randomTensor([2, 2, 3, 5], seed: 6))
        checkGradients(Upsample(factor: 4, mode: .bilinear), input: randomTensor([1, 2, 3, 5], seed: 7))
        checkGradients(Upsample(factor: 3, mode: .bilinear), input: randomTensor([2, 1, 4, 3], seed: 8))
    }

    /// Nearest upsampling of whole 8-float pixels (oneDNN's nChw8c, 12 channels padded to 16) equals the
    /// plain upsampling, channel by channel.
    func testNearestUpsamplingOfBlockedMaps() {
        let (channels, height, width, factor) = (12, 3, 5, 2)
        let plain = randomTensor([1, channels, height, width], seed: 12)
        let expected = Upsample(factor: factor, mode: .nearest).inference(plain)
        func blocked(_ t: Tensor, _ h: Int, _ w: Int) -> [Float] {
            var out = [Float](repeating: .nan, count: 16 * h * w)
            for c in 0..<16 {
                for y in 0..<h {
                    for x in 0..<w {
                        out[((c / 8 * h + y) * w + x) * 8 + c % 8] = c < channels ? t.scalars[(c * h + y) * w + x] : 0
                    }
                }
            }
            return out
        }
        let source = blocked(plain, height, width)
        var target = [Float](repeating: .nan, count: 16 * height * factor * width * factor)
        source.withUnsafeBufferPointer { s in
            target.withUnsafeMutableBufferPointer { t in
                Upsample(factor: factor, mode: .nearest).upsample(
                    s.baseAddress!, into: t.baseAddress!, planes: 2, height: height, width: width, vector: 8)
            }
        }
        XCTAssertEqual(target, blocked(expected, height * factor, width * factor))
    }

    func testDenseAndPooling() {
        let linear = Linear(inputFeatures: 7, outputFeatures: 3)
        linear.weight.value = randomTensor([3, 7], seed: 9)
        linear.bias.value = randomTensor([3], seed: 10)
        checkGradients(linear, input: randomTensor([4, 7], seed: 11))
        checkGradients(Flatten(), input: randomTensor([2, 3, 2, 2], seed: 12))
        // Distinct values so the max is never tied (a kink of max pooling).
        var x = Tensor(zeros: [2, 2, 5, 6])
        for i in 0..<x.count { x.scalars[i] = Float((i * 37) % 240) / 24 - 5 }
        checkGradients(MaxPool2x2(), input: x)
    }

    func testSequentialUnwindsInReverseAndFreezes() {
        let conv = Conv2d(inputChannels: 2, outputChannels: 3, kernelSize: 3, stride: 2)
        conv.weight.value = randomTensor(conv.weight.value.shape, seed: 14)
        let linear = Linear(inputFeatures: 3 * 3 * 2, outputFeatures: 2)
        linear.weight.value = randomTensor(linear.weight.value.shape, seed: 15)
        let net = Sequential([("conv", conv), ("", LeakyReLU(slope: 0.2)), ("", Flatten()), ("fc", linear)])
        XCTAssertEqual(net.namedParameters.map(\.name), ["conv.weight", "conv.bias", "fc.weight", "fc.bias"])
        checkGradients(net, input: randomTensor([2, 2, 5, 4], seed: 16))
        // Called twice before any backward: each pullback uses its own call's input.
        let a = randomTensor([1, 2, 5, 4], seed: 17), b = randomTensor([1, 2, 5, 4], seed: 18)
        net.zeroGradients()
        let (_, pullbackA) = net.forward(a)
        let (_, pullbackB) = net.forward(b)
        let g = Tensor(repeating: 1, shape: [1, 2])
        _ = pullbackB(g)
        let afterB = net.namedParameters[0].parameter.gradient
        net.zeroGradients()
        _ = pullbackA(g)
        let afterA = net.namedParameters[0].parameter.gradient
        net.zeroGradients()
        _ = net.forward(b).pullback(g)
        XCTAssertEqual(net.namedParameters[0].parameter.gradient, afterB)
        XCTAssertNotEqual(afterA, afterB)
        net.setFrozen(true)
        net.zeroGradients()
        let dx = net.forward(a).pullback(g)
        XCTAssertGreaterThan(dx.squaredNorm(), 0)
        XCTAssertTrue(net.namedParameters.allSatisfy { $0.parameter.gradient.squaredNorm() == 0 })
    }
}

/// Finite-difference checks of every loss with respect to its prediction input(s).
final class LossGradientTests: XCTestCase {
    func check(
        _ name: String, _ x: Tensor, _ loss: (Tensor) -> (Double, Tensor), epsilon: Float = 1e-3,
        tolerance: Double = 1e-2
    ) {
        let (_, gradient) = loss(x)
        var difference = 0.0, norm = 0.0
        for i in 0..<x.count {
            var plus = x, minus = x
            plus.scalars[i] += epsilon
            minus.scalars[i] -= epsilon
            let numeric = (loss(plus).0 - loss(minus).0) / (2 * Double(epsilon))
            difference += (numeric - Double(gradient.scalars[i])) * (numeric - Double(gradient.scalars[i]))
            norm += numeric * numeric + Double(gradient.scalars[i] * gradient.scalars[i])
        }
        let error = difference.squareRoot() / max(norm.squareRoot(), 1e-12)
        XCTAssertLessThanOrEqual(error, tolerance, "\(name): normalised error \(error)")
        XCTAssertGreaterThan(norm, 0, name)
    }

    func testPixelLosses() {
        let prediction = randomTensor([2, 3, 4, 3], seed: 1), target = randomTensor([2, 3, 4, 3], seed: 2)
        check("l1", prediction) {
            let l = Loss.l1($0, target); return (l.value, l.gradient)
        }
        check("mse", prediction) {
            let l = Loss.mse($0, target); return (l.value, l.gradient)
        }
        check("charbonnier", prediction) {
            let l = Loss.charbonnier($0, target); return (l.value, l.gradient)
        }
        for label: Float in [0, 1, 0.3] {
            check("bce \(label)", prediction * 3) {
                let l = Loss.bceWithLogits($0, label: label); return (l.value, l.gradient)
            }
        }
        // Values against closed forms.
        XCTAssertEqual(Loss.l1(Tensor(shape: [2], scalars: [1, -2]), Tensor(shape: [2], scalars: [0, 0])).value, 1.5)
        XCTAssertEqual(Loss.bceWithLogits(Tensor(shape: [1], scalars: [0]), label: 1).value, log(2), accuracy: 1e-6)
        XCTAssertEqual(
            Loss.bceWithLogits(Tensor(shape: [1], scalars: [-200]), label: 1).value, 200, accuracy: 1e-3,
            "stable for large logits")
    }

    func testGANLossesOnBothSides() {
        let real = randomTensor([5, 1], seed: 3, low: -2, high: 2),
            fake = randomTensor([5, 1], seed: 4, low: -2, high: 2)
        for kind in GANLoss.allCases {
            check("\(kind) G wrt fake", fake) {
                let l = kind.generatorLoss(real: real, fake: $0); return (l.value, l.fake)
            }
            check("\(kind) D wrt real", real) {
                let l = kind.discriminatorLoss(real: $0, fake: fake); return (l.value, l.real)
            }
            check("\(kind) D wrt fake", fake) {
                let l = kind.discriminatorLoss(real: real, fake: $0); return (l.value, l.fake)
            }
        }
        check("relativistic G wrt real", real) {
            let l = GANLoss.relativistic.generatorLoss(real: $0, fake: fake); return (l.value, l.real)
        }
    }
}
