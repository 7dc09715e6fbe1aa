import SRTensor

/// 2-D convolution with square kernels, zero padding and optional bias (PyTorch `nn.Conv2d`).
///
/// Input [N, C, H, W] → output [N, OC, OH, OW], OH = (H + 2·padding − kernelSize) / stride + 1.
/// Parameters: `weight` [OC, C, K, K], `bias` [OC].
public final class Conv2d: Layer {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Int
    public let padding: Int

    public init(
        inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int? = nil,
        bias: Bool = true
    ) {
        weight = Parameter(Tensor(zeros: [outputChannels, inputChannels, kernelSize, kernelSize]))
        self.bias = bias ? Parameter(Tensor(zeros: [outputChannels])) : nil
        self.stride = stride
        self.padding = padding ?? kernelSize / 2
    }

    public var inputChannels: Int { weight.value.shape[1] }
    public var outputChannels: Int { weight.value.shape[0] }
    public var kernelSize: Int { weight.value.shape[2] }

    /// Kaiming-normal weights (fan-in, gain √2) times `scale`, zero bias: BasicSR's `default_init_weights`.
    public func initialize(scale: Float = 1, generator: inout SeededGenerator) {
        let fanIn = inputChannels * kernelSize * kernelSize
        let std = (2 / Float(fanIn)).squareRoot()
        weight.value =
            Tensor.randomNormal(shape: weight.value.shape, standardDeviation: std, generator: &generator) * scale
        bias?.value.zero()
    }

    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        let output = inference(input)
        return (
            output,
            { [self] gradient in
                let weightFrozen = weight.isFrozen
                let biasFrozen = bias?.isFrozen ?? true
                return weight.gradient.scalars.withUnsafeMutableBufferPointer { dw in
                    if let bias, !biasFrozen {
                        return bias.gradient.scalars.withUnsafeMutableBufferPointer { db in
                            Convolution.backward(
                                outputGradient: gradient, input: input, weight: weight.value, stride: stride,
                                padding: padding, weightGradient: weightFrozen ? nil : dw.baseAddress,
                                biasGradient: db.baseAddress)
                        }
                    }
                    return Convolution.backward(
                        outputGradient: gradient, input: input, weight: weight.value, stride: stride,
                        padding: padding, weightGradient: weightFrozen ? nil : dw.baseAddress,
                        biasGradient: nil)
                }
            }
        )
    }

    public func inference(_ input: Tensor) -> Tensor {
        Convolution.forward(input: input, weight: weight.value, bias: bias?.value, stride: stride, padding: padding)
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        var out = [(name: "weight", parameter: weight)]
        if let bias { out.append((name: "bias", parameter: bias)) }
        return out
    }
}
