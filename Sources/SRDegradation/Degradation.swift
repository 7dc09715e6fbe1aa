import Foundation
import SRImage
import SRTensor

/// How a training or evaluation input is made from a high-resolution image.
public enum Degradation: Codable, Sendable, Equatable {
    /// MATLAB-style antialiased bicubic downscaling, rounded to 8 bits (the faithful models' and the
    /// benchmark protocol's input).
    case bicubic
    /// Real-ESRGAN's second-order blur, resize, noise and JPEG pipeline (photos from the wild).
    case realistic(RealisticDegradation)

    /// Parses `bicubic`, `realistic` or the path of a JSON file of `RealisticDegradation` overrides.
    /// - Throws: `ImageError` naming the file when a settings file is missing or invalid.
    public init(argument: String) throws {
        switch argument {
        case "bicubic": self = .bicubic
        case "realistic": self = .realistic(RealisticDegradation())
        default: self = .realistic(try RealisticDegradation.load(path: argument))
        }
    }

    /// The `scale`-times smaller RGB input for `hr` (RGB), ⌊width/scale⌋ × ⌊height/scale⌋, 8-bit values.
    /// Bicubic draws nothing from `generator`.
    public func degrade(_ hr: PlanarImage, scale: Int, generator: inout SeededGenerator) -> PlanarImage {
        switch self {
        case .bicubic:
            return Resampler.resize(hr, width: max(1, hr.width / scale), height: max(1, hr.height / scale))
                .quantized(bits: 8)
        case .realistic(let pipeline):
            return pipeline.degrade(hr, scale: scale, generator: &generator)
        }
    }

    /// A short name for logs: "bicubic" or "realistic".
    public var name: String {
        if case .bicubic = self { return "bicubic" }
        return "realistic"
    }
}
