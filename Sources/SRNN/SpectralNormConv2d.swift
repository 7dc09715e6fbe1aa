import SRTensor

/// A convolution whose weight is divided by its largest singular value (Miyato et al. 2018, as
/// PyTorch's `spectral_norm`): W_sn = W / σ(W), σ estimated on W as a matrix [OC, C·K·K] by one power
/// iteration per training forward pass, with the singular-vector estimates `u` and `v` kept between
/// passes. Inference uses the kept estimates without iterating: σ = uᵀWv. The gradient treats u and v as constants,
/// as PyTorch does: dL/dW = (G − ⟨G, W_sn⟩ · u vᵀ) / σ with G = dL/dW_sn.
///
/// Input [N, C, H, W] → [N, OC, OH, OW]. Parameters: `weight_orig` [OC, C, K, K], `bias` [OC] (optional),
/// and `weight_u` [OC], `weight_v` [C·K·K], the power-iteration state (`isState`: the optimiser never moves it).
public final class SpectralNormConv2d: Layer {
    public let weight: Parameter
    public let bias: Parameter?
    public let u: Parameter
    public let v: Parameter
    public let stride: Int
    public let padding: Int

    public init(
        inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int? = nil,
        bias: Bool = true
    ) {
        weight = Parameter(Tensor(zeros: [outputChannels, inputChannels, kernelSize, kernelSize]))
        self.bias = bias ? Parameter(Tensor(zeros: [outputChannels])) : nil
        u = Parameter(Tensor(repeating: 1 / Float(outputChannels).squareRoot(), shape: [outputChannels]))
        u.isState = true
        let columns = inputChannels * kernelSize * kernelSize
        v = Parameter(Tensor(repeating: 1 / Float(columns).squareRoot(), shape: [columns]))
        v.isState = true
        self.stride = stride
        self.padding = padding ?? kernelSize / 2
    }

    /// Kaiming-normal weights (as `Conv2d.initialize`) and a random unit `u`.
    public func initialize(generator: inout SeededGenerator) {
        let shape = weight.value.shape
        let std = (2 / Float(shape[1] * shape[2] * shape[3])).squareRoot()
        weight.value = Tensor.randomNormal(shape: shape, standardDeviation: std, generator: &generator)
        bias?.value.zero()
        u.value = SpectralNormConv2d.normalized(
            Tensor.randomNormal(shape: [shape[0]], standardDeviation: 1, generator: &generator))
        (u.value, v.value, _) = SpectralNormConv2d.powerIteration(weight: weight.value, u: u.value)
    }

    /// σ = uᵀWv for the kept estimates.
    public static func sigma(weight: Tensor, u: Tensor, v: Tensor) -> Float {
        let rows = u.count, columns = v.count
        var sigma: Float = 0
        for r in 0..<rows {
            var sum: Float = 0
            for c in 0..<columns { sum += weight.scalars[r * columns + c] * v.scalars[c] }
            sigma += u.scalars[r] * sum
        }
        return sigma
    }

    /// One power iteration from `u` on W [rows, columns]: v = Wᵀu/‖·‖, u' = Wv/‖·‖, σ = u'ᵀWv.
    public static func powerIteration(weight: Tensor, u: Tensor) -> (u: Tensor, v: Tensor, sigma: Float) {
        let rows = weight.shape[0], columns = weight.count / rows
        var v = Tensor(zeros: [columns])
        for r in 0..<rows {
            let ur = u.scalars[r]
            for c in 0..<columns { v.scalars[c] += weight.scalars[r * columns + c] * ur }
        }
        v = normalized(v)
        var wv = Tensor(zeros: [rows])
        for r in 0..<rows {
            var sum: Float = 0
            for c in 0..<columns { sum += weight.scalars[r * columns + c] * v.scalars[c] }
            wv.scalars[r] = sum
        }
        let next = normalized(wv)
        var sigma: Float = 0
        for r in 0..<rows { sigma += next.scalars[r] * wv.scalars[r] }
        return (next, v, sigma)
    }

    static func normalized(_ t: Tensor) -> Tensor {
        let norm = t.scalars.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return t * (1 / max(norm, 1e-12))
    }

    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        let (nextU, v, sigma) = SpectralNormConv2d.powerIteration(weight: weight.value, u: u.value)
        (u.value, self.v.value) = (nextU, v)
        let normalizedWeight = weight.value * (1 / sigma)
        let output = Conv2d.trainingForward(
            input: input, weight: normalizedWeight, bias: bias?.value, stride: stride, padding: padding)
        return (
            output,
            { [self] gradient in
                var normalizedGradient = [Float](repeating: 0, count: weight.value.count)
                var biasGradient = [Float](repeating: 0, count: bias?.value.count ?? 0)
                let needWeights = !weight.isFrozen
                let needBias = !(bias?.isFrozen ?? true)
                let inputGradient = normalizedGradient.withUnsafeMutableBufferPointer { dw in
                    biasGradient.withUnsafeMutableBufferPointer { db in
                        Conv2d.trainingBackward(
                            gradient, input: input, weight: normalizedWeight, stride: stride, padding: padding,
                            weightGradient: needWeights ? dw.baseAddress : nil,
                            biasGradient: needBias ? db.baseAddress : nil)
                    }
                }
                if needWeights {
                    // dW = (G − ⟨G, W_sn⟩ u vᵀ) / σ.
                    let inner = zip(normalizedGradient, normalizedWeight.scalars).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                    let columns = v.count
                    for r in 0..<nextU.count {
                        let ur = nextU.scalars[r] * inner
                        for c in 0..<columns {
                            let i = r * columns + c
                            weight.gradient.scalars[i] += (normalizedGradient[i] - ur * v.scalars[c]) / sigma
                        }
                    }
                }
                if needBias, let bias { for i in biasGradient.indices { bias.gradient.scalars[i] += biasGradient[i] } }
                return inputGradient
            }
        )
    }

    public func inference(_ input: Tensor) -> Tensor {
        let sigma = SpectralNormConv2d.sigma(weight: weight.value, u: u.value, v: v.value)
        return Convolution.forward(
            input: input, weight: weight.value * (1 / sigma), bias: bias?.value, stride: stride, padding: padding)
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        var out = [(name: "weight_orig", parameter: weight)]
        if let bias { out.append((name: "bias", parameter: bias)) }
        out.append((name: "weight_u", parameter: u))
        out.append((name: "weight_v", parameter: v))
        return out
    }
}
