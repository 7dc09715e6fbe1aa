import SRNN
import SRTensor

/// Converts RGB in [0, 1] to the Caffe VGG input: BGR, 0-255, ImageNet mean (B, G, R) =
/// (103.939, 116.779, 123.68) subtracted. [N, 3, H, W] → [N, 3, H, W].
public final class CaffePreprocess: Layer {
    static let mean: [Float] = [103.939, 116.779, 123.68]
    public init() {}
    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        (inference(input), { CaffePreprocess.reverseChannels($0) * 255 })
    }
    public func inference(_ input: Tensor) -> Tensor {
        var out = CaffePreprocess.reverseChannels(input) * 255
        let (n, plane) = (input.shape[0], input.shape[2] * input.shape[3])
        for b in 0..<n {
            for c in 0..<3 { for i in 0..<plane { out.scalars[(b * 3 + c) * plane + i] -= CaffePreprocess.mean[c] } }
        }
        return out
    }
    static func reverseChannels(_ x: Tensor) -> Tensor {
        var out = x
        let (n, plane) = (x.shape[0], x.shape[2] * x.shape[3])
        for b in 0..<n {
            for c in 0..<3 {
                for i in 0..<plane { out.scalars[(b * 3 + c) * plane + i] = x.scalars[(b * 3 + 2 - c) * plane + i] }
            }
        }
        return out
    }
}

/// A frozen VGG16 feature extractor up to a named layer (e.g. "relu2_2" = SRGAN's VGG22, "conv5_3" =
/// ESRGAN-style pre-activation features). Input RGB [0, 1]; weights `convB_L.weight/bias` (Caffe convention).
public final class VGGFeatureExtractor: Layer {
    public let layerName: String
    let network: Sequential
    /// The layer name ("convB_L" or "reluB_L") each child's output carries, by child index.
    let tapNames: [Int: String]
    static let stages = [2, 2, 3, 3, 3]
    static let widths = [64, 128, 256, 512, 512]

    /// - Parameter layer: "convB_L" (before ReLU) or "reluB_L" (after), B in 1...5.
    public init(upTo layer: String) throws {
        layerName = layer
        var layers: [(String, any Layer)] = [("", CaffePreprocess())]
        var taps: [Int: String] = [:]
        var channels = 3
        var found = false
        outer: for (stage, count) in VGGFeatureExtractor.stages.enumerated() {
            for index in 1...count {
                let name = "conv\(stage + 1)_\(index)"
                layers.append(
                    (
                        name,
                        Conv2d(
                            inputChannels: channels, outputChannels: VGGFeatureExtractor.widths[stage], kernelSize: 3)
                    ))
                channels = VGGFeatureExtractor.widths[stage]
                taps[layers.count - 1] = name
                if layer == name { found = true; break outer }
                layers.append(("", ReLU()))
                taps[layers.count - 1] = "relu\(stage + 1)_\(index)"
                if layer == "relu\(stage + 1)_\(index)" { found = true; break outer }
            }
            layers.append(("", MaxPool2x2()))
        }
        guard found else { throw ModelError("unknown VGG layer '\(layer)': use convB_L or reluB_L with B in 1-5") }
        network = Sequential(layers)
        network.setFrozen(true)
        tapNames = taps
    }

    /// Features at several layers in one pass (each name a "convB_L" or "reluB_L" up to `layerName`),
    /// and a pullback taking one gradient per requested layer, in the same order.
    /// Input [N, 3, H, W] → one [N, C_l, H_l, W_l] tensor per layer.
    public func forward(
        _ input: Tensor, collecting layers: [String]
    ) -> (
        outputs: [Tensor], pullback: ([Tensor]) -> Tensor
    ) {
        let positions = layers.map { name in tapNames.first { $0.value == name }?.key }
        precondition(positions.allSatisfy { $0 != nil }, "VGG layers \(layers) are not all within \(layerName)")
        let last = positions.map { $0! }.max() ?? -1
        var x = input
        var pullbacks: [Pullback] = []
        var outputs = [Tensor?](repeating: nil, count: layers.count)
        for (index, child) in network.children.enumerated() where index <= last {
            let (y, pullback) = child.layer.forward(x)
            pullbacks.append(pullback)
            x = y
            for (slot, position) in positions.enumerated() where position == index { outputs[slot] = y }
        }
        return (
            outputs.map { $0! },
            { gradients in
                var g: Tensor?
                for index in stride(from: last, through: 0, by: -1) {
                    for (slot, position) in positions.enumerated() where position == index {
                        if g == nil { g = gradients[slot] } else { g!.add(gradients[slot]) }
                    }
                    g = pullbacks[index](g!)
                }
                return g!
            }
        )
    }

    /// Loads weights from a state dictionary that may hold more layers than needed.
    public func load(weights: [String: Tensor]) throws {
        let needed = Set(namedParameters.map(\.name))
        try loadStateDictionary(weights.filter { needed.contains($0.key) })
        network.setFrozen(true)
    }

    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) { network.forward(input) }
    public func inference(_ input: Tensor) -> Tensor { network.inference(input) }
    public var namedParameters: [(name: String, parameter: Parameter)] { network.namedParameters }
}
