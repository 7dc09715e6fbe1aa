import SRTensor

/// Training-time re-parameterisation of a convolution with an odd K×K kernel (in the manner of ECBSR's
/// edge-oriented blocks and SPAN's Conv3XC): linear branches beside the main kernel that fold exactly into
/// one K×K convolution, so they cost nothing at inference.
/// - A pointwise convolution: weight P [OC, C, 1, 1], bias p [OC], acting at the kernel's centre.
/// - An expand–squeeze pair: a 1×1 convolution to E channels (X [E, C, 1, 1], bias x [E]) on the input
///   padded first (so its bias reaches the padding too), then a K×K convolution back to OC channels without
///   padding (S [OC, E, K, K], bias s [OC]).
///
/// Folded into the main weight W [OC, C, K, K] and bias b [OC], tap k of K·K:
/// W'[o, i, k] = W[o, i, k] + [k = centre]·P[o, i] + Σ_e S[o, e, k]·X[e, i] and
/// b'[o] = b[o] + p[o] + s[o] + Σ_e (Σ_k S[o, e, k])·x[e].
/// The convolution trains in this folded form: the branches cost a few small matrix products per step, not
/// three more convolutions, and their gradients follow from the folded kernel's by the chain rule (the same
/// gradients as running the branches separately).
public final class ConvolutionBranches {
    /// P [OC, C, 1, 1] and p [OC].
    public let pointwise: Parameter
    public let pointwiseBias: Parameter
    /// X [E, C, 1, 1] and x [E].
    public let expand: Parameter
    public let expandBias: Parameter
    /// S [OC, E, K, K] and s [OC].
    public let squeeze: Parameter
    public let squeezeBias: Parameter

    /// Branches for a convolution of `inputChannels` → `outputChannels` with a `kernelSize` (odd) kernel,
    /// through `expandedChannels` channels; zero weights until `initialize`.
    public init(inputChannels: Int, outputChannels: Int, kernelSize: Int, expandedChannels: Int) {
        precondition(kernelSize % 2 == 1, "branches fold into an odd kernel's centre")
        pointwise = Parameter(Tensor(zeros: [outputChannels, inputChannels, 1, 1]))
        pointwiseBias = Parameter(Tensor(zeros: [outputChannels]))
        expand = Parameter(Tensor(zeros: [expandedChannels, inputChannels, 1, 1]))
        expandBias = Parameter(Tensor(zeros: [expandedChannels]))
        squeeze = Parameter(Tensor(zeros: [outputChannels, expandedChannels, kernelSize, kernelSize]))
        squeezeBias = Parameter(Tensor(zeros: [outputChannels]))
    }

    var outputChannels: Int { squeeze.value.shape[0] }
    var expandedChannels: Int { squeeze.value.shape[1] }
    var taps: Int { squeeze.value.shape[2] * squeeze.value.shape[3] }
    var inputChannels: Int { expand.value.shape[1] }

    /// Kaiming-normal expansion (fan-in C), everything else zero: the branches add nothing until they learn,
    /// so attaching them to a trained convolution keeps what it computes.
    public func initialize(generator: inout SeededGenerator) {
        let std = (2 / Float(inputChannels)).squareRoot()
        expand.value = Tensor.randomNormal(shape: expand.value.shape, standardDeviation: std, generator: &generator)
        for parameter in [pointwise, pointwiseBias, expandBias, squeeze, squeezeBias] { parameter.value.zero() }
    }

    /// The folded weight [OC, C, K, K] and bias [OC] of the main `weight` and `bias` with these branches.
    public func folded(weight: Tensor, bias: Tensor) -> (weight: Tensor, bias: Tensor) {
        let (o, c, e, taps) = (outputChannels, inputChannels, expandedChannels, taps)
        precondition(weight.shape == [o, c, squeeze.value.shape[2], squeeze.value.shape[3]] && bias.shape == [o])
        // Per tap: S_k [OC, E] · X [E, C], as one product of the taps stacked, [K·K·OC, E] · [E, C].
        let stacked = tapMajor(squeeze.value.scalars, rows: o * e, taps: taps)
        var product = [Float](repeating: 0, count: taps * o * c)
        multiply(stacked, rows: taps * o, inner: e, expand.value.scalars, columns: c, into: &product)
        var outWeight = weight
        for oi in 0..<(o * c) {
            for k in 0..<taps { outWeight.scalars[oi * taps + k] += product[(k * o + oi / c) * c + oi % c] }
            outWeight.scalars[oi * taps + taps / 2] += pointwise.value.scalars[oi]
        }
        var outBias = bias
        for channel in 0..<o {
            var sum = pointwiseBias.value.scalars[channel] + squeezeBias.value.scalars[channel]
            for expanded in 0..<e {
                var tapSum: Float = 0
                for k in 0..<taps { tapSum += squeeze.value.scalars[(channel * e + expanded) * taps + k] }
                sum += tapSum * expandBias.value.scalars[expanded]
            }
            outBias.scalars[channel] += sum
        }
        return (outWeight, outBias)
    }

    /// Adds the branches' gradients given the folded weight's gradient G [OC, C, K, K] and bias gradient
    /// g [OC] (the main weight's and bias's are G and g themselves).
    public func accumulate(weightGradient g: Tensor, biasGradient gb: Tensor) {
        let (o, c, e, taps) = (outputChannels, inputChannels, expandedChannels, taps)
        // G rearranged tap-major, [K·K·OC, C].
        var stackedGradient = [Float](repeating: 0, count: taps * o * c)
        for oi in 0..<(o * c) {
            for k in 0..<taps { stackedGradient[(k * o + oi / c) * c + oi % c] = g.scalars[oi * taps + k] }
        }
        // dS_k = G_k · Xᵀ ([K·K·OC, C] · [C, E]); dX = Σ_k S_kᵀ · G_k ([E, K·K·OC] · [K·K·OC, C]).
        var squeezeGradient = [Float](repeating: 0, count: taps * o * e)
        multiply(
            stackedGradient, rows: taps * o, inner: c, expand.value.scalars, columns: e, transposeB: true,
            into: &squeezeGradient)
        let stacked = tapMajor(squeeze.value.scalars, rows: o * e, taps: taps)
        var expandGradient = [Float](repeating: 0, count: e * c)
        multiply(
            stacked, rows: e, inner: taps * o, stackedGradient, columns: c, transposeA: true, into: &expandGradient)
        var dSqueeze = Tensor(zeros: squeeze.value.shape)
        var dExpandBias = Tensor(zeros: [e])
        for channel in 0..<o {
            for expanded in 0..<e {
                let row = channel * e + expanded
                for k in 0..<taps {
                    // The bias term Σ_k S[o, e, k]·x[e] adds g[o]·x[e] to every tap of S and g[o]·S to x.
                    dSqueeze.scalars[row * taps + k] =
                        squeezeGradient[k * o * e + row] + gb.scalars[channel] * expandBias.value.scalars[expanded]
                    dExpandBias.scalars[expanded] +=
                        gb.scalars[channel] * squeeze.value.scalars[row * taps + k]
                }
            }
        }
        var dPointwise = Tensor(zeros: pointwise.value.shape)
        for oi in 0..<(o * c) { dPointwise.scalars[oi] = g.scalars[oi * taps + taps / 2] }
        pointwise.accumulate(dPointwise)
        pointwiseBias.accumulate(gb)
        expand.accumulate(Tensor(shape: expand.value.shape, scalars: expandGradient))
        expandBias.accumulate(dExpandBias)
        squeeze.accumulate(dSqueeze)
        squeezeBias.accumulate(gb)
    }

    /// Under PyTorch-style names relative to the convolution ("pointwise.weight", "expand.bias", …).
    public var namedParameters: [(name: String, parameter: Parameter)] {
        [
            ("pointwise.weight", pointwise), ("pointwise.bias", pointwiseBias), ("expand.weight", expand),
            ("expand.bias", expandBias), ("squeeze.weight", squeeze), ("squeeze.bias", squeezeBias),
        ]
    }

    /// [rows, taps] → [taps, rows].
    private func tapMajor(_ values: [Float], rows: Int, taps: Int) -> [Float] {
        var out = [Float](repeating: 0, count: values.count)
        for row in 0..<rows {
            for k in 0..<taps { out[k * rows + row] = values[row * taps + k] }
        }
        return out
    }

    /// out [rows, columns] = op(A) · op(B), with op(A) [rows, inner] and op(B) [inner, columns].
    private func multiply(
        _ a: [Float], rows: Int, inner: Int, _ b: [Float], columns: Int, transposeA: Bool = false,
        transposeB: Bool = false, into out: inout [Float]
    ) {
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { out in
                    GEMM.multiply(
                        transposeA: transposeA, transposeB: transposeB, m: rows, n: columns, k: inner,
                        a: a.baseAddress!, lda: transposeA ? rows : inner, b: b.baseAddress!,
                        ldb: transposeB ? inner : columns, c: out.baseAddress!, ldc: columns)
                }
            }
        }
    }
}
