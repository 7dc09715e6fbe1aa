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
    static let stages = [2, 2, 3, 3, 3]
    static let widths = [64, 128, 256, 512, 512]

    /// - Parameter layer: "convB_L" (before ReLU) or "reluB_L" (after), B in 1...5.
    public init(upTo layer: String) throws {
        layerName = layer
        var layers: [(String, any Layer)] = [("", CaffePreprocess())]
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
                if layer == name { found = true; break outer }
                layers.append(("", ReLU()))
                if layer == "relu\(stage + 1)_\(index)" { found = true; break outer }
            }
            layers.append(("", MaxPool2x2()))
        }
        guard found else { throw ModelError("unknown VGG layer '\(layer)': use convB_L or reluB_L with B in 1-5") }
        network = Sequential(layers)
        network.setFrozen(true)
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
