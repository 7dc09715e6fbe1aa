import SRNN
import SRTensor
import SRTestSupport
import XCTest

final class OptimizerTests: XCTestCase {
    /// A reference Adam step written out by hand for one scalar.
    func testAdamMatchesTheUpdateRule() {
        let p = Parameter(Tensor(shape: [1], scalars: [1]))
        let adam = Adam(parameters: [(name: "p", parameter: p)], learningRate: 0.1)
        var m = 0.0, v = 0.0, w = 1.0
        for step in 1...5 {
            let g = 2 * w  // d/dw w²
            p.gradient = Tensor(shape: [1], scalars: [Float(2) * p.value.scalars[0]])
            adam.update()
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            let mHat = m / (1 - pow(0.9, Double(step))), vHat = v / (1 - pow(0.999, Double(step)))
            w -= 0.1 * mHat / (vHat.squareRoot() + 1e-8)
            XCTAssertEqual(Double(p.value.scalars[0]), w, accuracy: 1e-5)
        }
    }

    func testSchedulesClippingAndAverage() {
        let multi = LearningRateSchedule.multiStep(milestones: [10, 20], gamma: 0.5)
        XCTAssertEqual(multi.rate(base: 1, step: 9), 1)
        XCTAssertEqual(multi.rate(base: 1, step: 10), 0.5)
        XCTAssertEqual(multi.rate(base: 1, step: 25), 0.25)
        let cosine = LearningRateSchedule.cosine(totalSteps: 100, minimum: 0)
        XCTAssertEqual(cosine.rate(base: 2, step: 0), 2, accuracy: 1e-6)
        XCTAssertEqual(cosine.rate(base: 2, step: 50), 1, accuracy: 1e-6)
        XCTAssertEqual(cosine.rate(base: 2, step: 100), 0, accuracy: 1e-6)
        let p = Parameter(Tensor(shape: [2], scalars: [0, 0]))
        p.gradient = Tensor(shape: [2], scalars: [3, 4])
        XCTAssertEqual(Gradients.clip([(name: "p", parameter: p)], maxNorm: 1), 5)
        XCTAssertEqual(p.gradient.scalars[0], 0.6, accuracy: 1e-6)
        let ema = ExponentialMovingAverage(parameters: [(name: "p", parameter: p)], decay: 0.9)
        p.value = Tensor(shape: [2], scalars: [10, 20])
        ema.update([(name: "p", parameter: p)], step: 1000)  // past the warm-up: the plain decay
        XCTAssertEqual(ema.averages["p"]!.scalars[0], 1, accuracy: 1e-5)
        XCTAssertEqual(ema.averages["p"]!.scalars[1], 2, accuracy: 1e-5)
    }

    func testEMAWarmUpFollowsAShortRun() {
        // Weights that move from 0 to 1 over 320 steps: the warmed-up average ends near the final
        // weights; without the warm-up (decay 0.999 from the start) it would stay near the initial ones.
        let p = Parameter(Tensor(shape: [1], scalars: [0]))
        let ema = ExponentialMovingAverage(parameters: [(name: "p", parameter: p)], decay: 0.999)
        var plain: Float = 0
        for step in 0..<320 {
            p.value.scalars[0] = Float(step + 1) / 320
            ema.update([(name: "p", parameter: p)], step: step)
            plain = 0.999 * plain + 0.001 * p.value.scalars[0]
        }
        XCTAssertEqual(ema.effectiveDecay(step: 0), 0.1, accuracy: 1e-6)
        XCTAssertEqual(ema.effectiveDecay(step: 100_000), 0.999, accuracy: 1e-6)
        XCTAssertGreaterThan(ema.averages["p"]!.scalars[0], 0.85)
        XCTAssertLessThan(plain, 0.2)
    }

    func testAdamStateRoundTrips() throws {
        let p = Parameter(randomTensor([3], seed: 1))
        let adam = Adam(parameters: [(name: "p", parameter: p)], learningRate: 0.01)
        p.gradient = randomTensor([3], seed: 2)
        adam.update()
        let other = Adam(parameters: [(name: "p", parameter: p)], learningRate: 0.01)
        try other.load(state: adam.state())
        XCTAssertEqual(other.state(), adam.state())
        XCTAssertEqual(other.step, 1)
    }

    /// Conv → LeakyReLU → conv regression to a fixed target made by a hidden "teacher" network of the same
    /// shape (so the target is reachable). The threshold is relative: 400 Adam steps must bring the MSE
    /// below 2% of the predict-zero baseline (the target's mean square), i.e. explain 98% of its variance,
    /// which no broken gradient does; and the same seed must give bit-identical weights.
    func testTwoLayerNetworkLearnsAndIsDeterministic() {
        func makeNet(seed: UInt64) -> (Sequential, Conv2d, Conv2d) {
            let a = Conv2d(inputChannels: 2, outputChannels: 8, kernelSize: 3)
            let b = Conv2d(inputChannels: 8, outputChannels: 1, kernelSize: 3)
            var g = SeededGenerator(seed: seed)
            a.initialize(generator: &g)
            b.initialize(generator: &g)
            return (Sequential([("a", a), ("", LeakyReLU(slope: 0.1)), ("b", b)]), a, b)
        }
        func train(seed: UInt64) -> (Double, [String: Tensor]) {
            let (teacher, _, _) = makeNet(seed: 99)
            let (student, _, _) = makeNet(seed: seed)
            let x = randomTensor([4, 2, 8, 8], seed: 5)
            let target = teacher.inference(x)
            let adam = Adam(parameters: student.namedParameters, learningRate: 1e-2)
            var loss = 0.0
            let baseline = target.squaredNorm() / Double(target.count)
            for _ in 0..<400 {
                student.zeroGradients()
                let (y, pullback) = student.forward(x)
                let l = Loss.mse(y, target)
                loss = l.value
                _ = pullback(l.gradient)
                adam.update()
            }
            print("two-layer regression: baseline \(baseline), final \(loss)")
            return (loss / baseline, student.stateDictionary())
        }
        let (loss, weights) = train(seed: 1)
        XCTAssertLessThan(loss, 0.02)
        let (again, weightsAgain) = train(seed: 1)
        XCTAssertEqual(loss, again)
        XCTAssertEqual(weights, weightsAgain)
    }
}
