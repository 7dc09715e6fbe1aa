/// What a resumed run may change in the configuration stored in its checkpoint: the total number of steps,
/// the GAN stage's loss weights (to rebalance a fine-tune part-way) and the logging intervals. Everything
/// else (data, network, crops, seed) is the checkpoint's, so a resumed run stays the run it was.
public struct ResumeChanges: Sendable, Equatable {
    /// New total steps; a cosine schedule is stretched to end there.
    public var steps: Int?
    public var pixelWeight: Float?
    public var perceptualWeight: Float?
    public var ganWeight: Float?
    public var logEvery: Int?
    public var validateEvery: Int?
    public var checkpointEvery: Int?
    /// Where the run goes on writing checkpoints and logs; `TrainingSession` sets it to the folder it
    /// resumes from, so a copied run folder continues in the copy.
    public var outputFolder: String?

    public init(
        steps: Int? = nil, pixelWeight: Float? = nil, perceptualWeight: Float? = nil, ganWeight: Float? = nil,
        logEvery: Int? = nil, validateEvery: Int? = nil, checkpointEvery: Int? = nil
    ) {
        (self.steps, self.pixelWeight, self.perceptualWeight, self.ganWeight) =
            (steps, pixelWeight, perceptualWeight, ganWeight)
        (self.logEvery, self.validateEvery, self.checkpointEvery) = (logEvery, validateEvery, checkpointEvery)
    }

    /// Applies the changes to `config`; returns one line per changed loss weight ("GAN weight 0.1 -> 0.4").
    @discardableResult
    public func apply(to config: inout TrainingConfig) -> [String] {
        if let outputFolder { config.outputFolder = outputFolder }
        if let logEvery { config.logEvery = logEvery }
        if let validateEvery { config.validateEvery = validateEvery }
        if let checkpointEvery { config.checkpointEvery = checkpointEvery }
        if let steps {
            config.steps = steps
            if case let .cosine(_, minimum) = config.schedule {
                config.schedule = .cosine(totalSteps: steps, minimum: minimum)
            }
        }
        var changed: [String] = []
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
