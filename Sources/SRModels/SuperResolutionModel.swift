import Foundation
import SRNN
import SRTensor

/// What the engine, `eval`, `model info` and the memory model need from any upscaling network,
/// whatever its family. Input [1, 3, H, W] in [0, 1] → output [1, 3, H·s, W·s].
public protocol SuperResolutionModel: Layer {
    /// The family as stored in or detected from a file ("MSRResNet", "CompactResNet", "SRVGGNetCompact").
    var architectureName: String { get }
    /// The native upscaling factor.
    var scale: Int { get }
    /// How far (in input pixels) an output pixel sees; tiles overlapping this much reproduce the whole image.
    var receptiveRadius: Double { get }
    /// Channels of the feature maps the memory model counts, at input and at output resolution.
    var workingSetChannels: (input: Int, output: Int) { get }
    /// Whether `inference` runs on oneDNN (it then threads each convolution over all cores itself).
    var usesOneDNN: Bool { get }
    /// Key facts for `model info`, in display order.
    var summary: [(String, String)] { get }
}

extension SuperResolutionModel {
    /// The smallest integer overlap that makes tiled inference exact.
    public var exactOverlap: Int { Int(receptiveRadius.rounded(.up)) }
}

extension Generator: SuperResolutionModel {
    public var architectureName: String { config.architecture.rawValue }
    public var scale: Int { config.scale }
    public var receptiveRadius: Double { config.receptiveRadius }
    public var workingSetChannels: (input: Int, output: Int) {
        // MSRResNet's input-resolution maps are small next to its output-resolution ones (and inside
        // the memory model's fitted margin); CompactResNet keeps only 3 channels at output resolution.
        config.architecture == .compact ? (config.features, 3) : (0, config.features)
    }
    public var summary: [(String, String)] {
        [
            ("architecture", config.architecture.rawValue), ("scale", "×\(config.scale)"),
            ("features", "\(config.features)"), ("blocks", "\(config.blocks)"),
            ("activation", config.activation.rawValue),
            ("kernels", "first \(config.firstKernel), last \(config.lastKernel)"),
        ]
    }
}

/// Loads any model file `upscale` understands.
public enum ModelFile {
    /// A generator from a safetensors file: ours (architecture in `__metadata__`) or a plain state dict
    /// from another tool whose family is recognised from its tensor names and shapes (Real-ESRGAN's
    /// SRVGGNetCompact: general-x4v3, animevideov3).
    /// - Throws: `WeightFileError` naming the file when it is unreadable or of no family we know.
    public static func load(path: String) throws -> any SuperResolutionModel {
        let file = try SafeTensors.read(path: path)
        if file.metadata["arch"] != nil { return try Generator.load(path: path) }
        do {
            if let model = try SRVGGNetCompact(stateDictionary: file.tensors) { return model }
        } catch {
            throw WeightFileError(path: path, reason: "\(error)")
        }
        throw WeightFileError(
            path: path,
            reason: "no architecture in its metadata, and its tensor names match no family upscale knows "
                + "(MSRResNet and CompactResNet files carry 'arch'; SRVGGNetCompact is recognised by body.N names)")
    }
}
