import SRTensor

/// 2-D convolution with square kernels, zero padding and optional bias (PyTorch `nn.Conv2d`).
///
/// Input [N, C, H, W] → output [N, OC, OH, OW], OH = (H + 2·padding − kernelSize) / stride + 1.
/// Parameters: `weight` [OC, C, K, K], `bias` [OC], and while training optionally `branches.*`.
public final class Conv2d: Layer {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Int
    public let padding: Int
    /// Training-time branches folded into the kernel (`ConvolutionBranches`; needs a bias and an odd kernel);
    /// nil for a plain convolution. Attach them before the parameters are handed to an optimiser.
    public var branches: ConvolutionBranches? {
        didSet { precondition(branches == nil || (bias != nil && kernelSize % 2 == 1), "branches need a bias") }
    }

    public init(
        inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int? = nil,
        bias: Bool = true
    ) {
        weight = Parameter(Tensor(zeros: [outputChannels, inputChannels, kernelSize, kernelSize]))
        self.bias = bias ? Parameter(Tensor(zeros: [outputChannels])) : nil
        self.stride = stride
        self.padding = padding ?? kernelSize / 2
    }

    public var inputChannels: Int { weight.value.shape[1] }
    public var outputChannels: Int { weight.value.shape[0] }
    public var kernelSize: Int { weight.value.shape[2] }

    /// Kaiming-normal weights (fan-in, gain √2) times `scale`, zero bias: BasicSR's `default_init_weights`.
    public func initialize(scale: Float = 1, generator: inout SeededGenerator) {
        let fanIn = inputChannels * kernelSize * kernelSize
        let std = (2 / Float(fanIn)).squareRoot()
        weight.value =
            Tensor.randomNormal(shape: weight.value.shape, standardDeviation: std, generator: &generator) * scale
        bias?.value.zero()
    }

    /// The training pass: oneDNN for each of forward, backward-data and backward-weights where it has
    /// fast code for the shape (`DNNLTrainingConvolution`), else im2col + sgemm (`Convolution`).
    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        if let branches { return foldedForward(input, branches: branches) }
        let output = Conv2d.trainingForward(
            input: input, weight: weight.value, bias: bias?.value, stride: stride, padding: padding)
        return (
            output,
            { [self] gradient in
                withGradientTargets { weightTarget, biasTarget in
                    Conv2d.trainingBackward(
                        gradient, input: input, weight: weight.value, stride: stride, padding: padding,
                        weightGradient: weightTarget, biasGradient: biasTarget)
                }
            }
        )
    }

    /// The forward pass with the branches folded into the kernel; the pullback hands the folded kernel's
    /// gradient to the main weight and bias and, through the chain rule, to the branches.
    private func foldedForward(_ input: Tensor, branches: ConvolutionBranches) -> (output: Tensor, pullback: Pullback) {
        let (foldedWeight, foldedBias) = effectiveWeights
        let output = Conv2d.trainingForward(
            input: input, weight: foldedWeight, bias: foldedBias, stride: stride, padding: padding)
        return (
            output,
            { [self] gradient in
                var weightGradient = Tensor(zeros: foldedWeight.shape)
                var biasGradient = Tensor(zeros: [outputChannels])
                let inputGradient = weightGradient.scalars.withUnsafeMutableBufferPointer { dw in
                    biasGradient.scalars.withUnsafeMutableBufferPointer { db in
                        Conv2d.trainingBackward(
                            gradient, input: input, weight: foldedWeight, stride: stride, padding: padding,
                            weightGradient: dw.baseAddress, biasGradient: db.baseAddress)
                    }
                }
                weight.accumulate(weightGradient)
                bias?.accumulate(biasGradient)
                branches.accumulate(weightGradient: weightGradient, biasGradient: biasGradient)
                return inputGradient
            }
        )
    }

    /// The kernel and bias this convolution applies: its own, or with its branches folded in.
    public var effectiveWeights: (weight: Tensor, bias: Tensor?) {
        guard let branches, let bias else { return (weight.value, bias?.value) }
        let folded = branches.folded(weight: weight.value, bias: bias.value)
        return (folded.weight, folded.bias)
    }

    /// Inference on oneDNN's training convolution when it has fast code for the shape (reorders at the
    /// edges, no plan), else the reference path. For models without a oneDNN plan of their own.
    public func fastInference(_ input: Tensor) -> Tensor {
        let (weight, bias) = effectiveWeights
        return Conv2d.trainingForward(input: input, weight: weight, bias: bias, stride: stride, padding: padding)
    }

    /// A training forward pass with explicit weights: oneDNN, else im2col + sgemm.
    /// Input [N, C, H, W], weight [OC, C, K, K], bias [OC] → [N, OC, OH, OW].
    public static func trainingForward(
        input: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int
    )
        -> Tensor
    {
        DNNLTrainingConvolution.forward(input: input, weight: weight, bias: bias, stride: stride, padding: padding)
            ?? Convolution.forward(input: input, weight: weight, bias: bias, stride: stride, padding: padding)
    }

    /// The matching backward pass: adds dWeight [OC, C, K, K] and dBias [OC] into the accumulators
    /// that are not nil and returns dInput [N, C, H, W]; each part on oneDNN where it can.
    public static func trainingBackward(
        _ gradient: Tensor, input: Tensor, weight: Tensor, stride: Int, padding: Int,
        weightGradient weightTarget: UnsafeMutablePointer<Float>?, biasGradient biasTarget: UnsafeMutablePointer<Float>?
    ) -> Tensor {
        let parametersDone =
            (weightTarget == nil && biasTarget == nil)
            || DNNLTrainingConvolution.backwardWeights(
                outputGradient: gradient, input: input, weightShape: weight.shape, stride: stride,
                padding: padding, weightGradient: weightTarget, biasGradient: biasTarget)
        let inputGradient = DNNLTrainingConvolution.backwardData(
            outputGradient: gradient, weight: weight, inputShape: input.shape, stride: stride, padding: padding)
        guard !parametersDone || inputGradient == nil else { return inputGradient! }
        let reference = Convolution.backward(
            outputGradient: gradient, input: input, weight: weight, stride: stride, padding: padding,
            weightGradient: parametersDone ? nil : weightTarget, biasGradient: parametersDone ? nil : biasTarget,
            needInputGradient: inputGradient == nil)
        return inputGradient ?? reference
    }

    /// Runs `body` with the gradient accumulators of the parameters that are not frozen (nil for the others).
    private func withGradientTargets<Result>(
        _ body: (UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?) -> Result
    ) -> Result {
        let weightFrozen = weight.isFrozen
        return weight.gradient.scalars.withUnsafeMutableBufferPointer { dw in
            let weightTarget = weightFrozen ? nil : dw.baseAddress
            guard let bias, !bias.isFrozen else { return body(weightTarget, nil) }
            return bias.gradient.scalars.withUnsafeMutableBufferPointer { db in body(weightTarget, db.baseAddress) }
        }
    }

    public func inference(_ input: Tensor) -> Tensor {
        let (weight, bias) = effectiveWeights
        return Convolution.forward(input: input, weight: weight, bias: bias, stride: stride, padding: padding)
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        var out = [(name: "weight", parameter: weight)]
        if let bias { out.append((name: "bias", parameter: bias)) }
        if let branches {
            out += branches.namedParameters.map { (name: "branches." + $0.name, parameter: $0.parameter) }
        }
        return out
    }
}
