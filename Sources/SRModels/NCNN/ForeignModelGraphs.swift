import Foundation
import SRNN
import SRTensor

/// Families recognised from PyTorch state dicts run their inference as ncnn graphs on the oneDNN plans
/// (blocked layouts, fused activations, one plan per tile size), rebuilt whenever their weights change.
final class GraphCache: @unchecked Sendable {
    private let lock = NSLock()
    private var cached: (weights: [[Float]], model: NCNNModel?)?

    /// The graph for the current weights, or nil when oneDNN is off or the graph cannot be built.
    func model(weights: [[Float]], build: () throws -> NCNNModel) -> NCNNModel? {
        guard DNNLTrainingConvolution.isEnabled else { return nil }
        lock.lock()
        defer { lock.unlock() }
        if let cached, cached.weights == weights { return cached.model }
        let model = try? build()
        cached = (weights, model)
        return model
    }
}

extension SRVGGNetCompact {
    /// The network as an ncnn graph: convolutions and PReLUs, PixelShuffle, nearest Interp of the input, add.
    public func graph() throws -> NCNNModel {
        var g = NCNNGraphText()
        var x = "data"
        for layer in body {
            if let conv = layer as? Conv2d { x = g.convolution(x, conv) }
            if let prelu = layer as? PReLU { x = g.prelu(x, prelu) }
        }
        let shuffled = g.layer("PixelShuffle", [x], "0=\(scale)")
        let base = g.layer("Interp", ["data"], "0=1 1=\(Float(scale)) 2=\(Float(scale))")
        g.layer("BinaryOp", [shuffled, base], "0=0", output: "output")
        return try g.model()
    }
}

extension RRDBNet {
    /// The network as an ncnn graph: dense blocks as Concat + Convolution with LeakyReLU fused, the 0.2
    /// residual scales as Eltwise sums with coefficients, nearest Interp ×2 twice. The ×2 and ×1 variants'
    /// graphs take the pixel-unshuffled input (3·u² channels at 1/u resolution; ncnn has no such layer), so
    /// their graph upscales that by 4.
    public func graph() throws -> NCNNModel {
        var g = NCNNGraphText()
        let slope = activation.slope
        let features = g.convolution("data", convFirst)
        var x = features
        for block in body {
            var y = x
            for dense in block.blocks {
                var parts = [y]
                var last = y
                for (k, conv) in dense.convolutions.enumerated() {
                    let joined = parts.count == 1 ? parts[0] : g.layer("Concat", parts, "0=0")
                    if k < 4 {
                        parts.append(g.convolution(joined, conv, leakySlope: slope))
                    } else {
                        last = g.convolution(joined, conv)
                    }
                }
                y = g.layer("Eltwise", [y, last], "0=1 -23301=2,1.0,0.2")
            }
            x = g.layer("Eltwise", [x, y], "0=1 -23301=2,1.0,0.2")
        }
        x = g.layer("BinaryOp", [g.convolution(x, convBody), features], "0=0")
        for conv in [convUp1, convUp2] {
            x = g.convolution(g.layer("Interp", [x], "0=1 1=2.0 2=2.0"), conv, leakySlope: slope)
        }
        _ = g.convolution(g.convolution(x, convHR, leakySlope: slope), convLast, output: "output")
        return try g.model(inputChannels: 3 * unshuffle * unshuffle)
    }
}
