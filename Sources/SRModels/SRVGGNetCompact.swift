import Foundation
import SRNN
import SRTensor

/// Real-ESRGAN's SRVGGNetCompact (general-x4v3, animevideov3): a plain stack at input resolution,
/// conv (3→F) → PReLU → N × (conv F→F → PReLU) → conv (F→3·s²) → pixel shuffle, plus the input
/// upsampled by nearest neighbour. Input [N, 3, H, W] → [N, 3, H·s, W·s].
///
/// Tensor names as in Real-ESRGAN's state dicts: `body.0` (first conv), `body.1` (its PReLU, `weight` [F]),
/// `body.2`, `body.3`, …, and the last conv `body.{2N+2}`.
public final class SRVGGNetCompact: SuperResolutionModel, Layer {
    public let features: Int
    public let convolutions: Int
    public let scale: Int
    let body: [any Layer]
    let shuffle: PixelShuffle
    let base: Upsample
    let graphCache = GraphCache()

    /// - Parameters: F features, N inner convolutions, scale s (2-4).
    public init(features: Int, convolutions: Int, scale: Int) {
        self.features = features
        self.convolutions = convolutions
        self.scale = scale
        var body: [any Layer] = [
            Conv2d(inputChannels: 3, outputChannels: features, kernelSize: 3), PReLU(channels: features),
        ]
        for _ in 0..<convolutions {
            body += [
                Conv2d(inputChannels: features, outputChannels: features, kernelSize: 3), PReLU(channels: features),
            ]
        }
        body.append(Conv2d(inputChannels: features, outputChannels: 3 * scale * scale, kernelSize: 3))
        self.body = body
        shuffle = PixelShuffle(factor: scale)
        base = Upsample(factor: scale, mode: .nearest)
    }

    /// Recognises a Real-ESRGAN state dict (names `body.N.weight`/`.bias`, alternating 4-D convolution and
    /// 1-D PReLU weights) and loads it; nil when the names are not of this family.
    /// - Throws: `ModelError` when the names fit but shapes or counts do not.
    public convenience init?(stateDictionary tensors: [String: Tensor]) throws {
        let indices = tensors.keys.compactMap { key -> Int? in
            let parts = key.split(separator: ".")
            guard parts.count == 3, parts[0] == "body", parts[2] == "weight" || parts[2] == "bias" else { return nil }
            return Int(parts[1])
        }
        guard !indices.isEmpty, indices.count == tensors.count, let last = indices.max() else { return nil }
        guard last >= 2, last % 2 == 0, let first = tensors["body.0.weight"], first.shape.count == 4,
            first.shape[1] == 3, let output = tensors["body.\(last).weight"], output.shape.count == 4
        else { throw ModelError("SRVGGNetCompact-like names, but not its layout (body.0 must be a 3-channel conv)") }
        let features = first.shape[0]
        let channels = output.shape[0]
        guard let scale = [1, 2, 3, 4].first(where: { 3 * $0 * $0 == channels }), scale >= 2,
            (1...GeneratorConfig.maximumFeatures).contains(features), last / 2 - 1 <= GeneratorConfig.maximumBlocks
        else {
            throw ModelError(
                "SRVGGNetCompact with \(features) features and \(channels) output channels is not supported")
        }
        self.init(features: features, convolutions: last / 2 - 1, scale: scale)
        if let (name, _) = tensors.first(where: { !$0.value.scalars.allSatisfy(\.isFinite) }) {
            throw ModelError("tensor \(name) holds NaN or infinite values")
        }
        try loadStateDictionary(tensors)
    }

    public var architectureName: String { "SRVGGNetCompact" }
    /// Every 3×3 convolution adds one input pixel; nearest upsampling needs none.
    public var receptiveRadius: Double { Double(convolutions + 2) }
    public var workingSetChannels: (input: Int, output: Int) { (features, 3) }
    /// Its convolutions run on oneDNN's training convolutions (each over all cores) when available.
    public var usesOneDNN: Bool { DNNLTrainingConvolution.isEnabled }
    public var summary: [(String, String)] {
        [
            ("architecture", architectureName), ("scale", "×\(scale)"), ("features", "\(features)"),
            ("convolutions", "\(convolutions + 2)"), ("activation", "PReLU"),
        ]
    }

    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        var x = input
        var pullbacks: [Pullback] = []
        for layer in body + [shuffle] {
            let (y, pullback) = layer.forward(x)
            pullbacks.append(pullback)
            x = y
        }
        let (upsampled, basePullback) = base.forward(input)
        return (
            x + upsampled,
            { gradient in
                var g = gradient
                for pullback in pullbacks.reversed() { g = pullback(g) }
                return g + basePullback(gradient)
            }
        )
    }

    /// On the oneDNN plan of its ncnn graph when it can (batch 1), else layer by layer.
    public func inference(_ input: Tensor) -> Tensor {
        if input.shape[0] == 1,
            let graph = graphCache.model(weights: namedParameters.map(\.parameter.value.scalars), build: graph)
        {
            return graph.inference(input)
        }
        var x = (body + [shuffle]).reduce(input) { x, layer in
            (layer as? Conv2d)?.fastInference(x) ?? layer.inference(x)
        }
        x.add(base.inference(input))
        return x
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        body.enumerated().flatMap { index, layer in
            layer.namedParameters.map { (name: "body.\(index).\($0.name)", parameter: $0.parameter) }
        }
    }
}
