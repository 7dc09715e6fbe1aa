import Foundation
import SRNN
import SRTensor

/// ESRGAN's RRDBNet (Real-ESRGAN x4plus and x2plus): conv_first → N residual-in-residual dense blocks →
/// conv_body (+ conv_first's output) → two (nearest ×2 → conv → LeakyReLU 0.2) → conv_hr → LeakyReLU →
/// conv_last. The ×2 variant first pixel-unshuffles its input by 2 (12 channels into conv_first), the ×1
/// variant by 4. No skip from the input. Input [N, 3, H, W] → [N, 3, H·s, W·s].
///
/// Names as BasicSR's: `conv_first`, `body.i.rdb{1,2,3}.conv{1…5}`, `conv_body`, `conv_up1`, `conv_up2`,
/// `conv_hr`, `conv_last`; ESRGAN's older names (`model.0`, `model.1.sub.i.RDB1.conv1.0`, …) are mapped.
public final class RRDBNet: SuperResolutionModel, Layer {
    /// Five densely connected convolutions: conv_k sees the input and all earlier outputs (channel
    /// concatenation); out = x + 0.2·conv5(…). [N, F, H, W] → [N, F, H, W].
    final class DenseBlock: Layer {
        let convolutions: [Conv2d]
        let activation: LeakyReLU

        init(features f: Int, growth g: Int, slope: Float) {
            activation = LeakyReLU(slope: slope)
            convolutions = (0..<5).map { k in
                Conv2d(inputChannels: f + k * g, outputChannels: k == 4 ? f : g, kernelSize: 3)
            }
        }

        func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
            var features = [input]
            var pullbacks: [(conv: Pullback, activation: Pullback?)] = []
            var last = input
            for (k, conv) in convolutions.enumerated() {
                let (y, convPullback) = conv.forward(Tensor(concatenatingChannels: features))
                if k < 4 {
                    let (z, activationPullback) = activation.forward(y)
                    features.append(z)
                    pullbacks.append((convPullback, activationPullback))
                } else {
                    last = y
                    pullbacks.append((convPullback, nil))
                }
            }
            let sizes = features.map { $0.shape[1] }
            return (
                input + last * 0.2,
                { gradient in
                    // Gradients of the concatenated features, filled from the last convolution backwards.
                    var gradients = sizes.map {
                        Tensor(zeros: [gradient.shape[0], $0, gradient.shape[2], gradient.shape[3]])
                    }
                    gradients[0] = gradient
                    var upstream = gradient * 0.2
                    for k in stride(from: 4, through: 0, by: -1) {
                        if k < 4 { upstream = pullbacks[k].activation!(gradients[k + 1]) }
                        let parts = pullbacks[k].conv(upstream).splittingChannels(Array(sizes[0...k]))
                        for (index, part) in parts.enumerated() { gradients[index].add(part) }
                    }
                    return gradients[0]
                }
            )
        }

        func inference(_ input: Tensor) -> Tensor {
            var features = [input]
            for (k, conv) in convolutions.enumerated() {
                let y = conv.fastInference(Tensor(concatenatingChannels: features))
                if k == 4 { return input + y * 0.2 }
                features.append(activation.inference(y))
            }
            return input
        }

        var namedParameters: [(name: String, parameter: Parameter)] {
            convolutions.enumerated().flatMap { k, conv in
                conv.namedParameters.map { (name: "conv\(k + 1).\($0.name)", parameter: $0.parameter) }
            }
        }
    }

    /// Three dense blocks with a scaled residual around them: x + 0.2·rdb3(rdb2(rdb1(x))).
    final class ResidualInResidual: Layer {
        let blocks: [DenseBlock]
        init(features: Int, growth: Int, slope: Float) {
            blocks = (0..<3).map { _ in DenseBlock(features: features, growth: growth, slope: slope) }
        }

        func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
            var x = input
            var pullbacks: [Pullback] = []
            for block in blocks {
                let (y, pullback) = block.forward(x)
                pullbacks.append(pullback)
                x = y
            }
            return (
                input + x * 0.2,
                { gradient in
                    var g = gradient * 0.2
                    for pullback in pullbacks.reversed() { g = pullback(g) }
                    return g + gradient
                }
            )
        }

        func inference(_ input: Tensor) -> Tensor { input + blocks.reduce(input) { $1.inference($0) } * 0.2 }

        var namedParameters: [(name: String, parameter: Parameter)] {
            blocks.enumerated().flatMap { index, block in
                block.namedParameters.map { (name: "rdb\(index + 1).\($0.name)", parameter: $0.parameter) }
            }
        }
    }

    public let features: Int
    public let growth: Int
    public let blockCount: Int
    public let scale: Int
    let unshuffle: Int
    let convFirst: Conv2d
    let body: [ResidualInResidual]
    let convBody, convUp1, convUp2, convHR, convLast: Conv2d
    let activation: LeakyReLU
    let upsample = Upsample(factor: 2, mode: .nearest)
    let graphCache = GraphCache()

    /// - Parameter slope: LeakyReLU's negative slope (0.2; 1 makes the network linear, for exact checks).
    public init(features: Int = 64, growth: Int = 32, blocks: Int = 23, scale: Int = 4, slope: Float = 0.2) {
        activation = LeakyReLU(slope: slope)
        precondition([1, 2, 4].contains(scale), "RRDBNet scales are 1, 2 and 4")
        self.features = features
        self.growth = growth
        blockCount = blocks
        self.scale = scale
        unshuffle = 4 / scale
        convFirst = Conv2d(inputChannels: 3 * unshuffle * unshuffle, outputChannels: features, kernelSize: 3)
        body = (0..<blocks).map { _ in ResidualInResidual(features: features, growth: growth, slope: slope) }
        convBody = Conv2d(inputChannels: features, outputChannels: features, kernelSize: 3)
        convUp1 = Conv2d(inputChannels: features, outputChannels: features, kernelSize: 3)
        convUp2 = Conv2d(inputChannels: features, outputChannels: features, kernelSize: 3)
        convHR = Conv2d(inputChannels: features, outputChannels: features, kernelSize: 3)
        convLast = Conv2d(inputChannels: features, outputChannels: 3, kernelSize: 3)
    }

    public var architectureName: String { "RRDBNet" }
    /// In input pixels: 15 convolutions per block plus conv_first and conv_body at the packed resolution
    /// (1/unshuffle), conv_up1 at 2× and conv_up2, conv_hr and conv_last at 4× of it, plus up to
    /// unshuffle − 1 pixels for the packed cell a pixel shares with its neighbours.
    public var receptiveRadius: Double {
        let u = Double(unshuffle)
        return u * (Double(15 * blockCount + 2) + 0.5 + 0.75) + u - 1
    }
    public var workingSetChannels: (input: Int, output: Int) { (features + 4 * growth, features) }
    /// Through its graph (its 2× and 4× stages in row bands): the graph's count for the packed input.
    public func workingSetFloats(height: Int, width: Int) -> Double? {
        currentGraph?.workingSetFloats(
            height: (height + unshuffle - 1) / unshuffle, width: (width + unshuffle - 1) / unshuffle)
    }
    public var workingSetCopies: Double? { currentGraph?.workingSetCopies }
    /// The graph inference runs on for the current weights (nil without oneDNN).
    private var currentGraph: NCNNModel? {
        graphCache.model(weights: namedParameters.map(\.parameter.value.scalars), build: graph)
    }
    public var inputAlignment: Int { unshuffle }
    /// Its convolutions run on oneDNN's training convolutions (each over all cores) when available.
    public var usesOneDNN: Bool { DNNLTrainingConvolution.isEnabled }
    public var summary: [(String, String)] {
        [
            ("architecture", architectureName), ("scale", "×\(scale)"), ("features", "\(features)"),
            ("growth", "\(growth)"), ("blocks", "\(blockCount)"),
        ]
    }

    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        var pullbacks: [Pullback] = []
        func run(_ layer: any Layer, _ x: Tensor) -> Tensor {
            let (y, pullback) = layer.forward(x)
            pullbacks.append(pullback)
            return y
        }
        let packed = unshuffle > 1 ? PixelShuffle.unshuffle(input, factor: unshuffle) : input
        let features = run(convFirst, packed)
        let trunkStart = pullbacks.count
        var x = features
        for block in body { x = run(block, x) }
        x = run(convBody, x)
        let trunkEnd = pullbacks.count
        x = x + features
        x = run(activation, run(convUp1, run(upsample, x)))
        x = run(activation, run(convUp2, run(upsample, x)))
        x = run(convLast, run(activation, run(convHR, x)))
        let factor = unshuffle
        return (
            x,
            { gradient in
                var g = gradient
                for index in stride(from: pullbacks.count - 1, through: trunkEnd, by: -1) { g = pullbacks[index](g) }
                var trunk = g
                for index in stride(from: trunkEnd - 1, through: trunkStart, by: -1) { trunk = pullbacks[index](trunk) }
                let packedGradient = pullbacks[0](trunk + g)
                return factor > 1 ? PixelShuffle.shuffle(packedGradient, factor: factor) : packedGradient
            }
        )
    }

    /// On the oneDNN plan of its ncnn graph when it can (batch 1), else layer by layer. A side
    /// that the unshuffle factor does not divide is first extended by repeating its last row or column
    /// (Real-ESRGAN pads there too); the output is cropped back to input size × scale.
    public func inference(_ input: Tensor) -> Tensor {
        let (height, width) = (input.shape[2], input.shape[3])
        if height % unshuffle != 0 || width % unshuffle != 0 {
            let padded = RRDBNet.replicatingEdges(
                input, height: height + (unshuffle - height % unshuffle) % unshuffle,
                width: width + (unshuffle - width % unshuffle) % unshuffle)
            return RRDBNet.topLeft(inference(padded), height: height * scale, width: width * scale)
        }
        let packed = unshuffle > 1 ? PixelShuffle.unshuffle(input, factor: unshuffle) : input
        if input.shape[0] == 1, let graph = currentGraph { return graph.inference(packed) }
        let features = convFirst.fastInference(packed)
        var x = convBody.fastInference(body.reduce(features) { $1.inference($0) })
        x.add(features)
        x = activation.inference(convUp1.fastInference(upsample.inference(x)))
        x = activation.inference(convUp2.fastInference(upsample.inference(x)))
        return convLast.fastInference(activation.inference(convHR.fastInference(x)))
    }

    /// [N, C, h, w] → [N, C, height, width] (height ≥ h, width ≥ w), new rows and columns copying the last ones.
    static func replicatingEdges(_ x: Tensor, height: Int, width: Int) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var out = Tensor(zeros: [n, c, height, width])
        for plane in 0..<(n * c) {
            for y in 0..<height {
                let source = (plane * h + min(y, h - 1)) * w, target = (plane * height + y) * width
                for x0 in 0..<width { out.scalars[target + x0] = x.scalars[source + min(x0, w - 1)] }
            }
        }
        return out
    }

    /// The top-left [N, C, height, width] of `x`.
    static func topLeft(_ x: Tensor, height: Int, width: Int) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var out = Tensor(zeros: [n, c, height, width])
        for plane in 0..<(n * c) {
            for y in 0..<height {
                for x0 in 0..<width {
                    out.scalars[(plane * height + y) * width + x0] = x.scalars[(plane * h + y) * w + x0]
                }
            }
        }
        return out
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        func named(_ prefix: String, _ layer: any Layer) -> [(name: String, parameter: Parameter)] {
            layer.namedParameters.map { (name: prefix + "." + $0.name, parameter: $0.parameter) }
        }
        var out = named("conv_first", convFirst)
        for (index, block) in body.enumerated() { out += named("body.\(index)", block) }
        return out + named("conv_body", convBody) + named("conv_up1", convUp1) + named("conv_up2", convUp2)
            + named("conv_hr", convHR) + named("conv_last", convLast)
    }

    /// Recognises an RRDBNet state dict (BasicSR or ESRGAN names) and loads it; nil for other families.
    /// - Throws: `ModelError` when the names fit but the shapes do not.
    public convenience init?(stateDictionary original: [String: Tensor]) throws {
        let tensors = original["model.0.weight"] != nil ? RRDBNet.modernNames(original) : original
        guard let first = tensors["conv_first.weight"], tensors["conv_up1.weight"] != nil,
            tensors["body.0.rdb1.conv1.weight"] != nil, first.shape.count == 4,
            let growthWeight = tensors["body.0.rdb1.conv1.weight"], growthWeight.shape.count == 4
        else { return nil }
        let blocks = Set(
            tensors.keys.compactMap { key -> Int? in
                let parts = key.split(separator: ".")
                return parts.count > 2 && parts[0] == "body" ? Int(parts[1]) : nil
            }
        ).count
        let scale: Int
        switch first.shape[1] {
        case 3: scale = 4
        case 12: scale = 2
        case 48: scale = 1
        default: throw ModelError("RRDBNet with \(first.shape[1]) input channels is not supported")
        }
        guard (1...GeneratorConfig.maximumFeatures).contains(first.shape[0]), blocks <= GeneratorConfig.maximumBlocks
        else { throw ModelError("RRDBNet of this size is not supported") }
        self.init(features: first.shape[0], growth: growthWeight.shape[0], blocks: blocks, scale: scale)
        if let (name, _) = tensors.first(where: { !$0.value.scalars.allSatisfy(\.isFinite) }) {
            throw ModelError("tensor \(name) holds NaN or infinite values")
        }
        try loadStateDictionary(tensors)
    }

    /// ESRGAN's original names → BasicSR's.
    static func modernNames(_ tensors: [String: Tensor]) -> [String: Tensor] {
        let fixed = [
            "model.0": "conv_first", "model.1.sub.\(23)": "conv_body", "model.3": "conv_up1", "model.6": "conv_up2",
            "model.8": "conv_hr", "model.10": "conv_last",
        ]
        var out: [String: Tensor] = [:]
        let trunk = tensors.keys.filter { $0.hasPrefix("model.1.sub.") && !$0.contains("RDB") }
        let trunkPrefix = trunk.first.map { String($0.split(separator: ".").prefix(4).joined(separator: ".")) }
        for (key, tensor) in tensors {
            var name = key
            if let trunkPrefix, key.hasPrefix(trunkPrefix + ".") {
                name = "conv_body" + key.dropFirst(trunkPrefix.count)
            } else if key.hasPrefix("model.1.sub.") {
                // model.1.sub.I.RDBk.convj.0.weight → body.I.rdbk.convj.weight
                let parts = key.split(separator: ".")
                if parts.count == 8 {
                    name = "body.\(parts[3]).\(parts[4].lowercased()).\(parts[5]).\(parts[7])"
                }
            } else {
                for (old, new) in fixed where key.hasPrefix(old + ".") { name = new + key.dropFirst(old.count) }
            }
            out[name] = tensor
        }
        return out
    }
}

extension Tensor {
    /// Tensors [N, C_i, H, W] joined along channels → [N, ΣC_i, H, W].
    public init(concatenatingChannels parts: [Tensor]) {
        let (n, h, w) = (parts[0].shape[0], parts[0].shape[2], parts[0].shape[3])
        let channels = parts.map { $0.shape[1] }.reduce(0, +)
        var scalars = [Float]()
        scalars.reserveCapacity(n * channels * h * w)
        for image in 0..<n {
            for part in parts {
                let size = part.shape[1] * h * w
                scalars += part.scalars[(image * size)..<((image + 1) * size)]
            }
        }
        self.init(shape: [n, channels, h, w], scalars: scalars)
    }

    /// The inverse of `init(concatenatingChannels:)`: [N, ΣC_i, H, W] → one [N, C_i, H, W] per size.
    public func splittingChannels(_ sizes: [Int]) -> [Tensor] {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        var offset = 0
        return sizes.map { size in
            var part = [Float]()
            part.reserveCapacity(n * size * h * w)
            for image in 0..<n {
                let start = (image * c + offset) * h * w
                part += scalars[start..<(start + size * h * w)]
            }
            offset += size
            return Tensor(shape: [n, size, h, w], scalars: part)
        }
    }
}
