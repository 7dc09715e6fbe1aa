import SRModels
import SRNN

/// Everything that defines a training run; printed at start and stored in every checkpoint.
/// Defaults follow BasicSR (MSRResNet ×4 stage 1 and ESRGAN stage 2) where they apply.
public struct TrainingConfig: Codable, Sendable, Equatable {
    public enum Stage: String, Codable, Sendable, CaseIterable { case psnr, gan }
    public enum PixelLoss: String, Codable, Sendable, CaseIterable { case l1, mse, charbonnier }

    public var stage = Stage.psnr
    public var dataFolder = ""
    public var validationFolder: String?
    public var outputFolder = "runs/train"
    public var generator = GeneratorConfig()
    /// High-resolution crop side in pixels (a multiple of the scale; of 32 for the GAN stage).
    public var patchSize = 96
    public var batchSize = 16
    public var steps = 100_000
    public var learningRate: Float = 2e-4
    public var schedule = LearningRateSchedule.cosine(totalSteps: 100_000, minimum: 1e-7)
    public var pixelLoss = PixelLoss.l1
    public var gradientClip: Float?
    public var seed: UInt64 = 0
    public var emaDecay: Float = 0.999

    // Stage 2.
    public var initialGenerator: String?
    public var pixelWeight: Float = 1e-2
    public var perceptualWeight: Float = 1
    public var ganWeight: Float = 5e-3
    public var ganLoss = GANLoss.relativistic
    public var vggLayer = "conv5_3"
    public var vggWeights = "weights/vgg16_caffe_conv1_1-conv5_3_f16.safetensors"
    public var discriminatorFeatures = 64
    public var discriminatorLearningRate: Float = 1e-4

    // Bookkeeping.
    public var logEvery = 50
    public var validateEvery = 1000
    public var checkpointEvery = 1000

    public init() {}
}
