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
            Stage 1 (--stage psnr) trains with a pixel loss from scratch. Stage 2 (--stage gan --init G.safetensors)
            fine-tunes a stage-1 generator with pixel + VGG perceptual + adversarial losses (ESRGAN weights by default).
            Training pairs are random crops (with flips and 90° rotations) and their MATLAB-bicubic downscaled inputs.
            A checkpoint is written every --checkpoint-every steps and on Ctrl-C; continue with --resume.

            Examples:
              upscale train --data my-photos/ --output runs/x4 --features 32 --blocks 8 --steps 20000
              upscale train --resume runs/x4
              upscale train --stage gan --init weights/x4-psnr.safetensors --data my-photos/ --output runs/x4-gan
              upscale train --export runs/x4 weights/mine-x4.safetensors
            """)

    @Option(help: "Folder of training images (PNG/JPEG, searched recursively).") var data: String?
    @Option(help: "Folder of validation ground truths, scored like `upscale eval` (e.g. ../shared/data/bench/Set5).")
    var val: String?
    @Option(help: "Run folder: checkpoint/, log.jsonl and chart.png go here.") var output = "runs/train"
    @Option(help: "Training stage: psnr (pixel loss) or gan.") var stage: TrainingConfig.Stage = .psnr
    @Option(help: "Stage-1 generator to start the GAN stage from.") var initialize: String?
    @Option(name: .customLong("init"), help: .hidden) var initAlias: String?
    @Option(
        help: """
            Generator layout: msrresnet (BasicSR's, two ×2 stages at rising resolution) or compact (all \
            work at input resolution, one pixel shuffle; faster per output pixel).
            """) var architecture: GeneratorConfig.Architecture = .msrResNet
    @Option(
        help: """
            How inputs are made from the crops: bicubic (clean, for faithful models), realistic (Real-ESRGAN's \
            blur/resize/noise/JPEG pipeline, for photos from the wild) or a JSON file overriding its settings.
            """, transform: { try Degradation(argument: $0) }) var degradation = Degradation.bicubic
    @Option(help: "Generator features (1-512).") var features = 64
    @Option(help: "Generator residual blocks (0-256).") var blocks = 16
    @Option(help: "Upscaling factor of the generator (2, 3 or 4).") var scale = 4
    @Option(help: "High-resolution crop size in pixels (a multiple of --scale, 8-1024).") var patchSize = 96
    @Option(help: "Crops per step (1-1024).") var batchSize = 16
    @Option(help: "Total steps (default 100000; with --resume, a new total extends the run).") var steps: Int?
    @Option(help: "Base learning rate (cosine decay to 1e-7 over --steps).") var learningRate: Float = 2e-4
    @Option(help: "Pixel loss: l1, mse or charbonnier.") var pixelLoss: TrainingConfig.PixelLoss = .l1
    @Option(
        help: """
            GAN-stage recipe: esrgan (pixel 1e-2, perceptual 1 on conv5_3, GAN 5e-3, relativistic, VGG-style D) \
            or realesrgan (pixel 1, perceptual 1 on conv1_2..conv5_3 weighted 0.1/0.1/1/1/1, GAN 0.1, vanilla, \
            U-Net D with spectral norm). The options below override single parts.
            """) var losses: TrainingConfig.LossPreset?
    @Option(help: "GAN loss: relativistic (ESRGAN) or vanilla (SRGAN). (default: relativistic)") var ganLoss: GANLoss?
    @Flag(
        inversion: .prefixedNo,
        help: "Unsharp-mask the ground truth for the pixel and perceptual losses (on in the realesrgan recipe).")
    var sharpenTarget: Bool?
    @Option(help: "Discriminator: vgg (one logit per image) or unet (per pixel, spectral norm). (default: vgg)")
    var discriminator: TrainingConfig.DiscriminatorKind?
    @Option(
        help:
            ArgumentHelp(
                "VGG16 layer for the perceptual loss: convB_L (before ReLU, ESRGAN-style) or reluB_L "
                    + "(relu2_2 is SRGAN's VGG22); the shipped weights reach conv5_3.")
    ) var vggLayer = "conv3_3"
    @Option(
        help: "Several weighted VGG16 layers instead of --vgg-layer, e.g. conv3_3:1,conv4_3:1,conv5_3:1.",
        transform: Train.parsePerceptualLayers) var perceptualLayers: [TrainingConfig.PerceptualTerm]?
    @Option(help: "VGG16 weights (Caffe convention, safetensors).") var vggWeights =
        "weights/vgg16_caffe_conv1_1-conv5_3_f16.safetensors"
    @Option(
        help: """
            Loss weights for the GAN stage: pixel, perceptual, adversarial (default: ESRGAN's 1e-2, 1, 5e-3). \
            With --resume they rebalance the run from its checkpoint on.
            """)
    var pixelWeight: Float?
    @Option var perceptualWeight: Float?
    @Option var ganWeight: Float?
    @Option(help: "Discriminator base width (GAN stage).") var discriminatorFeatures = 64
    @Option(help: "Random seed: the same seed and data give the same weights.") var seed: UInt64 = 0
    @Option(help: "Print a progress line every N steps.") var logEvery = 50
    @Option(help: "Validate every N steps.") var validateEvery = 1000
    @Option(help: "Checkpoint every N steps.") var checkpointEvery = 500
    @Option(help: "BLAS threads (default: all cores).") var threads: Int?
    @Option(
        help: """
            Continue the run in this folder from its checkpoint (a copied run folder continues in the copy). \
            Only --steps, the loss weights, --threads and the logging intervals apply to a resumed run.
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
        guard [2, 3, 4].contains(scale) else { throw ValidationError("--scale must be 2, 3 or 4") }
        guard (1...GeneratorConfig.maximumFeatures).contains(features) else {
            throw ValidationError("--features must be between 1 and \(GeneratorConfig.maximumFeatures)")
        }
        guard (0...GeneratorConfig.maximumBlocks).contains(blocks) else {
            throw ValidationError("--blocks must be between 0 and \(GeneratorConfig.maximumBlocks)")
        }
        guard (8...1024).contains(patchSize), patchSize % scale == 0 else {
            throw ValidationError("--patch-size must be a multiple of --scale between 8 and 1024")
        }
        guard (1...1024).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 1024") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
        guard learningRate.isFinite, learningRate > 0, learningRate < 1 else {
            throw ValidationError("--learning-rate must be between 0 and 1")
        }
        for (name, weight) in [
            ("--pixel-weight", pixelWeight), ("--perceptual-weight", perceptualWeight), ("--gan-weight", ganWeight),
        ] {
            guard let weight else { continue }
            guard weight.isFinite, weight >= 0 else { throw ValidationError("\(name) must be a finite number ≥ 0") }
        }
        guard (1...1024).contains(discriminatorFeatures) else {
            throw ValidationError("--discriminator-features must be between 1 and 1024")
        }
        for (name, value) in [
            ("--log-every", logEvery), ("--validate-every", validateEvery), ("--checkpoint-every", checkpointEvery),
        ] {
            guard value >= 1 else { throw ValidationError("\(name) must be at least 1") }
        }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be between 1 and 256") }
    }

    func run() throws {
        GEMM.setThreadCount(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        DNNL.setThreadCount(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        MemoryReuse.keepFreedBlocks()
        if let export, let exportPath {
            try reportingFailure {
                let (generator, step, stage) = try Trainer.averagedGenerator(checkpoint: export + "/checkpoint")
                try generator.save(
                    path: exportPath,
                    extraMetadata: [
                        "kind": stage.rawValue, "steps": "\(step)",
                        "description": "exported from \(export) at step \(step) (EMA weights)",
                    ])
                print("wrote \(exportPath) (step \(step), EMA weights)")
            }
            return
        }
        var config = TrainingConfig()
        config.stage = stage
        config.dataFolder = data ?? ""
        config.validationFolder = val
        config.outputFolder = output
        config.generator = GeneratorConfig(
            features: features, blocks: blocks, scale: scale, architecture: architecture)
        config.patchSize = patchSize
        config.batchSize = batchSize
        config.degradation = degradation
        let steps = self.steps ?? 100_000
        config.steps = steps
        config.learningRate = learningRate
        config.schedule = .cosine(totalSteps: steps, minimum: 1e-7)
        config.pixelLoss = pixelLoss
        config.vggLayer = vggLayer
        losses?.apply(to: &config)
        if let ganLoss { config.ganLoss = ganLoss }
        if let discriminator { config.discriminatorKind = discriminator }
        if let sharpenTarget { config.sharpenTarget = sharpenTarget ? UnsharpMask() : nil }
        if let perceptualLayers { config.perceptualLayers = perceptualLayers }
        // The default VGG file is found like the shipped models (./weights, beside the binary, $UPSCALE_WEIGHTS).
        config.vggWeights =
            FileManager.default.fileExists(atPath: vggWeights)
            ? vggWeights
            : ModelCatalog.locate(URL(fileURLWithPath: vggWeights).lastPathComponent) ?? vggWeights
        if let pixelWeight { config.pixelWeight = pixelWeight }
        if let perceptualWeight { config.perceptualWeight = perceptualWeight }
        if let ganWeight { config.ganWeight = ganWeight }
        config.discriminatorFeatures = discriminatorFeatures
        config.initialGenerator = initialize ?? initAlias
        config.seed = seed
        config.logEvery = logEvery
        config.validateEvery = validateEvery
        config.checkpointEvery = checkpointEvery
        if config.stage == .gan {
            if config.initialGenerator == nil {
                printError("warning: --stage gan without --init starts from random weights")
            }
            if learningRate == 2e-4 { config.learningRate = 1e-4 }
            config.schedule = .multiStep(milestones: [steps / 2], gamma: 0.5)
        }
        try reportingFailure {
            if let initial = config.initialGenerator {
                config.generator = try SRModels.Generator.load(path: initial).config
            }
            let session = try TrainingSession(
                config: resume == nil ? config : nil, resumeFolder: resume,
                changes: ResumeChanges(
                    steps: self.steps, pixelWeight: pixelWeight, perceptualWeight: perceptualWeight,
                    ganWeight: ganWeight),
                report: { line in
                    print(line)
                    fflush(stdout)
                })
            try session.run()
        }
    }
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
}
