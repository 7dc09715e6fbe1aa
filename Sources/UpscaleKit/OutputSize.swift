import SRImage
import SRTiling

/// The size of each output: a factor of its input's size, or a width and/or a height in pixels (a missing
/// side keeps the input's aspect ratio; both given, the output has exactly that size).
public enum OutputSize: Sendable, Equatable {
    case scale(Double)
    case pixels(width: Int?, height: Int?)

    /// The largest factor an output may be of its input, per side.
    public static let maximumScale = 64.0
    /// The largest width or height in pixels an output may be given.
    public static let maximumPixels = 1_000_000

    /// What is wrong with this size, naming the option (`scale`, `width` or `height`), or nil if it can be used.
    /// The command line and `Upscaler` both check sizes here, before any file is created.
    public var problem: String? {
        switch self {
        case .scale(let scale):
            return scale.isFinite && scale > 0 && scale <= Self.maximumScale
                ? nil : "scale must be greater than 0 and at most \(Int(Self.maximumScale))"
        case .pixels(nil, nil):
            return "width or height must be given"
        case .pixels(let width, let height):
            for (name, value) in [("width", width), ("height", height)] {
                if let value, !(1...Self.maximumPixels).contains(value) {
                    return "\(name) must be between 1 and \(Self.maximumPixels) pixels"
                }
            }
            return nil
        }
    }

    /// The factor the model is chosen for: the scale, or for sizes in pixels the largest native scale (4),
    /// whose output is then resampled to the size.
    var modelScale: Double {
        if case .scale(let scale) = self { return scale }
        return 4
    }

    /// The output's width and height for an input of `width` × `height` (the input file's `path` names it in
    /// the error when the size asks for more than `maximumScale` times a side).
    func outputSize(width: Int, height: Int, path: String) throws -> (width: Int, height: Int) {
        switch self {
        case .scale(let scale):
            return ImagePipeline.outputSize(width: width, height: height, scale: scale)
        case .pixels(let targetWidth, let targetHeight):
            let aspect = Double(width) / Double(height)
            let outWidth = targetWidth ?? max(1, Int((Double(targetHeight!) * aspect).rounded()))
            let outHeight = targetHeight ?? max(1, Int((Double(targetWidth!) / aspect).rounded()))
            for (side, target, input) in [("width", outWidth, width), ("height", outHeight, height)]
            where Double(target) > OutputSize.maximumScale * Double(input) {
                throw ImageError(
                    path: path,
                    reason: "an output \(side) of \(target) pixels is more than \(Int(OutputSize.maximumScale)) "
                        + "times its \(input) pixels")
            }
            return (outWidth, outHeight)
        }
    }
}
