import SRNN
import SRTensor
import XCTest

/// Random tensors for tests.
public func randomTensor(_ shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor.randomUniform(shape: shape, low: low, high: high, generator: &generator)
}

/// Moves every element at least `margin` away from zero (keeps finite differences off ReLU-type kinks).
public func awayFromZero(_ t: Tensor, margin: Float = 0.05) -> Tensor {
    var out = t
    for i in 0..<out.count where abs(out.scalars[i]) < margin { out.scalars[i] = out.scalars[i] < 0 ? -margin : margin }
    return out
}

/// Asserts two tensors match elementwise: |a − b| ≤ atol + rtol·|b| everywhere, reporting the worst index.
public func assertClose(
    _ actual: Tensor, _ expected: Tensor, rtol: Float = 1e-4, atol: Float = 1e-5,
    _ message: String = "", file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.shape, expected.shape, "shape \(message)", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    var worst = 0, worstExcess: Float = -1
    for i in 0..<actual.count {
        let excess = abs(actual.scalars[i] - expected.scalars[i]) - (atol + rtol * abs(expected.scalars[i]))
        if excess > worstExcess { worstExcess = excess; worst = i }
    }
    XCTAssertLessThanOrEqual(
        worstExcess, 0,
        "\(message): worst at \(worst): \(actual.scalars[worst]) vs \(expected.scalars[worst])", file: file, line: line)
}

/// Central-difference gradient check of a layer, for its input and every parameter.
///
/// The scalar probed is L = Σ r·y with a fixed random r (accumulated in Double); the analytic gradient
/// is the layer's pullback of r. Up to `samples` coordinates per tensor are perturbed by ±`epsilon`.
/// The check passes when ‖numeric − analytic‖ / (‖numeric‖ + ‖analytic‖) ≤ `tolerance`.
/// A coordinate whose estimates with step ε and ε/2 disagree sits on a kink (ReLU-type activations,
/// max pooling) where finite differences are meaningless; it is skipped, as ggml's gradient mode does,
/// and at most a quarter of the samples may be skipped.
public func checkGradients(
    _ layer: any Layer, input: Tensor, epsilon: Float = 1e-2, tolerance: Double = 1e-2,
    samples: Int = 40, seed: UInt64 = 7, file: StaticString = #filePath, line: UInt = #line
) {
    layer.zeroGradients()
    let (output, pullback) = layer.forward(input)
    let projection = randomTensor(output.shape, seed: seed)
    func loss(_ x: Tensor) -> Double {
        let y = layer.inference(x)
        var s = 0.0
        for i in 0..<y.count { s += Double(y.scalars[i]) * Double(projection.scalars[i]) }
        return s
    }
    let inputGradient = pullback(projection)
    var generator = SeededGenerator(seed: seed &+ 1)
    func compare(
        _ name: String, count: Int, analytic: (Int) -> Float, perturb: (Int, Float) -> Void, evaluate: () -> Double
    ) {
        let indices = count <= samples ? Array(0..<count) : (0..<samples).map { _ in generator.nextInt(below: count) }
        var difference = 0.0, numericNorm = 0.0, analyticNorm = 0.0
        var skipped = 0
        for i in indices {
            func estimate(_ step: Float) -> Double {
                perturb(i, step)
                let plus = evaluate()
                perturb(i, -2 * step)
                let minus = evaluate()
                perturb(i, step)
                return (plus - minus) / (2 * Double(step))
            }
            let numeric = estimate(epsilon), refined = estimate(epsilon / 2)
            if abs(numeric - refined) > 0.05 * (abs(numeric) + abs(refined)) + 1e-3 {
                skipped += 1
                continue
            }
            let exact = Double(analytic(i))
            difference += (numeric - exact) * (numeric - exact)
            numericNorm += numeric * numeric
            analyticNorm += exact * exact
        }
        XCTAssertLessThanOrEqual(
            skipped * 4, indices.count, "\(name): \(skipped) of \(indices.count) samples on kinks", file: file,
            line: line)
        let error = difference.squareRoot() / max(numericNorm.squareRoot() + analyticNorm.squareRoot(), 1e-12)
        XCTAssertLessThanOrEqual(
            error, tolerance, "gradient of \(name): normalised error \(error)", file: file, line: line)
        XCTAssertGreaterThan(
            numericNorm + analyticNorm, 0, "gradient of \(name) is identically zero", file: file, line: line)
    }
    var x = input
    compare(
        "input", count: input.count, analytic: { inputGradient.scalars[$0] },
        perturb: { x.scalars[$0] += $1 }, evaluate: { loss(x) })
    // Frozen parameters get no gradient by design (e.g. spectral norm's power-iteration state).
    for (name, parameter) in layer.namedParameters where !parameter.isFrozen {
        let gradient = parameter.gradient
        compare(
            name, count: parameter.value.count, analytic: { gradient.scalars[$0] },
            perturb: { parameter.value.scalars[$0] += $1 }, evaluate: { loss(input) })
    }
}

extension Tensor {
    /// Largest |self − other| over all elements.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(other.count == count, "sizes differ")
        var largest: Float = 0
        for i in 0..<count { largest = max(largest, abs(scalars[i] - other.scalars[i])) }
        return largest
    }
}

/// Asserts that `value` is within `tolerance` × the largest magnitude of `reference` everywhere (a fast path
/// against its reference: relative to the output's scale, not per element).
public func assertClose(
    _ value: Tensor, to reference: Tensor, relative tolerance: Float, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    let largest = reference.scalars.map(abs).max() ?? 0
    XCTAssertLessThanOrEqual(value.maxAbsDifference(reference), tolerance * largest, message, file: file, line: line)
}
