import SRNN
import SRTensor
import SRTestSupport
import XCTest

final class SpectralNormTests: XCTestCase {
    /// W = U·diag(s)·Vᵀ with random orthonormal U, V (Gram-Schmidt) has largest singular value max(s);
    /// repeated power iterations must find it.
    func testPowerIterationFindsTheLargestSingularValue() {
        var random = SeededGenerator(seed: 12)
        func orthonormal(_ n: Int) -> [[Float]] {
            var basis: [[Float]] = []
            while basis.count < n {
                var vector = (0..<n).map { _ in Float(random.nextNormal()) }
                for b in basis {
                    let dot = zip(vector, b).reduce(0) { $0 + $1.0 * $1.1 }
                    for i in 0..<n { vector[i] -= dot * b[i] }
                }
                let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
                basis.append(vector.map { $0 / norm })
            }
            return basis
        }
        let (rows, columns) = (6, 12)
        let singular: [Float] = [3.5, 2.0, 1.2, 0.7, 0.3, 0.1]
        let (u, v) = (orthonormal(rows), orthonormal(columns))
        var weight = Tensor(zeros: [rows, 3, 2, 2])
        for r in 0..<rows {
            for c in 0..<columns {
                var sum: Float = 0
                for k in 0..<rows { sum += u[k][r] * singular[k] * v[k][c] }
                weight.scalars[r * columns + c] = sum
            }
        }
        var estimate = Tensor(repeating: 1, shape: [rows])
        var sigma: Float = 0
        for _ in 0..<50 { (estimate, _, sigma) = SpectralNormConv2d.powerIteration(weight: weight, u: estimate) }
        XCTAssertEqual(sigma, 3.5, accuracy: 1e-4)
    }

    /// After a training pass the effective weight has spectral norm 1 (at the current estimate), and
    /// the gradient (u, v held constant, as PyTorch) matches finite differences.
    func testNormalisedWeightAndGradients() {
        let layer = SpectralNormConv2d(inputChannels: 3, outputChannels: 5, kernelSize: 3, stride: 2, padding: 1)
        var random = SeededGenerator(seed: 4)
        layer.initialize(generator: &random)
        layer.bias!.value = randomTensor([5], seed: 2)
        for _ in 0..<30 { _ = layer.forward(randomTensor([1, 3, 6, 6], seed: 1)) }
        let sigma = SpectralNormConv2d.sigma(weight: layer.weight.value, u: layer.u.value, v: layer.v.value)
        let (_, _, exact) = SpectralNormConv2d.powerIteration(
            weight: layer.weight.value * (1 / sigma), u: layer.u.value)
        XCTAssertEqual(exact, 1, accuracy: 1e-3)
        checkGradients(layer, input: randomTensor([2, 3, 7, 6], seed: 5), epsilon: 1e-2, tolerance: 1e-2)
    }
}
