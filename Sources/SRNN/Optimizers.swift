import Foundation
import SRTensor

/// Adam (Kingma & Ba) with optional decoupled-free L2 weight decay (PyTorch `torch.optim.Adam`).
/// State is keyed by parameter name so it can be saved with `state()` and restored with `load(state:)`.
public final class Adam {
    public let parameters: [(name: String, parameter: Parameter)]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    public private(set) var step = 0
    private var firstMoment: [Tensor]
    private var secondMoment: [Tensor]

    public init(
        parameters: [(name: String, parameter: Parameter)], learningRate: Float, beta1: Float = 0.9,
        beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0
    ) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        firstMoment = parameters.map { Tensor(zeros: $0.parameter.value.shape) }
        secondMoment = parameters.map { Tensor(zeros: $0.parameter.value.shape) }
    }

    /// One update from the accumulated gradients (which are left as they are; zero them before the next step).
    public func update() {
        step += 1
        let correction1 = 1 - pow(beta1, Float(step)), correction2 = 1 - pow(beta2, Float(step))
        let stepSize = learningRate / correction1
        let (b1, b2, eps, decay) = (beta1, beta2, epsilon, weightDecay)
        for index in parameters.indices {
            let parameter = parameters[index].parameter
            if parameter.isFrozen { continue }
            parameter.value.scalars.withUnsafeMutableBufferPointer { w in
                parameter.gradient.scalars.withUnsafeBufferPointer { g in
                    firstMoment[index].scalars.withUnsafeMutableBufferPointer { m in
                        secondMoment[index].scalars.withUnsafeMutableBufferPointer { v in
                            for i in 0..<w.count {
                                let grad = g[i] + decay * w[i]
                                m[i] = b1 * m[i] + (1 - b1) * grad
                                v[i] = b2 * v[i] + (1 - b2) * grad * grad
                                w[i] -= stepSize * m[i] / ((v[i] / correction2).squareRoot() + eps)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Moments and step count, as named tensors (`NAME.exp_avg`, `NAME.exp_avg_sq`, `step`).
    public func state() -> [String: Tensor] {
        var out: [String: Tensor] = ["step": Tensor(shape: [1], scalars: [Float(step)])]
        for (i, entry) in parameters.enumerated() {
            out[entry.name + ".exp_avg"] = firstMoment[i]
            out[entry.name + ".exp_avg_sq"] = secondMoment[i]
        }
        return out
    }

    /// Restores what `state()` saved.
    public func load(state: [String: Tensor]) throws {
        guard let stepTensor = state["step"] else {
            throw StateLoadError(missing: ["step"], unexpected: [], misShaped: [])
        }
        var first = firstMoment, second = secondMoment
        for (i, entry) in parameters.enumerated() {
            guard let m = state[entry.name + ".exp_avg"], let v = state[entry.name + ".exp_avg_sq"],
                m.shape == first[i].shape, v.shape == second[i].shape
            else { throw StateLoadError(missing: [entry.name + ".exp_avg"], unexpected: [], misShaped: []) }
            first[i] = m
            second[i] = v
        }
        firstMoment = first
        secondMoment = second
        step = Int(stepTensor.scalars[0])
    }
}

/// Learning-rate schedules.
public enum LearningRateSchedule: Codable, Sendable, Equatable {
    /// Multiply by `gamma` at each milestone step (BasicSR's MultiStepLR).
    case multiStep(milestones: [Int], gamma: Float)
    /// Cosine from the base rate down to `minimum` over `totalSteps` (CosineAnnealingLR).
    case cosine(totalSteps: Int, minimum: Float)
    case constant

    /// The rate at `step` (0-based) for a base rate.
    public func rate(base: Float, step: Int) -> Float {
        switch self {
        case .constant:
            return base
        case let .multiStep(milestones, gamma):
            return base * pow(gamma, Float(milestones.filter { step >= $0 }.count))
        case let .cosine(total, minimum):
            let t = min(Float(step) / Float(max(total, 1)), 1)
            return minimum + (base - minimum) * 0.5 * (1 + cos(Float.pi * t))
        }
    }
}

/// Gradient utilities.
public enum Gradients {
    /// Scales all gradients so their global L2 norm is at most `maxNorm`; returns the norm before clipping.
    @discardableResult
    public static func clip(_ parameters: [(name: String, parameter: Parameter)], maxNorm: Float) -> Float {
        let norm = Float(parameters.reduce(0.0) { $0 + $1.parameter.gradient.squaredNorm() }.squareRoot())
        if norm > maxNorm && norm > 0 {
            for (_, p) in parameters { p.gradient.scale(by: maxNorm / norm) }
        }
        return norm
    }
}

/// Exponential moving average of parameter values: ema ← decay·ema + (1 − decay)·value.
public final class ExponentialMovingAverage {
    public let decay: Float
    public private(set) var averages: [String: Tensor]

    public init(parameters: [(name: String, parameter: Parameter)], decay: Float = 0.999) {
        self.decay = decay
        averages = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.parameter.value) })
    }

    /// Restores saved averages.
    public init(averages: [String: Tensor], decay: Float = 0.999) {
        self.decay = decay
        self.averages = averages
    }

    /// Replaces one average (when restoring a checkpoint).
    public func setAverage(_ value: Tensor, for name: String) {
        precondition(averages[name]?.shape == value.shape, "EMA tensor \(name) does not match")
        averages[name] = value
    }

    /// The decay used at update number `step` (0-based): min(decay, (1 + step) / (10 + step)). The
    /// warm-up lets the average follow the weights early on, so a short run exports what it learned
    /// instead of its initialisation (a fixed 0.999 keeps 72 % of the initial weights after 320 steps).
    public func effectiveDecay(step: Int) -> Float {
        min(decay, Float(1 + step) / Float(10 + step))
    }

    /// Moves every average towards its parameter, with the warm-up decay of update number `step`. Frozen
    /// parameters (other than state) do not move, so their averages are left exactly as they are.
    public func update(_ parameters: [(name: String, parameter: Parameter)], step: Int) {
        let decay = effectiveDecay(step: step)
        for (name, parameter) in parameters where parameter.isState || !parameter.isFrozen {
            guard var average = averages[name] else { continue }
            average.scale(by: decay)
            average.add(parameter.value, scale: 1 - decay)
            averages[name] = average
        }
    }
}
