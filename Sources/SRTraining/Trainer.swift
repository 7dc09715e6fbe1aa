import Foundation
import SRFiles
import SRImage
import SRModels
import SRNN
import SRTensor
import SRTiling

/// Losses of one step.
public struct StepLosses: Codable, Sendable {
    public var pixel: Double = 0
    public var perceptual: Double = 0
    public var adversarial: Double = 0
    public var discriminator: Double = 0
    /// The discriminator's mean logit on real and on generated images (in the generator step): whether
    /// one side wins outright shows here first.
    public var realLogit: Double = 0
    public var fakeLogit: Double = 0
    /// ‖adversarial gradient‖ / ‖pixel + perceptual gradient‖ at the generator's output: near 0 the GAN
    /// term does nothing, far above 1 it drowns the content losses.
    public var adversarialShare: Double = 0
    /// The generator's total objective.
    public var total: Double = 0
}

/// Generator, discriminator, feature extractor and their optimisers, with one-step updates in
/// BasicSR's order. Holds no I/O: `TrainingSession` drives it.
public final class Trainer {
    public let config: TrainingConfig
    public let generator: Generator
    public let generatorOptimizer: Adam
    public let ema: ExponentialMovingAverage
    public let discriminator: (any Layer)?
    public let discriminatorOptimizer: Adam?
    public let features: VGGFeatureExtractor?
    public private(set) var step = 0

    /// Builds a fresh run: a seeded generator (or the stage-1 weights for `gan`), and for `gan` the
    /// discriminator and the VGG extractor.
    public init(config: TrainingConfig) throws {
        self.config = config
        if let problem = config.cropProblem(config.patchSize) { throw ModelError(problem) }
        var random = SeededGenerator(seed: config.seed)
        if let path = config.initialGenerator {
            let initial = try Generator.load(path: path)
            var grown = initial.config
            (grown.blocks, grown.branchExpansion) = (config.generator.blocks, config.generator.branchExpansion)
            guard grown == config.generator, config.generator.blocks >= initial.config.blocks else {
                throw ModelError("\(path): its architecture differs from the requested generator (\(initial.config))")
            }
            if config.generator == initial.config {
                generator = initial
            } else {
                // More blocks than the file are appended as identities (`Generator.makeIdentity`); training
                // branches start at zero: either way the run starts from exactly what the file computes.
                generator = Generator(config: config.generator)
                generator.initialize(generator: &random)
                generator.makeIdentity(blocks: initial.config.blocks..<config.generator.blocks)
                try generator.loadStateDictionary(
                    generator.stateDictionary().merging(initial.stateDictionary()) { _, stored in stored })
            }
        } else {
            try config.generator.validate()
            generator = Generator(config: config.generator)
            generator.initialize(generator: &random)
        }
        if let layers = config.trainableLayers {
            // The other layers keep their weights: no weight gradients, no updates.
            try generator.checkLayerNames(layers)
            for (name, parameter) in generator.namedParameters {
                parameter.isFrozen = !layers.contains { Generator.layer($0, holds: name) }
            }
        }
        generatorOptimizer = Adam(parameters: generator.namedParameters, learningRate: config.learningRate)
        ema = ExponentialMovingAverage(parameters: generator.namedParameters, decay: config.emaDecay)
        if config.stage == .gan {
            let discriminator: any Layer
            switch config.discriminatorKind {
            case .vgg:
                let vgg = Discriminator(features: config.discriminatorFeatures, inputSize: config.patchSize)
                vgg.initialize(generator: &random)
                discriminator = vgg
            case .unet:
                let unet = UNetDiscriminator(features: config.discriminatorFeatures)
                unet.initialize(generator: &random)
                discriminator = unet
            }
            self.discriminator = discriminator
            discriminatorOptimizer = Adam(
                parameters: discriminator.namedParameters, learningRate: config.discriminatorLearningRate)
            let extractor = try VGGFeatureExtractor(upTo: Trainer.deepestLayer(of: config.perceptualTerms))
            let weights = try SafeTensors.read(path: config.vggWeights)
            do { try extractor.load(weights: weights.tensors) } catch {
                throw WeightFileError(path: config.vggWeights, reason: "\(error)")
            }
            features = extractor
        } else {
            discriminator = nil
            discriminatorOptimizer = nil
            features = nil
        }
    }

    /// The last of the terms' layers in VGG16's order ("conv2_2" comes after "relu1_2", …).
    static func deepestLayer(of terms: [TrainingConfig.PerceptualTerm]) throws -> String {
        func rank(_ name: String) throws -> Int {
            let digits = name.drop { !$0.isNumber }.split(separator: "_").compactMap { Int($0) }
            guard digits.count == 2, name.hasPrefix("conv") || name.hasPrefix("relu") else {
                throw ModelError("unknown VGG layer '\(name)': use convB_L or reluB_L with B in 1-5")
            }
            return (digits[0] * 10 + digits[1]) * 2 + (name.hasPrefix("relu") ? 1 : 0)
        }
        guard !terms.isEmpty else { throw ModelError("the perceptual loss needs at least one VGG layer") }
        return try terms.max { try rank($0.layer) < rank($1.layer) }!.layer
    }

    func pixelLoss(_ prediction: Tensor, _ target: Tensor) -> LossValue {
        switch config.pixelLoss {
        case .l1: return Loss.l1(prediction, target)
        case .mse: return Loss.mse(prediction, target)
        case .charbonnier: return Loss.charbonnier(prediction, target)
        }
    }

    /// One optimisation step on a batch (lr [N, 3, p/s, p/s], hr [N, 3, p, p]): the generator step, then
    /// for the GAN stage the discriminator step on real and detached fake, then the EMA update.
    @discardableResult
    /// - Parameter target: the pixel and perceptual losses' target (e.g. the sharpened `hr`); `hr` when nil.
    public func trainStep(lr: Tensor, hr: Tensor, target: Tensor? = nil) -> StepLosses {
        var (losses, output) = generatorStep(lr: lr, hr: hr, target: target)
        if discriminator != nil {
            let discriminatorLosses = discriminatorStep(real: hr, fake: output)
            losses.discriminator = discriminatorLosses.value
            // Same weights as in the generator step, which skipped the real batch when its loss ignores it.
            if !config.ganLoss.generatorNeedsRealLogits { losses.realLogit = discriminatorLosses.realLogit }
        }
        ema.update(generator.namedParameters, step: step)
        step += 1
        return losses
    }

    /// Updates the generator (the discriminator is frozen meanwhile); returns the losses and the output.
    /// - Parameter target: the pixel and perceptual losses' target; the discriminator always sees `hr`.
    public func generatorStep(lr: Tensor, hr: Tensor, target: Tensor? = nil) -> (StepLosses, Tensor) {
        let target = target ?? hr
        generatorOptimizer.learningRate = config.schedule.rate(base: config.learningRate, step: step)
        var losses = StepLosses()
        generator.zeroGradients()
        let (output, pullback) = generator.forward(lr)
        let pixel = pixelLoss(output, target)
        losses.pixel = pixel.value
        if let discriminator, let features {
            discriminator.setFrozen(true)
            defer { discriminator.setFrozen(false) }
            var gradient = pixel.gradient * config.pixelWeight
            let terms = config.perceptualTerms
            let layers = terms.map(\.layer)
            let (fakeFeatures, featurePullback) = features.forward(output, collecting: layers)
            // Detached passes still go through `forward` (its outputs only): the training convolutions
            // run on oneDNN, `inference` on the reference im2col path.
            let realFeatures = features.forward(target, collecting: layers).outputs
            let scale = config.perceptualFeatureScale
            var perceptualValue = 0.0
            var featureGradients: [Tensor] = []
            for (index, term) in terms.enumerated() {
                let l1 = Loss.l1(fakeFeatures[index], realFeatures[index])
                perceptualValue += Double(term.weight * scale) * l1.value
                featureGradients.append(l1.gradient * (term.weight * scale))
            }
            gradient.add(featurePullback(featureGradients), scale: config.perceptualWeight)
            // Real logits are detached (as in BasicSR), and skipped when the loss ignores them (vanilla);
            // the fake ones carry the gradient into G.
            let realLogits = config.ganLoss.generatorNeedsRealLogits ? discriminator.forward(hr).output : nil
            let (fakeLogits, discriminatorPullback) = discriminator.forward(output)
            let adversarial = config.ganLoss.generatorLoss(real: realLogits, fake: fakeLogits)
            let adversarialGradient = discriminatorPullback(adversarial.fake) * config.ganWeight
            // How hard D pulls on the output against the content losses (‖·‖ at the generator's output).
            losses.adversarialShare =
                (adversarialGradient.squaredNorm() / max(gradient.squaredNorm(), 1e-30)).squareRoot()
            gradient.add(adversarialGradient)
            _ = pullback(gradient)
            if let realLogits { losses.realLogit = realLogits.sum() / Double(realLogits.count) }
            losses.fakeLogit = fakeLogits.sum() / Double(fakeLogits.count)
            losses.perceptual = perceptualValue
            losses.adversarial = adversarial.value
            losses.total =
                Double(config.pixelWeight) * pixel.value + Double(config.perceptualWeight) * perceptualValue
                + Double(config.ganWeight) * adversarial.value
        } else {
            losses.total = pixel.value
            _ = pullback(pixel.gradient)
        }
        if let clip = config.gradientClip { Gradients.clip(generator.namedParameters, maxNorm: clip) }
        generatorOptimizer.update()
        return (losses, output)
    }

    /// Updates the discriminator on real images and a detached generator output; returns its loss and
    /// its mean logit on the real batch (before the update).
    @discardableResult
    public func discriminatorStep(real: Tensor, fake: Tensor) -> (value: Double, realLogit: Double) {
        guard let discriminator, let discriminatorOptimizer else { return (0, 0) }
        discriminator.zeroGradients()
        discriminatorOptimizer.learningRate = config.schedule.rate(base: config.discriminatorLearningRate, step: step)
        let (realLogits, realPullback) = discriminator.forward(real)
        let (fakeLogits, fakePullback) = discriminator.forward(fake)
        let objective = config.ganLoss.discriminatorLoss(real: realLogits, fake: fakeLogits)
        _ = realPullback(objective.real)
        _ = fakePullback(objective.fake)
        discriminatorOptimizer.update()
        return (objective.value, realLogits.sum() / Double(realLogits.count))
    }

    /// A generator holding the EMA weights (what gets exported).
    /// The EMA generator, with any training branches folded in.
    public func averagedGenerator() -> Generator {
        let copy = Generator(config: generator.config)
        try! copy.loadStateDictionary(ema.averages)  // same names and shapes by construction
        return copy.folded()
    }

    // MARK: Checkpoints

    /// Writes every piece of state into `folder` atomically (a sibling temporary folder renamed over it).
    public func saveCheckpoint(folder: String, dataGenerator: SeededGenerator) throws {
        let manager = FileManager.default
        let temporary = folder + ".partial"
        try? manager.removeItem(atPath: temporary)
        try manager.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        let metadata = generator.config.metadata
        try SafeTensors(tensors: generator.stateDictionary(), metadata: metadata).write(
            path: temporary + "/generator.safetensors")
        try SafeTensors(tensors: ema.averages, metadata: metadata).write(path: temporary + "/generator_ema.safetensors")
        try SafeTensors(tensors: generatorOptimizer.state()).write(path: temporary + "/optimizer_g.safetensors")
        if let discriminator, let discriminatorOptimizer {
            try SafeTensors(tensors: discriminator.stateDictionary()).write(
                path: temporary + "/discriminator.safetensors")
            try SafeTensors(tensors: discriminatorOptimizer.state()).write(path: temporary + "/optimizer_d.safetensors")
        }
        let state = CheckpointState(step: step, dataGenerator: dataGenerator, config: config)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(state).withUnsafeBytes { try FileSystem.writeNewFile(temporary + "/state.json", bytes: $0) }
        FileSystem.synchronize(temporary + "/state.json")
        FileSystem.synchronize(temporary)
        // A stop between the two renames leaves only `folder.old`, which `resume` falls back to.
        let old = folder + ".old"
        try? manager.removeItem(atPath: old)
        if manager.fileExists(atPath: folder) { try manager.moveItem(atPath: folder, toPath: old) }
        try manager.moveItem(atPath: temporary, toPath: folder)
        FileSystem.synchronize(FileSystem.parentFolder(of: folder))
        try? manager.removeItem(atPath: old)
    }

    /// Restores a trainer from a checkpoint folder; returns it with the data generator to continue with and
    /// one line per loss weight `changes` altered.
    /// - Parameter changes: what may differ from the stored configuration (total steps, loss weights).
    public static func resume(
        folder: String, changes: ResumeChanges = ResumeChanges()
    ) throws -> (trainer: Trainer, dataGenerator: SeededGenerator, changed: [String]) {
        let (state, folder) = try readState(folder: folder)
        var config = state.config
        config.initialGenerator = nil
        let changed: [String]
        do { changed = try changes.apply(to: &config) } catch let error as ResumeError {
            throw ResumeError("\(folder): \(error.description)")
        }
        let trainer = try Trainer(config: config)
        var generatorState = try SafeTensors.read(path: folder + "/generator.safetensors").tensors
        var averageState = try SafeTensors.read(path: folder + "/generator_ema.safetensors").tensors
        var optimizerState = try SafeTensors.read(path: folder + "/optimizer_g.safetensors").tensors
        // New blocks start as identities, new training branches at zero (`ConvolutionBranches.initialize`), in
        // the weights and their average, with zero Adam moments. The optimiser's step count is shared, so their
        // first updates skip Adam's warm-up correction and run up to about 3× the rate for the first thousand
        // steps (the moments' ratio (1 − β1^t)/√(1 − β2^t)).
        let grown = state.config.generator.blocks..<config.generator.blocks
        let branched = state.config.generator.branchExpansion == 0 && config.generator.branchExpansion > 0
        trainer.generator.makeIdentity(blocks: grown)
        for (name, parameter) in trainer.generator.namedParameters
        where grown.contains(where: { Generator.layer("body.\($0)", holds: name) })
            || (branched && name.contains(".branches."))
        {
            generatorState[name] = parameter.value
            averageState[name] = parameter.value
            optimizerState[name + ".exp_avg"] = Tensor(zeros: parameter.value.shape)
            optimizerState[name + ".exp_avg_sq"] = Tensor(zeros: parameter.value.shape)
        }
        try trainer.generator.loadStateDictionary(generatorState)
        trainer.ema.restore(averageState)
        try trainer.generatorOptimizer.load(state: optimizerState)
        if let discriminator = trainer.discriminator, let optimizer = trainer.discriminatorOptimizer {
            try discriminator.loadStateDictionary(
                try SafeTensors.read(path: folder + "/discriminator.safetensors").tensors)
            try optimizer.load(state: try SafeTensors.read(path: folder + "/optimizer_d.safetensors").tensors)
        }
        trainer.step = state.step
        return (trainer, state.dataGenerator, changed)
    }
}

extension Trainer {
    /// The checkpoint's state and the folder it is in (`folder`, or the `.old` copy an interrupted save left).
    static func readState(folder: String) throws -> (state: CheckpointState, folder: String) {
        var folder = folder
        if !FileSystem.exists(folder + "/state.json") && FileSystem.exists(folder + ".old/state.json") {
            folder += ".old"
        }
        guard FileSystem.exists(folder + "/state.json") else {
            throw WeightFileError(path: folder, reason: "no checkpoint here (state.json missing)")
        }
        do {
            let state = try JSONDecoder().decode(
                CheckpointState.self, from: Data(try FileSystem.readFile(folder + "/state.json")))
            return (state, folder)
        } catch let error as FileError {
            throw error
        } catch {
            throw WeightFileError(
                path: folder + "/state.json",
                reason: "not a valid checkpoint state (corrupt, or written by another version)")
        }
    }

    /// The metadata of an exported EMA generator: its kind (the stage), steps and a description naming the run.
    public static func exportMetadata(run: String, step: Int, stage: TrainingConfig.Stage) -> [String: String] {
        [
            "kind": stage.rawValue, "steps": "\(step)",
            "description": "exported from \(run) at step \(step) (EMA weights)",
        ]
    }

    /// The checkpoint's EMA generator (training branches folded in), its step and its stage, read without building the trainer (so without
    /// the training data, the VGG weights or the discriminator, which may be elsewhere by now).
    public static func averagedGenerator(
        checkpoint folder: String
    ) throws -> (generator: Generator, step: Int, stage: TrainingConfig.Stage) {
        let (state, folder) = try readState(folder: folder)
        try state.config.generator.validate()
        let generator = Generator(config: state.config.generator)
        let path = folder + "/generator_ema.safetensors"
        do {
            try generator.loadStateDictionary(try SafeTensors.read(path: path).tensors)
        } catch let error as FileError {
            throw error
        } catch {
            throw WeightFileError(path: path, reason: "\(error)")
        }
        return (generator.folded(), state.step, state.config.stage)
    }
}

/// The JSON part of a checkpoint.
struct CheckpointState: Codable {
    var step: Int
    var dataGenerator: SeededGenerator
    var config: TrainingConfig
}

extension ExponentialMovingAverage {
    func restore(_ values: [String: Tensor]) {
        for (name, value) in values { setAverage(value, for: name) }
    }
}
