import CDNNL
import Foundation
import SRNN
import SRTensor

/// Reusable float buffers by role, grown when a larger tile needs more: tiles of one image reuse the
/// same memory instead of allocating (and page-faulting) fresh buffers per layer.
final class ScratchBuffers {
    private var buffers: [String: (pointer: UnsafeMutablePointer<Float>, count: Int)] = [:]

    /// - Throws: `LargeBuffer.AllocationFailure` when the system is out of memory.
    func pointer(_ role: String, count: Int) throws -> UnsafeMutablePointer<Float> {
        if let buffer = buffers[role], buffer.count >= count { return buffer.pointer }
        if let old = buffers.removeValue(forKey: role) { LargeBuffer.free(old.pointer) }
        let pointer = try LargeBuffer.allocate(floats: count)
        buffers[role] = (pointer, count)
        return pointer
    }

    deinit { for buffer in buffers.values { LargeBuffer.free(buffer.pointer) } }
}

/// The generator's inference for one tile size on oneDNN. Every convolution but the last runs in
/// oneDNN's blocked layout with bias and LeakyReLU (or the residual add) fused into its output pass;
/// activations stay blocked through the residual body; pixel shuffles run on plain NCHW buffers; the
/// last 64→3 convolution uses our direct kernel, which measured 1.85× faster than oneDNN on that shape
/// (`make bench-backends`). Weights are prepared once per plan. Input [1, 3, H, W] → [1, 3, H·s, W·s].
final class GeneratorPlan: GeneratorInferencePlan {
    private struct Stage {
        let convolution: BlockedConvolution
        let toPlain: DNNLReorder
        let plain: dnnl_memory_desc_t
        let shuffled: dnnl_memory_desc_t
        let fromShuffled: DNNLReorder
        let channels: Int, factor: Int, height: Int, width: Int
    }

    let height: Int
    let width: Int
    private let inputPlain: dnnl_memory_desc_t
    private let inputReorder: DNNLReorder
    private let first: DNNLConvolution
    private let blocks: [(BlockedConvolution, BlockedConvolution)]
    private let stages: [Stage]
    private let hr: BlockedConvolution
    private let hrPlain: dnnl_memory_desc_t
    private let hrReorder: DNNLReorder
    private let last: Conv2d
    private let base: Upsample
    private let features: Int
    private let scale: Int

    /// - Throws: `DNNL.Failure` when oneDNN has no implementation for a layer of this shape.
    init(generator g: Generator, height: Int, width: Int) throws {
        self.height = height
        self.width = width
        let config = g.config
        features = config.features
        scale = config.scale
        guard let upconv1 = g.upconv1, let convHR = g.convHR, let convLast = g.convLast else {
            throw ModelError("not an MSRResNet generator")
        }
        let leaky = DNNLConvolution.PostOp.leakyReLU(slope: 0.1)
        // conv_first's output layout is the body's, so it is the one that lets Winograd run.
        first = try DNNLConvolution.feedingWinograd(
            weight: g.convFirst.weight.value, bias: g.convFirst.bias?.value, height: height, width: width,
            postOps: [leaky])
        inputPlain = try DNNLMemory.plainDescriptor([1, config.inputChannels, height, width])
        inputReorder = try DNNLReorder(from: inputPlain, to: first.sourceDescriptor)
        let body = first.destinationDescriptor
        let winograd = DNNLMemory.channelBlock(of: body) == 8
        func blocked(
            _ layer: Conv2d, _ h: Int, _ w: Int, _ postOp: DNNLConvolution.PostOp,
            source: dnnl_memory_desc_t? = nil, destination: dnnl_memory_desc_t? = nil
        ) throws -> BlockedConvolution {
            try BlockedConvolution(
                layer, height: h, width: w, postOp: postOp, source: source, destination: destination,
                preferWinograd: winograd)
        }
        blocks = try g.body.map { block in
            let inner = try blocked(block.conv1, height, width, .leakyReLU(slope: 0), source: body)
            let outer = try blocked(
                block.conv2, height, width, .addToDestination, source: inner.destinationDescriptor,
                destination: body)
            return (inner, outer)
        }
        let factors = config.scale == 3 ? [3] : config.scale == 4 ? [2, 2] : [2]
        let layers = [upconv1] + (g.upconv2.map { [$0] } ?? [])
        var (h, w, current) = (height, width, body)
        var stages: [Stage] = []
        var pending: [(Conv2d, Int)] = Array(zip(layers, factors))
        var upConvolution = try blocked(pending[0].0, h, w, leaky, source: current)
        var hr: BlockedConvolution?
        while !pending.isEmpty {
            let (_, factor) = pending.removeFirst()
            let plain = try DNNLMemory.plainDescriptor([1, features * factor * factor, h, w])
            let toPlain = try DNNLReorder(from: upConvolution.destinationDescriptor, to: plain)
            let (sh, sw) = (h * factor, w * factor)
            let shuffled = try DNNLMemory.plainDescriptor([1, features, sh, sw])
            let next =
                try pending.first.map { try blocked($0.0, sh, sw, leaky) } ?? blocked(convHR, sh, sw, leaky)
            stages.append(
                Stage(
                    convolution: upConvolution, toPlain: toPlain, plain: plain, shuffled: shuffled,
                    fromShuffled: try DNNLReorder(from: shuffled, to: next.sourceDescriptor), channels: features,
                    factor: factor, height: h, width: w))
            (h, w, current) = (sh, sw, next.sourceDescriptor)
            if pending.isEmpty { hr = next } else { upConvolution = next }
        }
        self.stages = stages
        self.hr = hr!
        hrPlain = try DNNLMemory.plainDescriptor([1, features, h, w])
        hrReorder = try DNNLReorder(from: self.hr.destinationDescriptor, to: hrPlain)
        last = convLast
        base = g.base
    }

    var winogradCount: (winograd: Int, convolutions: Int) {
        let blocked = blocks.flatMap { [$0.0, $0.1] } + stages.map(\.convolution) + [hr]
        // The first and the last convolutions run on oneDNN and our direct kernel.
        return (blocked.winogradCount.winograd, blocked.count + 2)
    }

    /// Runs the plan on `input` [1, 3, height, width], using `scratch` for every intermediate buffer.
    func run(_ input: Tensor, scratch: ScratchBuffers) throws -> Tensor {
        func view(_ role: String, _ descriptor: dnnl_memory_desc_t) throws -> DNNLMemory {
            try DNNLMemory(
                descriptor: descriptor,
                storage: try scratch.pointer(role, count: DNNLMemory.floats(in: descriptor)))
        }
        let plainInput = try view("input", inputPlain)
        input.scalars.withUnsafeBufferPointer { plainInput.pointer.update(from: $0.baseAddress!, count: input.count) }
        let firstSource = try view("source", first.sourceDescriptor)
        inputReorder.run(from: plainInput, to: firstSource)
        var x = try view("body", first.destinationDescriptor)
        first.run(source: firstSource, destination: x)
        for (inner, outer) in blocks {
            let t = try view("inner", inner.destinationDescriptor)
            try inner.run(source: x, destination: t, scratch: scratch)
            try outer.run(source: t, destination: x, scratch: scratch)
        }
        for (index, stage) in stages.enumerated() {
            let up = try view("up", stage.convolution.destinationDescriptor)
            try stage.convolution.run(source: x, destination: up, scratch: scratch)
            let plain = try view("plain", stage.plain)
            stage.toPlain.run(from: up, to: plain)
            let shuffled = try view("shuffled", stage.shuffled)
            GeneratorPlan.pixelShuffle(
                plain.pointer, into: shuffled.pointer, channels: stage.channels, factor: stage.factor,
                height: stage.height, width: stage.width)
            let nextSource =
                index == stages.count - 1 ? hr.sourceDescriptor : stages[index + 1].convolution.sourceDescriptor
            x = try view(index % 2 == 0 ? "stage-a" : "stage-b", nextSource)
            stage.fromShuffled.run(from: shuffled, to: x)
        }
        // The last stage's shuffled map is dead by now: conv_hr writes into its buffer.
        let hrOutput = try view("shuffled", hr.destinationDescriptor)
        try hr.run(source: x, destination: hrOutput, scratch: scratch)
        let plainHR = try view("plain", hrPlain)
        hrReorder.run(from: hrOutput, to: plainHR)
        let (oh, ow) = (height * scale, width * scale)
        var output: Tensor
        if Convolution.preferredMethod(
            outputChannels: last.outputChannels, kernel: last.weight.value.shape[2], stride: 1, padding: 1)
            == .directNarrow
        {
            // conv_last (features → 3 by our direct kernel) reads the plain map where it lies, without a copy.
            output = Tensor(zeros: [1, last.outputChannels, oh, ow])
            output.scalars.withUnsafeMutableBufferPointer { target in
                Convolution.narrow(
                    plainHR.pointer, channels: features, height: oh, width: ow, weight: last.weight.value,
                    bias: last.bias?.value, into: target.baseAddress!)
            }
        } else {
            output = last.inference(
                Tensor(
                    shape: [1, features, oh, ow],
                    scalars: Array(UnsafeBufferPointer(start: plainHR.pointer, count: features * oh * ow))))
        }
        output.add(base.inference(input))
        return output
    }

    /// [C·r², H, W] → [C, H·r, W·r] with PyTorch's ordering: out[c][y·r + i][x·r + j] = in[c·r² + i·r + j][y][x].
    static func pixelShuffle(
        _ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, channels: Int,
        factor r: Int, height: Int, width: Int
    ) {
        let (outHeight, outWidth) = (height * r, width * r)
        for c in 0..<channels {
            for i in 0..<r {
                for j in 0..<r {
                    let plane = source + ((c * r + i) * r + j) * height * width
                    for y in 0..<height {
                        let row = target + (c * outHeight + y * r + i) * outWidth + j
                        let input = plane + y * width
                        for x in 0..<width { row[x * r] = input[x] }
                    }
                }
            }
        }
    }
}
