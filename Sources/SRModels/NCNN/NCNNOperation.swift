import Foundation
import SRNN
import SRTensor

/// One executable layer of an ncnn graph, with its weights. Feature maps are [N, C, H, W]; ncnn's
/// per-image blobs [C, H, W] are the same maps with the batch dimension dropped.
enum NCNNOperation {
    /// An activation applied element by element (ncnn's fused `activation_type` 0-4 and layers of the same name).
    enum Activation: Equatable {
        case identity
        case relu
        case leakyReLU(slope: Float)
        case clip(minimum: Float, maximum: Float)
        case sigmoid
        case swish

        func apply(_ x: inout Tensor) {
            switch self {
            case .identity: return
            case .relu: x.scalars.withUnsafeMutableBufferPointer { for i in $0.indices where $0[i] < 0 { $0[i] = 0 } }
            case .leakyReLU(let slope):
                x.scalars.withUnsafeMutableBufferPointer { for i in $0.indices where $0[i] < 0 { $0[i] *= slope } }
            case .clip(let low, let high):
                x.scalars.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = min(max($0[i], low), high) } }
            case .sigmoid:
                x.scalars.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = 1 / (1 + expf(-$0[i])) } }
            case .swish:
                x.scalars.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] /= 1 + expf(-$0[i]) } }
            }
        }
    }

    /// ncnn's BinaryOp codes 0-8 (pow and atan2 are not used by upscaling models).
    enum BinaryOperator: Int {
        case add = 0, subtract, multiply, divide, maximum, minimum
        case reverseSubtract = 7, reverseDivide = 8

        func apply(_ a: Float, _ b: Float) -> Float {
            switch self {
            case .add: a + b
            case .subtract: a - b
            case .multiply: a * b
            case .divide: a / b
            case .maximum: max(a, b)
            case .minimum: min(a, b)
            case .reverseSubtract: b - a
            case .reverseDivide: b / a
            }
        }
    }

    /// ncnn's Eltwise codes: product, sum with coefficients, maximum.
    enum ElementwiseOperator: Int {
        case product = 0, sum, maximum
    }

    /// Weight [OC, C, K, K], bias [OC]; "same" zero padding, stride 1.
    case convolution(weight: Tensor, bias: Tensor?, activation: Activation)
    case activation(Activation)
    /// One slope per channel, or a single slope for all.
    case prelu(slopes: [Float])
    case pixelShuffle(factor: Int)
    case upsample(Upsample)
    /// With one input: `input op scalar`; with two: numpy-style broadcasting over [N, C, H, W].
    case binary(BinaryOperator, scalar: Float?)
    case elementwise(ElementwiseOperator, coefficients: [Float])
    case concatenate
    /// Hands its input to every output unchanged (ncnn's Split).
    case split
    /// A constant [1, C, H, W] (a [C] vector becomes [1, C, 1, 1]).
    case constant(Tensor)

    /// Runs the layer on its inputs, taking them over (the first may be updated in place when no one else
    /// holds it); the graph has checked every shape when it was built.
    func run(_ inputs: inout [Tensor]) -> Tensor {
        /// The first input, moved out so that it is uniquely referenced when the graph no longer holds it.
        func takeFirst() -> Tensor {
            let first = inputs[0]
            inputs[0] = Tensor(zeros: [0])
            return first
        }
        switch self {
        case .convolution(let weight, let bias, let activation):
            var y = Conv2d.trainingForward(
                input: inputs[0], weight: weight, bias: bias, stride: 1, padding: weight.shape[2] / 2)
            activation.apply(&y)
            return y
        case .activation(let activation):
            var y = takeFirst()
            activation.apply(&y)
            return y
        case .prelu(let slopes):
            var y = takeFirst()
            let (n, c) = (y.shape[0], y.shape[1])
            let plane = y.count / (n * c)
            y.scalars.withUnsafeMutableBufferPointer { values in
                for image in 0..<n {
                    for channel in 0..<c {
                        let slope = slopes.count == 1 ? slopes[0] : slopes[channel]
                        let base = (image * c + channel) * plane
                        for i in base..<(base + plane) where values[i] < 0 { values[i] *= slope }
                    }
                }
            }
            return y
        case .pixelShuffle(let factor):
            return PixelShuffle.shuffle(inputs[0], factor: factor)
        case .upsample(let layer):
            return layer.inference(inputs[0])
        case .binary(let op, let scalar):
            if let scalar {
                var y = takeFirst()
                y.scalars.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = op.apply($0[i], scalar) } }
                return y
            }
            if inputs[0].shape == inputs[1].shape {
                var y = takeFirst()
                y.scalars.withUnsafeMutableBufferPointer { out in
                    inputs[1].scalars.withUnsafeBufferPointer { rhs in
                        for i in out.indices { out[i] = op.apply(out[i], rhs[i]) }
                    }
                }
                return y
            }
            return Self.broadcast(inputs[0], inputs[1], op.apply)
        case .elementwise(let op, let coefficients):
            var y = takeFirst()
            let first = coefficients.first ?? 1
            if op == .sum && first != 1 { y.scale(by: first) }
            for (index, other) in inputs.enumerated().dropFirst() {
                switch op {
                case .sum: y.add(other, scale: index < coefficients.count ? coefficients[index] : 1)
                case .product:
                    y.scalars.withUnsafeMutableBufferPointer { a in
                        other.scalars.withUnsafeBufferPointer { b in for i in a.indices { a[i] *= b[i] } }
                    }
                case .maximum:
                    y.scalars.withUnsafeMutableBufferPointer { a in
                        other.scalars.withUnsafeBufferPointer { b in for i in a.indices { a[i] = max(a[i], b[i]) } }
                    }
                }
            }
            return y
        case .concatenate:
            return Tensor(concatenatingChannels: inputs)
        case .split:
            return inputs[0]
        case .constant(let value):
            return value
        }
    }

    /// `f(a, b)` with each of the four dimensions equal or 1 in one operand (checked when the graph was built).
    static func broadcast(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        let shape = zip(a.shape, b.shape).map { max($0, $1) }
        func strides(_ s: [Int]) -> [Int] {
            [s[1] * s[2] * s[3], s[2] * s[3], s[3], 1].enumerated().map { s[$0.offset] == 1 ? 0 : $0.element }
        }
        let (sa, sb) = (strides(a.shape), strides(b.shape))
        var y = Tensor(zeros: shape)
        a.scalars.withUnsafeBufferPointer { lhs in
            b.scalars.withUnsafeBufferPointer { rhs in
                y.scalars.withUnsafeMutableBufferPointer { out in
                    var o = 0
                    for n in 0..<shape[0] {
                        for c in 0..<shape[1] {
                            for h in 0..<shape[2] {
                                let ia = n * sa[0] + c * sa[1] + h * sa[2], ib = n * sb[0] + c * sb[1] + h * sb[2]
                                for w in 0..<shape[3] {
                                    out[o] = f(lhs[ia + w * sa[3]], rhs[ib + w * sb[3]])
                                    o += 1
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }
}
