import SRTensor

/// Fully connected layer (PyTorch `nn.Linear`): [N, in] → [N, out], y = x·Wᵀ + b,
/// `weight` [out, in], `bias` [out].
public final class Linear: Layer {
    public let weight: Parameter
    public let bias: Parameter

    public init(inputFeatures: Int, outputFeatures: Int) {
        weight = Parameter(Tensor(zeros: [outputFeatures, inputFeatures]))
        bias = Parameter(Tensor(zeros: [outputFeatures]))
    }

    /// Kaiming-normal weights times `scale`, zero bias.
    public func initialize(scale: Float = 1, generator: inout SeededGenerator) {
        let std = (2 / Float(weight.value.shape[1])).squareRoot()
        weight.value =
            Tensor.randomNormal(shape: weight.value.shape, standardDeviation: std, generator: &generator) * scale
        bias.value.zero()
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        [(name: "weight", parameter: weight), (name: "bias", parameter: bias)]
    }

    public func inference(_ input: Tensor) -> Tensor {
        let (n, fin) = (input.shape[0], input.shape[1])
        let fout = weight.value.shape[0]
        precondition(
            weight.value.shape[1] == fin, "linear: input \(input.shape) does not fit weight \(weight.value.shape)")
        var out = Tensor(zeros: [n, fout])
        for b in 0..<n { for o in 0..<fout { out.scalars[b * fout + o] = bias.value.scalars[o] } }
        input.scalars.withUnsafeBufferPointer { x in
            weight.value.scalars.withUnsafeBufferPointer { w in
                out.scalars.withUnsafeMutableBufferPointer { y in
                    GEMM.multiply(
                        transposeB: true, m: n, n: fout, k: fin, a: x.baseAddress!, lda: fin, b: w.baseAddress!,
                        ldb: fin, beta: 1, c: y.baseAddress!, ldc: fout)
                }
            }
        }
        return out
    }

    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        (
            inference(input),
            { [self] gradient in
                let (n, fin) = (input.shape[0], input.shape[1])
                let fout = weight.value.shape[0]
                var dx = Tensor(zeros: input.shape)
                gradient.scalars.withUnsafeBufferPointer { g in
                    weight.value.scalars.withUnsafeBufferPointer { w in
                        dx.scalars.withUnsafeMutableBufferPointer { d in
                            // dx[N, in] = g[N, out] · W[out, in]
                            GEMM.multiply(
                                m: n, n: fin, k: fout, a: g.baseAddress!, lda: fout, b: w.baseAddress!, ldb: fin,
                                c: d.baseAddress!, ldc: fin)
                        }
                    }
                    if !weight.isFrozen {
                        input.scalars.withUnsafeBufferPointer { x in
                            weight.gradient.scalars.withUnsafeMutableBufferPointer { dw in
                                // dW[out, in] += gᵀ · x
                                GEMM.multiply(
                                    transposeA: true, m: fout, n: fin, k: n, a: g.baseAddress!, lda: fout,
                                    b: x.baseAddress!, ldb: fin, beta: 1, c: dw.baseAddress!, ldc: fin)
                            }
                        }
                    }
                    if !bias.isFrozen {
                        for b in 0..<n { for o in 0..<fout { bias.gradient.scalars[o] += g[b * fout + o] } }
                    }
                }
                return dx
            }
        )
    }
}

/// [N, …] → [N, product of the rest].
public final class Flatten: Layer {
    public init() {}
    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        let shape = input.shape
        return (input.reshaped([shape[0], input.count / shape[0]]), { $0.reshaped(shape) })
    }
}

/// 2×2 max pooling with stride 2 (floor): [N, C, H, W] → [N, C, H/2, W/2].
public final class MaxPool2x2: Layer {
    public init() {}
    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (oh, ow) = (h / 2, w / 2)
        var out = Tensor(zeros: [n, c, oh, ow])
        var argmax = [Int32](repeating: 0, count: out.count)
        input.scalars.withUnsafeBufferPointer { x in
            for p in 0..<(n * c) {
                for y in 0..<oh {
                    for xx in 0..<ow {
                        var best = p * h * w + 2 * y * w + 2 * xx
                        for (dy, dx) in [(0, 1), (1, 0), (1, 1)] {
                            let i = p * h * w + (2 * y + dy) * w + 2 * xx + dx
                            if x[i] > x[best] { best = i }
                        }
                        let o = (p * oh + y) * ow + xx
                        out.scalars[o] = x[best]
                        argmax[o] = Int32(best)
                    }
                }
            }
        }
        return (
            out,
            { gradient in
                var dx = Tensor(zeros: input.shape)
                for o in 0..<gradient.count { dx.scalars[Int(argmax[o])] += gradient.scalars[o] }
                return dx
            }
        )
    }
}
