import Foundation
import SRFiles
import SRNN
import SRTensor

/// What the engine, `eval`, `model info` and the memory model need from any upscaling network,
/// whatever its family. Input [1, 3, H, W] in [0, 1] → output [1, 3, H·s, W·s].
public protocol SuperResolutionModel: AnyObject {
    /// The family as stored in or detected from a file ("MSRResNet", "CompactResNet", "SRVGGNetCompact").
    var architectureName: String { get }
    /// The native upscaling factor.
    var scale: Int { get }
    /// How far (in input pixels) an output pixel sees; tiles overlapping this much reproduce the whole image.
    var receptiveRadius: Double { get }
    /// Channels of the feature maps the memory model counts, at input and at output resolution.
    var workingSetChannels: (input: Int, output: Int) { get }
    /// How many copies of `workingSetChannels` are alive at once, when the model knows (nil: the memory
    /// model's measured factor for the inference path).
    var workingSetCopies: Double? { get }
    /// Floats of the feature maps alive at once for a `height` × `width` input, for models whose working set
    /// does not grow with the tile's area alone (nil: `workingSetChannels` at input and output resolution).
    func workingSetFloats(height: Int, width: Int) -> Double?
    /// Tiles must start at multiples of this (a pixel-unshuffled input's factor; 1 for most models).
    var inputAlignment: Int { get }
    /// Whether `inference` runs on oneDNN (it then threads each convolution over all cores itself).
    var usesOneDNN: Bool { get }
    /// Key facts for `model info`, in display order.
    var summary: [(String, String)] { get }
    /// Scalars in all weights.
    var parameterCount: Int { get }
    /// Runs the network on a batch without keeping anything for training.
    func inference(_ input: Tensor) -> Tensor
    /// Weights by name, as `model convert` writes them.
    func stateDictionary() -> [String: Tensor]
}

extension SuperResolutionModel {
    public var workingSetCopies: Double? { nil }
    public func workingSetFloats(height: Int, width: Int) -> Double? { nil }
    public var inputAlignment: Int { 1 }

    /// The smallest integer overlap that makes tiled inference exact.
    public var exactOverlap: Int { Int(receptiveRadius.rounded(.up)) }

    /// The overlap tiles use unless the user sets one: exact up to 32 input pixels (every model of ours);
    /// deeper models (RRDBNet's radius is 347) get 32 and rely on blending, as their own tools do with less.
    public var defaultOverlap: Int { min(exactOverlap, 32) }
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
    /// CompactResNet's plan holds five input-resolution buffers of at most `features` channels (input,
    /// its blocked copy, features, body, inner; conv_up reuses the last two) and one 3-channel output:
    /// about 3.3 feature maps and one output, which 2.5 copies of both cover. Its peak RSS at tile 512
    /// measured 304 MB on a 512² input against 659 MB from this estimate. MSRResNet's oneDNN plan reuses dead
    /// buffers for conv_hr and conv_last: on a 512² input tiles of 128 and 256 peaked at 330 and 767 MB, which
    /// fits 3.6 copies of its 4×-resolution maps over a fixed 132 MB; 4 copies leave a margin.
    public var workingSetCopies: Double? {
        config.architecture == .compact ? 2.5 : (usesOneDNN ? 4 : nil)
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
    /// A network from a file: our safetensors (architecture in `__metadata__`), an ncnn graph (`.param`
    /// with its `.bin`), or a PyTorch / safetensors state dict from another tool whose family is recognised
    /// from its tensor names and shapes (MSRResNet, RRDBNet, SRVGGNetCompact, SPAN).
    /// - Throws: `WeightFileError` naming the file when it is unreadable or of no family we know.
    public static func load(path: String) throws -> any SuperResolutionModel {
        // Only regular files: a FIFO or device would block the zip sniffing below (refused with one line).
        _ = try FileSystem.requireRegularFile(path)
        if path.hasSuffix(".param") || path.hasSuffix(".bin") { return try NCNNModel.load(path: path) }
        let tensors: [String: Tensor]
        var declared: String?
        if PyTorchCheckpoint.looksLikeCheckpoint(path: path) {
            tensors = try PyTorchCheckpoint.stateDictionary(path: path)
        } else {
            let file = try SafeTensors.read(path: path)
            declared = file.metadata["arch"]
            if file.metadata["arch"] == "ncnn", let text = file.metadata["ncnn_param"] {
                do {
                    return try NCNNModel(paramText: text, tensors: file.tensors)
                } catch {
                    throw WeightFileError(path: path, reason: "\(error)")
                }
            }
            // Our generators by their metadata; files `model convert` wrote from other families (which record
            // their family in "arch") and files of other tools are recognised by their tensor names below.
            if let arch = file.metadata["arch"], GeneratorConfig.Architecture(rawValue: arch) != nil {
                return try Generator.load(file: file, path: path)
            }
            tensors = file.tensors
        }
        do {
            if let model = try SPANModel(stateDictionary: tensors) { return model }
            if let model = try SRVGGNetCompact(stateDictionary: tensors) { return model }
            if let model = try Generator(basicSRStateDictionary: tensors) { return model }
            if let model = try RRDBNet(stateDictionary: tensors) { return model }
        } catch {
            throw WeightFileError(path: path, reason: "\(error)")
        }
        throw WeightFileError(
            path: path,
            reason: (declared.map { "architecture '\($0)' is not one upscale knows" }
                ?? "no architecture in its metadata")
                + ", and its tensor names match no family upscale knows "
                + "(MSRResNet and CompactResNet files carry 'arch'; BasicSR's MSRResNet, ESRGAN's RRDBNet, "
                + "Real-ESRGAN's SRVGGNetCompact and SPAN are recognised by their tensor names)")
    }
}

extension Generator {
    /// Recognises BasicSR's MSRResNet state dict (conv_first, body.N.conv1/conv2, upconv1[, upconv2], conv_hr,
    /// conv_last) and loads it; nil when the names are not of this family.
    /// - Throws: `ModelError` when the names fit but the shapes do not.
    public convenience init?(basicSRStateDictionary tensors: [String: Tensor]) throws {
        guard let first = tensors["conv_first.weight"], let up = tensors["upconv1.weight"],
            let last = tensors["conv_last.weight"], tensors["conv_hr.weight"] != nil, first.shape.count == 4,
            up.shape.count == 4, last.shape.count == 4
        else { return nil }
        let features = first.shape[0]
        let blocks = Set(tensors.keys.filter { $0.hasPrefix("body.") && $0.hasSuffix(".conv1.weight") }).count
        let scale = tensors["upconv2.weight"] != nil ? 4 : up.shape[0] == 9 * features ? 3 : 2
        let config = GeneratorConfig(
            features: features, blocks: blocks, scale: scale, firstKernel: first.shape[2], lastKernel: last.shape[2])
        try config.validate()
        guard config.parameterCount == tensors.values.reduce(0, { $0 + $1.count }) else {
            throw ModelError("MSRResNet-like names, but \(tensors.count) tensors do not fit \(config)")
        }
        if let (name, _) = tensors.first(where: { !$0.value.scalars.allSatisfy(\.isFinite) }) {
            throw ModelError("tensor \(name) holds NaN or infinite values")
        }
        self.init(config: config)
        try loadStateDictionary(tensors)
    }
}
