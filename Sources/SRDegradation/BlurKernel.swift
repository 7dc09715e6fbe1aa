import Foundation
import SRTensor

/// A square, odd-sized 2-D filter whose weights sum to 1, row-major: `weights[y · size + x]`.
public struct BlurKernel: Sendable, Equatable {
    public let size: Int
    public let weights: [Float]

    /// Normalises `values` (size² of them) to sum 1.
    init(size: Int, values: [Double]) {
        precondition(size % 2 == 1 && values.count == size * size, "kernel must be odd and square")
        let total = values.reduce(0, +)
        self.size = size
        weights = values.map { Float($0 / total) }
    }

    /// The identity (a single 1 in the middle).
    public static func pulse(size: Int = 1) -> BlurKernel {
        var values = [Double](repeating: 0, count: size * size)
        values[size * size / 2] = 1
        return BlurKernel(size: size, values: values)
    }

    /// The Gaussian-family shapes Real-ESRGAN draws from, over the quadratic form d = xᵀΣ⁻¹x with
    /// Σ = R(θ)·diag(σx², σy²)·R(θ)ᵀ: Gaussian exp(−d/2), generalised Gaussian exp(−d^β/2),
    /// plateau 1/(1 + d^β).
    public enum Shape: String, Codable, Sendable, CaseIterable {
        case isotropic, anisotropic, generalizedIsotropic, generalizedAnisotropic, plateauIsotropic,
            plateauAnisotropic
        var isIsotropic: Bool { [.isotropic, .generalizedIsotropic, .plateauIsotropic].contains(self) }
    }

    /// A Gaussian-family kernel of `size` with standard deviations σx, σy (pixels), rotation θ
    /// (radians) and shape exponent β (ignored by the plain Gaussian).
    public static func gaussianFamily(
        _ shape: Shape, size: Int, sigmaX: Double, sigmaY: Double, rotation: Double, beta: Double
    ) -> BlurKernel {
        let (c, s) = (cos(rotation), sin(rotation))
        let (a, b) = (sigmaX * sigmaX, sigmaY * sigmaY)
        // Σ = R diag(a, b) Rᵀ and its inverse.
        let (s11, s12, s22) = (c * c * a + s * s * b, c * s * (a - b), s * s * a + c * c * b)
        let determinant = s11 * s22 - s12 * s12
        let (i11, i12, i22) = (s22 / determinant, -s12 / determinant, s11 / determinant)
        let half = size / 2
        var values: [Double] = []
        values.reserveCapacity(size * size)
        for y in -half...half {
            for x in -half...half {
                let (dx, dy) = (Double(x), Double(y))
                let d = i11 * dx * dx + 2 * i12 * dx * dy + i22 * dy * dy
                switch shape {
                case .isotropic, .anisotropic: values.append(exp(-0.5 * d))
                case .generalizedIsotropic, .generalizedAnisotropic: values.append(exp(-0.5 * pow(d, beta)))
                case .plateauIsotropic, .plateauAnisotropic: values.append(1 / (1 + pow(d, beta)))
                }
            }
        }
        return BlurKernel(size: size, values: values)
    }

    /// The circular low-pass ("sinc") kernel with cutoff ωc (radians per pixel, ≤ π):
    /// k(r) = ωc·J₁(ωc·r) / (2π·r), k(0) = ωc² / (4π). Models ringing and overshoot.
    public static func sinc(size: Int, cutoff: Double) -> BlurKernel {
        let half = size / 2
        var values: [Double] = []
        for y in -half...half {
            for x in -half...half {
                let r = (Double(x * x + y * y)).squareRoot()
                values.append(r == 0 ? cutoff * cutoff / (4 * .pi) : cutoff * j1(cutoff * r) / (2 * .pi * r))
            }
        }
        return BlurKernel(size: size, values: values)
    }
}
