import SRNN
import SRTensor

/// Real-ESRGAN's U-Net discriminator with spectral normalisation: per-pixel real/fake logits, so the
/// generator learns where its texture fails, not just whether. Input [N, 3, H, W] with H and W
/// multiples of 8 → logits [N, 1, H, W].
///
/// conv0 (3→F) → three stride-2 4×4 convolutions (F→2F→4F→8F) → three ×2 bilinear upsamplings, each
/// followed by a 3×3 convolution (8F→4F→2F→F) and a skip added from the encoder at that size →
/// conv7, conv8 (F→F) → conv9 (F→1). LeakyReLU 0.2 after every convolution but the last; spectral
/// norm on conv1–conv8, no bias there (as Real-ESRGAN's `UNetDiscriminatorSN`, whose names these are).
public final class UNetDiscriminator: Layer {
    let conv0: Conv2d
    let down: [SpectralNormConv2d]
    let up: [SpectralNormConv2d]
    let conv7: SpectralNormConv2d
    let conv8: SpectralNormConv2d
    let conv9: Conv2d
    let activation: LeakyReLU
    let upsample = Upsample(factor: 2, mode: .bilinear)

    /// - Parameter slope: LeakyReLU's negative slope (0.2; 1 makes the network linear, for exact checks).
    public init(features f: Int = 64, slope: Float = 0.2) {
        activation = LeakyReLU(slope: slope)
        conv0 = Conv2d(inputChannels: 3, outputChannels: f, kernelSize: 3)
        down = [(f, 2 * f), (2 * f, 4 * f), (4 * f, 8 * f)].map {
            SpectralNormConv2d(
                inputChannels: $0.0, outputChannels: $0.1, kernelSize: 4, stride: 2, padding: 1, bias: false)
        }
        up = [(8 * f, 4 * f), (4 * f, 2 * f), (2 * f, f)].map {
            SpectralNormConv2d(inputChannels: $0.0, outputChannels: $0.1, kernelSize: 3, bias: false)
        }
        conv7 = SpectralNormConv2d(inputChannels: f, outputChannels: f, kernelSize: 3, bias: false)
        conv8 = SpectralNormConv2d(inputChannels: f, outputChannels: f, kernelSize: 3, bias: false)
        conv9 = Conv2d(inputChannels: f, outputChannels: 1, kernelSize: 3)
    }

    /// Kaiming-normal weights, zero biases, random power-iteration states.
    public func initialize(generator: inout SeededGenerator) {
        conv0.initialize(scale: 1, generator: &generator)
        for layer in down + up + [conv7, conv8] { layer.initialize(generator: &generator) }
        conv9.initialize(scale: 1, generator: &generator)
    }

    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        precondition(
            input.shape[2] % 8 == 0 && input.shape[3] % 8 == 0, "U-Net discriminator input sides must be multiples of 8"
        )
        var pullbacks: [Pullback] = []
        func run(_ layer: any Layer, _ x: Tensor) -> Tensor {
            let (y, pullback) = layer.forward(x)
            pullbacks.append(pullback)
            return y
        }
        // Encoder: x0 … x3, kept for the skips (x0, x1, x2) and their gradients.
        var skips = [run(activation, run(conv0, input))]
        for layer in down { skips.append(run(activation, run(layer, skips.last!))) }
        let encoderCount = pullbacks.count
        // Decoder: each stage's pullback list starts where the previous ended.
        var x = skips[3]
        var stageEnds: [Int] = []
        for (index, layer) in up.enumerated() {
            x = run(activation, run(layer, run(upsample, x)))
            x.add(skips[2 - index])
            stageEnds.append(pullbacks.count)
        }
        let output = run(conv9, run(activation, run(conv8, run(activation, run(conv7, x)))))
        return (
            output,
            { gradient in
                var g = gradient
                // Head and decoder, adding each skip's gradient as its stage is passed.
                var skipGradients = [Tensor?](repeating: nil, count: 3)
                var position = pullbacks.count
                for (index, end) in stageEnds.enumerated().reversed() {
                    while position > end {
                        position -= 1
                        g = pullbacks[position](g)
                    }
                    skipGradients[2 - index] = g
                    let start = index == 0 ? encoderCount : stageEnds[index - 1]
                    while position > start {
                        position -= 1
                        g = pullbacks[position](g)
                    }
                }
                // Encoder: pullbacks come in (conv, activation) pairs per level; add skip gradients.
                for level in stride(from: 3, through: 0, by: -1) {
                    if level < 3, let skip = skipGradients[level] { g.add(skip) }
                    g = pullbacks[2 * level](pullbacks[2 * level + 1](g))
                }
                return g
            }
        )
    }

    public func inference(_ input: Tensor) -> Tensor {
        var skips = [activation.inference(conv0.inference(input))]
        for layer in down { skips.append(activation.inference(layer.inference(skips.last!))) }
        var x = skips[3]
        for (index, layer) in up.enumerated() {
            x = activation.inference(layer.inference(upsample.inference(x)))
            x.add(skips[2 - index])
        }
        return conv9.inference(activation.inference(conv8.inference(activation.inference(conv7.inference(x)))))
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        func named(_ prefix: String, _ layer: any Layer) -> [(name: String, parameter: Parameter)] {
            layer.namedParameters.map { (name: prefix + "." + $0.name, parameter: $0.parameter) }
        }
        var out = named("conv0", conv0)
        for (index, layer) in (down + up).enumerated() { out += named("conv\(index + 1)", layer) }
        return out + named("conv7", conv7) + named("conv8", conv8) + named("conv9", conv9)
    }
}
