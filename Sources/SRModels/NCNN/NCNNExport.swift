import Foundation
import SRNN
import SRTensor

/// Writes models as ncnn `.param` + `.bin` files, the format Upscayl, realesrgan-ncnn-vulkan and chaiNNer's
/// ncnn backend load (input blob "data", output blob "output", 3 channels in [0, 1]): our generators, and any
/// model upscale runs as an ncnn graph (SRVGGNetCompact, RRDBNet ×4, SPAN, ncnn files).
public enum NCNNExport {
    /// The `.param` text and `.bin` bytes of `model`.
    /// - Throws: `ModelError` for a family or a graph ncnn tools cannot take as an image-to-image network.
    public static func files(for model: any SuperResolutionModel) throws -> (param: String, bin: Data) {
        let graph: NCNNModel
        switch model {
        case let network as NCNNModel: graph = network
        case let network as SPANModel: graph = network.graph
        case let network as SRVGGNetCompact: graph = try network.graph()
        case let network as RRDBNet: graph = try network.graph()
        case let network as Generator: graph = try network.graph()
        default: throw ModelError("ncnn export does not know \(model.architectureName)")
        }
        guard graph.inputChannels == 3 else {
            throw ModelError(
                "this \(model.architectureName) graph takes a pixel-unshuffled \(graph.inputChannels)-channel input, "
                    + "which ncnn tools cannot feed")
        }
        // The graph is rebuilt once with a source that records each read, so the .bin holds exactly what an
        // ncnn reader asks for, in its order: tagged (convolution weights, float32 tag 0) or raw.
        var recorder = Recorder(source: NCNNNamedWeights(tensors: graph.stateDictionary()))
        _ = try NCNNModel(paramText: graph.paramText, weights: &recorder)
        return (graph.paramText, recorder.bytes)
    }

    /// Where the weights of the graph written to `path` (.param) go: the same name ending in .bin.
    public static func weightsPath(for path: String) -> String {
        precondition(path.hasSuffix(".param"), "an ncnn graph is written to a .param path")
        return String(path.dropLast(".param".count)) + ".bin"
    }

    /// Writes `model` to `path` (.param) and the weights beside it (.bin), each atomically; when the .param
    /// cannot be written, the .bin written for it is removed again, so no half of a pair is left behind.
    public static func write(_ model: any SuperResolutionModel, to path: String) throws {
        let weights = weightsPath(for: path)
        let (param, bin) = try files(for: model)
        try bin.write(to: URL(fileURLWithPath: weights), options: .atomic)
        do {
            try Data(param.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            try? FileManager.default.removeItem(atPath: weights)
            throw error
        }
    }

    struct Recorder: NCNNWeightSource {
        let source: NCNNNamedWeights
        var bytes = Data()

        mutating func values(layer: String, role: String, count: Int, tagged: Bool) throws -> [Float] {
            let values = try source.values(layer: layer, role: role, count: count, tagged: tagged)
            if tagged { bytes.append(contentsOf: [0, 0, 0, 0]) }
            for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            return values
        }
    }
}

extension Generator {
    /// The generator as an ncnn graph: convolutions with their LeakyReLU or ReLU fused (PReLU as its own layer),
    /// residual sums, pixel shuffles and the bilinear upsampled input (ncnn's Interp, half-pixel centres).
    public func graph() throws -> NCNNModel {
        guard config.inputChannels == 3, config.outputChannels == 3 else {
            throw ModelError("only 3-channel generators become ncnn graphs")
        }
        var g = NCNNGraphText()
        let prelu = config.activation == .prelu
        /// A convolution followed by the generator's activation (fused unless it is a PReLU).
        func activated(_ x: String, _ conv: Conv2d, _ activation: any Layer) -> String {
            guard prelu, let layer = activation as? PReLU else { return g.convolution(x, conv, leakySlope: 0.1) }
            return g.prelu(g.convolution(x, conv), layer)
        }
        let features = activated("data", convFirst, activationFirst)
        var x = features
        for block in body {
            let inner =
                prelu
                ? g.prelu(g.convolution(x, block.conv1), block.activation as! PReLU)
                : g.convolution(x, block.conv1, leakySlope: 0)
            x = g.layer("BinaryOp", [x, g.convolution(inner, block.conv2)], "0=0")
        }
        let residual: String
        if let convBody, let convUp {
            let joined = g.layer("BinaryOp", [g.convolution(x, convBody), features], "0=0")
            residual = g.layer("PixelShuffle", [g.convolution(joined, convUp)], "0=\(config.scale)")
        } else {
            func stage(_ x: String, _ conv: Conv2d, _ activation: any Layer) -> String {
                let shuffled = g.layer("PixelShuffle", [g.convolution(x, conv)], "0=\(shuffle.factor)")
                if let layer = activation as? PReLU { return g.prelu(shuffled, layer) }
                return g.layer("ReLU", [shuffled], "0=0.1")
            }
            x = stage(x, upconv1!, activationUp1)
            if let upconv2 { x = stage(x, upconv2, activationUp2) }
            residual = g.convolution(activated(x, convHR!, activationHR), convLast!)
        }
        let scale = Float(config.scale)
        let base = g.layer("Interp", ["data"], "0=2 1=\(scale) 2=\(scale)")
        g.layer("BinaryOp", [residual, base], "0=0", output: "output")
        return try g.model()
    }
}
