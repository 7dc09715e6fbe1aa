import Foundation
import SRNN
import SRTensor

/// Writes models as ONNX graphs (opset 17) so they run in ONNX Runtime, TensorRT or chaiNNer. The protobuf
/// messages are encoded here by hand with their published field numbers (onnx.proto): ModelProto,
/// GraphProto, NodeProto, AttributeProto, TensorProto and ValueInfoProto, as far as these graphs need them.
/// Input "input" [1, 3, H, W] → output "output" [1, 3, H·s, W·s], H and W free.
public enum ONNXExport {
    /// The ONNX bytes of `model` (MSRResNet, CompactResNet, SRVGGNetCompact, RRDBNet, SPAN or an ncnn graph).
    public static func encode(_ model: any SuperResolutionModel) throws -> Data {
        var graph = GraphBuilder()
        let input = "input"
        if let network = (model as? NCNNModel) ?? (model as? SPANModel)?.graph {
            graph.node("Identity", [graph.ncnn(network, input: input)], output: "output")
            return graph.model(name: model.architectureName)
        }
        if let network = model as? RRDBNet {
            graph.node("Identity", [try graph.rrdb(network, input: input)], output: "output")
            return graph.model(name: model.architectureName)
        }
        let residual: String
        if let generator = model as? Generator {
            residual = try graph.generator(generator, input: input)
        } else if let network = model as? SRVGGNetCompact {
            residual = graph.srvgg(network, input: input)
        } else {
            throw ModelError("ONNX export does not know \(model.architectureName)")
        }
        let base = graph.upsample(input, scale: model.scale, nearest: model is SRVGGNetCompact)
        graph.node("Add", [residual, base], output: "output")
        return graph.model(name: model.architectureName)
    }

    /// Writes `model` to `path` as ONNX.
    public static func write(_ model: any SuperResolutionModel, to path: String) throws {
        try encode(model).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// Protobuf wire format: varints and length-delimited fields.
struct ProtobufWriter {
    private(set) var data = Data()

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            data.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        data.append(UInt8(v))
    }

    mutating func integer(_ field: Int, _ value: Int) {
        varint(UInt64(field << 3))
        varint(UInt64(bitPattern: Int64(value)))
    }

    mutating func bytes(_ field: Int, _ value: Data) {
        varint(UInt64(field << 3 | 2))
        varint(UInt64(value.count))
        data.append(value)
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Data(value.utf8)) }
    mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        bytes(field, inner.data)
    }

    mutating func float(_ field: Int, _ value: Float) {
        varint(UInt64(field << 3 | 5))
        withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
    }
}

/// Nodes and initialisers of one graph, named as they are added.
struct GraphBuilder {
    private var nodes: [ProtobufWriter] = []
    private var initializers: [ProtobufWriter] = []
    private var counter = 0

    enum Attribute {
        case int(String, Int)
        case float(String, Float)
        case ints(String, [Int])
        case string(String, String)
    }

    private mutating func fresh(_ prefix: String) -> String {
        counter += 1
        return "\(prefix)_\(counter)"
    }

    /// Adds a float initialiser; returns its name.
    @discardableResult mutating func constant(_ name: String, _ tensor: Tensor) -> String {
        var t = ProtobufWriter()
        for d in tensor.shape { t.integer(1, d) }  // dims
        t.integer(2, 1)  // data_type FLOAT
        t.string(8, name)
        var raw = Data(capacity: tensor.count * 4)
        for v in tensor.scalars { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw.append(contentsOf: $0) } }
        t.bytes(9, raw)  // raw_data
        initializers.append(t)
        return name
    }

    /// Adds a 1-D int64 initialiser (shapes, indices, pads); returns its name.
    @discardableResult mutating func integers(_ name: String, _ values: [Int]) -> String {
        var t = ProtobufWriter()
        t.integer(1, values.count)  // dims
        t.integer(2, 7)  // data_type INT64
        t.string(8, name)
        var raw = Data(capacity: values.count * 8)
        for v in values { withUnsafeBytes(of: Int64(v).littleEndian) { raw.append(contentsOf: $0) } }
        t.bytes(9, raw)  // raw_data
        initializers.append(t)
        return name
    }

    @discardableResult mutating func node(
        _ op: String, _ inputs: [String], output: String? = nil, attributes: [Attribute] = []
    ) -> String {
        let out = output ?? fresh(op.lowercased())
        var n = ProtobufWriter()
        for i in inputs { n.string(1, i) }
        n.string(2, out)
        n.string(3, out)
        n.string(4, op)
        for attribute in attributes {
            n.message(5) { a in
                switch attribute {
                case .int(let name, let value):
                    a.string(1, name)
                    a.integer(3, value)
                    a.integer(20, 2)  // INT
                case .float(let name, let value):
                    a.string(1, name)
                    a.float(2, value)
                    a.integer(20, 1)  // FLOAT
                case .ints(let name, let values):
                    a.string(1, name)
                    for v in values { a.integer(8, v) }
                    a.integer(20, 7)  // INTS
                case .string(let name, let value):
                    a.string(1, name)
                    a.bytes(4, Data(value.utf8))
                    a.integer(20, 3)  // STRING
                }
            }
        }
        nodes.append(n)
        return out
    }

    mutating func conv(_ x: String, _ layer: Conv2d, name: String) -> String {
        let weight = constant(name + ".weight", layer.weight.value)
        var inputs = [x, weight]
        if let bias = layer.bias { inputs.append(constant(name + ".bias", bias.value)) }
        let pad = layer.padding
        return node(
            "Conv", inputs,
            attributes: [
                .ints("kernel_shape", [layer.kernelSize, layer.kernelSize]), .ints("pads", [pad, pad, pad, pad]),
                .ints("strides", [layer.stride, layer.stride]),
            ])
    }

    mutating func leakyReLU(_ x: String, slope: Float) -> String {
        node("LeakyRelu", [x], attributes: [.float("alpha", slope)])
    }

    mutating func shuffle(_ x: String, _ factor: Int) -> String {
        node("DepthToSpace", [x], attributes: [.int("blocksize", factor), .string("mode", "CRD")])
    }

    mutating func upsample(_ x: String, scale: Int, nearest: Bool) -> String {
        let scales = constant(fresh("scales"), Tensor(shape: [4], scalars: [1, 1, Float(scale), Float(scale)]))
        return node(
            "Resize", [x, "", scales],
            attributes: nearest
                ? [
                    .string("mode", "nearest"), .string("coordinate_transformation_mode", "asymmetric"),
                    .string("nearest_mode", "floor"),
                ]
                : [.string("mode", "linear"), .string("coordinate_transformation_mode", "half_pixel")])
    }

    mutating func generator(_ g: Generator, input: String) throws -> String {
        guard g.config.activation == .lrelu else { throw ModelError("ONNX export covers LeakyReLU generators") }
        let features = leakyReLU(conv(input, g.convFirst, name: "conv_first"), slope: 0.1)
        var x = features
        for (i, block) in g.body.enumerated() {
            let inner = node("Relu", [conv(x, block.conv1, name: "body.\(i).conv1")])
            x = node("Add", [x, conv(inner, block.conv2, name: "body.\(i).conv2")])
        }
        if let convBody = g.convBody, let convUp = g.convUp {
            x = node("Add", [conv(x, convBody, name: "conv_body"), features])
            return shuffle(conv(x, convUp, name: "conv_up"), g.config.scale)
        }
        let factor = g.config.scale == 3 ? 3 : 2
        x = leakyReLU(shuffle(conv(x, g.upconv1!, name: "upconv1"), factor), slope: 0.1)
        if let upconv2 = g.upconv2 { x = leakyReLU(shuffle(conv(x, upconv2, name: "upconv2"), 2), slope: 0.1) }
        x = leakyReLU(conv(x, g.convHR!, name: "conv_hr"), slope: 0.1)
        return conv(x, g.convLast!, name: "conv_last")
    }

    mutating func srvgg(_ network: SRVGGNetCompact, input: String) -> String {
        var x = input
        for (index, layer) in network.body.enumerated() {
            if let conv = layer as? Conv2d {
                x = self.conv(x, conv, name: "body.\(index)")
            } else if let prelu = layer as? PReLU {
                let slope = prelu.weight.value.reshaped([prelu.weight.value.count, 1, 1])
                x = node("PRelu", [x, constant("body.\(index).weight", slope)])
            }
        }
        return shuffle(x, network.scale)
    }

    /// ESRGAN's RRDBNet: dense blocks as Concat + Conv + LeakyRelu, residuals scaled by 0.2, nearest ×2
    /// upsampling twice. The ×2 and ×1 variants first unshuffle their input (`unshuffled`).
    mutating func rrdb(_ network: RRDBNet, input: String) throws -> String {
        let slope = network.activation.slope
        let fifth = constant("residual_scale", Tensor(shape: [1], scalars: [0.2]))
        let factor = network.unshuffle
        let packed = factor > 1 ? unshuffled(input, factor: factor) : (map: input, size: "")
        let first: Conv2d
        if factor > 1 {
            first = Conv2d(
                inputChannels: network.convFirst.inputChannels, outputChannels: network.convFirst.outputChannels,
                kernelSize: 3, bias: network.convFirst.bias != nil)
            first.weight.value = Self.spaceToDepthOrder(network.convFirst.weight.value, cells: factor * factor)
            if let bias = network.convFirst.bias { first.bias?.value = bias.value }
        } else {
            first = network.convFirst
        }
        let features = conv(packed.map, first, name: "conv_first")
        var x = features
        for (i, block) in network.body.enumerated() {
            var y = x
            for (j, dense) in block.blocks.enumerated() {
                var parts = [y]
                var last = y
                for (k, layer) in dense.convolutions.enumerated() {
                    let joined = parts.count == 1 ? parts[0] : node("Concat", parts, attributes: [.int("axis", 1)])
                    let out = conv(joined, layer, name: "body.\(i).rdb\(j + 1).conv\(k + 1)")
                    if k < 4 { parts.append(leakyReLU(out, slope: slope)) } else { last = out }
                }
                y = node("Add", [y, node("Mul", [last, fifth])])
            }
            x = node("Add", [x, node("Mul", [y, fifth])])
        }
        x = node("Add", [conv(x, network.convBody, name: "conv_body"), features])
        for (index, layer) in [network.convUp1, network.convUp2].enumerated() {
            x = leakyReLU(conv(upsample(x, scale: 2, nearest: true), layer, name: "conv_up\(index + 1)"), slope: slope)
        }
        let output = conv(
            leakyReLU(conv(x, network.convHR, name: "conv_hr"), slope: slope), network.convLast, name: "conv_last")
        guard factor > 1 else { return output }
        // Crop the padding back off: [height, width] · scale.
        let outputSize = node("Mul", [packed.size, integers("output_scale", [network.scale, network.scale])])
        return node("Slice", [output, integers("crop_starts", [0, 0]), outputSize, integers("crop_axes", [2, 3])])
    }

    /// `weight` [O, 3·cells, kh, kw] with its input channels moved from PyTorch's pixel_unshuffle order
    /// (channel c of cell offset k at c·cells + k) to SpaceToDepth's (k·3 + c).
    static func spaceToDepthOrder(_ weight: Tensor, cells: Int) -> Tensor {
        let (outputs, taps) = (weight.shape[0], weight.shape[2] * weight.shape[3])
        var reordered = weight
        for o in 0..<outputs {
            for k in 0..<cells {
                for c in 0..<3 {
                    let target = (o * 3 * cells + k * 3 + c) * taps, source = (o * 3 * cells + c * cells + k) * taps
                    for t in 0..<taps { reordered.scalars[target + t] = weight.scalars[source + t] }
                }
            }
        }
        return reordered
    }

    /// Pads `x` [1, 3, H, W] by repeating its last rows and columns up to multiples of `factor`, then packs
    /// each factor × factor cell into channels (SpaceToDepth). Returns the packed map and the int64
    /// tensor [H, W] of the unpadded input.
    mutating func unshuffled(_ x: String, factor: Int) -> (map: String, size: String) {
        let size = node(
            "Slice", [node("Shape", [x]), integers("size_starts", [2]), integers("size_ends", [4])])
        let step = integers("unshuffle_factor", [factor, factor])
        // (factor − size mod factor) mod factor rows and columns of padding, at the end.
        let missing = node("Mod", [node("Sub", [step, node("Mod", [size, step])]), step])
        let pads = node(
            "Concat", [integers("pads_before", [0, 0, 0, 0, 0, 0]), missing], attributes: [.int("axis", 0)])
        let padded = node("Pad", [x, pads], attributes: [.string("mode", "edge")])
        return (node("SpaceToDepth", [padded], attributes: [.int("blocksize", factor)]), size)
    }

    /// The ModelProto: IR version 8, opset 17, one graph with a free-sized input and output.
    func model(name: String) -> Data {
        var m = ProtobufWriter()
        m.integer(1, 8)  // ir_version
        m.string(2, "upscale")  // producer_name
        m.message(7) { g in
            for n in nodes { g.bytes(1, n.data) }
            g.string(2, name)
            for t in initializers { g.bytes(5, t.data) }
            for (field, tensor) in [(11, "input"), (12, "output")] {
                g.message(field) { v in
                    v.string(1, tensor)
                    v.message(2) { type in
                        type.message(1) { t in
                            t.integer(1, 1)  // FLOAT
                            t.message(2) { shape in
                                shape.message(1) { $0.integer(1, 1) }
                                shape.message(1) { $0.integer(1, 3) }
                                shape.message(1) { $0.string(2, "height") }
                                shape.message(1) { $0.string(2, "width") }
                            }
                        }
                    }
                }
            }
        }
        m.message(8) { o in
            o.string(1, "")
            o.integer(2, 17)
        }
        return m.data
    }
}
