import Foundation
import SRImage
import SRTensor

extension PlanarImage {
    /// Adds Gaussian noise of standard deviation `sigma` (in [0, 1] units); `gray` puts the same
    /// noise in every colour plane (luminance noise), else each plane gets its own.
    public func addingGaussianNoise(sigma: Double, gray: Bool, generator: inout SeededGenerator) -> PlanarImage {
        var out = self
        let plane = width * height
        let planes = gray ? 1 : colorChannels
        var noise = [Float](repeating: 0, count: plane * planes)
        for i in noise.indices { noise[i] = Float(generator.nextNormal() * sigma) }
        for c in 0..<colorChannels {
            let source = gray ? 0 : c * plane
            for i in 0..<plane { out.pixels[c * plane + i] += noise[source + i] }
        }
        return out
    }

    /// Adds Poisson (shot) noise as Real-ESRGAN models it: counts Poisson(v·256)/256 − v for an 8-bit
    /// image of values v, times `scale`; `gray` draws it on the luminance (BT.601) and adds it to
    /// every plane.
    public func addingPoissonNoise(scale: Double, gray: Bool, generator: inout SeededGenerator) -> PlanarImage {
        var out = self
        let plane = width * height
        let levels = 256.0
        func shot(_ value: Float) -> Float {
            let lambda = Double(max(value, 0)) * levels
            return Float((Self.poisson(lambda, generator: &generator) / levels - Double(max(value, 0))) * scale)
        }
        if gray && colorChannels == 3 {
            for i in 0..<plane {
                let luma = 0.299 * pixels[i] + 0.587 * pixels[plane + i] + 0.114 * pixels[2 * plane + i]
                let noise = shot(luma)
                for c in 0..<3 { out.pixels[c * plane + i] += noise }
            }
        } else {
            for i in 0..<(plane * colorChannels) { out.pixels[i] += shot(pixels[i]) }
        }
        return out
    }

    /// A Poisson draw of mean λ: Knuth's product method for small λ, the normal approximation
    /// (rounded, never negative) from λ = 30 on.
    static func poisson(_ lambda: Double, generator: inout SeededGenerator) -> Double {
        if lambda >= 30 { return max(0, (lambda + lambda.squareRoot() * generator.nextNormal()).rounded()) }
        let limit = exp(-lambda)
        var product = generator.nextUniform()
        var count = 0.0
        while product > limit {
            product *= generator.nextUniform()
            count += 1
        }
        return count
    }

    /// Values clamped to [0, 1].
    public func clamped() -> PlanarImage {
        var out = self
        for i in out.pixels.indices { out.pixels[i] = min(max(out.pixels[i], 0), 1) }
        return out
    }
}
