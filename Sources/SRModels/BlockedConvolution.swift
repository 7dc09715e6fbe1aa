import CDNNL
import SRNN
import SRTensor

/// A convolution inside an inference plan, between buffers in oneDNN's blocked layouts: oneDNN's
/// direct convolution, or Winograd F(2×2, 3×3) (`WinogradConvolution`) for 3×3 layers of 8k channels
/// when the plan keeps its maps in nChw8c (oneDNN's own choice on AVX2 machines, asked for on AVX-512 ones).
/// Both are checked against the reference path; Winograd made CompactResNet 48×8's forward 1.47× faster on
/// Zen 3.
enum BlockedConvolution {
    case oneDNN(DNNLConvolution)
    case winograd(WinogradConvolution, source: dnnl_memory_desc_t, destination: dnnl_memory_desc_t)

    /// - Parameters:
    ///   - source, destination: required layouts, or nil for the convolution's choice.
    ///   - preferWinograd: the plan's maps are nChw8c, so Winograd may take the layer.
    /// - Throws: `DNNL.Failure` when oneDNN has no fast implementation for the layer.
    init(
        _ layer: Conv2d, height: Int, width: Int, postOp: DNNLConvolution.PostOp, source: dnnl_memory_desc_t?,
        destination: dnnl_memory_desc_t?, preferWinograd: Bool
    ) throws {
        let output: WinogradConvolution.Output? =
            switch postOp {
            case .none: .store
            case .leakyReLU(let slope) where slope < 1: .leakyReLU(slope: slope)
            case .addToDestination: .addToDestination
            default: nil
            }
        if preferWinograd, WinogradConvolution.isEnabled, let output,
            WinogradConvolution.supports(weight: layer.weight.value.shape),
            source.map({ DNNLMemory.channelBlock(of: $0) == 8 }) ?? true,
            destination.map({ DNNLMemory.channelBlock(of: $0) == 8 }) ?? true
        {
            self = .winograd(
                WinogradConvolution(weight: layer.weight.value, bias: layer.bias?.value, output: output),
                source: try source ?? DNNLMemory.blocked8Descriptor([1, layer.weight.value.shape[1], height, width]),
                destination: try destination
                    ?? DNNLMemory.blocked8Descriptor([1, layer.outputChannels, height, width]))
            return
        }
        self = .oneDNN(
            try DNNLConvolution(
                weight: layer.weight.value, bias: layer.bias?.value, height: height, width: width, postOp: postOp,
                source: source, destination: destination))
    }

    var sourceDescriptor: dnnl_memory_desc_t {
        switch self {
        case .oneDNN(let convolution): convolution.sourceDescriptor
        case .winograd(_, let source, _): source
        }
    }

    var destinationDescriptor: dnnl_memory_desc_t {
        switch self {
        case .oneDNN(let convolution): convolution.destinationDescriptor
        case .winograd(_, _, let destination): destination
        }
    }

    func run(source: DNNLMemory, destination: DNNLMemory, scratch: ScratchBuffers) throws {
        switch self {
        case .oneDNN(let convolution):
            convolution.run(source: source, destination: destination)
        case .winograd(let convolution, _, _):
            try convolution.run(source: source, destination: destination, scratch: scratch)
        }
    }
}

extension DNNLConvolution {
    /// A oneDNN convolution whose output feeds Winograd layers where it can: Winograd runs on nChw8c maps,
    /// oneDNN's own choice on AVX2 hosts, but AVX-512 hosts pick 16-channel blocks. So where Winograd is enabled
    /// and the output channels are a multiple of 8, the output is asked for in nChw8c (oneDNN runs its AVX2 code
    /// there), and left to oneDNN's choice when it has no fast code for that.
    static func feedingWinograd(
        weight: Tensor, bias: Tensor?, height: Int, width: Int, postOps: [PostOp], preparedWeights: DNNLMemory? = nil
    ) throws -> DNNLConvolution {
        let outputs = weight.shape[0]
        if WinogradConvolution.isEnabled, outputs % 8 == 0,
            let convolution = try? DNNLConvolution(
                weight: weight, bias: bias, height: height, width: width, postOps: postOps,
                destination: DNNLMemory.blocked8Descriptor([1, outputs, height, width]),
                preparedWeights: preparedWeights)
        {
            return convolution
        }
        return try DNNLConvolution(
            weight: weight, bias: bias, height: height, width: width, postOps: postOps,
            preparedWeights: preparedWeights)
    }
}

extension WinogradConvolution {
    /// On nChw8c oneDNN buffers, on oneDNN's thread count, its scratch from the plan's buffers.
    func run(source: DNNLMemory, destination: DNNLMemory, scratch: ScratchBuffers) throws {
        let dimensions = DNNLMemory.dimensions(of: destination.descriptor)
        let workers = DNNL.workers
        run(
            source: source.pointer, destination: destination.pointer, height: dimensions[2], width: dimensions[3],
            workers: workers, scratch: try scratch.pointer("winograd", count: scratchCount(workers: workers)))
    }
}
