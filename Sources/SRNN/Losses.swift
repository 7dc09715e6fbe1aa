import Foundation
import SRTensor

/// A scalar loss and its gradient with respect to the prediction.
public struct LossValue {
    public var value: Double
    public var gradient: Tensor
}

/// Pixel and adversarial losses, all averaged over every element (PyTorch's `reduction='mean'`).
public enum Loss {
    /// mean |p − t|; gradient sign(p − t)/n (0 at p = t).
    public static func l1(_ prediction: Tensor, _ target: Tensor) -> LossValue {
        precondition(prediction.shape == target.shape, "l1: \(prediction.shape) vs \(target.shape)")
        let n = Float(prediction.count)
        var g = Tensor(zeros: prediction.shape)
        var sum = 0.0
        for i in 0..<prediction.count {
            let d = prediction.scalars[i] - target.scalars[i]
            sum += Double(abs(d))
            g.scalars[i] = d > 0 ? 1 / n : (d < 0 ? -1 / n : 0)
        }
        return LossValue(value: sum / Double(n), gradient: g)
    }

    /// mean (p − t)²; gradient 2(p − t)/n.
    public static func mse(_ prediction: Tensor, _ target: Tensor) -> LossValue {
        precondition(prediction.shape == target.shape, "mse: \(prediction.shape) vs \(target.shape)")
        let n = Float(prediction.count)
        var g = Tensor(zeros: prediction.shape)
        var sum = 0.0
        for i in 0..<prediction.count {
            let d = prediction.scalars[i] - target.scalars[i]
            sum += Double(d * d)
            g.scalars[i] = 2 * d / n
        }
        return LossValue(value: sum / Double(n), gradient: g)
    }

    /// mean √((p − t)² + ε²) (Charbonnier, ε = 1e-3 by default); gradient (p − t)/(n·√(…)).
    public static func charbonnier(_ prediction: Tensor, _ target: Tensor, epsilon: Float = 1e-3) -> LossValue {
        precondition(prediction.shape == target.shape)
        let n = Float(prediction.count)
        var g = Tensor(zeros: prediction.shape)
        var sum = 0.0
        for i in 0..<prediction.count {
            let d = prediction.scalars[i] - target.scalars[i]
            let r = (d * d + epsilon * epsilon).squareRoot()
            sum += Double(r)
            g.scalars[i] = d / (r * n)
        }
        return LossValue(value: sum / Double(n), gradient: g)
    }

    /// Binary cross-entropy on logits against a constant label y ∈ [0, 1]:
    /// mean softplus(x) − y·x, computed stably; gradient (σ(x) − y)/n.
    public static func bceWithLogits(_ logits: Tensor, label: Float) -> LossValue {
        let n = Float(logits.count)
        var g = Tensor(zeros: logits.shape)
        var sum = 0.0
        for i in 0..<logits.count {
            let x = logits.scalars[i]
            let softplus = max(x, 0) + log1p(exp(-abs(x)))
            sum += Double(softplus - label * x)
            g.scalars[i] = (1 / (1 + exp(-x)) - label) / n
        }
        return LossValue(value: sum / Double(n), gradient: g)
    }
}

/// The adversarial objectives, on discriminator logits for real and fake batches.
public enum GANLoss: String, Codable, Sendable, CaseIterable {
    /// SRGAN's: G minimises BCE(D(fake), 1); D minimises BCE(D(real), 1) + BCE(D(fake), 0).
    case vanilla
    /// ESRGAN's relativistic average: compares each logit with the mean logit of the other batch.
    case relativistic

    /// Whether the generator's loss looks at the real logits (so the generator step must compute them).
    public var generatorNeedsRealLogits: Bool { self == .relativistic }

    /// Generator loss and its gradients with respect to (real logits, fake logits).
    /// For `vanilla` the real logits are not used (nil may be passed) and their gradient is zero.
    public func generatorLoss(real: Tensor?, fake: Tensor) -> (value: Double, real: Tensor, fake: Tensor) {
        switch self {
        case .vanilla:
            let l = Loss.bceWithLogits(fake, label: 1)
            return (l.value, Tensor(zeros: real?.shape ?? fake.shape), l.gradient)
        case .relativistic:
            guard let real else { preconditionFailure("the relativistic loss needs the real logits") }
            return GANLoss.relativistic(real: real, fake: fake, realLabel: 0, fakeLabel: 1)
        }
    }

    /// Discriminator loss and its gradients with respect to (real logits, fake logits).
    public func discriminatorLoss(real: Tensor, fake: Tensor) -> (value: Double, real: Tensor, fake: Tensor) {
        switch self {
        case .vanilla:
            let r = Loss.bceWithLogits(real, label: 1), f = Loss.bceWithLogits(fake, label: 0)
            return (r.value + f.value, r.gradient, f.gradient)
        case .relativistic:
            return GANLoss.relativistic(real: real, fake: fake, realLabel: 1, fakeLabel: 0)
        }
    }

    /// (BCE(real − mean(fake), a) + BCE(fake − mean(real), b)) / 2, differentiated through both means.
    static func relativistic(
        real: Tensor, fake: Tensor, realLabel: Float, fakeLabel: Float
    ) -> (value: Double, real: Tensor, fake: Tensor) {
        let meanReal = Float(real.sum() / Double(real.count)), meanFake = Float(fake.sum() / Double(fake.count))
        var realShifted = real, fakeShifted = fake
        for i in 0..<real.count { realShifted.scalars[i] -= meanFake }
        for i in 0..<fake.count { fakeShifted.scalars[i] -= meanReal }
        let a = Loss.bceWithLogits(realShifted, label: realLabel)
        let b = Loss.bceWithLogits(fakeShifted, label: fakeLabel)
        // d/dreal: a.g/2 directly, and −mean(b.g)/2 spread through meanReal (likewise for fake).
        let sumA = Float(a.gradient.sum()), sumB = Float(b.gradient.sum())
        var dReal = a.gradient * 0.5, dFake = b.gradient * 0.5
        for i in 0..<dReal.count { dReal.scalars[i] -= 0.5 * sumB / Float(real.count) }
        for i in 0..<dFake.count { dFake.scalars[i] -= 0.5 * sumA / Float(fake.count) }
        return ((a.value + b.value) / 2, dReal, dFake)
    }
}
