import Foundation
import SRTensor

/// The architecture of an SRResNet-family generator, stored in a weight file's `__metadata__`.
///
/// Two layouts share the residual body (conv_first → act → N blocks of conv-ReLU-conv):
/// - `MSRResNet` (BasicSR's): ×2/×3 pixel-shuffle stages with `features` channels each, then conv_hr and
///   conv_last at the output resolution. Two thirds of its multiply-adds run at 2× and 4× resolution.
/// - `CompactResNet` (ours): everything at input resolution: the body, `conv_body` with a skip from
///   conv_first's output (EDSR's global residual), and `conv_up` to 3·s² channels, then one pixel
///   shuffle to the output. Same tensor names for the shared part.
///
/// Metadata keys (all strings): `arch` = "MSRResNet" or "CompactResNet", `num_in_ch`, `num_out_ch`, `num_feat`, `num_block`,
/// `upscale` (2, 3 or 4), `activation` ("lrelu": BasicSR's MSRResNet, ReLU inside blocks and LeakyReLU 0.1
/// elsewhere; "prelu": the SRGAN paper's per-channel PReLU), `first_kernel` and `last_kernel` (3, or 9 as in
/// the SRGAN paper), and optionally `kind` ("psnr" or "gan") and free-text `description`.
public struct GeneratorConfig: Codable, Sendable, Equatable {
    public enum Activation: String, Codable, Sendable { case lrelu, prelu }
    public enum Architecture: String, Codable, Sendable, CaseIterable {
        case msrResNet = "MSRResNet"
        case compact = "CompactResNet"
    }

    public var architecture = Architecture.msrResNet
    public var inputChannels = 3
    public var outputChannels = 3
    public var features = 64
    public var blocks = 16
    public var scale = 4
    public var activation = Activation.lrelu
    public var firstKernel = 3
    public var lastKernel = 3
    /// Training-time re-parameterisation: 0 for a plain network; N > 0 gives every convolution
    /// `ConvolutionBranches` whose expand–squeeze branch has N × its output channels. Only training runs use
    /// it: a weight file holds the folded network (`Generator.folded`), so this is never in its metadata.
    public var branchExpansion = 0
    public static let maximumBranchExpansion = 8

    public init(
        features: Int = 64, blocks: Int = 16, scale: Int = 4, activation: Activation = .lrelu,
        firstKernel: Int = 3, lastKernel: Int = 3, architecture: Architecture = .msrResNet
    ) {
        self.architecture = architecture
        self.features = features
        self.blocks = blocks
        self.scale = scale
        self.activation = activation
        self.firstKernel = firstKernel
        self.lastKernel = lastKernel
    }

    /// Upper bounds for sizes read from a file's metadata: generous for real models (BasicSR's are
    /// 64 features, 16 blocks), small enough that a hostile file cannot make us allocate gigabytes.
    public static let maximumFeatures = 512
    public static let maximumBlocks = 256
    public static let maximumKernel = 15

    /// Checks the combination is one the generator can build.
    public func validate() throws {
        guard [2, 3, 4].contains(scale) else { throw ModelError("upscale must be 2, 3 or 4, not \(scale)") }
        guard (1...Self.maximumFeatures).contains(features) else {
            throw ModelError("num_feat must be between 1 and \(Self.maximumFeatures), not \(features)")
        }
        guard (0...Self.maximumBlocks).contains(blocks) else {
            throw ModelError("num_block must be between 0 and \(Self.maximumBlocks), not \(blocks)")
        }
        guard (1...Self.maximumKernel).contains(firstKernel), (1...Self.maximumKernel).contains(lastKernel),
            firstKernel % 2 == 1, lastKernel % 2 == 1
        else {
            throw ModelError(
                "kernel sizes must be odd and between 1 and \(Self.maximumKernel), not \(firstKernel)/\(lastKernel)")
        }
        guard (0...Self.maximumBranchExpansion).contains(branchExpansion) else {
            throw ModelError("the branch expansion must be between 0 and \(Self.maximumBranchExpansion)")
        }
        guard inputChannels == 3, outputChannels == 3 else {
            throw ModelError("only RGB generators (3 in, 3 out) are supported")
        }
        guard architecture == .msrResNet || (activation == .lrelu && lastKernel == 3) else {
            throw ModelError("CompactResNet generators use LeakyReLU and a 3×3 conv_up")
        }
    }

    /// The number of weights a plain (folded) generator of this configuration has, computed without building it
    /// (so a file's tensors can be checked against its metadata before anything is allocated).
    public var parameterCount: Int {
        let f = features
        let stage = scale == 3 ? 3 : 2
        let prelu = activation == .prelu ? f : 0
        var count = inputChannels * f * firstKernel * firstKernel + f + prelu  // conv_first, act_first
        count += blocks * (2 * (f * f * 9 + f) + prelu)  // body
        if architecture == .compact {
            let up = outputChannels * scale * scale
            return count + f * f * 9 + f + f * up * 9 + up  // conv_body, conv_up
        }
        count += f * f * stage * stage * 9 + f * stage * stage + prelu  // upconv1, act_up1
        if scale == 4 { count += f * f * 4 * 9 + f * 4 + prelu }  // upconv2, act_up2
        count += f * f * 9 + f + prelu  // conv_hr, act_hr
        count += f * outputChannels * lastKernel * lastKernel + outputChannels  // conv_last
        return count
    }

    /// How far (in input pixels) an output pixel sees from its own position: convolutions at input
    /// resolution count fully, those after each ×2/×3 stage count divided by the resolution, plus the
    /// bilinear base (1). Tiles overlapping at least this much reproduce the whole-image output.
    public var receptiveRadius: Double {
        if architecture == .compact {
            // conv_first, blocks, conv_body, conv_up, all at input resolution; the bilinear base needs 1.
            return max(Double(firstKernel / 2) + 2 * Double(blocks) + 2, 1)
        }
        var radius = Double(firstKernel / 2) + 2 * Double(blocks) + 1  // conv_first, blocks, upconv1
        if scale == 4 { radius += 0.5 }  // upconv2 at 2×
        radius += Double(1 + lastKernel / 2) / Double(scale)  // conv_hr, conv_last at full resolution
        return max(radius, 1)  // bilinear base
    }

    /// The smallest integer overlap that makes tiled inference exact.
    public var exactOverlap: Int { Int(receptiveRadius.rounded(.up)) }

    /// Metadata entries for a weight file.
    public var metadata: [String: String] {
        [
            "arch": architecture.rawValue, "num_in_ch": "\(inputChannels)", "num_out_ch": "\(outputChannels)",
            "num_feat": "\(features)",
            "num_block": "\(blocks)", "upscale": "\(scale)", "activation": activation.rawValue,
            "first_kernel": "\(firstKernel)", "last_kernel": "\(lastKernel)", "format": "pt",
        ]
    }

    enum CodingKeys: String, CodingKey {
        case architecture, inputChannels, outputChannels, features, blocks, scale, activation, firstKernel, lastKernel
        case branchExpansion
    }

    /// Decodes a stored config; an older one without `architecture` is an MSRResNet, one without
    /// `branchExpansion` is plain.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        architecture = try container.decodeIfPresent(Architecture.self, forKey: .architecture) ?? .msrResNet
        inputChannels = try container.decode(Int.self, forKey: .inputChannels)
        outputChannels = try container.decode(Int.self, forKey: .outputChannels)
        features = try container.decode(Int.self, forKey: .features)
        blocks = try container.decode(Int.self, forKey: .blocks)
        scale = try container.decode(Int.self, forKey: .scale)
        activation = try container.decode(Activation.self, forKey: .activation)
        firstKernel = try container.decode(Int.self, forKey: .firstKernel)
        lastKernel = try container.decode(Int.self, forKey: .lastKernel)
        branchExpansion = try container.decodeIfPresent(Int.self, forKey: .branchExpansion) ?? 0
    }

    /// Reads a config from weight-file metadata.
    public init(metadata: [String: String]) throws {
        guard let arch = metadata["arch"] else {
            throw ModelError("no 'arch' in the file's metadata: not an upscale generator")
        }
        guard let architecture = arch == "SRResNet" ? .msrResNet : Architecture(rawValue: arch) else {
            throw ModelError("architecture '\(arch)' is not supported (MSRResNet or CompactResNet)")
        }
        func integer(_ key: String, _ fallback: Int) throws -> Int {
            guard let text = metadata[key] else { return fallback }
            guard let value = Int(text) else { throw ModelError("metadata '\(key)' = '\(text)' is not an integer") }
            return value
        }
        self.init(architecture: architecture)
        inputChannels = try integer("num_in_ch", 3)
        outputChannels = try integer("num_out_ch", 3)
        features = try integer("num_feat", 64)
        blocks = try integer("num_block", 16)
        scale = try integer("upscale", 4)
        firstKernel = try integer("first_kernel", 3)
        lastKernel = try integer("last_kernel", 3)
        if let text = metadata["activation"] {
            guard let value = Activation(rawValue: text) else {
                throw ModelError("metadata 'activation' = '\(text)' is not lrelu or prelu")
            }
            activation = value
        }
        try validate()
    }
}

/// A model file or configuration that cannot be used.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
