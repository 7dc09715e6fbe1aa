import SRDegradation
import SRModels
import SRNN

/// Everything that defines a training run; printed at start and stored in every checkpoint.
/// Defaults follow BasicSR (MSRResNet ×4 stage 1 and ESRGAN stage 2) where they apply.
public struct TrainingConfig: Codable, Sendable, Equatable {
    public enum Stage: String, Codable, Sendable, CaseIterable { case psnr, gan }
    public enum PixelLoss: String, Codable, Sendable, CaseIterable { case l1, mse, charbonnier }
    /// The GAN stage's discriminator: BasicSR's VGG-style one (one logit per image) or Real-ESRGAN's
    /// U-Net with spectral norm (one logit per pixel).
    public enum DiscriminatorKind: String, Codable, Sendable, CaseIterable { case vgg, unet }

    /// One term of the perceptual loss: L1 between VGG16 features at `layer` ("convB_L" or "reluB_L"),
    /// times `weight`.
    public struct PerceptualTerm: Codable, Sendable, Equatable {
        public var layer: String
        public var weight: Float
        public init(layer: String, weight: Float) { (self.layer, self.weight) = (layer, weight) }
    }

    /// Published loss recipes for the GAN stage.
    public enum LossPreset: String, Codable, Sendable, CaseIterable {
        /// ESRGAN (Wang et al. 2018): pixel 1e-2, perceptual 1 on the last VGG block before ReLU
        /// (conv5_3 of VGG16 here, conv5_4 of VGG19 there), GAN 5e-3, relativistic, VGG-style D.
        case esrgan
        /// Real-ESRGAN (Wang et al. 2021): pixel 1, perceptual 1 over conv1_2/2_2/3_3/4_3/5_3 weighted
        /// 0.1/0.1/1/1/1 (VGG19's conv*_2…5_4 there), GAN 0.1, vanilla loss, U-Net D with spectral norm,
        /// pixel and perceptual targets unsharp-masked (weight 0.5, radius 50, threshold 10).
        case realesrgan

        public func apply(to config: inout TrainingConfig) {
            switch self {
            case .esrgan:
                (config.pixelWeight, config.perceptualWeight, config.ganWeight) = (1e-2, 1, 5e-3)
                config.ganLoss = .relativistic
                config.discriminatorKind = .vgg
                config.perceptualLayers = [PerceptualTerm(layer: "conv5_3", weight: 1)]
            case .realesrgan:
                (config.pixelWeight, config.perceptualWeight, config.ganWeight) = (1, 1, 0.1)
                config.ganLoss = .vanilla
                config.discriminatorKind = .unet
                config.sharpenTarget = UnsharpMask()
                config.perceptualLayers = [
                    PerceptualTerm(layer: "conv1_2", weight: 0.1), PerceptualTerm(layer: "conv2_2", weight: 0.1),
                    PerceptualTerm(layer: "conv3_3", weight: 1), PerceptualTerm(layer: "conv4_3", weight: 1),
                    PerceptualTerm(layer: "conv5_3", weight: 1),
                ]
            }
        }
    }

    public var stage = Stage.psnr
    public var dataFolder = ""
    public var validationFolder: String?
    public var outputFolder = "runs/train"
    public var generator = GeneratorConfig()
    /// High-resolution crop side in pixels (a multiple of the scale; of 32 for the GAN stage).
    public var patchSize = 96
    public var batchSize = 16
    /// How inputs are made from the crops (bicubic for faithful models, realistic for photos).
    public var degradation = Degradation.bicubic
    /// Fixed inputs paired with `dataFolder`'s images by relative path (`PatchDataset`); `degradation` is
    /// then unused.
    public var inputFolder: String?
    public var steps = 100_000
    public var learningRate: Float = 2e-4
    public var schedule = LearningRateSchedule.cosine(totalSteps: 100_000, minimum: 1e-7)
    public var pixelLoss = PixelLoss.l1
    public var gradientClip: Float?
    public var seed: UInt64 = 0
    public var emaDecay: Float = 0.999
    /// The generator layers that learn (BasicSR names, e.g. ["body.7", "conv_body", "conv_up"], each with its
    /// sublayers); the others keep their initial weights. nil: every layer learns.
    public var trainableLayers: [String]?

    // Stage 2.
    public var initialGenerator: String?
    public var pixelWeight: Float = 1e-2
    public var perceptualWeight: Float = 1
    public var ganWeight: Float = 5e-3
    public var ganLoss = GANLoss.relativistic
    public var vggLayer = "conv3_3"
    /// Several weighted VGG layers; nil means `vggLayer` alone with weight 1 (older configs).
    public var perceptualLayers: [PerceptualTerm]?
    public var discriminatorKind = DiscriminatorKind.vgg
    /// Unsharp-mask the ground truth for the pixel and perceptual losses (Real-ESRGAN); nil: off.
    public var sharpenTarget: UnsharpMask?
    /// Caffe VGG features are about 255 · 0.226 times larger than those of torchvision's normalised VGG
    /// that BasicSR/ESRGAN's loss weights were tuned for; the perceptual L1 is multiplied by this so
    /// the published weights keep their meaning.
    public var perceptualFeatureScale: Float = 1 / (255 * 0.226)
    public var vggWeights = "weights/vgg16_caffe_conv1_1-conv5_3_f16.safetensors"
    public var discriminatorFeatures = 64
    public var discriminatorLearningRate: Float = 1e-4

    // Bookkeeping.
    public var logEvery = 50
    public var validateEvery = 1000
    /// Write each validation output to `validation/step-NNNNNN/NAME.png` in the run folder, to judge by eye
    /// when a GAN run starts to add artefacts.
    public var saveValidationImages = true
    public var checkpointEvery = 500

    public init() {}

    /// Why this run cannot take crops of `patchSize` pixels, or nil: they must be a multiple of the scale and,
    /// in the GAN stage, of what the discriminator halves them by (32 for the VGG-style one, 8 for the U-Net).
    public func cropProblem(_ patchSize: Int) -> String? {
        let scale = generator.scale
        if patchSize % scale != 0 { return "the crop size \(patchSize) must be a multiple of the scale, \(scale)" }
        guard stage == .gan else { return nil }
        let (multiple, name) = discriminatorKind == .vgg ? (32, "VGG-style") : (8, "U-Net")
        if patchSize % multiple != 0 {
            return "the \(name) discriminator needs a crop size that is a multiple of \(multiple), not \(patchSize)"
        }
        return nil
    }

    /// The perceptual loss's terms: `perceptualLayers`, or `vggLayer` with weight 1.
    public var perceptualTerms: [PerceptualTerm] { perceptualLayers ?? [PerceptualTerm(layer: vggLayer, weight: 1)] }

    enum CodingKeys: String, CodingKey {
        case stage, degradation, inputFolder, dataFolder, validationFolder, outputFolder, seed, pixelWeight, generator,
            patchSize,
            batchSize,
            steps, learningRate, schedule, pixelLoss, gradientClip, emaDecay, initialGenerator, perceptualWeight,
            ganWeight, ganLoss, vggLayer, perceptualLayers, discriminatorKind, sharpenTarget, perceptualFeatureScale,
            vggWeights,
            discriminatorFeatures,
            discriminatorLearningRate, logEvery, validateEvery, checkpointEvery, trainableLayers,
            saveValidationImages
    }

    /// Decodes a stored config; keys it lacks (from an older version) keep their defaults.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        stage = try container.decodeIfPresent(type(of: stage), forKey: .stage) ?? stage
        degradation = try container.decodeIfPresent(type(of: degradation), forKey: .degradation) ?? degradation
        inputFolder = try container.decodeIfPresent(String.self, forKey: .inputFolder)
        dataFolder = try container.decodeIfPresent(type(of: dataFolder), forKey: .dataFolder) ?? dataFolder
        validationFolder =
            try container.decodeIfPresent(type(of: validationFolder), forKey: .validationFolder) ?? validationFolder
        outputFolder = try container.decodeIfPresent(type(of: outputFolder), forKey: .outputFolder) ?? outputFolder
        seed = try container.decodeIfPresent(type(of: seed), forKey: .seed) ?? seed
        pixelWeight = try container.decodeIfPresent(type(of: pixelWeight), forKey: .pixelWeight) ?? pixelWeight
        generator = try container.decodeIfPresent(type(of: generator), forKey: .generator) ?? generator
        patchSize = try container.decodeIfPresent(type(of: patchSize), forKey: .patchSize) ?? patchSize
        batchSize = try container.decodeIfPresent(type(of: batchSize), forKey: .batchSize) ?? batchSize
        steps = try container.decodeIfPresent(type(of: steps), forKey: .steps) ?? steps
        learningRate = try container.decodeIfPresent(type(of: learningRate), forKey: .learningRate) ?? learningRate
        schedule = try container.decodeIfPresent(type(of: schedule), forKey: .schedule) ?? schedule
        pixelLoss = try container.decodeIfPresent(type(of: pixelLoss), forKey: .pixelLoss) ?? pixelLoss
        gradientClip = try container.decodeIfPresent(type(of: gradientClip), forKey: .gradientClip) ?? gradientClip
        emaDecay = try container.decodeIfPresent(type(of: emaDecay), forKey: .emaDecay) ?? emaDecay
        trainableLayers = try container.decodeIfPresent([String].self, forKey: .trainableLayers)
        initialGenerator =
            try container.decodeIfPresent(type(of: initialGenerator), forKey: .initialGenerator) ?? initialGenerator
        perceptualWeight =
            try container.decodeIfPresent(type(of: perceptualWeight), forKey: .perceptualWeight) ?? perceptualWeight
        ganWeight = try container.decodeIfPresent(type(of: ganWeight), forKey: .ganWeight) ?? ganWeight
        ganLoss = try container.decodeIfPresent(type(of: ganLoss), forKey: .ganLoss) ?? ganLoss
        vggLayer = try container.decodeIfPresent(type(of: vggLayer), forKey: .vggLayer) ?? vggLayer
        perceptualLayers = try container.decodeIfPresent([PerceptualTerm].self, forKey: .perceptualLayers)
        discriminatorKind =
            try container.decodeIfPresent(type(of: discriminatorKind), forKey: .discriminatorKind)
            ?? discriminatorKind
        sharpenTarget = try container.decodeIfPresent(UnsharpMask.self, forKey: .sharpenTarget)
        perceptualFeatureScale =
            try container.decodeIfPresent(type(of: perceptualFeatureScale), forKey: .perceptualFeatureScale)
            ?? perceptualFeatureScale
        vggWeights = try container.decodeIfPresent(type(of: vggWeights), forKey: .vggWeights) ?? vggWeights
        discriminatorFeatures =
            try container.decodeIfPresent(type(of: discriminatorFeatures), forKey: .discriminatorFeatures)
            ?? discriminatorFeatures
        discriminatorLearningRate =
            try container.decodeIfPresent(type(of: discriminatorLearningRate), forKey: .discriminatorLearningRate)
            ?? discriminatorLearningRate
        logEvery = try container.decodeIfPresent(type(of: logEvery), forKey: .logEvery) ?? logEvery
        validateEvery = try container.decodeIfPresent(type(of: validateEvery), forKey: .validateEvery) ?? validateEvery
        checkpointEvery =
            try container.decodeIfPresent(type(of: checkpointEvery), forKey: .checkpointEvery) ?? checkpointEvery
        saveValidationImages =
            try container.decodeIfPresent(Bool.self, forKey: .saveValidationImages) ?? saveValidationImages
    }
}
