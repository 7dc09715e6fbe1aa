import Foundation
import SRImage
import SRTensor

/// Real-ESRGAN's second-order degradation (Wang et al., ICCVW 2021): blur, random resize, noise
/// and JPEG, twice, then a resize to the input size with an optional sinc filter and JPEG in random
/// order. Every draw comes from the caller's seeded generator, so a seed gives the same input.
/// All ranges can be overridden from a JSON file (`upscale train --degradation FILE.json`); keys
/// that a file leaves out keep these defaults.
public struct RealisticDegradation: Codable, Sendable, Equatable {
    /// A closed range [low, high] drawn uniformly.
    public struct Span: Codable, Sendable, Equatable {
        public var low: Double
        public var high: Double
        public init(_ low: Double, _ high: Double) { (self.low, self.high) = (low, high) }
        func draw(_ generator: inout SeededGenerator) -> Double { low + (high - low) * generator.nextUniform() }
    }

    /// One order's blur: a kernel of odd size in `kernelSizes`, its shape drawn with `shapeProbabilities`
    /// (isotropic, anisotropic, generalised iso/aniso, plateau iso/aniso), or a sinc kernel with
    /// probability `sincProbability`.
    public struct Blur: Codable, Sendable, Equatable {
        public var probability = 1.0
        public var kernelSizes = [7, 9, 11, 13, 15, 17, 19, 21]
        public var shapeProbabilities = [0.45, 0.25, 0.12, 0.03, 0.12, 0.03]
        public var sigma = Span(0.2, 3)
        public var generalizedBeta = Span(0.5, 4)
        public var plateauBeta = Span(1, 2)
        public var sincProbability = 0.1

        func kernel(_ generator: inout SeededGenerator) -> BlurKernel {
            let size = kernelSizes[generator.nextInt(below: kernelSizes.count)]
            if generator.nextUniform() < sincProbability {
                // Smaller kernels get milder cutoffs (Real-ESRGAN's rule).
                let cutoff = size < 13 ? Span(.pi / 3, .pi).draw(&generator) : Span(.pi / 5, .pi).draw(&generator)
                return .sinc(size: size, cutoff: cutoff)
            }
            let shape = BlurKernel.Shape.allCases[choose(shapeProbabilities, &generator)]
            let sigmaX = sigma.draw(&generator)
            let sigmaY = shape.isIsotropic ? sigmaX : sigma.draw(&generator)
            let rotation = shape.isIsotropic ? 0 : Span(-.pi, .pi).draw(&generator)
            let beta: Double
            switch shape {
            case .generalizedIsotropic, .generalizedAnisotropic: beta = generalizedBeta.draw(&generator)
            case .plateauIsotropic, .plateauAnisotropic: beta = plateauBeta.draw(&generator)
            default: beta = 1
            }
            return .gaussianFamily(shape, size: size, sigmaX: sigmaX, sigmaY: sigmaY, rotation: rotation, beta: beta)
        }
    }

    /// One order's resize: up / down / keep with `probabilities`, by a factor from `upScale` or
    /// `downScale`, with area / bilinear / bicubic chosen uniformly.
    public struct Resize: Codable, Sendable, Equatable {
        public var probabilities = [0.2, 0.7, 0.1]
        public var upScale = Span(1, 1.5)
        public var downScale = Span(0.15, 1)

        func factor(_ generator: inout SeededGenerator) -> Double {
            switch choose(probabilities, &generator) {
            case 0: return upScale.draw(&generator)
            case 1: return downScale.draw(&generator)
            default: return 1
            }
        }
    }

    /// One order's noise: Gaussian (σ in 8-bit levels) with probability `gaussianProbability`, else
    /// Poisson with a scale from `poissonScale`; luminance-only with probability `grayProbability`.
    public struct Noise: Codable, Sendable, Equatable {
        public var gaussianProbability = 0.5
        public var gaussianSigma = Span(1, 30)
        public var poissonScale = Span(0.05, 3)
        public var grayProbability = 0.4
    }

    public var blur1 = Blur()
    public var resize1 = Resize()
    public var noise1 = Noise()
    public var jpeg1 = Span(30, 95)
    public var blur2 = Blur(probability: 0.8, sigma: Span(0.2, 1.5))
    public var resize2 = Resize(probabilities: [0.3, 0.4, 0.3], upScale: Span(1, 1.2), downScale: Span(0.3, 1))
    public var noise2 = Noise(gaussianSigma: Span(1, 25), poissonScale: Span(0.05, 2.5))
    public var jpeg2 = Span(30, 95)
    /// The final sinc filter's probability and cutoff (its kernel sizes are `blur2.kernelSizes`).
    public var finalSincProbability = 0.8
    public var finalSincCutoff = Span(.pi / 3, .pi)
    /// The share of inputs made by clean bicubic downscaling instead (not in Real-ESRGAN, where it is 0):
    /// a model that also sees sharp inputs keeps their detail instead of sharpening them further.
    public var cleanProbability = 0.0

    public init() {}

    private enum CodingKeys: String, CodingKey {
        case blur1, resize1, noise1, jpeg1, blur2, resize2, noise2, jpeg2, finalSincProbability, finalSincCutoff
        case cleanProbability
    }

    /// Decodes every key that is present; a missing one keeps its default (so checkpoints written
    /// before a setting existed still load).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try container.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        blur1 = try value(.blur1, blur1)
        resize1 = try value(.resize1, resize1)
        noise1 = try value(.noise1, noise1)
        jpeg1 = try value(.jpeg1, jpeg1)
        blur2 = try value(.blur2, blur2)
        resize2 = try value(.resize2, resize2)
        noise2 = try value(.noise2, noise2)
        jpeg2 = try value(.jpeg2, jpeg2)
        finalSincProbability = try value(.finalSincProbability, finalSincProbability)
        finalSincCutoff = try value(.finalSincCutoff, finalSincCutoff)
        cleanProbability = try value(.cleanProbability, cleanProbability)
    }

    /// Degrades a high-resolution image `hr` (RGB, [0, 1]) into a `scale`-times smaller input,
    /// rounded to 8 bits as a saved file would be. Output size: ⌊width/scale⌋ × ⌊height/scale⌋.
    public func degrade(_ hr: PlanarImage, scale: Int, generator: inout SeededGenerator) -> PlanarImage {
        let (targetWidth, targetHeight) = (max(1, hr.width / scale), max(1, hr.height / scale))
        var image = hr.selectingChannels(0..<hr.colorChannels)
        // Drawn only when used, so the default pipeline's draws (and `eval`'s inputs) stay as they were.
        if cleanProbability > 0 && generator.nextUniform() < cleanProbability {
            return Resampler.resize(image, width: targetWidth, height: targetHeight).quantized(bits: 8)
        }
        // First order.
        image = image.filtered(with: blur1.kernel(&generator))
        image = randomResize(image, factor: resize1.factor(&generator), generator: &generator)
        image = addNoise(image, noise1, generator: &generator)
        image = jpeg(image, quality: jpeg1.draw(&generator))
        // Second order, sized relative to the final input.
        if generator.nextUniform() < blur2.probability { image = image.filtered(with: blur2.kernel(&generator)) }
        let factor2 = resize2.factor(&generator)
        image = image.resized(
            width: max(1, Int(Double(targetWidth) * factor2)), height: max(1, Int(Double(targetHeight) * factor2)),
            mode: ResizeMode.allCases[generator.nextInt(below: 3)])
        image = addNoise(image, noise2, generator: &generator)
        // Final resize + sinc, and JPEG, in random order.
        let sincKernel: BlurKernel =
            generator.nextUniform() < finalSincProbability
            ? .sinc(
                size: blur2.kernelSizes[generator.nextInt(below: blur2.kernelSizes.count)],
                cutoff: finalSincCutoff.draw(&generator)) : .pulse()
        let quality = jpeg2.draw(&generator)
        let mode = ResizeMode.allCases[generator.nextInt(below: 3)]
        if generator.nextUniform() < 0.5 {
            image = image.resized(width: targetWidth, height: targetHeight, mode: mode).filtered(with: sincKernel)
            image = jpeg(image, quality: quality)
        } else {
            image = jpeg(image, quality: quality)
            image = image.resized(width: targetWidth, height: targetHeight, mode: mode).filtered(with: sincKernel)
        }
        return image.clamped().quantized(bits: 8)
    }

    private func randomResize(_ image: PlanarImage, factor: Double, generator: inout SeededGenerator) -> PlanarImage {
        let mode = ResizeMode.allCases[generator.nextInt(below: 3)]
        return image.resized(
            width: max(1, Int(Double(image.width) * factor)), height: max(1, Int(Double(image.height) * factor)),
            mode: mode)
    }

    private func addNoise(_ image: PlanarImage, _ noise: Noise, generator: inout SeededGenerator) -> PlanarImage {
        let gray = generator.nextUniform() < noise.grayProbability
        if generator.nextUniform() < noise.gaussianProbability {
            let sigma = noise.gaussianSigma.draw(&generator) / 255
            return image.addingGaussianNoise(sigma: sigma, gray: gray, generator: &generator).clamped()
        }
        let scale = noise.poissonScale.draw(&generator)
        return image.addingPoissonNoise(scale: scale, gray: gray, generator: &generator).clamped()
    }

    private func jpeg(_ image: PlanarImage, quality: Double) -> PlanarImage {
        // Sizes here are at most the training crop or the user's image, both far below JPEG's limit;
        // should libjpeg still refuse, the image goes on without this step.
        (try? JPEGArtifacts.roundTrip(image, quality: Int(quality.rounded()))) ?? image
    }

    // MARK: Files

    /// Reads overrides from a JSON file: any subset of this type's keys (nested objects merge key by
    /// key into the defaults), e.g. `{"jpeg1": {"low": 60, "high": 95}, "noise2": {"gaussianProbability": 0}}`.
    /// - Throws: `ImageError` naming the file when it cannot be read, parsed or holds values out of range.
    public static func load(path: String) throws -> RealisticDegradation {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)) else {
            throw ImageError(path: path, reason: "cannot read the degradation file")
        }
        do {
            guard let overrides = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ImageError(path: path, reason: "a degradation file holds one JSON object")
            }
            let defaults = try JSONSerialization.jsonObject(with: JSONEncoder().encode(RealisticDegradation()))
            let merged = try merge(defaults as! [String: Any], overrides, path: path, prefix: "")
            let result = try JSONDecoder().decode(
                RealisticDegradation.self, from: JSONSerialization.data(withJSONObject: merged))
            try result.validate(path: path)
            return result
        } catch let error as ImageError {
            throw error
        } catch {
            throw ImageError(path: path, reason: "not a degradation description (\(error.localizedDescription))")
        }
    }

    private static func merge(
        _ base: [String: Any], _ overrides: [String: Any], path: String, prefix: String
    ) throws
        -> [String: Any]
    {
        var out = base
        for (key, value) in overrides {
            guard let existing = base[key] else {
                throw ImageError(path: path, reason: "unknown degradation setting '\(prefix + key)'")
            }
            if let inner = existing as? [String: Any], let override = value as? [String: Any] {
                out[key] = try merge(inner, override, path: path, prefix: prefix + key + ".")
            } else {
                out[key] = value
            }
        }
        return out
    }

    /// Checks every value is usable: probabilities in [0, 1] (weights ≥ 0 with a positive sum), ranges
    /// ordered, kernel sizes odd in 1-41, σ and scales positive, JPEG qualities in 1-100.
    public func validate(path: String) throws {
        func fail(_ reason: String) -> ImageError { ImageError(path: path, reason: reason) }
        for (name, span) in [
            ("jpeg1", jpeg1), ("jpeg2", jpeg2),
        ] where !(1 <= span.low && span.low <= span.high && span.high <= 100) {
            throw fail("\(name) must satisfy 1 ≤ low ≤ high ≤ 100")
        }
        for (name, blur) in [("blur1", blur1), ("blur2", blur2)] {
            guard !blur.kernelSizes.isEmpty, blur.kernelSizes.allSatisfy({ $0 % 2 == 1 && (1...41).contains($0) })
            else {
                throw fail("\(name).kernelSizes must be odd sizes between 1 and 41")
            }
            guard blur.shapeProbabilities.count == 6, blur.shapeProbabilities.allSatisfy({ $0 >= 0 }),
                blur.shapeProbabilities.reduce(0, +) > 0
            else { throw fail("\(name).shapeProbabilities must be 6 non-negative weights, not all zero") }
            guard 0 < blur.sigma.low, blur.sigma.low <= blur.sigma.high, 0 < blur.generalizedBeta.low,
                blur.generalizedBeta.low <= blur.generalizedBeta.high, 0 < blur.plateauBeta.low,
                blur.plateauBeta.low <= blur.plateauBeta.high
            else { throw fail("\(name): σ and β ranges must be positive and ordered") }
            guard (0...1).contains(blur.probability), (0...1).contains(blur.sincProbability) else {
                throw fail("\(name): probabilities must be between 0 and 1")
            }
        }
        for (name, resize) in [("resize1", resize1), ("resize2", resize2)] {
            guard resize.probabilities.count == 3, resize.probabilities.allSatisfy({ $0 >= 0 }),
                resize.probabilities.reduce(0, +) > 0, 0 < resize.downScale.low,
                resize.downScale.low <= resize.downScale.high, 0 < resize.upScale.low,
                resize.upScale.low <= resize.upScale.high, resize.upScale.high <= 4
            else { throw fail("\(name): 3 non-negative weights and ordered positive scales (up to 4) are needed") }
        }
        for (name, noise) in [("noise1", noise1), ("noise2", noise2)] {
            guard (0...1).contains(noise.gaussianProbability), (0...1).contains(noise.grayProbability),
                0 <= noise.gaussianSigma.low, noise.gaussianSigma.low <= noise.gaussianSigma.high,
                0 <= noise.poissonScale.low, noise.poissonScale.low <= noise.poissonScale.high
            else { throw fail("\(name): probabilities in [0, 1] and ordered non-negative ranges are needed") }
        }
        guard (0...1).contains(finalSincProbability), 0 < finalSincCutoff.low,
            finalSincCutoff.low <= finalSincCutoff.high, finalSincCutoff.high <= .pi
        else { throw fail("the final sinc needs a probability in [0, 1] and cutoffs in (0, π]") }
        guard (0...1).contains(cleanProbability) else { throw fail("cleanProbability must be between 0 and 1") }
    }
}

/// An index drawn with the given (not necessarily normalised) probabilities.
func choose(_ probabilities: [Double], _ generator: inout SeededGenerator) -> Int {
    let total = probabilities.reduce(0, +)
    var draw = generator.nextUniform() * total
    for (index, probability) in probabilities.enumerated() {
        draw -= probability
        if draw < 0 { return index }
    }
    return probabilities.count - 1
}
