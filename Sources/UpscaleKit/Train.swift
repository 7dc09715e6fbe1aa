import ArgumentParser
import Foundation
import SRDegradation
import SRModels
import SRNN
import SRTensor
import SRTraining

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train or fine-tune a generator on a folder of your own images.",
        discussion: """
            Stage 1 (--stage psnr) trains with a pixel loss from scratch. Stage 2 (--stage gan --init G.safetensors) \
            fine-tunes a stage-1 generator with pixel + VGG perceptual + adversarial losses (ESRGAN weights by default, \
            Real-ESRGAN's with --losses realesrgan). Only high-resolution images are needed (PNG, JPEG or TIFF, in \
            any folder structure): training pairs are random crops (with flips and 90° rotations) and inputs made \
            from them by MATLAB-bicubic downscaling, or by Real-ESRGAN's blur, resize, noise and JPEG pipeline with \
            --degradation realistic. A checkpoint is written every --checkpoint-every steps and on Ctrl-C; continue \
            with --resume. When the run ends or is stopped, its EMA generator is written to RUN/model.safetensors: \
            the file to upscale with.

            Examples:
              upscale train --data my-photos/ --output runs/x4 --steps 20000
              upscale train --data my-photos/ --output runs/mine --init psnr --steps 2000
              upscale train --resume runs/x4
              upscale train --stage gan --init psnr --data my-photos/ --output runs/x4-gan
              upscale photo.jpg photo-x4.png --model runs/x4-gan/model.safetensors
            """)

    @Option(help: "Folder of training images (PNG, JPEG or TIFF, searched recursively).") var data: String?
    @Option(
        help: """
            Folder of validation ground truths, scored like `upscale eval` (e.g. ../shared/data/bench/Set5) every \
            --validate-every steps: PSNR and SSIM, plus NIQE in the gan stage; each output is saved in the run \
            folder under validation/step-NNNNNN/.
            """)
    var val: String?
    @Flag(
        inversion: .prefixedNo,
        help: "Save each validation output under validation/step-NNNNNN/ in the run folder. (default: on)")
    var validationImages: Bool?
    @Option(
        help:
            "Run folder: checkpoint/, log.jsonl, chart.png and validation/ go here. (default: \(Train.defaults.outputFolder))"
    )
    var output: String?
    @Option(help: "Training stage: psnr (pixel loss) or gan. (default: \(Train.defaults.stage.rawValue))") var stage:
        TrainingConfig.Stage?
    @Option(
        help: """
            Generator to start from, to fine-tune it or to start the gan stage: one of ours (.safetensors) or a \
            shipped model by name (gan, gan-clean, psnr; psnr with --scale 2 is the ×2 model).
            """) var initialize: String?
    @Option(name: .customLong("init"), help: .hidden) var initAlias: String?
    @Option(
        help: """
            Only these generator layers learn, comma-separated BasicSR names with their sublayers (e.g. \
            body.7,conv_body,conv_up: the last block and the tail); the others keep --init's weights. \
            (default: every layer)
            """) var trainLayers: String?
    @Option(
        help: "Generator layout. (default: \(Train.defaultGenerator.architecture.argument), the shipped models' layout)"
    )
    var architecture: GeneratorConfig.Architecture?
    @Option(
        help: """
            How inputs are made from the crops: bicubic (clean, for faithful models), realistic (Real-ESRGAN's \
            blur/resize/noise/JPEG pipeline, for photos from the wild) or a JSON file overriding its settings. \
            With --resume it forks the run onto the new inputs, keeping its discriminator and optimisers. \
            (default: \(Train.defaults.degradation.name))
            """, transform: { try Degradation(argument: $0) }) var degradation: Degradation?
    @Option(
        help: """
            Folder of fixed inputs paired with --data's images instead of degrading crops: the file at the same \
            relative path, 1/scale of its partner's size (rounded down). For real low/high-resolution pairs, or \
            to distil a teacher: its outputs in --data for degraded photos in --inputs \
            (weights/recipes/make_distillation_pairs.sh). Not with --degradation.
            """) var inputs: String?
    @Option(help: "Generator features (1-512). (default: \(Train.defaultGenerator.features), as x4-psnr)") var features:
        Int?
    @Option(
        help: """
            Generator residual blocks (0-256). With --init or --resume, a larger number grows that generator: the \
            new blocks are appended after the last one as identities, so it starts from exactly what it computed. \
            (default: \(Train.defaultGenerator.blocks), as x4-psnr)
            """) var blocks: Int?
    @Option(
        help: """
            Training-time re-parameterisation (ECBSR/SPAN-style): every convolution trains with two linear \
            branches folded into its kernel, a 1×1 and a 1×1 expansion to N × its channels followed by a K×K, \
            that change how it learns, not what it computes: the exported model is an ordinary one, no slower. \
            They start at zero, so with --init the run starts from exactly the file's output, and --resume may \
            add them to a run without (a run keeps their expansion once it has them). 0 turns them off. \
            (default: 0)
            """) var branchExpansion: Int?
    @Option(help: "Upscaling factor of the generator (2, 3 or 4). (default: \(Train.defaultGenerator.scale))")
    var scale: Int?
    @Option(
        help:
            "High-resolution crop size in pixels (a multiple of --scale, 8-1024). (default: \(Train.defaults.patchSize))"
    )
    var patchSize: Int?
    @Option(help: "Crops per step (1-1024). (default: \(Train.defaults.batchSize))") var batchSize: Int?
    @Option(help: "Total steps (default \(Train.defaults.steps); with --resume, a new total extends the run).")
    var steps: Int?
    @Option(
        help: """
            Base learning rate: cosine decay to 1e-7 over --steps for the psnr stage, halved at half-way for the gan \
            stage. With --resume, a new base rate for the rest of the run (the discriminator's keeps its ratio to \
            it, and the run's schedule still applies), e.g. to anneal a long run by hand. (default: \
            \(Train.psnrLearningRate), \(Train.ganLearningRate) for the gan stage)
            """) var learningRate: Float?
    @Option(help: "Pixel loss: l1, mse or charbonnier. (default: \(Train.defaults.pixelLoss.rawValue))") var pixelLoss:
        TrainingConfig.PixelLoss?
    @Option(
        help: """
            GAN-stage recipe: esrgan (pixel 1e-2, perceptual 1 on conv5_3, GAN 5e-3, relativistic, VGG-style D) \
            or realesrgan (pixel 1, perceptual 1 on conv1_2..conv5_3 weighted 0.1/0.1/1/1/1, GAN 0.1, vanilla, \
            U-Net D with spectral norm). The options below override single parts.
            """) var losses: TrainingConfig.LossPreset?
    @Option(help: "GAN loss: relativistic (ESRGAN) or vanilla (SRGAN). (default: \(Train.defaults.ganLoss.rawValue))")
    var ganLoss: GANLoss?
    @Flag(
        inversion: .prefixedNo,
        help: "Unsharp-mask the ground truth for the pixel and perceptual losses (on in the realesrgan recipe).")
    var sharpenTarget: Bool?
    @Option(
        help:
            "Discriminator: vgg (one logit per image) or unet (per pixel, spectral norm). (default: \(Train.defaults.discriminatorKind.rawValue))"
    )
    var discriminator: TrainingConfig.DiscriminatorKind?
    @Option(
        help:
            ArgumentHelp(
                "VGG16 layer for the perceptual loss: convB_L (before ReLU, ESRGAN-style) or reluB_L "
                    + "(relu2_2 is SRGAN's VGG22); the shipped weights reach conv5_3. (default: \(Train.defaults.vggLayer))"
            )
    ) var vggLayer: String?
    @Option(
        help: "Several weighted VGG16 layers instead of --vgg-layer, e.g. conv3_3:1,conv4_3:1,conv5_3:1.",
        transform: { try Train.parsePerceptualLayers($0) }) var perceptualLayers: [TrainingConfig.PerceptualTerm]?
    @Option(
        help: "VGG16 weights (Caffe convention, safetensors). (default: the shipped \(Train.shippedVGGWeights))")
    var vggWeights: String?
    @Option(
        help: """
            Loss weights for the GAN stage: pixel, perceptual, adversarial (default: ESRGAN's 1e-2, 1, 5e-3). \
            With --resume they rebalance the run from its checkpoint on.
            """)
    var pixelWeight: Float?
    @Option var perceptualWeight: Float?
    @Option var ganWeight: Float?
    @Option(help: "Discriminator base width (GAN stage). (default: \(Train.defaults.discriminatorFeatures))")
    var discriminatorFeatures: Int?
    @Option(help: "Random seed: the same seed and data give the same weights. (default: \(Train.defaults.seed))")
    var seed: UInt64?
    @Option(help: "Print a progress line every N steps. (default: \(Train.defaults.logEvery))") var logEvery: Int?
    @Option(help: "Validate every N steps. (default: \(Train.defaults.validateEvery))") var validateEvery: Int?
    @Option(help: "Checkpoint every N steps. (default: \(Train.defaults.checkpointEvery))") var checkpointEvery: Int?
    @Option(help: "BLAS threads (default: all cores).") var threads: Int?
    @Option(
        help: """
            Continue the run in this folder from its checkpoint (a copied run folder continues in the copy), \
            with the settings stored there; only --steps, --learning-rate, --blocks (to grow), --branch-expansion \
            (to add branches), --patch-size, \
            --batch-size, the three loss weights, --degradation, --val, --[no-]validation-images, --threads and the --*-every intervals may change \
            them (larger crops part-way: --patch-size 192 --batch-size 2 keeps the pixels per step of 96 × 8).
            """) var resume: String?
    @Option(help: "Write the EMA generator of run folder RUN to OUT.safetensors and exit.", transform: { $0 })
    var export: String?
    @Argument(help: "Output file for --export.") var exportPath: String?

    /// Every option is checked here, once, before any file is read or created.
    func validate() throws {
        if export == nil && resume == nil && data == nil {
            throw ValidationError("--data DIR is required (or --resume RUN, or --export RUN OUT)")
        }
        if export != nil && exportPath == nil {
            throw ValidationError("--export RUN needs an output file: --export RUN OUT.safetensors")
        }
        if initialize != nil || initAlias != nil {
            let fixed = [("--features", features != nil), ("--architecture", architecture != nil)].filter(\.1)
            guard fixed.isEmpty else {
                throw ValidationError(
                    "--init's file fixes the network; \(fixed.map(\.0).joined(separator: " and ")) describe a new "
                        + "one (--blocks may grow it)")
            }
        }
        if resume != nil {
            let fixed = newRunOptionsGiven
            guard fixed.isEmpty else {
                throw ValidationError(
                    "--resume continues a run with the settings stored in its checkpoint; "
                        + "\(fixed.joined(separator: ", ")) cannot change them (a resumed run takes --steps, "
                        + "--learning-rate, --blocks (to grow), --branch-expansion (to add branches), --patch-size, --batch-size, --pixel-weight, --perceptual-weight, --gan-weight, "
                        + "--degradation, --val, --[no-]validation-images, --threads and the --*-every intervals)")
            }
        }
        if inputs != nil && degradation != nil {
            throw ValidationError("--inputs gives the inputs; --degradation would make them: use one of the two")
        }
        if let trainLayers,
            trainLayers.split(separator: ",", omittingEmptySubsequences: false).contains(where: \.isEmpty)
        {
            throw ValidationError("--train-layers takes layer names separated by commas, not \"\(trainLayers)\"")
        }
        if let scale, ![2, 3, 4].contains(scale) { throw ValidationError("--scale must be 2, 3 or 4") }
        if let features, !(1...GeneratorConfig.maximumFeatures).contains(features) {
            throw ValidationError("--features must be between 1 and \(GeneratorConfig.maximumFeatures)")
        }
        if let branchExpansion, !(0...GeneratorConfig.maximumBranchExpansion).contains(branchExpansion) {
            throw ValidationError("--branch-expansion must be between 0 and \(GeneratorConfig.maximumBranchExpansion)")
        }
        if let blocks, !(0...GeneratorConfig.maximumBlocks).contains(blocks) {
            throw ValidationError("--blocks must be between 0 and \(GeneratorConfig.maximumBlocks)")
        }
        // Whether the run's scale (perhaps --init's) and discriminator divide the crop is checked with the
        // run's configuration (`TrainingConfig.cropProblem`), also before any file is created.
        if let patchSize, !(8...1024).contains(patchSize) {
            throw ValidationError("--patch-size must be between 8 and 1024")
        }
        if let batchSize, !(1...1024).contains(batchSize) {
            throw ValidationError("--batch-size must be between 1 and 1024")
        }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
        if let learningRate, !(learningRate.isFinite && learningRate > 0 && learningRate < 1) {
            throw ValidationError("--learning-rate must be between 0 and 1")
        }
        for (name, weight) in [
            ("--pixel-weight", pixelWeight), ("--perceptual-weight", perceptualWeight), ("--gan-weight", ganWeight),
        ] {
            guard let weight else { continue }
            guard weight.isFinite, weight >= 0 else { throw ValidationError("\(name) must be a finite number ≥ 0") }
        }
        if let discriminatorFeatures, !(1...1024).contains(discriminatorFeatures) {
            throw ValidationError("--discriminator-features must be between 1 and 1024")
        }
        for (name, value) in [
            ("--log-every", logEvery), ("--validate-every", validateEvery), ("--checkpoint-every", checkpointEvery),
        ] {
            if let value, value < 1 { throw ValidationError("\(name) must be at least 1") }
        }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be between 1 and 256") }
    }

    /// The options that define a new run and that a resumed run takes from its checkpoint instead.
    var newRunOptionsGiven: [String] {
        let given: [(String, Bool)] = [
            ("--data", data != nil), ("--output", output != nil), ("--stage", stage != nil),
            ("--init", initialize != nil || initAlias != nil), ("--architecture", architecture != nil),
            ("--train-layers", trainLayers != nil),
            ("--inputs", inputs != nil), ("--features", features != nil),
            ("--scale", scale != nil),
            ("--pixel-loss", pixelLoss != nil), ("--losses", losses != nil),
            ("--gan-loss", ganLoss != nil), ("--sharpen-target", sharpenTarget != nil),
            ("--discriminator", discriminator != nil), ("--vgg-layer", vggLayer != nil),
            ("--perceptual-layers", perceptualLayers != nil), ("--vgg-weights", vggWeights != nil),
            ("--discriminator-features", discriminatorFeatures != nil), ("--seed", seed != nil),
        ]
        return given.filter(\.1).map(\.0)
    }

    func run() throws {
        GEMM.setThreadCount(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        DNNL.setThreadCount(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        MemoryReuse.keepFreedBlocks()
        if let export, let exportPath {
            try reportingFailure {
                let (generator, step, stage) = try Trainer.averagedGenerator(checkpoint: export + "/checkpoint")
                try generator.save(
                    path: exportPath, extraMetadata: Trainer.exportMetadata(run: export, step: step, stage: stage))
                print("wrote \(exportPath) (step \(step), EMA weights)")
            }
            return
        }
        try reportingFailure {
            let changes = ResumeChanges(
                steps: steps, patchSize: patchSize, batchSize: batchSize,
                learningRate: resume == nil ? nil : learningRate, blocks: resume == nil ? nil : blocks,
                branchExpansion: resume == nil ? nil : branchExpansion,
                pixelWeight: pixelWeight,
                perceptualWeight: perceptualWeight, ganWeight: ganWeight,
                logEvery: logEvery, validateEvery: validateEvery, checkpointEvery: checkpointEvery,
                degradation: resume == nil ? nil : degradation, saveValidationImages: validationImages,
                validationFolder: val)
            let niqe = ModelCatalog.locate(Evaluate.niqeFile) == nil ? nil : try Evaluate.loadNIQE()
            let session = try TrainingSession(
                config: resume == nil ? try newRunConfig() : nil, resumeFolder: resume, changes: changes, niqe: niqe,
                report: { line in
                    print(line)
                    fflush(stdout)
                })
            try session.run()
        }
    }

    /// The configuration of a new run: `TrainingConfig`'s defaults with the given options applied.
    func newRunConfig() throws -> TrainingConfig {
        var config = Train.defaults
        if let stage { config.stage = stage }
        config.dataFolder = data ?? ""
        config.validationFolder = val
        if let output { config.outputFolder = output }
        // A shipped model's name stands for its file, found like `upscale --model NAME` finds it.
        config.initialGenerator = try (initialize ?? initAlias).map { name in
            try ModelCatalog.shipped.contains { $0.name == name }
                ? ModelCatalog.resolve(name, scale: Double(scale ?? Train.defaultGenerator.scale)) : name
        }
        config.trainableLayers = trainLayers.map { $0.split(separator: ",").map(String.init) }
        if let initial = config.initialGenerator {
            // The file fixes the architecture; --blocks may grow it, --scale (which picks a shipped model) must
            // match it.
            let stored = try SRModels.Generator.load(path: initial).config
            config.generator = stored
            if let scale, scale != stored.scale {
                throw ValidationError("--scale \(scale) does not match \(initial), a ×\(stored.scale) generator")
            }
            if let blocks {
                guard blocks >= stored.blocks else {
                    throw ValidationError(
                        "--blocks \(blocks): \(initial) has \(stored.blocks) residual blocks; --init can grow them, "
                            + "not shrink them")
                }
                config.generator.blocks = blocks
            }
        } else {
            let base = Train.defaultGenerator
            config.generator = GeneratorConfig(
                features: features ?? base.features, blocks: blocks ?? base.blocks, scale: scale ?? base.scale,
                architecture: architecture ?? base.architecture)
        }
        if let branchExpansion { config.generator.branchExpansion = branchExpansion }
        if let patchSize { config.patchSize = patchSize }
        if let batchSize { config.batchSize = batchSize }
        if let degradation { config.degradation = degradation }
        config.inputFolder = inputs
        if let steps { config.steps = steps }
        let steps = config.steps
        config.learningRate = learningRate ?? (config.stage == .gan ? Train.ganLearningRate : Train.psnrLearningRate)
        config.schedule =
            config.stage == .gan
            ? .multiStep(milestones: [steps / 2], gamma: 0.5) : .cosine(totalSteps: steps, minimum: 1e-7)
        if let pixelLoss { config.pixelLoss = pixelLoss }
        if let vggLayer { config.vggLayer = vggLayer }
        losses?.apply(to: &config)
        if let ganLoss { config.ganLoss = ganLoss }
        if let discriminator { config.discriminatorKind = discriminator }
        if let sharpenTarget { config.sharpenTarget = sharpenTarget ? UnsharpMask() : nil }
        if let perceptualLayers { config.perceptualLayers = perceptualLayers }
        // The default VGG file is found like the shipped models (./weights, beside the binary, $UPSCALE_WEIGHTS).
        let vggWeights = self.vggWeights ?? "weights/" + Train.shippedVGGWeights
        config.vggWeights =
            FileManager.default.fileExists(atPath: vggWeights)
            ? vggWeights
            : ModelCatalog.locate(URL(fileURLWithPath: vggWeights).lastPathComponent) ?? vggWeights
        if let pixelWeight { config.pixelWeight = pixelWeight }
        if let perceptualWeight { config.perceptualWeight = perceptualWeight }
        if let ganWeight { config.ganWeight = ganWeight }
        if let discriminatorFeatures { config.discriminatorFeatures = discriminatorFeatures }
        if let seed { config.seed = seed }
        if let logEvery { config.logEvery = logEvery }
        if let validateEvery { config.validateEvery = validateEvery }
        if let validationImages { config.saveValidationImages = validationImages }
        if let checkpointEvery { config.checkpointEvery = checkpointEvery }
        if config.stage == .gan && config.initialGenerator == nil {
            printError("warning: --stage gan without --init starts from random weights")
        }
        return config
    }

    static let shippedVGGWeights = "vgg16_caffe_conv1_1-conv5_3_f16.safetensors"

    /// A new run's settings where no option is given (the help texts quote them): `TrainingConfig`'s
    /// BasicSR-derived defaults, with the shipped models' generator.
    static let defaults = TrainingConfig()
    /// The generator of a new run without --init: CompactResNet 48×8 ×4, the layout of `x4-psnr`.
    static let defaultGenerator = GeneratorConfig(features: 48, blocks: 8, scale: 4, architecture: .compact)
    /// The base learning rate of each stage (BasicSR's MSRResNet and ESRGAN settings).
    static let psnrLearningRate = defaults.learningRate
    static let ganLearningRate: Float = 1e-4
}

extension TrainingConfig.Stage: ExpressibleByArgument {}
extension TrainingConfig.PixelLoss: ExpressibleByArgument {}
extension GANLoss: ExpressibleByArgument {}
extension TrainingConfig.LossPreset: ExpressibleByArgument {}
extension TrainingConfig.DiscriminatorKind: ExpressibleByArgument {}

extension Train {
    /// "conv3_3:1,conv5_3:0.5" → terms; refuses malformed pairs, unknown layers and bad weights.
    static func parsePerceptualLayers(_ text: String) throws -> [TrainingConfig.PerceptualTerm] {
        try text.split(separator: ",").map { pair in
            let parts = pair.split(separator: ":")
            guard parts.count == 2, let weight = Float(parts[1]), weight.isFinite, weight >= 0 else {
                throw ValidationError("--perceptual-layers takes LAYER:WEIGHT pairs, e.g. conv3_3:1,conv5_3:1")
            }
            let layer = String(parts[0])
            _ = try VGGFeatureExtractor(upTo: layer)  // a known layer name
            return TrainingConfig.PerceptualTerm(layer: layer, weight: weight)
        }
    }
}
extension GeneratorConfig.Architecture: ExpressibleByArgument {
    /// The option's spelling: `msrresnet` or `compact`.
    var argument: String { self == .msrResNet ? "msrresnet" : "compact" }
    public init?(argument: String) {
        guard let match = Self.allCases.first(where: { $0.argument == argument.lowercased() }) else { return nil }
        self = match
    }
    public static var allValueStrings: [String] { allCases.map(\.argument) }
    public var defaultValueDescription: String { argument }
    public static var allValueDescriptions: [String: String] {
        [
            "msrresnet": "BasicSR's layout: two ×2 stages at rising resolution",
            "compact": "all work at input resolution, one pixel shuffle; faster per output pixel",
        ]
    }
}
