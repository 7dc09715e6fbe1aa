import SRNN
import SRTensor

/// BasicSR's VGGStyleDiscriminator without batch norm: five stages of (3×3 conv, LeakyReLU 0.2,
/// 4×4 stride-2 conv, LeakyReLU 0.2) with F, 2F, 4F, 8F, 8F channels, then linear1 (→100),
/// LeakyReLU 0.2, linear2 (→1). Input [N, 3, S, S] with S a multiple of 32 → logits [N, 1].
/// Names: `conv0_0` … `conv4_1`, `linear1`, `linear2`.
public final class Discriminator: Layer {
    public let inputSize: Int
    let network: Sequential

    public init(features: Int = 64, inputSize: Int) {
        precondition(inputSize % 32 == 0 && inputSize >= 32, "discriminator input size must be a multiple of 32")
        self.inputSize = inputSize
        let widths = [features, features * 2, features * 4, features * 8, features * 8]
        var layers: [(String, any Layer)] = []
        var channels = 3
        for (stage, width) in widths.enumerated() {
            layers.append(("conv\(stage)_0", Conv2d(inputChannels: channels, outputChannels: width, kernelSize: 3)))
            layers.append(("", LeakyReLU(slope: 0.2)))
            layers.append(
                (
                    "conv\(stage)_1",
                    Conv2d(inputChannels: width, outputChannels: width, kernelSize: 4, stride: 2, padding: 1)
                ))
            layers.append(("", LeakyReLU(slope: 0.2)))
            channels = width
        }
        let side = inputSize / 32
        layers.append(("", Flatten()))
        layers.append(("linear1", Linear(inputFeatures: channels * side * side, outputFeatures: 100)))
        layers.append(("", LeakyReLU(slope: 0.2)))
        layers.append(("linear2", Linear(inputFeatures: 100, outputFeatures: 1)))
        network = Sequential(layers)
    }

    /// Kaiming-normal weights (scale 1), zero biases.
    public func initialize(generator: inout SeededGenerator) {
        for child in network.children {
            if let conv = child.layer as? Conv2d { conv.initialize(scale: 1, generator: &generator) }
            if let linear = child.layer as? Linear { linear.initialize(scale: 1, generator: &generator) }
        }
    }

    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        precondition(
            input.shape[2] == inputSize && input.shape[3] == inputSize,
            "discriminator expects \(inputSize)×\(inputSize) input")
        return network.forward(input)
    }

    public func inference(_ input: Tensor) -> Tensor { network.inference(input) }
    public var namedParameters: [(name: String, parameter: Parameter)] { network.namedParameters }
}
