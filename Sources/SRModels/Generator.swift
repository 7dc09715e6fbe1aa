import Foundation
import SRNN
import SRTensor

/// Residual block without batch norm (BasicSR `ResidualBlockNoBN`): x + conv2(act(conv1(x))).
/// [N, F, H, W] → [N, F, H, W].
public final class ResidualBlock: Layer {
    public let conv1: Conv2d
    public let conv2: Conv2d
    public let activation: any Layer
    let activationName: String?

    init(features: Int, activation: GeneratorConfig.Activation) {
        conv1 = Conv2d(inputChannels: features, outputChannels: features, kernelSize: 3)
        conv2 = Conv2d(inputChannels: features, outputChannels: features, kernelSize: 3)
        if activation == .prelu {
            self.activation = PReLU(channels: features)
            activationName = "act"
        } else {
            self.activation = ReLU()
            activationName = nil
        }
    }

    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        let (a, pullback1) = conv1.forward(input)
        let (b, pullbackActivation) = activation.forward(a)
        let (c, pullback2) = conv2.forward(b)
        return (input + c, { gradient in gradient + pullback1(pullbackActivation(pullback2(gradient))) })
    }

    public func inference(_ input: Tensor) -> Tensor {
        input + conv2.inference(activation.inference(conv1.inference(input)))
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        var out = conv1.namedParameters.map { (name: "conv1." + $0.name, parameter: $0.parameter) }
        out += conv2.namedParameters.map { (name: "conv2." + $0.name, parameter: $0.parameter) }
        if let activationName {
            out += activation.namedParameters.map { (name: activationName + "." + $0.name, parameter: $0.parameter) }
        }
        return out
    }
}

/// The SRGAN-style residual generator, in BasicSR's MSRResNet form:
/// conv_first → act → N residual blocks → (upconv → pixel shuffle → act) ×1 or ×2 → conv_hr → act
/// → conv_last,
/// or in the CompactResNet form that keeps all work at input resolution:
/// conv_first → act → N residual blocks → conv_body (+ conv_first's activated output) → conv_up → pixel shuffle,
/// plus the bilinearly upsampled input in both. Input [N, 3, H, W] in [0, 1] → output [N, 3, H·s, W·s].
///
/// Tensor names match BasicSR's state dict (`conv_first.weight`, `body.0.conv1.weight`, `upconv1.weight`,
/// `conv_hr.weight`, `conv_last.weight`, …); PReLU variants add `act_first.weight`, `body.i.act.weight`,
/// `act_up1.weight`, `act_up2.weight`, `act_hr.weight`; CompactResNet has `conv_body.*` and `conv_up.*`.
public final class Generator: Layer {
    public let config: GeneratorConfig
    let convFirst: Conv2d
    let body: [ResidualBlock]
    /// MSRResNet's upsampling stages and output convolutions (nil in CompactResNet).
    let upconv1: Conv2d?
    let upconv2: Conv2d?
    let convHR: Conv2d?
    let convLast: Conv2d?
    /// CompactResNet's convolution after the body and its F → 3·s² upsampling convolution (nil in MSRResNet).
    let convBody: Conv2d?
    let convUp: Conv2d?
    let activationFirst: any Layer
    let activationUp1: any Layer
    let activationUp2: any Layer
    let activationHR: any Layer
    let shuffle: PixelShuffle
    let base: Upsample

    /// Builds a generator with zero weights; call `initialize` or load a state dictionary.
    public init(config: GeneratorConfig) {
        self.config = config
        let f = config.features
        convFirst = Conv2d(inputChannels: config.inputChannels, outputChannels: f, kernelSize: config.firstKernel)
        body = (0..<config.blocks).map { _ in ResidualBlock(features: f, activation: config.activation) }
        func activation() -> any Layer { config.activation == .prelu ? PReLU(channels: f) : LeakyReLU(slope: 0.1) }
        activationFirst = activation()
        activationUp1 = activation()
        activationUp2 = activation()
        activationHR = activation()
        base = Upsample(factor: config.scale, mode: .bilinear)
        switch config.architecture {
        case .msrResNet:
            let stage = config.scale == 3 ? 3 : 2
            upconv1 = Conv2d(inputChannels: f, outputChannels: f * stage * stage, kernelSize: 3)
            upconv2 = config.scale == 4 ? Conv2d(inputChannels: f, outputChannels: f * 4, kernelSize: 3) : nil
            convHR = Conv2d(inputChannels: f, outputChannels: f, kernelSize: 3)
            convLast = Conv2d(inputChannels: f, outputChannels: config.outputChannels, kernelSize: config.lastKernel)
            (convBody, convUp) = (nil, nil)
            shuffle = PixelShuffle(factor: stage)
        case .compact:
            (upconv1, upconv2, convHR, convLast) = (nil, nil, nil, nil)
            convBody = Conv2d(inputChannels: f, outputChannels: f, kernelSize: 3)
            convUp = Conv2d(
                inputChannels: f, outputChannels: config.outputChannels * config.scale * config.scale, kernelSize: 3)
            shuffle = PixelShuffle(factor: config.scale)
        }
        if config.branchExpansion > 0 {
            for conv in convolutions {
                conv.branches = ConvolutionBranches(
                    inputChannels: conv.inputChannels, outputChannels: conv.outputChannels,
                    kernelSize: conv.kernelSize, expandedChannels: config.branchExpansion * conv.outputChannels)
            }
        }
    }

    /// BasicSR's initialisation (Kaiming normal × 0.1 for every convolution, zero biases), with ICNR for
    /// the convolutions that feed a pixel shuffle: the r² outputs that become one output pixel block start
    /// identical, so the shuffle starts as a nearest-neighbour upsampling and cannot start a checkerboard.
    public func initialize(generator: inout SeededGenerator) {
        for conv in convolutions {
            conv.initialize(scale: 0.1, generator: &generator)
            conv.branches?.initialize(generator: &generator)
        }
        for conv in [upconv1, upconv2, convUp].compactMap({ $0 }) {
            Generator.makeSubPixelGroupsEqual(conv, factor: shuffle.factor)
        }
    }

    /// ICNR: copies each group's first output filter over the other r² − 1 (weights [C·r², F, K, K]).
    static func makeSubPixelGroupsEqual(_ conv: Conv2d, factor r: Int) {
        let filter = conv.inputChannels * conv.kernelSize * conv.kernelSize
        for group in 0..<(conv.outputChannels / (r * r)) {
            let first = group * r * r * filter
            for member in 1..<(r * r) {
                for i in 0..<filter {
                    conv.weight.value.scalars[first + member * filter + i] = conv.weight.value.scalars[first + i]
                }
            }
        }
    }

    /// Makes residual blocks `blocks` identities by zeroing their second convolution (x + conv2(…) = x), so a
    /// network grown by new blocks computes exactly what it computed before. The blocks learn from there: conv2
    /// has a gradient at once, conv1 (left as initialised) as soon as conv2 moves.
    public func makeIdentity(blocks: Range<Int>) {
        for block in body[blocks] {
            for parameter in [block.conv2.weight, block.conv2.bias].compactMap({ $0 }) {
                parameter.value = Tensor(zeros: parameter.value.shape)
            }
        }
    }

    /// This generator with its training branches folded into its kernels: the plain network that computes
    /// the same function, as it is exported and shipped. Itself when it has no branches.
    public func folded() -> Generator {
        guard config.branchExpansion > 0 else { return self }
        var plain = config
        plain.branchExpansion = 0
        let result = Generator(config: plain)
        let names = Set(result.namedParameters.map(\.name))
        // The plain network's names are a subset of this one's by construction.
        try! result.loadStateDictionary(stateDictionary().filter { names.contains($0.key) })
        for (source, target) in zip(convolutions, result.convolutions) {
            let (weight, bias) = source.effectiveWeights
            target.weight.value = weight
            if let bias { target.bias?.value = bias }
        }
        return result
    }

    var convolutions: [Conv2d] {
        [convFirst] + body.flatMap { [$0.conv1, $0.conv2] }
            + [upconv1, upconv2, convHR, convLast, convBody, convUp].compactMap { $0 }
    }

    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        if config.architecture == .compact { return compactForward(input) }
        var pullbacks: [Pullback] = []
        func run(_ layer: any Layer, _ x: Tensor) -> Tensor {
            let (y, pullback) = layer.forward(x)
            pullbacks.append(pullback)
            return y
        }
        var x = run(activationFirst, run(convFirst, input))
        for block in body { x = run(block, x) }
        x = run(activationUp1, run(shuffle, run(upconv1!, x)))
        if let upconv2 { x = run(activationUp2, run(shuffle, run(upconv2, x))) }
        x = run(convLast!, run(activationHR, run(convHR!, x)))
        let (upsampled, basePullback) = base.forward(input)
        return (
            x + upsampled,
            { gradient in
                var g = gradient
                for pullback in pullbacks.reversed() { g = pullback(g) }
                return g + basePullback(gradient)
            }
        )
    }

    /// CompactResNet's forward: the body's skip joins before conv_up, the input's before the output.
    private func compactForward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        let (first, firstPullback) = convFirst.forward(input)
        let (features, activationPullback) = activationFirst.forward(first)
        var x = features
        var blockPullbacks: [Pullback] = []
        for block in body {
            let (y, pullback) = block.forward(x)
            blockPullbacks.append(pullback)
            x = y
        }
        let (bodyOutput, bodyPullback) = convBody!.forward(x)
        let (up, upPullback) = convUp!.forward(bodyOutput + features)
        let (shuffled, shufflePullback) = shuffle.forward(up)
        let (upsampled, basePullback) = base.forward(input)
        return (
            shuffled + upsampled,
            { gradient in
                let joined = upPullback(shufflePullback(gradient))  // ∂/∂(body output + features)
                var g = bodyPullback(joined)
                for pullback in blockPullbacks.reversed() { g = pullback(g) }
                return firstPullback(activationPullback(g + joined)) + basePullback(gradient)
            }
        )
    }

    /// How inference runs.
    public enum Backend: String, Sendable {
        /// oneDNN convolutions in a per-tile-size plan (LeakyReLU generators, batch 1).
        case oneDNN
        /// The layers' own forward code (im2col + sgemm): the reference every fast path is tested against.
        case reference
    }

    /// oneDNN when it is available, unless `UPSCALE_BACKEND=reference` is set.
    public static let preferredBackend: Backend =
        ProcessInfo.processInfo.environment["UPSCALE_BACKEND"] == "reference" || !DNNL.isAvailable
        ? .reference : .oneDNN

    /// Whether `inference` runs on oneDNN for this generator (else on the reference path).
    public var usesOneDNN: Bool { Generator.preferredBackend == .oneDNN && config.activation == .lrelu }

    private let planLock = NSLock()
    /// Plans by input size; nil records a size oneDNN cannot run, so it is not tried again.
    private var plans: [[Int]: (any GeneratorInferencePlan)?] = [:]
    private var plannedWeights: [[Float]] = []
    private let scratch = ScratchBuffers()

    public func inference(_ input: Tensor) -> Tensor { inference(input, backend: Generator.preferredBackend) }

    /// Inference on a chosen backend; the oneDNN backend falls back to the reference path for
    /// what it does not cover (PReLU generators, batches, shapes oneDNN refuses).
    public func inference(_ input: Tensor, backend: Backend) -> Tensor {
        guard backend == .oneDNN, config.activation == .lrelu, input.shape[0] == 1 else {
            return referenceInference(input)
        }
        return (try? oneDNNInference(input)) ?? referenceInference(input)
    }

    /// How many of the convolutions of the oneDNN plan for a `height` × `width` input run by Winograd, and how
    /// many convolutions it has (nil where oneDNN does not run this generator).
    public func winogradCount(height: Int, width: Int) -> (winograd: Int, convolutions: Int)? {
        guard usesOneDNN else { return nil }
        return (try? makePlan(height: height, width: width))?.winogradCount
    }

    /// A new oneDNN plan for this architecture at `height` × `width`.
    private func makePlan(height: Int, width: Int) throws -> any GeneratorInferencePlan {
        config.architecture == .compact
            ? try CompactGeneratorPlan(generator: self, height: height, width: width)
            : try GeneratorPlan(generator: self, height: height, width: width)
    }

    /// Inference on oneDNN through a plan for this input size (made on first use, kept for later
    /// tiles of the same size). [1, 3, H, W] → [1, 3, H·s, W·s].
    /// - Throws: `DNNL.Failure` when oneDNN cannot run a layer, `ModelError` for PReLU generators.
    public func oneDNNInference(_ input: Tensor) throws -> Tensor {
        guard config.activation == .lrelu, input.shape[0] == 1 else {
            throw ModelError("oneDNN plans cover LeakyReLU generators, batch 1")
        }
        planLock.lock()
        defer { planLock.unlock() }
        // Plans hold prepared weights: drop them if the weights changed since (array equality is O(1)
        // while the storage is shared, i.e. while nothing was written).
        let weights = convolutions.map(\.weight.value.scalars) + convolutions.compactMap { $0.bias?.value.scalars }
        if weights != plannedWeights {
            plans.removeAll()
            plannedWeights = weights
        }
        let key = [input.shape[2], input.shape[3]]
        let plan: any GeneratorInferencePlan
        if let existing = plans[key] {
            guard let existing else { throw ModelError("oneDNN cannot run this generator at \(key[0])×\(key[1])") }
            plan = existing
        } else {
            if plans.count >= 8 { plans.removeAll() }
            do {
                plan = try makePlan(height: key[0], width: key[1])
            } catch {
                plans[key] = .some(nil)
                throw error
            }
            plans[key] = plan
        }
        return try plan.run(input, scratch: scratch)
    }

    /// Inference through the layers' own code.
    public func referenceInference(_ input: Tensor) -> Tensor {
        let features = activationFirst.inference(convFirst.inference(input))
        var x = features
        for block in body { x = block.inference(x) }
        if let convBody, let convUp {
            x = convBody.inference(x)
            x.add(features)
            x = shuffle.inference(convUp.inference(x))
        } else {
            x = activationUp1.inference(shuffle.inference(upconv1!.inference(x)))
            if let upconv2 { x = activationUp2.inference(shuffle.inference(upconv2.inference(x))) }
            x = convLast!.inference(activationHR.inference(convHR!.inference(x)))
        }
        x.add(base.inference(input))
        return x
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        func named(_ prefix: String, _ layer: any Layer) -> [(name: String, parameter: Parameter)] {
            layer.namedParameters.map { (name: prefix + "." + $0.name, parameter: $0.parameter) }
        }
        var out = named("conv_first", convFirst)
        if config.activation == .prelu { out += named("act_first", activationFirst) }
        for (i, block) in body.enumerated() { out += named("body.\(i)", block) }
        if let convBody, let convUp { return out + named("conv_body", convBody) + named("conv_up", convUp) }
        out += named("upconv1", upconv1!)
        if config.activation == .prelu { out += named("act_up1", activationUp1) }
        if let upconv2 {
            out += named("upconv2", upconv2)
            if config.activation == .prelu { out += named("act_up2", activationUp2) }
        }
        out += named("conv_hr", convHR!)
        if config.activation == .prelu { out += named("act_hr", activationHR) }
        out += named("conv_last", convLast!)
        return out
    }

    // MARK: Files

    /// Loads a generator from a safetensors file whose metadata describes it. The metadata is checked
    /// against bounds and against the tensors actually present before the generator is built, and
    /// every weight must be finite.
    /// - Throws: `WeightFileError` naming the file for a bad file, bad metadata or mismatched tensors.
    public static func load(path: String) throws -> Generator {
        try load(file: try SafeTensors.read(path: path), path: path)
    }

    /// The same from a file already read (`path` names it in errors).
    public static func load(file: SafeTensors, path: String) throws -> Generator {
        do {
            let config = try GeneratorConfig(metadata: file.metadata)
            let present = file.tensors.values.reduce(0) { $0 + $1.count }
            guard present == config.parameterCount else {
                throw ModelError("metadata describes \(config.parameterCount) weights but the file holds \(present)")
            }
            if let (name, _) = file.tensors.first(where: { !$0.value.scalars.allSatisfy(\.isFinite) }) {
                throw ModelError("tensor \(name) holds NaN or infinite values")
            }
            let generator = Generator(config: config)
            try generator.loadStateDictionary(file.tensors)
            return generator
        } catch let error as WeightFileError {
            throw error
        } catch {
            throw WeightFileError(path: path, reason: "\(error)")
        }
    }

    /// Writes the generator's weights and architecture (plus `extra` metadata) to a safetensors file.
    public func save(path: String, extraMetadata: [String: String] = [:]) throws {
        let metadata = config.metadata.merging(extraMetadata) { _, new in new }
        try SafeTensors(tensors: stateDictionary(), metadata: metadata).write(path: path)
    }

    /// Whether tensor or parameter `name` belongs to layer `layer`: it is that name or starts with it and a dot
    /// ("body.7" holds "body.7.conv1.weight", not "body.70.conv1.weight").
    public static func layer(_ layer: String, holds name: String) -> Bool {
        name == layer || name.hasPrefix(layer + ".")
    }

    /// The layers in forward order, by BasicSR name ("conv_first", "body.0.conv1", …), with their parameter
    /// counts (a layer's tensors are its weight and bias).
    public var layers: [(name: String, parameterCount: Int)] {
        var result: [(name: String, parameterCount: Int)] = []
        for (name, parameter) in namedParameters {
            let layer = name.split(separator: ".").dropLast().joined(separator: ".")
            if result.last?.name == layer {
                result[result.count - 1].parameterCount += parameter.value.count
            } else {
                result.append((layer, parameter.value.count))
            }
        }
        return result
    }

    /// - Throws: `ModelError` naming the first of `names` that holds none of this network's tensors, with the
    ///   network's layer names.
    public func checkLayerNames(_ names: some Collection<String>) throws {
        let parameters = namedParameters.map(\.name)
        guard
            let unknown = names.sorted().first(where: { name in !parameters.contains { Self.layer(name, holds: $0) } })
        else { return }
        throw ModelError(
            "no layer \"\(unknown)\" in this network (its layers: "
                + "\(layers.map(\.name).sorted().joined(separator: ", ")))")
    }

    /// ESRGAN's network interpolation: `weight` · self + (1 − `weight`) · `other`, tensor by tensor. Blending a
    /// GAN generator with the faithful one it was fine-tuned from trades invented texture for fidelity.
    /// `layerWeights` gives some layers their own weight: a tensor takes the weight of the longest layer name
    /// that is its own name or a dotted prefix of it ("body.7" covers "body.7.conv1.weight", not
    /// "body.70.conv1.weight"), else `weight`.
    /// - Throws: `ModelError` when the two architectures differ or a layer name matches no tensor.
    public func interpolated(
        with other: Generator, weight: Float, layerWeights: [String: Float] = [:]
    ) throws
        -> Generator
    {
        guard config == other.config else {
            throw ModelError(
                "the architectures differ (\(config.architecture.rawValue) \(config.features)×\(config.blocks) "
                    + "×\(config.scale) and \(other.config.architecture.rawValue) \(other.config.features)×"
                    + "\(other.config.blocks) ×\(other.config.scale))")
        }
        try checkLayerNames(layerWeights.keys)
        let (state, otherState) = (stateDictionary(), other.stateDictionary())
        var blended: [String: Tensor] = [:]
        for (name, tensor) in state {
            let layer = layerWeights.keys.filter { Self.layer($0, holds: name) }.max { $0.count < $1.count }
            let share = layer.map { layerWeights[$0]! } ?? weight
            blended[name] = tensor * share + otherState[name]! * (1 - share)
        }
        let result = Generator(config: config)
        try result.loadStateDictionary(blended)
        return result
    }
}
