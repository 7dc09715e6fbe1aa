import CDNNL
import Foundation
import SRNN
import SRTensor

/// An ncnn graph's inference for one input size on oneDNN. Feature maps stay in the layouts oneDNN's
/// convolutions choose (blocked for most channel counts) from the first convolution to the last;
/// activations and PReLU that follow a convolution are fused into it as post-ops; every other layer runs
/// as a oneDNN primitive (elementwise, binary, sum, concatenation, resampling) on those layouts, with a
/// reorder only where two layouts meet. Buffers are reused as soon as their last reader has run, so the
/// plan holds only the maps alive at once. Input [1, 3, H, W] → [1, 3, H·s, W·s]; a plan of part of the
/// graph maps its input blob to its output blob, each at its resolution for an H × W graph input.
final class NCNNGraphPlan {
    private enum Action {
        case convolution(DNNLConvolution, source: DNNLMemory, destination: DNNLMemory)
        /// nChw8c → nChw8c.
        case winograd(WinogradConvolution, source: DNNLMemory, destination: DNNLMemory)
        case operation(DNNLOperation, sources: [DNNLMemory], destination: DNNLMemory)
        case reorder(DNNLReorder, source: DNNLMemory, destination: DNNLMemory)
        /// Plain [1, C·r², H, W] → plain [1, C, H·r, W·r].
        case pixelShuffle(
            source: DNNLMemory, destination: DNNLMemory, channels: Int, factor: Int, height: Int, width: Int)
        /// max(x, 0) + slope·min(x, 0) with one slope per channel, on a plain or channel-blocked layout.
        case prelu(source: DNNLMemory, destination: DNNLMemory, slopes: [Float], block: Int, plane: Int)
        /// Plain [1, C, H, W] → plain [1, C, H·f, W·f].
        /// `vector` floats per pixel: 1 on plain maps, 8 for nearest upsampling on nChw8c maps.
        case upsample(
            Upsample, source: DNNLMemory, destination: DNNLMemory, planes: Int, height: Int, width: Int, vector: Int)
    }

    let height: Int
    let width: Int
    private let actions: [Action]
    private let input: DNNLMemory
    private let output: DNNLMemory
    /// Floats of each buffer the plan's maps live in (several maps share one over time), and the views
    /// that use it. The buffers come from the model's scratch at each run, so plans for several tile
    /// sizes share them.
    private let slotCapacities: [Int]
    private let slotViews: [[DNNLMemory]]

    /// - Throws: `DNNL.Failure` or `ModelError` when a layer has no oneDNN form here (the graph then runs
    ///   on the reference interpreter).
    /// - Parameters:
    ///   - steps: the graph's steps this plan runs (all, or a head or tail that `NCNNModel.tail` found).
    ///   - input: the blob those steps start from; `output`: the blob they end with.
    init(
        model: NCNNModel, steps range: Range<Int>, input inputBlob: Int, output outputBlob: Int, height: Int, width: Int
    )
        throws
    {
        self.height = height
        self.width = width
        let steps = model.steps, infos = model.blobInfos
        var readersOf = [[Int]](repeating: [], count: infos.count)
        for index in range { for blob in steps[index].inputs { readersOf[blob].append(index) } }

        // Activations (and PReLU) that are the only reader of a convolution's output become its post-ops.
        var absorbed = Set<Int>()
        var chains: [Int: (postOps: [PostOp], output: Int)] = [:]
        for index in range {
            let step = steps[index]
            guard case .convolution(_, _, let activation) = step.operation else { continue }
            var postOps = try Self.postOps(activation)
            var blob = step.outputs[0]
            while blob != outputBlob, readersOf[blob].count == 1, model.readers[blob] == 1 {
                let next = steps[readersOf[blob][0]]
                if case .activation(let activation) = next.operation {
                    postOps += try Self.postOps(activation)
                } else if case .prelu(let slopes) = next.operation {
                    postOps.append(.prelu(slopes))
                } else {
                    break
                }
                absorbed.insert(readersOf[blob][0])
                blob = next.outputs[0]
            }
            chains[index] = (postOps, blob)
        }

        // Split outputs share their input's buffer; a buffer is free once every blob in it has been read.
        var (group, remaining) = NCNNModel.storageGroups(steps: steps, readers: model.readers)

        let builder = Builder()
        func dimensions(_ blob: Int) -> [Int] {
            let scale = infos[blob].scale ?? 1
            return [1, infos[blob].channels, height * scale, width * scale]
        }
        func allocate(_ descriptor: dnnl_memory_desc_t) throws -> DNNLMemory { try builder.allocate(descriptor) }
        func source(_ blob: Int, as wanted: dnnl_memory_desc_t) throws -> DNNLMemory {
            try builder.source(blob, as: wanted)
        }
        var actions: [Action] {
            get { builder.actions }
            set { builder.actions = newValue }
        }
        var views: [Int: DNNLMemory] {
            get { builder.views }
            set { builder.views = newValue }
        }
        var constants: [Int: Tensor] {
            get { builder.constants }
            set { builder.constants = newValue }
        }

        let input = try allocate(try DNNLMemory.plainDescriptor(dimensions(inputBlob)))
        views[inputBlob] = input
        for index in range where !absorbed.contains(index) {
            let step = steps[index]
            let first = step.inputs.first.flatMap { views[$0] }
            var result: DNNLMemory?
            switch step.operation {
            case .convolution(let weight, let bias, _):
                let (postOps, _) = chains[index]!
                let size = dimensions(step.inputs[0])
                // Elementwise post-ops up to the first PReLU are fused (unless oneDNN offers only reference
                // code with them); the rest run after the convolution, PReLU in place.
                let fusable = Array(postOps.prefix { if case .elementwise = $0 { true } else { false } })
                var unfused = Array(postOps.dropFirst(fusable.count))
                var y: DNNLMemory
                if let winograd = try Self.winograd(
                    weight: weight, bias: bias, input: views[step.inputs[0]], postOps: postOps,
                    prepared: model.winogradConvolutions[index])
                {
                    model.winogradConvolutions[index] = winograd.convolution
                    // Maps in nChw8c (oneDNN's choice here): Winograd F(2×2, 3×3), a leading ReLU fused.
                    let x = try source(step.inputs[0], as: views[step.inputs[0]]!.descriptor)
                    y = try allocate(try DNNLMemory.blocked8Descriptor([1, weight.shape[0], size[2], size[3]]))
                    actions.append(.winograd(winograd.convolution, source: x, destination: y))
                    unfused = winograd.rest
                } else {
                    let convolution: DNNLConvolution
                    let prepared = model.preparedWeights[index]
                    // The next 3×3 layer can take Winograd on this output.
                    func make(_ postOps: [DNNLConvolution.PostOp]) throws -> DNNLConvolution {
                        try DNNLConvolution.feedingWinograd(
                            weight: weight, bias: bias, height: size[2], width: size[3], postOps: postOps,
                            preparedWeights: prepared)
                    }
                    do {
                        convolution = try make(fusable.compactMap(\.fused))
                    } catch {
                        convolution = try make([])
                        unfused = postOps
                    }
                    // Plans for other tile sizes reuse these weights instead of holding their own copy.
                    model.preparedWeights[index] = convolution.preparedWeights
                    let x = try source(step.inputs[0], as: convolution.sourceDescriptor)
                    y = try allocate(convolution.destinationDescriptor)
                    actions.append(.convolution(convolution, source: x, destination: y))
                }
                for postOp in unfused {
                    let operation: DNNLOperation
                    switch postOp {
                    case .elementwise(let algorithm, let alpha, let beta):
                        operation = try DNNLOperation.elementwise(
                            algorithm, alpha: alpha, beta: beta, source: y.descriptor)
                    case .prelu(let slopes):
                        // In place: oneDNN 2.6 has only reference code for PReLU.
                        actions.append(try Self.prelu(slopes: slopes, source: y, destination: y))
                        continue
                    }
                    let z = try allocate(operation.destinationDescriptor)
                    actions.append(.operation(operation, sources: [y], destination: z))
                    builder.release(y)
                    y = z
                }
                result = y
            case .activation(let activation):
                guard let x = first else { throw ModelError("activation of a constant") }
                let (algorithm, alpha, beta) = try Self.elementwise(activation)
                let operation = try DNNLOperation.elementwise(algorithm, alpha: alpha, beta: beta, source: x.descriptor)
                result = try allocate(operation.destinationDescriptor)
                actions.append(.operation(operation, sources: [x], destination: result!))
            case .prelu(let slopes):
                guard let x = first else { throw ModelError("PReLU of a constant") }
                result = try allocate(x.descriptor)
                actions.append(try Self.prelu(slopes: slopes, source: x, destination: result!))
            case .pixelShuffle(let factor):
                let size = dimensions(step.inputs[0])
                let x = try source(step.inputs[0], as: try DNNLMemory.plainDescriptor(size))
                let y = try allocate(try DNNLMemory.plainDescriptor(dimensions(step.outputs[0])))
                actions.append(
                    .pixelShuffle(
                        source: x, destination: y, channels: size[1] / (factor * factor), factor: factor,
                        height: size[2], width: size[3]))
                result = y
            case .upsample(let layer):
                // Our own loops (oneDNN 2.6's resampling corrupted memory around its destination here).
                // Nearest upsampling copies whole pixels, so it stays in nChw8c and the maps at the higher
                // resolution need no plain copy and reorder (RRDBNet's 4× stage: two maps of 64 channels).
                let size = dimensions(step.inputs[0])
                let blocked =
                    layer.mode == .nearest && first.flatMap { DNNLMemory.channelBlock(of: $0.descriptor) } == 8
                let x =
                    blocked ? first! : try source(step.inputs[0], as: try DNNLMemory.plainDescriptor(size))
                let y = try allocate(
                    blocked
                        ? try DNNLMemory.blocked8Descriptor(dimensions(step.outputs[0]))
                        : try DNNLMemory.plainDescriptor(dimensions(step.outputs[0])))
                actions.append(
                    .upsample(
                        layer, source: x, destination: y, planes: blocked ? (size[1] + 7) / 8 : size[1],
                        height: size[2], width: size[3], vector: blocked ? 8 : 1))
                result = y
            case .binary(let op, let scalar):
                result = try builder.binary(op, scalar: scalar, step.inputs)
            case .elementwise(let op, let coefficients):
                guard let x = first else { throw ModelError("Eltwise of a constant") }
                let sources = try step.inputs.map { try source($0, as: x.descriptor) }
                let operation: DNNLOperation
                switch op {
                case .sum:
                    operation = try DNNLOperation.sum(
                        scales: coefficients.isEmpty ? sources.map { _ in 1 } : coefficients,
                        sources: sources.map(\.descriptor))
                case .product, .maximum:
                    guard sources.count == 2 else { throw ModelError("Eltwise product or maximum of more than two") }
                    operation = try DNNLOperation.binary(
                        op == .product ? dnnl_binary_mul : dnnl_binary_max, first: x.descriptor, second: x.descriptor)
                }
                result = try allocate(operation.destinationDescriptor)
                actions.append(.operation(operation, sources: sources, destination: result!))
            case .concatenate:
                let sources = try step.inputs.map { blob -> DNNLMemory in
                    guard let view = views[blob] else { throw ModelError("concatenation of a constant") }
                    return view
                }
                let operation = try DNNLOperation.concatenation(sources: sources.map(\.descriptor))
                result = try allocate(operation.destinationDescriptor)
                actions.append(.operation(operation, sources: sources, destination: result!))
            case .split:
                for blob in step.outputs { views[blob] = views[step.inputs[0]] }
                if views[step.inputs[0]] == nil {
                    for blob in step.outputs { constants[blob] = constants[step.inputs[0]] }
                }
            case .constant(let value):
                constants[step.outputs[0]] = value
            }
            if let result { views[chains[index]?.output ?? step.outputs[0]] = result }
            builder.releaseTemporaries()
            for blob in step.inputs {
                remaining[group[blob]] -= 1
                if remaining[group[blob]] == 0, let view = views[blob] { builder.release(view) }
            }
        }
        guard let last = views[outputBlob] else { throw ModelError("the output is a constant") }
        let output = try allocate(try DNNLMemory.plainDescriptor(dimensions(outputBlob)))
        actions.append(
            .reorder(try DNNLReorder(from: last.descriptor, to: output.descriptor), source: last, destination: output))
        self.input = input
        self.output = output
        self.actions = builder.actions
        slotCapacities = builder.capacities
        slotViews = builder.viewsOfSlot
    }

    /// The plan under construction: its actions, the buffer of each blob, and buffers free for reuse.
    private final class Builder {
        var actions: [Action] = []
        var views: [Int: DNNLMemory] = [:]
        var constants: [Int: Tensor] = [:]
        var capacities: [Int] = []
        var viewsOfSlot: [[DNNLMemory]] = []
        /// Where views point until a run gives them their buffers.
        private static let placeholder = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        private var free: [Int] = []
        private var slotOfView: [ObjectIdentifier: Int] = [:]
        private var temporaries: [DNNLMemory] = []

        /// A buffer of `descriptor`'s layout: the smallest free one that fits, else a new one.
        func allocate(_ descriptor: dnnl_memory_desc_t) throws -> DNNLMemory {
            let floats = DNNLMemory.floats(in: descriptor)
            let slot: Int
            if let reused = free.filter({ capacities[$0] >= floats }).min(by: {
                capacities[$0] < capacities[$1]
            }) {
                slot = reused
                free.removeAll { $0 == reused }
            } else {
                capacities.append(floats)
                viewsOfSlot.append([])
                slot = capacities.count - 1
            }
            let view = try DNNLMemory(descriptor: descriptor, storage: Self.placeholder)
            viewsOfSlot[slot].append(view)
            slotOfView[ObjectIdentifier(view)] = slot
            return view
        }

        func release(_ view: DNNLMemory) {
            if let slot = slotOfView[ObjectIdentifier(view)] { free.append(slot) }
        }

        func releaseTemporaries() {
            temporaries.forEach(release)
            temporaries.removeAll()
        }

        /// The blob in `wanted`'s layout: its own buffer, or a reordered copy freed after this step.
        func source(_ blob: Int, as wanted: dnnl_memory_desc_t) throws -> DNNLMemory {
            guard let view = views[blob] else { throw ModelError("constant used as a feature map") }
            if view.hasLayout(of: wanted) { return view }
            let copy = try allocate(wanted)
            actions.append(
                .reorder(try DNNLReorder(from: view.descriptor, to: wanted), source: view, destination: copy))
            temporaries.append(copy)
            return copy
        }

        /// ncnn's BinaryOp as oneDNN: a scalar operand becomes `linear` (or a broadcast constant for max/min);
        /// a MemoryData operand a broadcast constant; two maps a binary primitive on the first's layout.
        func binary(_ op: NCNNOperation.BinaryOperator, scalar: Float?, _ inputs: [Int]) throws -> DNNLMemory {
            let algorithms: [NCNNOperation.BinaryOperator: dnnl_alg_kind_t] = [
                .add: dnnl_binary_add, .subtract: dnnl_binary_sub, .multiply: dnnl_binary_mul, .divide: dnnl_binary_div,
                .maximum: dnnl_binary_max, .minimum: dnnl_binary_min,
            ]
            func emit(_ operation: DNNLOperation, _ sources: [DNNLMemory]) throws -> DNNLMemory {
                let y = try allocate(operation.destinationDescriptor)
                actions.append(.operation(operation, sources: sources, destination: y))
                return y
            }
            if let scalar {
                guard let x = views[inputs[0]] else { throw ModelError("BinaryOp of a constant") }
                let linear: (Float, Float)? =
                    switch op {
                    case .add: (1, scalar)
                    case .subtract: (1, -scalar)
                    case .multiply: (scalar, 0)
                    case .divide: (1 / scalar, 0)
                    case .reverseSubtract: (-1, scalar)
                    default: nil
                    }
                if let (alpha, beta) = linear {
                    return try emit(
                        try DNNLOperation.elementwise(
                            dnnl_eltwise_linear, alpha: alpha, beta: beta, source: x.descriptor), [x])
                }
                guard let algorithm = algorithms[op] else { throw ModelError("BinaryOp \(op) with a scalar") }
                return try emit(
                    try DNNLOperation.binary(
                        algorithm, first: x.descriptor, second: try DNNLMemory.plainDescriptor([1, 1, 1, 1]),
                        constant: Tensor(shape: [1, 1, 1, 1], scalars: [scalar])), [x])
            }
            var (a, b) = (inputs[0], inputs[1])
            var operatorKind = op
            if op == .reverseSubtract || op == .reverseDivide {
                (a, b) = (b, a)
                operatorKind = op == .reverseSubtract ? .subtract : .divide
            }
            if views[a] == nil, [.add, .multiply, .maximum, .minimum].contains(operatorKind) { (a, b) = (b, a) }
            guard let x = views[a], let algorithm = algorithms[operatorKind] else {
                throw ModelError("BinaryOp \(op) with a constant first operand")
            }
            if let constant = constants[b] {
                return try emit(
                    try DNNLOperation.binary(
                        algorithm, first: x.descriptor, second: try DNNLMemory.plainDescriptor(constant.shape),
                        constant: constant), [x])
            }
            guard let other = views[b] else { throw ModelError("BinaryOp operand missing") }
            let second =
                DNNLMemory.dimensions(of: other.descriptor) == DNNLMemory.dimensions(of: x.descriptor)
                ? try source(b, as: x.descriptor) : other
            return try emit(
                try DNNLOperation.binary(algorithm, first: x.descriptor, second: second.descriptor), [x, second])
        }
    }

    /// A PReLU action for `source`'s layout (plain, channel-blocked, or channels-last, which is one block of
    /// all the channels), slopes padded to whole blocks.
    private static func prelu(slopes: [Float], source: DNNLMemory, destination: DNNLMemory) throws -> Action {
        let dims = DNNLMemory.dimensions(of: source.descriptor)
        guard
            let block = DNNLMemory.channelBlock(of: source.descriptor)
                ?? (DNNLMemory.isChannelsLast(source.descriptor) ? dims[1] : nil)
        else {
            throw ModelError("PReLU on an unexpected layout")
        }
        let padded = (dims[1] + block - 1) / block * block
        let perChannel = (0..<padded).map { c in c < dims[1] ? (slopes.count == 1 ? slopes[0] : slopes[c]) : 0 }
        return .prelu(
            source: source, destination: destination, slopes: perChannel, block: block, plane: dims[2] * dims[3])
    }

    /// y = max(x, 0) + slope·min(x, 0) over `slopes.count` (padded) channels in blocks of `block`, the
    /// channel blocks shared among the cores.
    static func prelu(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, slopes: [Float], block: Int, plane: Int
    ) {
        let blocks = slopes.count / block
        let chunks = min(blocks, ProcessInfo.processInfo.activeProcessorCount)
        nonisolated(unsafe) let (x, y) = (x, y)
        slopes.withUnsafeBufferPointer { slope in
            nonisolated(unsafe) let slope = slope
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                for b in stride(from: chunk, to: blocks, by: chunks) {
                    let base = b * plane * block
                    if block == 8 {
                        // oneDNN's AVX2 layout: one 8-wide vector per pixel.
                        let s = SIMD8<Float>(slope[(b * 8)..<(b * 8 + 8)])
                        let source = UnsafeRawPointer(x + base), target = UnsafeMutableRawPointer(y + base)
                        for p in 0..<plane {
                            let v = source.loadUnaligned(fromByteOffset: p * 32, as: SIMD8<Float>.self)
                            target.storeBytes(
                                of: v.replacing(with: v * s, where: v .< 0), toByteOffset: p * 32, as: SIMD8<Float>.self
                            )
                        }
                        continue
                    }
                    for p in 0..<plane {
                        let offset = base + p * block
                        for c in 0..<block {
                            let v = x[offset + c]
                            y[offset + c] = v < 0 ? v * slope[b * block + c] : v
                        }
                    }
                }
            }
        }
    }

    private static func elementwise(_ activation: NCNNOperation.Activation) throws -> (dnnl_alg_kind_t, Float, Float) {
        switch activation {
        case .identity: (dnnl_eltwise_linear, 1, 0)
        case .relu: (dnnl_eltwise_relu, 0, 0)
        case .leakyReLU(let slope): (dnnl_eltwise_relu, slope, 0)
        case .clip(let low, let high): (dnnl_eltwise_clip, low, high)
        case .sigmoid: (dnnl_eltwise_logistic, 0, 0)
        case .swish: (dnnl_eltwise_swish, 1, 0)
        }
    }

    /// What follows a convolution before anything else reads its output.
    private enum PostOp {
        case elementwise(dnnl_alg_kind_t, alpha: Float, beta: Float)
        case prelu([Float])

        var fused: DNNLConvolution.PostOp? {
            if case .elementwise(let algorithm, let alpha, let beta) = self {
                return .elementwise(algorithm, alpha: alpha, beta: beta)
            }
            return nil
        }
    }

    private static func postOps(_ activation: NCNNOperation.Activation) throws -> [PostOp] {
        if activation == .identity { return [] }
        let (algorithm, alpha, beta) = try elementwise(activation)
        return [.elementwise(algorithm, alpha: alpha, beta: beta)]
    }

    /// Winograd for a 3×3 convolution of 8k channels whose input is in nChw8c, where it runs: the kernel
    /// (with a leading ReLU or LeakyReLU fused) and the post-ops left to run after it; else nil.
    /// - Parameter prepared: this step's kernel from a plan for another size (its weights are transformed once).
    private static func winograd(
        weight: Tensor, bias: Tensor?, input: DNNLMemory?, postOps: [PostOp], prepared: WinogradConvolution?
    ) throws -> (convolution: WinogradConvolution, rest: [PostOp])? {
        guard WinogradConvolution.isEnabled, WinogradConvolution.supports(weight: weight.shape), let input,
            DNNLMemory.channelBlock(of: input.descriptor) == 8
        else { return nil }
        if case .elementwise(let algorithm, let alpha, _) = postOps.first, algorithm == dnnl_eltwise_relu, alpha < 1 {
            return (
                prepared ?? WinogradConvolution(weight: weight, bias: bias, output: .leakyReLU(slope: alpha)),
                Array(postOps.dropFirst())
            )
        }
        return (prepared ?? WinogradConvolution(weight: weight, bias: bias, output: .store), postOps)
    }

    /// Runs the plan on `tensor` (its input blob at the plan's size), its maps in `scratch`.
    /// - Throws: `LargeBuffer.AllocationFailure` when the maps do not fit in memory.
    func run(_ tensor: Tensor, scratch: ScratchBuffers) throws -> Tensor {
        for (slot, views) in slotViews.enumerated() {
            let storage = try scratch.pointer("ncnn \(slot)", count: slotCapacities[slot])
            for view in views { view.setStorage(storage) }
        }
        tensor.scalars.withUnsafeBufferPointer { input.pointer.update(from: $0.baseAddress!, count: tensor.count) }
        for action in actions {
            switch action {
            case .convolution(let convolution, let source, let destination):
                convolution.run(source: source, destination: destination)
            case .winograd(let convolution, let source, let destination):
                try convolution.run(source: source, destination: destination, scratch: scratch)
            case .operation(let operation, let sources, let destination):
                operation.run(sources: sources, destination: destination)
            case .reorder(let reorder, let source, let destination):
                reorder.run(from: source, to: destination)
            case .pixelShuffle(let source, let destination, let channels, let factor, let height, let width):
                GeneratorPlan.pixelShuffle(
                    source.pointer, into: destination.pointer, channels: channels, factor: factor, height: height,
                    width: width)
            case .prelu(let source, let destination, let slopes, let block, let plane):
                Self.prelu(source.pointer, destination.pointer, slopes: slopes, block: block, plane: plane)
            case .upsample(let layer, let source, let destination, let planes, let height, let width, let vector):
                layer.upsample(
                    source.pointer, into: destination.pointer, planes: planes, height: height, width: width,
                    vector: vector)
            }
        }
        let dimensions = DNNLMemory.dimensions(of: output.descriptor)
        return Tensor(
            shape: dimensions, scalars: Array(UnsafeBufferPointer(start: output.pointer, count: output.capacity)))
    }
}
