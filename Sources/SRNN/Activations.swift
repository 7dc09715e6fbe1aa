import Foundation
import SRTensor

/// max(0, x), elementwise. Any shape.
public final class ReLU: Layer {
    public init() {}
    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        let output = inference(input)
        return (
            output,
            { gradient in
                var dx = gradient
                dx.scalars.withUnsafeMutableBufferPointer { g in
                    input.scalars.withUnsafeBufferPointer { x in
                        for i in 0..<g.count { g[i] = x[i] > 0 ? g[i] : 0 }
                    }
                }
                return dx
            }
        )
    }
    public func inference(_ input: Tensor) -> Tensor {
        var y = input
        y.scalars.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = max(p[i], 0) } }
        return y
    }
}

/// x for x > 0, slope·x otherwise. Any shape.
public final class LeakyReLU: Layer {
    public let slope: Float
    public init(slope: Float) { self.slope = slope }
    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        let output = inference(input)
        let slope = self.slope
        return (
            output,
            { gradient in
                var dx = gradient
                dx.scalars.withUnsafeMutableBufferPointer { g in
                    input.scalars.withUnsafeBufferPointer { x in
                        for i in 0..<g.count { g[i] = x[i] > 0 ? g[i] : g[i] * slope }
                    }
                }
                return dx
            }
        )
    }
    public func inference(_ input: Tensor) -> Tensor {
        var y = input
        let slope = self.slope
        y.scalars.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = p[i] < 0 ? p[i] * slope : p[i] } }
        return y
    }
}

/// Per-channel learnable leaky ReLU (PyTorch `nn.PReLU(num_parameters: C)`), input [N, C, H, W]
/// or [N, C]. Parameter `weight` [C], initialised to 0.25.
public final class PReLU: Layer {
    public let weight: Parameter
    public init(channels: Int) { weight = Parameter(Tensor(repeating: 0.25, shape: [channels])) }
    public var namedParameters: [(name: String, parameter: Parameter)] { [(name: "weight", parameter: weight)] }

    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        let output = inference(input)
        return (
            output,
            { [self] gradient in
                let (n, c) = (input.shape[0], input.shape[1])
                let inner = input.count / (n * c)
                var dx = gradient
                var da = [Float](repeating: 0, count: c)
                for b in 0..<n {
                    for ch in 0..<c {
                        let a = weight.value.scalars[ch]
                        let base = (b * c + ch) * inner
                        for i in base..<(base + inner) where input.scalars[i] <= 0 {
                            da[ch] += gradient.scalars[i] * input.scalars[i]
                            dx.scalars[i] *= a
                        }
                    }
                }
                weight.accumulate(Tensor(shape: [c], scalars: da))
                return dx
            }
        )
    }

    public func inference(_ input: Tensor) -> Tensor {
        let (n, c) = (input.shape[0], input.shape[1])
        let inner = input.count / (n * c)
        var y = input
        for b in 0..<n {
            for ch in 0..<c {
                let a = weight.value.scalars[ch]
                let base = (b * c + ch) * inner
                for i in base..<(base + inner) where y.scalars[i] < 0 { y.scalars[i] *= a }
            }
        }
        return y
    }
}
