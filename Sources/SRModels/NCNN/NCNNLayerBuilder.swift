import Foundation
import SRNN
import SRTensor

extension NCNNModel {
    /// The layer types the interpreter runs.
    static let supportedTypes = [
        "BinaryOp", "Clip", "Concat", "Convolution", "Eltwise", "Input", "Interp", "MemoryData", "PReLU",
        "PixelShuffle", "ReLU", "Sigmoid", "Split", "Swish",
    ]

    /// Builds one layer's operation, reading its weights, and infers its output from its inputs.
    /// - Throws: `ModelError` for unsupported types or options, wrong input counts and mismatched shapes.
    static func operation(
        for layer: NCNNParamFile.Layer, inputs: [BlobInfo], weights: inout some NCNNWeightSource
    ) throws -> (NCNNOperation, BlobInfo) {
        let p = layer.parameters
        func requireInputs(_ range: ClosedRange<Int>) throws {
            guard range.contains(inputs.count) else { throw ModelError("takes \(range) inputs, not \(inputs.count)") }
        }
        /// Refuses options that change what the layer computes unless they hold the value we implement.
        func require(_ id: Int, equals value: Int, _ meaning: String) throws {
            guard try p.integer(id, value) == value else { throw ModelError("\(meaning) is not supported") }
        }
        func feature(_ index: Int) throws -> BlobInfo {
            guard inputs[index].scale != nil else {
                throw ModelError("input \(index) is a constant, not a feature map")
            }
            return inputs[index]
        }
        switch layer.type {
        case "Convolution":
            try requireInputs(1...1)
            let x = try feature(0)
            let outputs = try p.integer(0, 0)
            let kernel = try p.integer(1, 0)
            try require(11, equals: kernel, "a non-square kernel")
            try require(2, equals: 1, "dilation")
            try require(12, equals: 1, "dilation")
            try require(3, equals: 1, "a stride")
            try require(13, equals: 1, "a stride")
            try require(8, equals: 0, "int8 quantisation")
            try require(19, equals: 0, "a dynamic weight")
            guard try p.float(18, 0) == 0 else { throw ModelError("non-zero padding values are not supported") }
            guard kernel % 2 == 1, (1...15).contains(kernel), (1...4096).contains(outputs) else {
                throw ModelError("kernel \(kernel) with \(outputs) outputs is not supported (odd kernels 1-15)")
            }
            // "Same" padding only: each side k/2, written as numbers or as ncnn's SAME (-233/-234).
            let left = try p.integer(4, 0)
            let top = try p.integer(14, left), right = try p.integer(15, left), bottom = try p.integer(16, top)
            guard [left, top, right, bottom].allSatisfy({ $0 == kernel / 2 || $0 == -233 || $0 == -234 }) else {
                throw ModelError("only 'same' padding (\(kernel / 2) on each side) keeps tiles aligned")
            }
            let size = try p.integer(6, 0)
            guard size == outputs * x.channels * kernel * kernel else {
                throw ModelError(
                    "holds \(size) weights, but \(outputs) outputs × \(x.channels) input channels × \(kernel)² "
                        + "need \(outputs * x.channels * kernel * kernel)")
            }
            let weight = try weights.values(layer: layer.name, role: "weight", count: size, tagged: true)
            let bias =
                try p.integer(5, 0) != 0
                ? Tensor(
                    shape: [outputs],
                    scalars: try weights.values(layer: layer.name, role: "bias", count: outputs, tagged: false))
                : nil
            try Self.requireFinite(weight + (bias?.scalars ?? []))
            let activation = try Self.activation(code: try p.integer(9, 0), parameters: try p.array(10))
            let info = BlobInfo(
                channels: outputs, scale: x.scale, radius: x.radius + Double(kernel / 2) / Double(x.scale!))
            return (
                .convolution(
                    weight: Tensor(shape: [outputs, x.channels, kernel, kernel], scalars: weight), bias: bias,
                    activation: activation), info
            )
        case "ReLU":
            try requireInputs(1...1)
            let slope = try p.float(0, 0)
            return (.activation(slope == 0 ? .relu : .leakyReLU(slope: slope)), try feature(0))
        case "Clip":
            try requireInputs(1...1)
            return (
                .activation(
                    .clip(
                        minimum: try p.float(0, -.greatestFiniteMagnitude),
                        maximum: try p.float(1, .greatestFiniteMagnitude))), try feature(0)
            )
        case "Sigmoid":
            try requireInputs(1...1)
            return (.activation(.sigmoid), try feature(0))
        case "Swish":
            try requireInputs(1...1)
            return (.activation(.swish), try feature(0))
        case "PReLU":
            try requireInputs(1...1)
            let x = try feature(0)
            let count = try p.integer(0, 1)
            guard count == 1 || count == x.channels else {
                throw ModelError("has \(count) slopes for \(x.channels) channels")
            }
            let slopes = try weights.values(layer: layer.name, role: "slope", count: count, tagged: false)
            try Self.requireFinite(slopes)
            return (.prelu(slopes: slopes), x)
        case "PixelShuffle":
            try requireInputs(1...1)
            let x = try feature(0)
            let factor = try p.integer(0, 1)
            try require(1, equals: 0, "PixelShuffle mode 1 (depth-column-row order)")
            guard (1...8).contains(factor), x.channels % (factor * factor) == 0 else {
                throw ModelError("cannot shuffle \(x.channels) channels by \(factor)")
            }
            return (
                .pixelShuffle(factor: factor),
                BlobInfo(channels: x.channels / (factor * factor), scale: x.scale! * factor, radius: x.radius)
            )
        case "Interp":
            try requireInputs(1...1)
            let x = try feature(0)
            let type = try p.integer(0, 0)
            let (height, width) = (try p.float(1, 1), try p.float(2, 1))
            try require(3, equals: 0, "a fixed output size")
            try require(4, equals: 0, "a fixed output size")
            try require(5, equals: 0, "a dynamic output size")
            try require(6, equals: 0, "align_corner")
            guard height == width, height == height.rounded(), (1...8).contains(height), type == 1 || type == 2 else {
                throw ModelError("only nearest or bilinear resizing by one integer factor 1-8 is supported")
            }
            let factor = Int(height)
            // Bilinear reads one more source pixel on each side; nearest stays inside the pixel it copies.
            let radius = x.radius + (type == 2 ? 1 / Double(x.scale!) : 0)
            return (
                .upsample(Upsample(factor: factor, mode: type == 1 ? .nearest : .bilinear)),
                BlobInfo(channels: x.channels, scale: x.scale! * factor, radius: radius)
            )
        case "BinaryOp":
            try requireInputs(1...2)
            let code = try p.integer(0, 0)
            guard let op = NCNNOperation.BinaryOperator(rawValue: code) else {
                throw ModelError("operation \(code) is not supported (add, sub, mul, div, max, min, rsub, rdiv are)")
            }
            if try p.integer(1, 0) != 0 {
                guard inputs.count == 1 else { throw ModelError("with a scalar takes one input") }
                return (.binary(op, scalar: try p.float(2, 0)), try feature(0))
            }
            guard inputs.count == 2 else { throw ModelError("without a scalar takes two inputs") }
            return (.binary(op, scalar: nil), try Self.joined(inputs, broadcasting: true))
        case "Eltwise":
            try requireInputs(2...64)
            let code = try p.integer(0, 1)
            guard let op = NCNNOperation.ElementwiseOperator(rawValue: code) else {
                throw ModelError("operation \(code) is not supported")
            }
            let coefficients = try p.array(1)
            guard coefficients.isEmpty || (op == .sum && coefficients.count == inputs.count) else {
                throw ModelError("needs one coefficient per input, for sums only")
            }
            return (.elementwise(op, coefficients: coefficients), try Self.joined(inputs, broadcasting: false))
        case "Concat":
            try requireInputs(1...64)
            let axis = try p.integer(0, 0)
            guard axis == 0 || axis == -3 else { throw ModelError("only concatenation over channels is supported") }
            let x = try Self.joined(
                inputs.map { BlobInfo(channels: 1, scale: $0.scale, radius: $0.radius) }, broadcasting: false)
            guard inputs.allSatisfy({ $0.scale != nil }) else { throw ModelError("cannot concatenate constants") }
            return (
                .concatenate,
                BlobInfo(channels: inputs.reduce(0) { $0 + $1.channels }, scale: x.scale, radius: x.radius)
            )
        case "Split":
            try requireInputs(1...1)
            return (.split, inputs[0])
        case "MemoryData":
            try requireInputs(0...0)
            let (w, h, c) = (try p.integer(0, 0), try p.integer(1, 0), try p.integer(2, 0))
            try require(11, equals: 0, "4-D MemoryData")
            // A [C] vector or [C, 1, 1] map broadcasts per channel; anything with a spatial extent cannot tile.
            let channels = c > 0 ? c : (h == 0 ? w : 0)
            guard channels >= 1, channels <= 4096, c == 0 ? h == 0 : (w == 1 && h == 1) else {
                throw ModelError("only per-channel constants (w=1, h=1 or a vector) are supported, not \(w)×\(h)×\(c)")
            }
            let values = try weights.values(layer: layer.name, role: "data", count: channels, tagged: false)
            try Self.requireFinite(values)
            return (
                .constant(Tensor(shape: [1, channels, 1, 1], scalars: values)),
                BlobInfo(channels: channels, scale: nil, radius: 0)
            )
        default:
            throw ModelError(
                "layer type \(layer.type) is not supported (supported: \(supportedTypes.joined(separator: ", ")))")
        }
    }

    /// ncnn's fused activations: 0 none, 1 ReLU, 2 LeakyReLU (slope), 3 Clip (min, max), 4 Sigmoid.
    static func activation(code: Int, parameters: [Float]) throws -> NCNNOperation.Activation {
        switch (code, parameters.count) {
        case (0, _): return .identity
        case (1, _): return .relu
        case (2, 1...): return .leakyReLU(slope: parameters[0])
        case (3, 2...): return .clip(minimum: parameters[0], maximum: parameters[1])
        case (4, _): return .sigmoid
        default: throw ModelError("fused activation \(code) is not supported (0-4 are)")
        }
    }

    /// The output of joining feature maps element by element: the same resolution, channels equal (or 1
    /// where `broadcasting`); constants broadcast per channel.
    static func joined(_ inputs: [BlobInfo], broadcasting: Bool) throws -> BlobInfo {
        let features = inputs.filter { $0.scale != nil }
        guard let first = features.first else { throw ModelError("needs at least one feature-map input") }
        guard features.allSatisfy({ $0.scale == first.scale }) else {
            throw ModelError("joins maps of different resolutions")
        }
        let channels = inputs.map(\.channels).max()!
        guard inputs.allSatisfy({ $0.channels == channels || (broadcasting && $0.channels == 1) }) else {
            throw ModelError("joins maps of \(inputs.map(\.channels)) channels")
        }
        guard broadcasting || features.count == inputs.count else { throw ModelError("cannot join constants") }
        return BlobInfo(channels: channels, scale: first.scale, radius: features.map(\.radius).max()!)
    }

    static func requireFinite(_ values: [Float]) throws {
        guard values.allSatisfy(\.isFinite) else { throw ModelError("its weights hold NaN or infinite values") }
    }
}

extension NCNNOperation {
    /// Split has one output per reader; every other layer exactly one.
    func outputCount(_ count: Int) -> Bool {
        if case .split = self { return count >= 1 }
        return count == 1
    }

    /// Weights under their roles (the names `NCNNNamedWeights` reads back).
    var weights: [(String, Tensor)] {
        switch self {
        case .convolution(let weight, let bias, _): [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
        case .prelu(let slopes): [("slope", Tensor(shape: [slopes.count], scalars: slopes))]
        case .constant(let value): [("data", value.reshaped([value.count]))]
        default: []
        }
    }

    var parameterCount: Int { weights.reduce(0) { $0 + $1.1.count } }
}
