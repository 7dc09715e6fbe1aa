import Foundation
import SRDegradation
import SRImage
import SRModels
import SRNN
import SRTensor
import SRTraining
import XCTest

final class TrainerTests: XCTestCase {
    var folder = ""

    /// A few small structured images (stripes, blobs, gradients) and one corrupt file.
    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "train-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder + "/data/nested", withIntermediateDirectories: true)
        for i in 0..<3 {
            var image = PlanarImage(width: 48 + 8 * i, height: 40 + 4 * i, channels: 3)
            for c in 0..<3 {
                for y in 0..<image.height {
                    for x in 0..<image.width {
                        image[c, y, x] = Float(
                            0.5 + 0.4 * sin(Double(x) * (0.4 + 0.1 * Double(i)) + Double(c)) * cos(Double(y) * 0.3))
                    }
                }
            }
            try ImageFile.write(image, to: folder + (i == 2 ? "/data/nested/" : "/data/") + "img\(i).png")
        }
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: folder + "/data/bad.png"))
        try ImageFile.write(PlanarImage(width: 8, height: 8, channels: 3), to: folder + "/data/tiny.png")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    func config(stage: TrainingConfig.Stage = .psnr, steps: Int = 40) -> TrainingConfig {
        var config = TrainingConfig()
        config.stage = stage
        config.dataFolder = folder + "/data"
        config.outputFolder = folder + "/run"
        config.generator = GeneratorConfig(features: 8, blocks: 1, scale: 2)
        config.patchSize = 32
        config.batchSize = 4
        config.steps = steps
        config.learningRate = 2e-3
        config.schedule = .constant
        config.logEvery = 10
        config.checkpointEvery = 1000
        config.validateEvery = 1000
        config.seed = 7
        return config
    }

    func testConfigRoundTripsAndOldFilesKeepDefaults() throws {
        var config = config(stage: .gan)
        config.seed = 99
        config.validationFolder = "v"
        config.gradientClip = 0.5
        config.inputFolder = "pairs/lr"
        let back = try JSONDecoder().decode(TrainingConfig.self, from: try JSONEncoder().encode(config))
        XCTAssertEqual(back, config)
        XCTAssertEqual(try JSONDecoder().decode(TrainingConfig.self, from: Data("{}".utf8)), TrainingConfig())
    }

    func testDatasetSkipsBadAndSmallFilesAndFindsNestedOnes() throws {
        var warnings: [String] = []
        let dataset = try PatchDataset(folder: folder + "/data", patchSize: 32, scale: 2, warn: { warnings.append($0) })
        XCTAssertEqual(dataset.count, 3)
        XCTAssertEqual(dataset.skipped.count, 2)
        XCTAssertEqual(warnings.count, 2)
        XCTAssertTrue(warnings.contains { $0.contains("bad.png") })
        XCTAssertThrowsError(try PatchDataset(folder: folder + "/nope", patchSize: 32, scale: 2))
        var generator = SeededGenerator(seed: 1)
        let (lr, hr) = try dataset.sampleBatch(size: 2, generator: &generator)
        XCTAssertEqual(lr.shape, [2, 3, 16, 16])
        XCTAssertEqual(hr.shape, [2, 3, 32, 32])
        // The input is the protocol's bicubic downscale of the crop, rounded to 8 bits.
        let crop = PlanarImage(tensor: hr, index: 0)
        XCTAssertEqual(
            PlanarImage(tensor: lr, index: 0), Resampler.resize(crop, width: 16, height: 16).quantized(bits: 8))
    }

    func testPixelStageLossFalls() throws {
        let session = try TrainingSession(config: config(steps: 60), resumeFolder: nil, report: { _ in })
        var generator = SeededGenerator(seed: 3)
        let (lr, hr) = try session.dataset.sampleBatch(size: 8, generator: &generator)
        let before = Loss.l1(session.trainer.generator.inference(lr), hr).value
        try session.run(installSignalHandlers: false)
        let after = Loss.l1(session.trainer.generator.inference(lr), hr).value
        XCTAssertLessThan(after, 0.6 * before, "L1 on a fixed batch: \(before) -> \(after)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/run/checkpoint/state.json"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/run/chart.png"))
        let log = try String(contentsOfFile: folder + "/run/log.jsonl", encoding: .utf8)
        XCTAssertEqual(log.split(separator: "\n").count, 6)
    }

    func testResumeEqualsContinuousTraining() throws {
        var straightConfig = config(steps: 12)
        straightConfig.outputFolder = folder + "/straight"
        let straight = try TrainingSession(config: straightConfig, resumeFolder: nil, report: { _ in })
        try straight.run(installSignalHandlers: false)

        var firstConfig = config(steps: 6)
        firstConfig.outputFolder = folder + "/split"
        try TrainingSession(config: firstConfig, resumeFolder: nil, report: { _ in }).run(installSignalHandlers: false)
        let resumed = try TrainingSession(
            config: nil, resumeFolder: folder + "/split", changes: ResumeChanges(steps: 12), report: { _ in })
        XCTAssertEqual(resumed.trainer.step, 6)
        try resumed.run(installSignalHandlers: false)
        XCTAssertEqual(
            resumed.trainer.generator.stateDictionary(), straight.trainer.generator.stateDictionary(), "bit-identical")
        XCTAssertEqual(resumed.trainer.ema.averages, straight.trainer.ema.averages)
    }

    /// A copied run folder resumes in the copy (the original is untouched), and `ResumeChanges` rebalances
    /// the loss weights from the checkpoint on, reporting each change once.
    func testResumedCopyContinuesInItsOwnFolderWithNewLossWeights() throws {
        var first = config(steps: 3)
        first.outputFolder = folder + "/original"
        try TrainingSession(config: first, resumeFolder: nil, report: { _ in }).run(installSignalHandlers: false)
        try FileManager.default.copyItem(atPath: folder + "/original", toPath: folder + "/copy")
        var lines: [String] = []
        let resumed = try TrainingSession(
            config: nil, resumeFolder: folder + "/copy",
            changes: ResumeChanges(steps: 5, learningRate: first.learningRate / 4, ganWeight: 0.4, logEvery: 7),
            report: { lines.append($0) })
        XCTAssertEqual(resumed.trainer.config.ganWeight, 0.4)
        // A new base rate: the discriminator's keeps its ratio, and the steps after it use the new rate.
        XCTAssertEqual(resumed.trainer.config.learningRate, first.learningRate / 4)
        XCTAssertEqual(resumed.trainer.config.discriminatorLearningRate, first.discriminatorLearningRate / 4)
        XCTAssertEqual(lines.filter { $0.contains("base learning rate") }.count, 1, "\(lines)")
        XCTAssertEqual(resumed.trainer.config.logEvery, 7)
        XCTAssertEqual(resumed.trainer.config.pixelWeight, first.pixelWeight, "weights not named keep their values")
        XCTAssertEqual(lines.filter { $0.contains("GAN weight") }.count, 1, "\(lines)")
        try resumed.run(installSignalHandlers: false)
        XCTAssertEqual(
            resumed.trainer.generatorOptimizer.learningRate,
            first.schedule.rate(base: first.learningRate / 4, step: 4), accuracy: 1e-12)
        let copy = try Trainer.resume(folder: folder + "/copy/checkpoint").trainer
        XCTAssertEqual(copy.step, 5)
        XCTAssertEqual(copy.config.ganWeight, 0.4, "the new weight is stored for later resumes")
        XCTAssertEqual(copy.config.learningRate, first.learningRate / 4, "and so is the new rate")
        XCTAssertEqual(
            try Trainer.resume(folder: folder + "/original/checkpoint").trainer.step, 3, "original untouched")
    }

    /// A resumed run may grow its generator by residual blocks: they start as identities, so the grown network
    /// (weights and EMA) computes what the checkpoint's did; they learn from the next step on; the growth is
    /// reported once and stored; a run cannot shrink, nor grow blocks it would not train.
    func testResumedRunGrowsItsGeneratorByIdentityBlocks() throws {
        var first = config(steps: 3)
        first.outputFolder = folder + "/small"
        try TrainingSession(config: first, resumeFolder: nil, report: { _ in }).run(installSignalHandlers: false)
        let small = try Trainer.resume(folder: folder + "/small/checkpoint").trainer
        var lines: [String] = []
        let grown = try TrainingSession(
            config: nil, resumeFolder: folder + "/small", changes: ResumeChanges(steps: 6, blocks: 3),
            report: { lines.append($0) })
        XCTAssertEqual(grown.trainer.generator.config.blocks, 3)
        XCTAssertEqual(lines.filter { $0.contains("residual blocks 1 -> 3") }.count, 1, "\(lines)")
        var random = SeededGenerator(seed: 11)
        let input = Tensor.randomUniform(shape: [1, 3, 12, 10], low: 0, high: 1, generator: &random)
        let (before, after) = (small.generator.inference(input), grown.trainer.generator.inference(input))
        XCTAssertEqual(before.shape, after.shape)
        XCTAssertEqual(zip(before.scalars, after.scalars).map { abs($0 - $1) }.max()!, 0, "exactly the same")
        let (averageBefore, averageAfter) = (
            small.averagedGenerator().inference(input), grown.trainer.averagedGenerator().inference(input)
        )
        XCTAssertEqual(
            zip(averageBefore.scalars, averageAfter.scalars).map { abs($0 - $1) }.max()!, 0, "exactly the same")
        func newConvolution(_ trainer: Trainer) -> Tensor {
            trainer.generator.namedParameters.first { $0.name == "body.2.conv2.weight" }!.parameter.value
        }
        XCTAssertTrue(newConvolution(grown.trainer).scalars.allSatisfy { $0 == 0 })
        try grown.run(installSignalHandlers: false)
        let resumed = try Trainer.resume(folder: folder + "/small/checkpoint").trainer
        XCTAssertEqual(resumed.step, 6)
        XCTAssertEqual(resumed.config.generator.blocks, 3, "the growth is stored for later resumes")
        XCTAssertGreaterThan(newConvolution(resumed).scalars.map(abs).max()!, 0, "the new blocks learn")

        for (changes, problem) in [
            (ResumeChanges(blocks: 2), "can grow them, not shrink them"),
            (ResumeChanges(blocks: GeneratorConfig.maximumBlocks + 1), "at most"),
        ] {
            XCTAssertThrowsError(try Trainer.resume(folder: folder + "/small/checkpoint", changes: changes)) {
                XCTAssertTrue("\($0)".contains(problem) && "\($0)".contains(folder), "\($0)")
            }
        }
        var partial = first
        partial.trainableLayers = ["conv_first"]
        XCTAssertThrowsError(try ResumeChanges(blocks: 2).apply(to: &partial)) {
            XCTAssertTrue("\($0)".contains("new blocks would never learn"), "\($0)")
        }
    }

    /// A new run may start from a file with more residual blocks than it has: they are appended as identities,
    /// so the run starts from exactly what the file computes; fewer blocks, or another shape, are refused.
    func testNewRunGrowsItsInitialGenerator() throws {
        var small = config(steps: 2)
        small.outputFolder = folder + "/small"
        try TrainingSession(config: small, resumeFolder: nil, report: { _ in }).run(installSignalHandlers: false)
        var grown = config(steps: 2)
        grown.initialGenerator = folder + "/small/model.safetensors"
        grown.generator.blocks = 4
        let trainer = try Trainer(config: grown)
        XCTAssertEqual(trainer.generator.config.blocks, 4)
        let initial = try Generator.load(path: folder + "/small/model.safetensors")
        var random = SeededGenerator(seed: 12)
        let input = Tensor.randomUniform(shape: [2, 3, 9, 11], low: 0, high: 1, generator: &random)
        let (before, after) = (initial.inference(input), trainer.generator.inference(input))
        XCTAssertEqual(zip(before.scalars, after.scalars).map { abs($0 - $1) }.max()!, 0, "exactly the same")
        XCTAssertGreaterThan(
            trainer.generator.namedParameters.first { $0.name == "body.3.conv1.weight" }!.parameter.value.scalars
                .map(abs).max()!, 0, "a new block's first convolution is initialised, ready to learn")
        for (blocks, features) in [(0, 8), (4, 6)] {
            var other = grown
            (other.generator.blocks, other.generator.features) = (blocks, features)
            XCTAssertThrowsError(try Trainer(config: other)) {
                XCTAssertTrue("\($0)".contains("architecture differs"), "\($0)")
            }
        }
    }

    /// A run with training branches: its checkpoint holds them and resumes with them, its exported model is
    /// the plain folded network; a run starting from that file with branches starts from exactly its output
    /// and the branches learn.
    func testBranchedRunExportsAPlainModelAndStartsFromItsInit() throws {
        var branched = config(steps: 4)
        branched.generator.branchExpansion = 2
        branched.outputFolder = folder + "/branched"
        let session = try TrainingSession(config: branched, resumeFolder: nil, report: { _ in })
        try session.run(installSignalHandlers: false)
        let stored = try SafeTensors.read(path: folder + "/branched/checkpoint/generator.safetensors").tensors
        XCTAssertNotNil(stored["body.0.conv1.branches.squeeze.weight"])
        XCTAssertEqual(
            try Trainer.resume(folder: folder + "/branched/checkpoint").trainer.generator.config, branched.generator)
        let exported = try Generator.load(path: folder + "/branched/model.safetensors")
        XCTAssertEqual(exported.config.branchExpansion, 0)
        XCTAssertEqual(exported.stateDictionary(), session.trainer.averagedGenerator().stateDictionary())

        var fromFile = config(steps: 3)
        fromFile.outputFolder = folder + "/from-file"
        fromFile.initialGenerator = folder + "/branched/model.safetensors"
        fromFile.generator.branchExpansion = 2
        let resumedFromFile = try TrainingSession(config: fromFile, resumeFolder: nil, report: { _ in })
        var random = SeededGenerator(seed: 13)
        let input = Tensor.randomUniform(shape: [1, 3, 10, 9], low: 0, high: 1, generator: &random)
        let (before, after) = (exported.inference(input), resumedFromFile.trainer.generator.inference(input))
        XCTAssertEqual(zip(before.scalars, after.scalars).map { abs($0 - $1) }.max()!, 0, "exactly the same")
        try resumedFromFile.run(installSignalHandlers: false)
        let squeeze = resumedFromFile.trainer.generator.namedParameters.first {
            $0.name == "conv_first.branches.squeeze.weight"
        }!.parameter.value
        XCTAssertGreaterThan(squeeze.scalars.map(abs).max()!, 0, "the branches learn")
    }

    /// A resumed run may add training branches: they start at zero, so the run goes on from exactly what it had
    /// learned (weights and EMA), and they learn from there; a run that has branches keeps their expansion.
    func testResumedRunAddsTrainingBranches() throws {
        var first = config(steps: 3)
        first.outputFolder = folder + "/plain"
        try TrainingSession(config: first, resumeFolder: nil, report: { _ in }).run(installSignalHandlers: false)
        let plain = try Trainer.resume(folder: folder + "/plain/checkpoint").trainer
        var lines: [String] = []
        let branched = try TrainingSession(
            config: nil, resumeFolder: folder + "/plain", changes: ResumeChanges(steps: 5, branchExpansion: 2),
            report: { lines.append($0) })
        XCTAssertEqual(lines.filter { $0.contains("training branches of 2× expansion added") }.count, 1, "\(lines)")
        var random = SeededGenerator(seed: 14)
        let input = Tensor.randomUniform(shape: [1, 3, 11, 8], low: 0, high: 1, generator: &random)
        for (before, after) in [
            (plain.generator.inference(input), branched.trainer.generator.inference(input)),
            (plain.averagedGenerator().inference(input), branched.trainer.averagedGenerator().inference(input)),
        ] {
            XCTAssertEqual(zip(before.scalars, after.scalars).map { abs($0 - $1) }.max()!, 0, "exactly the same")
        }
        try branched.run(installSignalHandlers: false)
        let resumed = try Trainer.resume(folder: folder + "/plain/checkpoint").trainer
        XCTAssertEqual(resumed.config.generator.branchExpansion, 2, "stored for later resumes")
        let squeeze = resumed.generator.namedParameters.first { $0.name == "body.0.conv2.branches.squeeze.weight" }!
        XCTAssertGreaterThan(squeeze.parameter.value.scalars.map(abs).max()!, 0, "the branches learn")
        XCTAssertThrowsError(
            try Trainer.resume(folder: folder + "/plain/checkpoint", changes: ResumeChanges(branchExpansion: 3))
        ) { XCTAssertTrue("\($0)".contains("a run keeps it"), "\($0)") }
    }

    /// A resumed run can change how its inputs are made (forking onto realistic inputs): the change is
    /// reported, the data pipeline and the steps after it use the new inputs, and it is stored for later
    /// resumes. A run reading fixed input files has no degradation to change.
    func testResumedRunTakesANewDegradation() throws {
        var first = config(steps: 3)
        first.outputFolder = folder + "/clean"
        try TrainingSession(config: first, resumeFolder: nil, report: { _ in }).run(installSignalHandlers: false)
        try FileManager.default.copyItem(atPath: folder + "/clean", toPath: folder + "/forked")
        var lines: [String] = []
        let forked = try TrainingSession(
            config: nil, resumeFolder: folder + "/forked",
            changes: ResumeChanges(steps: 5, degradation: .realistic(RealisticDegradation())),
            report: { lines.append($0) })
        XCTAssertEqual(lines.filter { $0 == "resumed with degradation bicubic -> realistic" }.count, 1, "\(lines)")
        XCTAssertEqual(forked.dataset.degradation, .realistic(RealisticDegradation()))
        try forked.run(installSignalHandlers: false)
        let same = try TrainingSession(
            config: nil, resumeFolder: folder + "/clean", changes: ResumeChanges(steps: 5, degradation: .bicubic),
            report: { lines.append($0) })
        XCTAssertEqual(
            lines.count(where: { $0.contains("degradation") }), 1, "an unchanged degradation is not reported")
        try same.run(installSignalHandlers: false)
        XCTAssertNotEqual(
            forked.trainer.generator.stateDictionary()["conv_first.weight"]?.scalars,
            same.trainer.generator.stateDictionary()["conv_first.weight"]?.scalars,
            "the forked steps trained on other inputs")
        let stored = try Trainer.resume(folder: folder + "/forked/checkpoint").trainer
        XCTAssertEqual(stored.config.degradation.name, "realistic", "stored for later resumes")

        var paired = config()
        paired.inputFolder = folder + "/inputs"
        XCTAssertThrowsError(try ResumeChanges(degradation: .realistic(RealisticDegradation())).apply(to: &paired)) {
            XCTAssertTrue("\($0)".contains("fixed inputs from \(self.folder)/inputs"), "\($0)")
        }
        XCTAssertEqual(paired.degradation, .bicubic, "left unchanged")
    }

    /// A GAN run with the U-Net discriminator goes on with larger crops and fewer per step (progressive crops):
    /// the change is reported and stored. Crops the run cannot take are refused, naming the run.
    func testResumedGANRunTakesLargerCropsWhereItsDiscriminatorCan() throws {
        let vggPath = try writeTinyVGG()
        var gan = config(stage: .gan, steps: 2)
        TrainingConfig.LossPreset.realesrgan.apply(to: &gan)
        gan.perceptualLayers = [.init(layer: "conv1_2", weight: 1)]
        gan.vggWeights = vggPath
        gan.discriminatorFeatures = 4
        gan.outputFolder = folder + "/unet"
        try TrainingSession(config: gan, resumeFolder: nil, report: { _ in }).run(installSignalHandlers: false)
        var lines: [String] = []
        let resumed = try TrainingSession(
            config: nil, resumeFolder: folder + "/unet", changes: ResumeChanges(steps: 3, patchSize: 40, batchSize: 2),
            report: { lines.append($0) })
        XCTAssertEqual(lines.filter { $0.contains("crop 32 px -> 40 px") || $0.contains("batch 4 -> 2") }.count, 2)
        XCTAssertEqual(resumed.dataset.patchSize, 40)
        try resumed.run(installSignalHandlers: false)
        let stored = try Trainer.resume(folder: folder + "/unet/checkpoint").trainer
        XCTAssertEqual([stored.step, stored.config.patchSize, stored.config.batchSize], [3, 40, 2])

        for (changes, expected) in [
            (ResumeChanges(patchSize: 41), "multiple of the scale, 2"),
            (ResumeChanges(patchSize: 36), "U-Net discriminator needs a crop size that is a multiple of 8"),
        ] {
            XCTAssertThrowsError(try Trainer.resume(folder: folder + "/unet/checkpoint", changes: changes)) { error in
                XCTAssertTrue("\(error)".contains(expected) && "\(error)".contains("unet/checkpoint"), "\(error)")
            }
        }
        var vgg = config(stage: .gan, steps: 1)
        vgg.vggLayer = "relu1_2"
        vgg.vggWeights = vggPath
        vgg.discriminatorFeatures = 4
        vgg.outputFolder = folder + "/vgg"
        try TrainingSession(config: vgg, resumeFolder: nil, report: { _ in }).run(installSignalHandlers: false)
        XCTAssertThrowsError(
            try Trainer.resume(folder: folder + "/vgg/checkpoint", changes: ResumeChanges(patchSize: 64))
        ) { error in XCTAssertTrue("\(error)".contains("VGG-style discriminator"), "\(error)") }
        XCTAssertEqual(
            try Trainer.resume(folder: folder + "/vgg/checkpoint", changes: ResumeChanges(batchSize: 1))
                .trainer.config.batchSize, 1, "the VGG-style discriminator takes any batch")
    }

    /// A new run checks its crop against its own scale and discriminator before it writes anything (the
    /// scale may come from an --init file, which the command line cannot see).
    func testNewRunRefusesACropItsScaleOrDiscriminatorCannotTake() throws {
        var pixel = config()
        pixel.generator = GeneratorConfig(features: 8, blocks: 1, scale: 3)
        pixel.patchSize = 32
        var vgg = config(stage: .gan)
        vgg.patchSize = 48
        for (config, expected) in [
            (pixel, "multiple of the scale, 3"),
            (vgg, "VGG-style discriminator needs a crop size that is a multiple of 32"),
        ] {
            XCTAssertThrowsError(try TrainingSession(config: config, resumeFolder: nil, report: { _ in })) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: config.outputFolder))
        }
    }

    func testSameSeedSameWeights() throws {
        var a = config(steps: 5), b = config(steps: 5)
        a.outputFolder = folder + "/a"
        b.outputFolder = folder + "/b"
        let first = try TrainingSession(config: a, resumeFolder: nil, report: { _ in })
        try first.run(installSignalHandlers: false)
        let second = try TrainingSession(config: b, resumeFolder: nil, report: { _ in })
        try second.run(installSignalHandlers: false)
        XCTAssertEqual(first.trainer.generator.stateDictionary(), second.trainer.generator.stateDictionary())
    }

    func testGANStepUpdatesBothAndFreezesDiscriminatorDuringGeneratorStep() throws {
        let vggPath = try writeTinyVGG()
        var gan = config(stage: .gan, steps: 2)
        gan.vggLayer = "relu1_2"
        gan.vggWeights = vggPath
        gan.discriminatorFeatures = 4
        let trainer = try Trainer(config: gan)
        let discriminator = try XCTUnwrap(trainer.discriminator)
        let dataset = try PatchDataset(folder: folder + "/data", patchSize: 32, scale: 2)
        var generator = SeededGenerator(seed: 5)
        let (lr, hr) = try dataset.sampleBatch(size: 2, generator: &generator)
        let g0 = trainer.generator.stateDictionary(), d0 = discriminator.stateDictionary()
        let (losses, output) = trainer.generatorStep(lr: lr, hr: hr)
        XCTAssertNotEqual(trainer.generator.stateDictionary(), g0, "G changed")
        XCTAssertEqual(discriminator.stateDictionary(), d0, "D unchanged by the G step")
        XCTAssertTrue(
            discriminator.namedParameters.allSatisfy { $0.parameter.gradient.squaredNorm() == 0 },
            "no D gradients in the G step")
        XCTAssertGreaterThan(losses.perceptual, 0)
        XCTAssertGreaterThan(losses.adversarial, 0)
        XCTAssertFalse(discriminator.namedParameters[0].parameter.isFrozen, "D unfrozen after the G step")
        trainer.discriminatorStep(real: hr, fake: output)
        XCTAssertNotEqual(discriminator.stateDictionary(), d0, "D changed by its own step")
        // The whole step and a checkpoint round trip with both optimisers.
        trainer.trainStep(lr: lr, hr: hr)
        try trainer.saveCheckpoint(folder: folder + "/gan/checkpoint", dataGenerator: generator)
        let (restored, _, _) = try Trainer.resume(folder: folder + "/gan/checkpoint")
        XCTAssertEqual(restored.discriminator?.stateDictionary(), discriminator.stateDictionary())
        XCTAssertEqual(restored.step, 1)
    }

    /// Real-ESRGAN's recipe: the U-Net discriminator (per-pixel logits, spectral norm) and a perceptual
    /// loss over two VGG layers. The generator step leaves D's weights alone (only its power-iteration
    /// state moves, as in PyTorch), D's own step changes them, and the state is never trained.
    func testRealESRGANRecipeStepsWithTheUNetDiscriminator() throws {
        let vggPath = try writeTinyVGG()
        var gan = config(stage: .gan, steps: 2)
        TrainingConfig.LossPreset.realesrgan.apply(to: &gan)
        XCTAssertEqual(gan.discriminatorKind, .unet)
        gan.perceptualLayers = [.init(layer: "relu1_1", weight: 0.5), .init(layer: "conv1_2", weight: 1)]
        gan.vggWeights = vggPath
        gan.discriminatorFeatures = 4
        let trainer = try Trainer(config: gan)
        let discriminator = try XCTUnwrap(trainer.discriminator as? UNetDiscriminator)
        let dataset = try PatchDataset(folder: folder + "/data", patchSize: 32, scale: 2)
        var generator = SeededGenerator(seed: 5)
        let (lr, hr) = try dataset.sampleBatch(size: 2, generator: &generator)
        func weights() -> [String: Tensor] {
            discriminator.stateDictionary().filter { !$0.key.hasSuffix("weight_u") && !$0.key.hasSuffix("weight_v") }
        }
        let d0 = weights()
        let (losses, output) = trainer.generatorStep(lr: lr, hr: hr)
        XCTAssertEqual(weights(), d0, "D's weights unchanged by the G step")
        XCTAssertGreaterThan(losses.perceptual, 0)
        XCTAssertEqual(losses.realLogit, 0, "the vanilla G loss skips the real batch")
        XCTAssertGreaterThan(losses.adversarialShare, 0)
        let discriminatorLosses = trainer.discriminatorStep(real: hr, fake: output)
        XCTAssertNotEqual(discriminatorLosses.realLogit, 0)
        XCTAssertNotEqual(weights(), d0, "D changed by its own step")
        XCTAssertNotEqual(trainer.trainStep(lr: lr, hr: hr).realLogit, 0, "the whole step reports D's real logit")
        for (name, parameter) in discriminator.namedParameters where name.hasSuffix("weight_u") {
            XCTAssertTrue(parameter.isFrozen, "\(name) is state, never trained")
        }
    }

    /// Realistic pairs: the right sizes, 8-bit inputs, the same batch for the same seed, and inputs that
    /// differ from the clean bicubic ones while the ground-truth crops are the same.
    func testRealisticDegradationPairs() throws {
        let clean = try PatchDataset(folder: folder + "/data", patchSize: 32, scale: 2)
        let realistic = try PatchDataset(
            folder: folder + "/data", patchSize: 32, scale: 2, degradation: .realistic(RealisticDegradation()))
        var (a, b, c) = (SeededGenerator(seed: 3), SeededGenerator(seed: 3), SeededGenerator(seed: 3))
        let first = try realistic.sampleBatch(size: 3, generator: &a)
        let second = try realistic.sampleBatch(size: 3, generator: &b)
        let bicubic = try clean.sampleBatch(size: 1, generator: &c)
        XCTAssertEqual(first.lr, second.lr)
        XCTAssertEqual(first.lr.shape, [3, 3, 16, 16])
        XCTAssertEqual(first.hr.shape, [3, 3, 32, 32])
        XCTAssertEqual(first.hr.slice(batch: 0, count: 1), bicubic.hr, "the same crop for the same seed")
        XCTAssertNotEqual(first.lr.slice(batch: 0, count: 1), bicubic.lr)
        XCTAssertTrue(first.lr.scalars.allSatisfy { abs($0 * 255 - ($0 * 255).rounded()) < 1e-3 })
    }

    /// With an input folder, each image's input is its partner at the same relative path, and a crop pair is
    /// the same place of both under the same flip or rotation: here the partners are 3 × 3 block means of the
    /// images (sizes not multiples of 3 round down), so every sampled input must equal its target's block
    /// means to 8 bits, which a crop off by one input pixel or turned differently fails. A missing or
    /// wrongly sized partner skips its image with a warning naming the file.
    func testPairedInputsAreCroppedAtTheSamePlace() throws {
        let inputs = folder + "/inputs"
        func blockMeans(_ image: PlanarImage) -> PlanarImage {
            var small = PlanarImage(width: image.width / 3, height: image.height / 3, channels: 3)
            for c in 0..<3 {
                for y in 0..<small.height {
                    for x in 0..<small.width {
                        var sum: Float = 0
                        for dy in 0..<3 { for dx in 0..<3 { sum += image[c, 3 * y + dy, 3 * x + dx] } }
                        small[c, y, x] = sum / 9
                    }
                }
            }
            return small.quantized(bits: 8)
        }
        for name in ["img0.png", "img1.png", "nested/img2.png"] {
            let image = try ImageFile.read(folder + "/data/" + name).image
            try FileManager.default.createDirectory(atPath: inputs + "/nested", withIntermediateDirectories: true)
            try ImageFile.write(blockMeans(image), to: inputs + "/" + name)
        }
        let extra = PlanarImage(width: 40, height: 40, channels: 3)
        try ImageFile.write(extra, to: folder + "/data/unpaired.png")
        try ImageFile.write(extra, to: folder + "/data/wrong.png")
        try ImageFile.write(PlanarImage(width: 14, height: 13, channels: 3), to: inputs + "/wrong.png")
        var warnings: [String] = []
        let dataset = try PatchDataset(
            folder: folder + "/data", inputFolder: inputs, patchSize: 24, scale: 3, warn: { warnings.append($0) })
        XCTAssertEqual(dataset.count, 3)
        XCTAssertTrue(warnings.contains { $0.contains("unpaired.png") && $0.contains("has no input") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("wrong.png") && $0.contains("14x13") }, "\(warnings)")
        var generator = SeededGenerator(seed: 2)
        let (lr, hr) = try dataset.sampleBatch(size: 24, generator: &generator)
        XCTAssertEqual(lr.shape, [24, 3, 8, 8])
        XCTAssertEqual(hr.shape, [24, 3, 24, 24])
        for index in 0..<24 {
            let expected = blockMeans(PlanarImage(tensor: hr, index: index))
            let got = PlanarImage(tensor: lr, index: index)
            let worst = zip(expected.pixels, got.pixels).map { abs($0 - $1) }.max() ?? 1
            XCTAssertLessThan(worst, 0.6 / 255, "pair \(index)")
        }
        XCTAssertThrowsError(
            try PatchDataset(folder: folder + "/data", inputFolder: folder + "/none", patchSize: 24, scale: 3)
        ) { error in
            XCTAssertTrue("\(error)".contains("input folder (--inputs) does not exist"), "\(error)")
            XCTAssertTrue("\(error)".contains(folder + "/none"), "\(error)")
        }
        // A run's configuration carries the input folder to its dataset.
        var paired = config()
        paired.generator = GeneratorConfig(features: 8, blocks: 1, scale: 3)
        (paired.patchSize, paired.inputFolder) = (24, inputs)
        let session = try TrainingSession(config: paired, resumeFolder: nil, report: { _ in })
        XCTAssertEqual(session.dataset.inputNames?.count, 3)
    }

    /// Images are decoded on demand into a bounded cache: a budget of one byte still trains (the newest
    /// image is kept) and gives the same batches as an unbounded cache; a file corrupted after the start
    /// is skipped with one warning; when none can be decoded, sampling throws instead of spinning.
    func testStreamingCacheIsBoundedAndSurvivesFilesGoingBad() throws {
        let unbounded = try PatchDataset(folder: folder + "/data", patchSize: 32, scale: 2)
        var warnings: [String] = []
        let tight = try PatchDataset(
            folder: folder + "/data", patchSize: 32, scale: 2, cacheBytes: 1, warn: { warnings.append($0) })
        var (a, b) = (SeededGenerator(seed: 8), SeededGenerator(seed: 8))
        XCTAssertEqual(
            try unbounded.sampleBatch(size: 6, generator: &a).hr, try tight.sampleBatch(size: 6, generator: &b).hr)
        let corrupt = try XCTUnwrap(tight.names.first)
        try Data("no longer an image".utf8).write(to: URL(fileURLWithPath: corrupt))
        let before = warnings.count
        for _ in 0..<10 { _ = try tight.sampleBatch(size: 4, generator: &b) }
        XCTAssertEqual(warnings.count - before, 1, "one warning for the file that went bad: \(warnings)")
        let fresh = try PatchDataset(folder: folder + "/data", patchSize: 32, scale: 2, cacheBytes: 1)
        for name in tight.names { try Data("gone".utf8).write(to: URL(fileURLWithPath: name)) }
        XCTAssertThrowsError(try fresh.sampleBatch(size: 64, generator: &b))
    }

    /// Every run ends by writing its EMA generator to model.safetensors in the run folder and saying that this is
    /// the file to use; a resumed run replaces it with the later step's.
    func testRunEndsWithTheModelToUse() throws {
        var lines: [String] = []
        let session = try TrainingSession(config: config(steps: 3), resumeFolder: nil, report: { lines.append($0) })
        try session.run(installSignalHandlers: false)
        let path = folder + "/run/model.safetensors"
        let model = try Generator.load(path: path)
        XCTAssertEqual(
            model.stateDictionary(), session.trainer.averagedGenerator().stateDictionary(), "the EMA weights")
        XCTAssertEqual(try SafeTensors.read(path: path).metadata["steps"], "3")
        XCTAssertEqual(lines.last, "the model to use: \(path) (EMA weights at step 3): upscale IN OUT --model \(path)")
        let resumed = try TrainingSession(
            config: nil, resumeFolder: folder + "/run", changes: ResumeChanges(steps: 5), report: { _ in })
        try resumed.run(installSignalHandlers: false)
        XCTAssertEqual(try SafeTensors.read(path: path).metadata["steps"], "5")
        XCTAssertEqual(
            try Generator.load(path: path).stateDictionary(), resumed.trainer.averagedGenerator().stateDictionary())
    }

    /// Validation saves every output under validation/step-NNNNNN/ and, in the GAN stage, scores them with
    /// NIQE (logged, reported and charted); a pixel-stage run reports no NIQE, and the images can be turned off.
    func testValidationSavesItsOutputsAndScoresNIQEInTheGANStage() throws {
        try FileManager.default.createDirectory(atPath: folder + "/val", withIntermediateDirectories: true)
        var truth = PlanarImage(width: 192, height: 104, channels: 3)
        for c in 0..<3 {
            for y in 0..<truth.height {
                for x in 0..<truth.width {
                    truth[c, y, x] = Float(0.5 + 0.3 * sin(Double(x * (c + 1)) * 0.21) * cos(Double(y) * 0.17))
                }
            }
        }
        try ImageFile.write(truth, to: folder + "/val/wave.png")
        let niqe = try shippedNIQE()
        var gan = config(stage: .gan, steps: 2)
        TrainingConfig.LossPreset.realesrgan.apply(to: &gan)
        gan.perceptualLayers = [.init(layer: "conv1_2", weight: 1)]
        gan.vggWeights = try writeTinyVGG()
        gan.discriminatorFeatures = 4
        gan.validationFolder = folder + "/val"
        gan.validateEvery = 1
        gan.outputFolder = folder + "/gan"
        var lines: [String] = []
        try TrainingSession(config: gan, resumeFolder: nil, niqe: niqe, report: { lines.append($0) })
            .run(installSignalHandlers: false)
        for step in ["000001", "000002"] {
            let (saved, _) = try ImageFile.read(folder + "/gan/validation/step-\(step)/wave.png")
            XCTAssertEqual([saved.width, saved.height], [192, 104])
        }
        let records = try String(contentsOfFile: folder + "/gan/log.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(LogRecord.self, from: Data($0.utf8)) }
        let scores = records.compactMap(\.validationNIQE)
        XCTAssertEqual(scores.count, 2, "one NIQE per validation")
        XCTAssertTrue(scores.allSatisfy { $0.isFinite && $0 > 0 }, "\(scores)")
        XCTAssertEqual(lines.filter { $0.contains("validation (EMA weights)") && $0.contains("NIQE") }.count, 2)

        var pixel = config(steps: 1)
        pixel.validationFolder = folder + "/val"
        pixel.saveValidationImages = false
        pixel.outputFolder = folder + "/pixel"
        lines = []
        try TrainingSession(config: pixel, resumeFolder: nil, niqe: niqe, report: { lines.append($0) })
            .run(installSignalHandlers: false)
        XCTAssertEqual(lines.filter { $0.contains("validation (EMA weights) PSNR") }.count, 1, "\(lines)")
        XCTAssertFalse(lines.contains { $0.contains("NIQE") }, "NIQE is for the GAN stage")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/pixel/validation"))
    }

    func shippedNIQE() throws -> NIQE {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let file = try SafeTensors.read(
            path: root.appendingPathComponent("weights/niqe_pristine_params.safetensors").path)
        return NIQE(
            pristineMean: try XCTUnwrap(file.tensors["mean"]).scalars.map(Double.init),
            pristineCovariance: try XCTUnwrap(file.tensors["covariance"]).scalars.map(Double.init))
    }

    /// Random VGG weights for the two layers relu1_2 and conv1_2 need; returns the file's path.
    func writeTinyVGG() throws -> String {
        let vggPath = folder + "/vgg.safetensors"
        var random = SeededGenerator(seed: 4)
        try SafeTensors(tensors: [
            "conv1_1.weight": Tensor.randomNormal(shape: [64, 3, 3, 3], standardDeviation: 0.01, generator: &random),
            "conv1_1.bias": Tensor(zeros: [64]),
            "conv1_2.weight": Tensor.randomNormal(shape: [64, 64, 3, 3], standardDeviation: 0.01, generator: &random),
            "conv1_2.bias": Tensor(zeros: [64]),
        ]).write(path: vggPath)
        return vggPath
    }
}
