import Foundation
import SRNN
import SRTensor

extension GraphBuilder {
    /// An ncnn graph as ONNX nodes, layer by layer: Conv (+ its fused activation), Relu, LeakyRelu, Clip,
    /// Sigmoid, x·Sigmoid(x) for Swish, PRelu, DepthToSpace (CRD, ncnn's PixelShuffle mode 0), Resize,
    /// Add/Sub/Mul/Div/Max/Min, Concat; MemoryData becomes an initialiser. Returns the output's name.
    mutating func ncnn(_ model: NCNNModel, input: String) -> String {
        var names: [Int: String] = [model.inputBlob: input]
        for step in model.steps {
            let inputs = step.inputs.map { names[$0]! }
            let prefix = "\(step.layerName)"
            let output: String
            switch step.operation {
            case .convolution(let weight, let bias, let activation):
                var arguments = [inputs[0], constant(prefix + ".weight", weight)]
                if let bias { arguments.append(constant(prefix + ".bias", bias)) }
                let (k, pad) = (weight.shape[2], weight.shape[2] / 2)
                let convolution = node(
                    "Conv", arguments,
                    attributes: [
                        .ints("kernel_shape", [k, k]), .ints("pads", [pad, pad, pad, pad]), .ints("strides", [1, 1]),
                    ])
                output = apply(activation, convolution, name: prefix)
            case .activation(let activation):
                output = apply(activation, inputs[0], name: prefix)
            case .prelu(let slopes):
                let shape = slopes.count == 1 ? [1] : [slopes.count, 1, 1]
                output = node("PRelu", [inputs[0], constant(prefix + ".slope", Tensor(shape: shape, scalars: slopes))])
            case .pixelShuffle(let factor):
                output = shuffle(inputs[0], factor)
            case .upsample(let layer):
                output = upsample(inputs[0], scale: layer.factor, nearest: layer.mode == .nearest)
            case .binary(let op, let scalar):
                var (a, b) = (inputs[0], scalar.map { constant(prefix + ".scalar", Tensor(shape: [1], scalars: [$0])) })
                var kind = op
                if op == .reverseSubtract || op == .reverseDivide {
                    (a, b) = (b ?? inputs[1], a)
                    kind = op == .reverseSubtract ? .subtract : .divide
                }
                let operatorNames: [NCNNOperation.BinaryOperator: String] = [
                    .add: "Add", .subtract: "Sub", .multiply: "Mul", .divide: "Div", .maximum: "Max", .minimum: "Min",
                ]
                output = node(operatorNames[kind]!, [a, b ?? inputs[1]])
            case .elementwise(let op, let coefficients):
                var terms = inputs
                if op == .sum && !coefficients.isEmpty {
                    terms = zip(inputs, coefficients).enumerated().map { index, pair in
                        pair.1 == 1
                            ? pair.0
                            : node(
                                "Mul",
                                [
                                    pair.0,
                                    constant(prefix + ".coefficient\(index)", Tensor(shape: [1], scalars: [pair.1])),
                                ])
                    }
                }
                let kind = [NCNNOperation.ElementwiseOperator.sum: "Add", .product: "Mul", .maximum: "Max"][op]!
                output = terms.dropFirst().reduce(terms[0]) { node(kind, [$0, $1]) }
            case .concatenate:
                output = node("Concat", inputs, attributes: [.int("axis", 1)])
            case .split:
                for blob in step.outputs { names[blob] = inputs[0] }
                continue
            case .constant(let value):
                output = constant(prefix + ".data", value)
            }
            names[step.outputs[0]] = output
        }
        return names[model.outputBlob]!
    }

    /// An ncnn activation as ONNX nodes (nothing for identity).
    private mutating func apply(_ activation: NCNNOperation.Activation, _ x: String, name: String) -> String {
        switch activation {
        case .identity: x
        case .relu: node("Relu", [x])
        case .leakyReLU(let slope): leakyReLU(x, slope: slope)
        case .clip(let low, let high):
            node(
                "Clip",
                [
                    x, constant(name + ".min", Tensor(shape: [], scalars: [low])),
                    constant(name + ".max", Tensor(shape: [], scalars: [high])),
                ])
        case .sigmoid: node("Sigmoid", [x])
        case .swish: node("Mul", [x, node("Sigmoid", [x])])
        }
    }
}
