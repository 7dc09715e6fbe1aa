import SRDegradation
import SRModels

/// What a resumed run may change in the configuration stored in its checkpoint: the total number of steps,
/// the base learning rate (to anneal a run by hand), the generator's depth (to grow a trained network by
/// residual blocks that start as identities) and training branches (to add them to a run without), the GAN
/// stage's loss weights (to rebalance a fine-tune part-way), the crop size and crops per step (to go on with
/// larger crops part-way, as progressive training does), how inputs are degraded (to fork a run onto clean or
/// harsher inputs with its discriminator and optimiser state), the logging intervals, and the validation
/// folder and whether its outputs are saved. Everything else (data, width, seed) is the checkpoint's, so a
/// resumed run stays the run it was.
public struct ResumeChanges: Sendable, Equatable {
    /// New total steps; a cosine schedule is stretched to end there.
    public var steps: Int?
    /// High-resolution crop side in pixels: a multiple of the scale (of 8 with the U-Net discriminator). The
    /// VGG-style discriminator is built for one crop size, so its runs keep theirs.
    public var patchSize: Int?
    public var batchSize: Int?
    /// New base learning rate of the generator; the discriminator's keeps its ratio to it, and the run's
    /// schedule (milestones or cosine) still applies to both.
    public var learningRate: Float?
    /// More residual blocks for the generator, appended after its last one as identities
    /// (`Generator.makeIdentity`), so the grown network starts from exactly what the run had learned. It cannot
    /// shrink.
    public var blocks: Int?
    /// Training branches for a run that has none (`GeneratorConfig.branchExpansion`); they start at zero, so
    /// the run goes on from exactly what it had learned. A run with branches keeps its expansion.
    public var branchExpansion: Int?
    public var pixelWeight: Float?
    public var perceptualWeight: Float?
    public var ganWeight: Float?
    /// New degradation for the crops; refused for a run that reads fixed inputs (`--inputs`).
    public var degradation: Degradation?
    public var logEvery: Int?
    public var validateEvery: Int?
    public var checkpointEvery: Int?
    public var saveValidationImages: Bool?
    /// A validation folder for a run that had none, or another one.
    public var validationFolder: String?
    /// Where the run goes on writing checkpoints and logs; `TrainingSession` sets it to the folder it
    /// resumes from, so a copied run folder continues in the copy.
    public var outputFolder: String?

    public init(
        steps: Int? = nil, patchSize: Int? = nil, batchSize: Int? = nil, learningRate: Float? = nil,
        blocks: Int? = nil, branchExpansion: Int? = nil, pixelWeight: Float? = nil,
        perceptualWeight: Float? = nil, ganWeight: Float? = nil, logEvery: Int? = nil, validateEvery: Int? = nil,
        checkpointEvery: Int? = nil, degradation: Degradation? = nil, saveValidationImages: Bool? = nil,
        validationFolder: String? = nil
    ) {
        (self.degradation, self.saveValidationImages, self.validationFolder) =
            (degradation, saveValidationImages, validationFolder)
        (self.steps, self.patchSize, self.batchSize, self.learningRate) = (steps, patchSize, batchSize, learningRate)
        (self.blocks, self.branchExpansion) = (blocks, branchExpansion)
        (self.pixelWeight, self.perceptualWeight, self.ganWeight) = (pixelWeight, perceptualWeight, ganWeight)
        (self.logEvery, self.validateEvery, self.checkpointEvery) = (logEvery, validateEvery, checkpointEvery)
    }

    /// Applies the changes to `config`; returns one line per changed crop setting or loss weight
    /// ("GAN weight 0.1 -> 0.4", "crop 96 px -> 192 px", "degradation realistic -> bicubic").
    /// - Throws: `ResumeError` for a crop size this run's network or discriminator cannot take, a degradation
    ///   for a run whose inputs are fixed files, or fewer blocks than the run has (or more for a run that trains
    ///   only some layers: the new blocks would never learn).
    @discardableResult
    public func apply(to config: inout TrainingConfig) throws -> [String] {
        var changed: [String] = []
        if let patchSize, patchSize != config.patchSize {
            if let problem = config.cropProblem(patchSize) { throw ResumeError(problem) }
            guard config.stage != .gan || config.discriminatorKind == .unet else {
                throw ResumeError(
                    "the VGG-style discriminator is built for \(config.patchSize)-pixel crops; its run keeps them")
            }
            changed.append("crop \(config.patchSize) px -> \(patchSize) px")
            config.patchSize = patchSize
        }
        if let batchSize, batchSize != config.batchSize {
            changed.append("batch \(config.batchSize) -> \(batchSize)")
            config.batchSize = batchSize
        }
        if let degradation, degradation != config.degradation {
            if let inputs = config.inputFolder {
                throw ResumeError("this run reads fixed inputs from \(inputs); it has no degradation to change")
            }
            let settings = degradation.name == config.degradation.name ? " (new settings)" : ""
            changed.append("degradation \(config.degradation.name) -> \(degradation.name)\(settings)")
            config.degradation = degradation
        }
        if let blocks, blocks != config.generator.blocks {
            let stored = config.generator.blocks
            guard blocks > stored else {
                throw ResumeError("its generator has \(stored) residual blocks; a run can grow them, not shrink them")
            }
            guard blocks <= GeneratorConfig.maximumBlocks else {
                throw ResumeError("a generator has at most \(GeneratorConfig.maximumBlocks) residual blocks")
            }
            if let layers = config.trainableLayers {
                throw ResumeError(
                    "this run trains only \(layers.joined(separator: ", ")); new blocks would never learn")
            }
            changed.append("residual blocks \(stored) -> \(blocks) (the new ones start as identities)")
            config.generator.blocks = blocks
        }
        if let branchExpansion, branchExpansion != config.generator.branchExpansion {
            let stored = config.generator.branchExpansion
            guard stored == 0 else {
                throw ResumeError("its training branches have a \(stored)× expansion; a run keeps it")
            }
            guard branchExpansion <= GeneratorConfig.maximumBranchExpansion else {
                throw ResumeError("the branch expansion is at most \(GeneratorConfig.maximumBranchExpansion)")
            }
            if let layers = config.trainableLayers {
                throw ResumeError(
                    "this run trains only \(layers.joined(separator: ", ")); branches elsewhere would never learn")
            }
            changed.append("training branches of \(branchExpansion)× expansion added (starting at zero)")
            config.generator.branchExpansion = branchExpansion
        }
        if let learningRate, learningRate != config.learningRate {
            changed.append("base learning rate \(config.learningRate) -> \(learningRate)")
            config.discriminatorLearningRate *= learningRate / config.learningRate
            config.learningRate = learningRate
        }
        if let outputFolder { config.outputFolder = outputFolder }
        if let logEvery { config.logEvery = logEvery }
        if let validateEvery { config.validateEvery = validateEvery }
        if let checkpointEvery { config.checkpointEvery = checkpointEvery }
        if let saveValidationImages { config.saveValidationImages = saveValidationImages }
        if let validationFolder { config.validationFolder = validationFolder }
        if let steps {
            config.steps = steps
            if case let .cosine(_, minimum) = config.schedule {
                config.schedule = .cosine(totalSteps: steps, minimum: minimum)
            }
        }
        for (name, value, keyPath) in [
            ("pixel", pixelWeight, \TrainingConfig.pixelWeight),
            ("perceptual", perceptualWeight, \TrainingConfig.perceptualWeight),
            ("GAN", ganWeight, \TrainingConfig.ganWeight),
        ] {
            guard let value, value != config[keyPath: keyPath] else { continue }
            changed.append("\(name) weight \(config[keyPath: keyPath]) -> \(value)")
            config[keyPath: keyPath] = value
        }
        return changed
    }
}

/// A change a resumed run cannot take.
public struct ResumeError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
