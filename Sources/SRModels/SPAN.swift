import Foundation
import SRTensor

/// SPAN (Wan et al., "Swift Parameter-free Attention Network for Efficient Super-Resolution", CVPR 2024
/// workshops), loaded from its PyTorch state dict (`.pth`, or safetensors from OpenModelDB and `model convert`)
/// and run as an ncnn graph on the oneDNN plans. Input [1, 3, H, W] in [0, 1] → [1, 3, H·s, W·s].
///
/// Network: the input minus the RGB mean (0.4488, 0.4371, 0.4040), times 255 (unless the state dict holds
/// `no_norm`) → conv_1 → six blocks, each three 3×3 convolutions (SiLU after the first two) whose output y
/// gives (y + block input) · (sigmoid(y) − 0.5) → conv_2 on the last block's output → a 1×1 convolution of the
/// concatenated [conv_1 output, conv_2 output, block 1 output, block 6's first convolution] → a 3×3 convolution
/// to 3·s² channels → pixel shuffle. Every 3×3 convolution is a `Conv3XC`: trained as a 1×1 → 3×3 → 1×1 chain
/// beside a 1×1 skip, run (like its `eval` mode) as the single 3×3 convolution they multiply out to, which this
/// loader computes from the chain (the file's `eval_conv` tensors may be stale).
public final class SPANModel: SuperResolutionModel {
    public let features: Int
    public let scale: Int
    /// Whether the input is mean-subtracted and scaled by 255 first (files without `no_norm`).
    public let normalizesInput: Bool
    /// The state dict as read, for `model convert`.
    private let tensors: [String: Tensor]
    /// The merged network as an ncnn graph: what inference runs and ONNX export writes.
    let graph: NCNNModel

    static let blocks = 6
    static let mean: [Float] = [0.4488, 0.4371, 0.4040]

    /// Recognises a SPAN state dict (`conv_1.sk.weight`, `block_1.c1_r.…`, `conv_cat.weight`,
    /// `upsampler.0.weight`) and builds its graph; nil when the names are not of this family.
    /// - Throws: `ModelError` when the names fit but shapes do not, or a tensor is not finite.
    public init?(stateDictionary tensors: [String: Tensor]) throws {
        guard tensors["conv_1.sk.weight"] != nil, tensors["block_1.c1_r.sk.weight"] != nil,
            tensors["conv_cat.weight"] != nil, tensors["upsampler.0.weight"] != nil
        else { return nil }
        guard let skip = tensors["conv_1.sk.weight"], skip.shape.count == 4, skip.shape[1] == 3,
            let upsampler = tensors["upsampler.0.weight"], upsampler.shape.count == 4
        else { throw ModelError("SPAN-like names, but conv_1 does not take 3 channels") }
        let features = skip.shape[0]
        guard (1...GeneratorConfig.maximumFeatures).contains(features),
            let scale = (1...8).first(where: { 3 * $0 * $0 == upsampler.shape[0] })
        else {
            throw ModelError(
                "SPAN with \(features) features and a \(upsampler.shape[0])-channel upsampler is not supported")
        }
        if let (name, _) = tensors.first(where: { !$0.value.scalars.allSatisfy(\.isFinite) }) {
            throw ModelError("tensor \(name) holds NaN or infinite values")
        }
        self.features = features
        self.scale = scale
        self.tensors = tensors
        normalizesInput = tensors["no_norm"] == nil
        graph = try SPANModel.graph(
            tensors, features: features, scale: scale, normalizesInput: normalizesInput)
    }

    /// The ncnn graph of the network, each `Conv3XC` merged into one 3×3 convolution.
    static func graph(
        _ tensors: [String: Tensor], features: Int, scale: Int, normalizesInput: Bool
    ) throws -> NCNNModel {
        var g = NCNNGraphText()
        func merged(_ x: String, _ prefix: String, inputs: Int, outputs: Int) throws -> String {
            let (weight, bias) = try mergedConvolution(tensors, prefix: prefix, inputs: inputs, outputs: outputs)
            return g.convolution(x, weight: weight, bias: bias, kernel: 3)
        }
        var x = "data"
        if normalizesInput {
            let mean = g.constant(Tensor(shape: [3], scalars: mean))
            x = g.layer("BinaryOp", [g.layer("BinaryOp", [x, mean], "0=1")], "0=2 1=1 2=255.0")
        }
        let first = try merged(x, "conv_1", inputs: 3, outputs: features)
        var y = first
        var firstBlockOutput = first
        var lastBlockInner = first
        for block in 1...blocks {
            let inner = try merged(y, "block_\(block).c1_r", inputs: features, outputs: features)
            let second = try merged(
                g.layer("Swish", [inner]), "block_\(block).c2_r", inputs: features, outputs: features)
            let third = try merged(
                g.layer("Swish", [second]), "block_\(block).c3_r", inputs: features, outputs: features)
            let attention = g.layer("BinaryOp", [g.layer("Sigmoid", [third])], "0=1 1=1 2=0.5")
            y = g.layer("BinaryOp", [g.layer("BinaryOp", [third, y], "0=0"), attention], "0=2")
            if block == 1 { firstBlockOutput = y }
            if block == blocks { lastBlockInner = inner }
        }
        let tail = try merged(y, "conv_2", inputs: features, outputs: features)
        let joined = g.layer("Concat", [first, tail, firstBlockOutput, lastBlockInner], "0=0")
        let mixed = g.convolution(
            joined, weight: try tensor(tensors, "conv_cat.weight", [features, 4 * features, 1, 1]),
            bias: try tensor(tensors, "conv_cat.bias", [features]), kernel: 1)
        let upsampled = g.convolution(
            mixed, weight: try tensor(tensors, "upsampler.0.weight", [3 * scale * scale, features, 3, 3]),
            bias: try tensor(tensors, "upsampler.0.bias", [3 * scale * scale]), kernel: 3)
        g.layer("PixelShuffle", [upsampled], "0=\(scale)", output: "output")
        return try g.model()
    }

    /// The 3×3 convolution a `Conv3XC` computes in eval mode: W = W₃ · W₂ · W₁ (1×1, 3×3, 1×1 chain) plus the
    /// 1×1 skip at the centre tap; b = W₃ · (ΣW₂ · b₁ + b₂) + b₃ + b_skip. Weight [O, I, 3, 3], bias [O].
    static func mergedConvolution(
        _ tensors: [String: Tensor], prefix: String, inputs: Int, outputs: Int
    ) throws -> (weight: Tensor, bias: Tensor) {
        guard let first = tensors[prefix + ".conv.0.weight"], first.shape.count == 4 else {
            throw ModelError("\(prefix): missing its convolution chain (conv.0, conv.1, conv.2)")
        }
        let wide = first.shape[0]  // inputs · gain
        let w1 = try tensor(tensors, prefix + ".conv.0.weight", [wide, inputs, 1, 1])
        guard let middle = tensors[prefix + ".conv.1.weight"], middle.shape.count == 4 else {
            throw ModelError("\(prefix).conv.1.weight is missing")
        }
        let inner = middle.shape[0]  // outputs · gain
        let w2 = try tensor(tensors, prefix + ".conv.1.weight", [inner, wide, 3, 3])
        let w3 = try tensor(tensors, prefix + ".conv.2.weight", [outputs, inner, 1, 1])
        let skip = try tensor(tensors, prefix + ".sk.weight", [outputs, inputs, 1, 1])
        func bias(_ name: String, _ count: Int) throws -> [Float] {
            tensors[prefix + name] == nil
                ? [Float](repeating: 0, count: count) : try tensor(tensors, prefix + name, [count]).scalars
        }
        let (b1, b2, b3, bSkip) = (
            try bias(".conv.0.bias", wide), try bias(".conv.1.bias", inner), try bias(".conv.2.bias", outputs),
            try bias(".sk.bias", outputs)
        )
        // Per tap t: A_t = W₂[·, ·, t] · W₁ ([inner × wide] · [wide × inputs]), then W_t = W₃ · A_t, by sgemm.
        var taps = [Float](repeating: 0, count: 9 * inner * wide)  // W₂ as [t][n][m]
        var innerBias = b2
        for n in 0..<inner {
            for m in 0..<wide {
                for t in 0..<9 {
                    let w = w2.scalars[(n * wide + m) * 9 + t]
                    taps[(t * inner + n) * wide + m] = w
                    innerBias[n] += w * b1[m]
                }
            }
        }
        var chained = [Float](repeating: 0, count: 9 * inner * inputs)  // [t][n][i]
        var perTap = [Float](repeating: 0, count: 9 * outputs * inputs)  // [t][o][i]
        for t in 0..<9 {
            taps.withUnsafeBufferPointer { a in
                w1.scalars.withUnsafeBufferPointer { b in
                    chained.withUnsafeMutableBufferPointer { c in
                        GEMM.multiply(
                            m: inner, n: inputs, k: wide, a: a.baseAddress! + t * inner * wide, lda: wide,
                            b: b.baseAddress!, ldb: inputs, c: c.baseAddress! + t * inner * inputs, ldc: inputs)
                    }
                }
            }
            w3.scalars.withUnsafeBufferPointer { a in
                chained.withUnsafeBufferPointer { b in
                    perTap.withUnsafeMutableBufferPointer { c in
                        GEMM.multiply(
                            m: outputs, n: inputs, k: inner, a: a.baseAddress!, lda: inner,
                            b: b.baseAddress! + t * inner * inputs, ldb: inputs,
                            c: c.baseAddress! + t * outputs * inputs, ldc: inputs)
                    }
                }
            }
        }
        var weight = [Float](repeating: 0, count: outputs * inputs * 9)
        var outputBias = zip(b3, bSkip).map(+)
        for o in 0..<outputs {
            for n in 0..<inner { outputBias[o] += w3.scalars[o * inner + n] * innerBias[n] }
            for i in 0..<inputs {
                for t in 0..<9 { weight[(o * inputs + i) * 9 + t] = perTap[(t * outputs + o) * inputs + i] }
                weight[(o * inputs + i) * 9 + 4] += skip.scalars[o * inputs + i]
            }
        }
        return (Tensor(shape: [outputs, inputs, 3, 3], scalars: weight), Tensor(shape: [outputs], scalars: outputBias))
    }

    /// The tensor `name` with exactly `shape`.
    static func tensor(_ tensors: [String: Tensor], _ name: String, _ shape: [Int]) throws -> Tensor {
        guard let tensor = tensors[name] else { throw ModelError("\(name) is missing") }
        guard tensor.shape == shape else { throw ModelError("\(name) has shape \(tensor.shape), expected \(shape)") }
        return tensor
    }

    public var architectureName: String { "SPAN" }
    public var receptiveRadius: Double { graph.receptiveRadius }
    public var workingSetChannels: (input: Int, output: Int) { graph.workingSetChannels }
    public var workingSetCopies: Double? { graph.workingSetCopies }
    public func workingSetFloats(height: Int, width: Int) -> Double? {
        graph.workingSetFloats(height: height, width: width)
    }
    public var usesOneDNN: Bool { graph.usesOneDNN }
    public var parameterCount: Int { tensors.values.reduce(0) { $0 + $1.count } }
    public var summary: [(String, String)] {
        [
            ("architecture", architectureName), ("scale", "×\(scale)"), ("features", "\(features)"),
            ("blocks", "\(Self.blocks)"),
            ("input", normalizesInput ? "mean-subtracted, ×255" : "as is (no_norm)"),
        ]
    }

    public func inference(_ input: Tensor) -> Tensor { graph.inference(input) }
    /// The same through the graph's layer-by-layer reference interpreter (no oneDNN plan).
    public func interpret(_ input: Tensor) -> Tensor { graph.interpret(input) }
    /// Which path `inference` takes ("oneDNN plan …" or the interpreter).
    public var inferencePath: String { graph.inferencePath }
    public func stateDictionary() -> [String: Tensor] { tensors }
}
