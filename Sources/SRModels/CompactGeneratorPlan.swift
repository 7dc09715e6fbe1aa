import CDNNL
import SRNN
import SRTensor

/// A generator's inference for one tile size on oneDNN (`GeneratorPlan` for MSRResNet, this for
/// CompactResNet).
protocol GeneratorInferencePlan: AnyObject {
    /// Runs on `input` [1, 3, H, W] (the plan's size) → [1, 3, H·s, W·s], intermediates in `scratch`.
    func run(_ input: Tensor, scratch: ScratchBuffers) throws -> Tensor
    /// The plan's convolutions that run by Winograd, and all its convolutions.
    var winogradCount: (winograd: Int, convolutions: Int) { get }
}

extension Array where Element == BlockedConvolution {
    /// How many of these run by Winograd, and how many there are.
    var winogradCount: (winograd: Int, convolutions: Int) {
        (filter { if case .winograd = $0 { true } else { false } }.count, count)
    }
}

/// CompactResNet's inference for one tile size on oneDNN: every convolution runs in oneDNN's blocked
/// layout at input resolution with bias and LeakyReLU or the residual add fused (conv_body adds onto
/// conv_first's output in place); conv_up's 3·s² channels are reordered to plain and pixel-shuffled
/// straight into the output. Input [1, 3, H, W] → [1, 3, H·s, W·s].
final class CompactGeneratorPlan: GeneratorInferencePlan {
    let height: Int
    let width: Int
    private let scale: Int
    private let inputPlain: dnnl_memory_desc_t
    private let inputReorder: DNNLReorder
    private let first: DNNLConvolution
    private let blocks: [(BlockedConvolution, BlockedConvolution)]
    private let convBody: BlockedConvolution
    private let convUp: BlockedConvolution
    private let upPlain: dnnl_memory_desc_t
    private let upReorder: DNNLReorder
    private let base: Upsample

    /// - Throws: `DNNL.Failure` when oneDNN has no fast implementation for a layer of this shape.
    init(generator g: Generator, height: Int, width: Int) throws {
        guard let bodyLayer = g.convBody, let upLayer = g.convUp else {
            throw ModelError("not a CompactResNet generator")
        }
        self.height = height
        self.width = width
        scale = g.config.scale
        // conv_first's output layout is the body's, so it is the one that lets Winograd run.
        first = try DNNLConvolution.feedingWinograd(
            weight: g.convFirst.weight.value, bias: g.convFirst.bias?.value, height: height, width: width,
            postOps: [.leakyReLU(slope: 0.1)])
        inputPlain = try DNNLMemory.plainDescriptor([1, g.config.inputChannels, height, width])
        inputReorder = try DNNLReorder(from: inputPlain, to: first.sourceDescriptor)
        let body = first.destinationDescriptor
        let winograd = DNNLMemory.channelBlock(of: body) == 8
        func blocked(
            _ layer: Conv2d, _ postOp: DNNLConvolution.PostOp, source: dnnl_memory_desc_t,
            destination: dnnl_memory_desc_t? = nil
        ) throws -> BlockedConvolution {
            try BlockedConvolution(
                layer, height: height, width: width, postOp: postOp, source: source, destination: destination,
                preferWinograd: winograd)
        }
        blocks = try g.body.map { block in
            let inner = try blocked(block.conv1, .leakyReLU(slope: 0), source: body)
            let outer = try blocked(
                block.conv2, .addToDestination, source: inner.destinationDescriptor, destination: body)
            return (inner, outer)
        }
        convBody = try blocked(bodyLayer, .addToDestination, source: body, destination: body)
        convUp = try blocked(upLayer, .none, source: body)
        upPlain = try DNNLMemory.plainDescriptor([1, upLayer.outputChannels, height, width])
        upReorder = try DNNLReorder(from: convUp.destinationDescriptor, to: upPlain)
        base = g.base
    }

    var winogradCount: (winograd: Int, convolutions: Int) {
        let blocked = blocks.flatMap { [$0.0, $0.1] } + [convBody, convUp]
        return (blocked.winogradCount.winograd, blocked.count + 1)
    }

    func run(_ input: Tensor, scratch: ScratchBuffers) throws -> Tensor {
        func view(_ role: String, _ descriptor: dnnl_memory_desc_t) throws -> DNNLMemory {
            try DNNLMemory(
                descriptor: descriptor, storage: try scratch.pointer(role, count: DNNLMemory.floats(in: descriptor)))
        }
        let plainInput = try view("input", inputPlain)
        input.scalars.withUnsafeBufferPointer { plainInput.pointer.update(from: $0.baseAddress!, count: input.count) }
        let firstSource = try view("source", first.sourceDescriptor)
        inputReorder.run(from: plainInput, to: firstSource)
        let features = try view("features", first.destinationDescriptor)
        first.run(source: firstSource, destination: features)
        let x = try view("body", first.destinationDescriptor)
        x.pointer.update(from: features.pointer, count: features.capacity)
        for (inner, outer) in blocks {
            let t = try view("inner", inner.destinationDescriptor)
            try inner.run(source: x, destination: t, scratch: scratch)
            try outer.run(source: t, destination: x, scratch: scratch)
        }
        try convBody.run(source: x, destination: features, scratch: scratch)  // features += conv_body(x)
        // The body's buffers are dead now: conv_up and its plain copy reuse them (fewer fresh pages to clear).
        let up = try view("inner", convUp.destinationDescriptor)
        try convUp.run(source: features, destination: up, scratch: scratch)
        let plain = try view("body", upPlain)
        upReorder.run(from: up, to: plain)
        return ShuffleTail.run(input: input, residual: plain.pointer, base: base)
    }
}
