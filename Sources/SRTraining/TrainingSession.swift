import Foundation
import SRImage
import SRModels
import SRNN
import SRTensor
import SRTiling

/// Set by SIGINT/SIGTERM; the session checkpoints and returns at the end of the current step.
nonisolated(unsafe) private var stopRequested: sig_atomic_t = 0

/// One line of the JSONL training log.
public struct LogRecord: Codable, Sendable {
    public var step: Int
    public var losses: StepLosses?
    public var learningRate: Float?
    public var stepsPerSecond: Double?
    public var patchesPerSecond: Double?
    public var dataFraction: Double?
    public var validationPSNR: Double?
    public var validationSSIM: Double?
    /// Mean NIQE of the validation outputs (GAN stage, when a NIQE model was given).
    public var validationNIQE: Double?
}

/// Mean scores of the EMA generator over a validation folder.
public struct ValidationScores: Sendable {
    public var psnr: Double
    public var ssim: Double
    /// nil outside the GAN stage, without a NIQE model, or when no output is large enough to score.
    public var niqe: Double?
}

/// Drives a `Trainer`: data queue, progress lines, JSONL log, loss chart, validation (scores, and each
/// output saved under `validation/step-NNNNNN/`), checkpoints, and a clean stop on Ctrl-C/SIGTERM.
public final class TrainingSession {
    public let trainer: Trainer
    public let dataset: PatchDataset
    public var report: (String) -> Void
    /// Scores GAN-stage validation outputs (no-reference naturalness: texture that PSNR cannot see).
    public let niqe: NIQE?
    private var dataGenerator: SeededGenerator
    private var records: [LogRecord] = []

    public var folder: String { trainer.config.outputFolder }
    public var checkpointFolder: String { folder + "/checkpoint" }

    /// Starts a new run (or continues one from `resumeFolder`, which holds `checkpoint/`, with `changes`
    /// applied to its stored configuration; it goes on writing into `resumeFolder`). `niqe` scores the
    /// validation outputs of a GAN-stage run.
    public init(
        config: TrainingConfig?, resumeFolder: String?, changes: ResumeChanges = ResumeChanges(), niqe: NIQE? = nil,
        report: @escaping (String) -> Void
    ) throws {
        self.report = report
        self.niqe = niqe
        if let resumeFolder {
            var changes = changes
            changes.outputFolder = resumeFolder
            let (trainer, generator, changed) = try Trainer.resume(
                folder: resumeFolder + "/checkpoint", changes: changes)
            for line in changed { report("resumed with \(line)") }
            self.trainer = trainer
            dataGenerator = generator
            if let data = try? String(contentsOfFile: resumeFolder + "/log.jsonl", encoding: .utf8) {
                records = data.split(separator: "\n").compactMap {
                    try? JSONDecoder().decode(LogRecord.self, from: Data($0.utf8))
                }
                .filter { $0.step <= trainer.step }
            }
        } else {
            guard let config else { preconditionFailure("config or resume folder needed") }
            trainer = try Trainer(config: config)
            dataGenerator = SeededGenerator(seed: config.seed &+ 0x5EED)
        }
        let config = trainer.config
        // The validation folder is checked before any training, not at the first validation.
        if let validation = config.validationFolder {
            _ = try Evaluation.checkedGroundTruths(in: validation, scale: config.generator.scale)
        }
        dataset = try PatchDataset(
            folder: config.dataFolder, inputFolder: config.inputFolder, patchSize: config.patchSize,
            scale: config.generator.scale,
            degradation: config.degradation, warn: { report("warning: \($0)") })
        try FileManager.default.createDirectory(atPath: config.outputFolder, withIntermediateDirectories: true)
    }

    /// Trains until `config.steps` (or a stop signal). Returns the step reached.
    @discardableResult
    public func run(installSignalHandlers: Bool = true) throws -> Int {
        let config = trainer.config
        if installSignalHandlers {
            signal(SIGINT) { _ in stopRequested = 1 }
            signal(SIGTERM) { _ in stopRequested = 1 }
        }
        report(
            "training \(config.stage.rawValue) stage: \(dataset.count) images (\(dataset.skipped.count) "
                + "skipped), "
                + (config.inputFolder.map { "inputs from \($0), " } ?? "\(config.degradation.name) inputs, ")
                + "\(trainer.generator.config.architecture.rawValue) \(trainer.generator.config.features) features × \(trainer.generator.config.blocks) "
                + "blocks ×\(trainer.generator.config.scale) "
                + "(\(trainer.generator.parameterCount) parameters"
                + (trainer.generator.config.branchExpansion > 0
                    ? " while training, with branches of \(trainer.generator.config.branchExpansion)× expansion; "
                        + "\(trainer.generator.folded().parameterCount) folded" : "")
                + (config.trainableLayers.map { "; only \($0.joined(separator: ", ")) learn" } ?? "")
                + "), batch \(config.batchSize) × "
                + "\(config.patchSize) px, from step \(trainer.step) to \(config.steps)"
        )
        let queue = BatchQueue(
            dataset: dataset, batchSize: config.batchSize, generator: dataGenerator, sharpen: config.sharpenTarget)
        defer { queue.stop() }
        var windowStart = Date(), windowSteps = 0, waitSeconds = 0.0
        var sums = StepLosses()
        let runStart = Date(), startStep = trainer.step
        while trainer.step < config.steps && stopRequested == 0 {
            let waitStart = Date()
            let item = try queue.next()
            waitSeconds += Date().timeIntervalSince(waitStart)
            let losses = trainer.trainStep(lr: item.lr, hr: item.hr, target: item.target)
            dataGenerator = item.generatorAfter
            sums.pixel += losses.pixel
            sums.perceptual += losses.perceptual
            sums.adversarial += losses.adversarial
            sums.discriminator += losses.discriminator
            sums.total += losses.total
            sums.realLogit += losses.realLogit
            sums.fakeLogit += losses.fakeLogit
            sums.adversarialShare += losses.adversarialShare
            windowSteps += 1
            let step = trainer.step
            if step % config.logEvery == 0 || step == config.steps {
                let seconds = Date().timeIntervalSince(windowStart)
                let n = Double(windowSteps)
                let mean = StepLosses(
                    pixel: sums.pixel / n, perceptual: sums.perceptual / n, adversarial: sums.adversarial / n,
                    discriminator: sums.discriminator / n, realLogit: sums.realLogit / n,
                    fakeLogit: sums.fakeLogit / n, adversarialShare: sums.adversarialShare / n, total: sums.total / n)
                let rate = n / seconds
                let remaining =
                    Double(config.steps - step)
                    / max(Double(step - startStep) / Date().timeIntervalSince(runStart), 1e-9)
                let record = LogRecord(
                    step: step, losses: mean, learningRate: trainer.generatorOptimizer.learningRate,
                    stepsPerSecond: rate, patchesPerSecond: rate * Double(config.batchSize),
                    dataFraction: waitSeconds / seconds)
                append(record)
                var line = String(format: "step %d/%d  loss %.5f", step, config.steps, mean.total)
                if config.stage == .gan {
                    line += String(
                        format: " (pix %.4f percep %.4f adv %.4f, adv/content gradient %.2f)  D %.4f (logits real "
                            + "%+.2f fake %+.2f)",
                        mean.pixel, mean.perceptual, mean.adversarial, mean.adversarialShare, mean.discriminator,
                        mean.realLogit, mean.fakeLogit)
                }
                line += String(
                    format: "  lr %.2e  %.2f steps/s  %.1f patches/s  data wait %.0f%%  ETA %@",
                    trainer.generatorOptimizer.learningRate,
                    rate, rate * Double(config.batchSize), 100 * waitSeconds / seconds, formatDuration(remaining))
                report(line)
                windowStart = Date()
                windowSteps = 0
                waitSeconds = 0
                sums = StepLosses()
            }
            if let validation = config.validationFolder, step % config.validateEvery == 0 || step == config.steps {
                let saveFolder =
                    config.saveValidationImages ? folder + String(format: "/validation/step-%06d", step) : nil
                let scores = try validate(folder: validation, saveFolder: saveFolder)
                append(
                    LogRecord(
                        step: step, validationPSNR: scores.psnr, validationSSIM: scores.ssim,
                        validationNIQE: scores.niqe))
                report(
                    String(
                        format: "step %d  validation (EMA weights) PSNR %.3f dB  SSIM %.4f", step, scores.psnr,
                        scores.ssim)
                        + (scores.niqe.map { String(format: "  NIQE %.3f", $0) } ?? "")
                        + (saveFolder.map { "  outputs in \($0)" } ?? ""))
                try? drawChart()
            }
            if step % config.checkpointEvery == 0 || step == config.steps {
                try trainer.saveCheckpoint(folder: checkpointFolder, dataGenerator: dataGenerator)
            }
        }
        if stopRequested != 0 {
            try trainer.saveCheckpoint(folder: checkpointFolder, dataGenerator: dataGenerator)
            report(
                "stopped at step \(trainer.step); checkpoint written to \(checkpointFolder) (continue with "
                    + "--resume \(folder))"
            )
        }
        let model = try exportModel()
        report("the model to use: \(model) (EMA weights at step \(trainer.step)): upscale IN OUT --model \(model)")
        try? drawChart()
        return trainer.step
    }

    /// Writes the EMA generator to `model.safetensors` in the run folder (atomically): the file to upscale
    /// with, as `upscale train --export` would write it. Returns its path.
    @discardableResult
    public func exportModel() throws -> String {
        let path = folder + "/model.safetensors"
        try trainer.averagedGenerator().save(
            path: path,
            extraMetadata: Trainer.exportMetadata(run: folder, step: trainer.step, stage: trainer.config.stage))
        return path
    }

    /// Mean PSNR/SSIM of the EMA generator over a folder, with the protocol of `upscale eval`, and in the GAN
    /// stage mean NIQE. `saveFolder` (created when missing) receives each output as NAME.png.
    public func validate(folder: String, saveFolder: String? = nil) throws -> ValidationScores {
        let model = trainer.averagedGenerator()
        let scale = model.config.scale
        if let saveFolder {
            try FileManager.default.createDirectory(atPath: saveFolder, withIntermediateDirectories: true)
        }
        let niqe = trainer.config.stage == .gan ? niqe : nil
        let scores = try Evaluation.imageFiles(in: folder).map { file in
            try Evaluation.evaluate(file: file, scale: scale, niqe: niqe, saveFolder: saveFolder) { input in
                PlanarImage(tensor: model.inference(Tensor(image: input)))
            }
        }
        let niqeScores = scores.compactMap(\.niqe)
        return ValidationScores(
            psnr: scores.map(\.psnr).reduce(0, +) / Double(scores.count),
            ssim: scores.map(\.ssim).reduce(0, +) / Double(scores.count),
            niqe: niqeScores.isEmpty ? nil : niqeScores.reduce(0, +) / Double(niqeScores.count))
    }

    private func append(_ record: LogRecord) {
        records.append(record)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(record), let handle = openLog() else { return }
        handle.write(data + Data("\n".utf8))
        try? handle.close()
    }

    private func openLog() -> FileHandle? {
        let path = folder + "/log.jsonl"
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        let handle = FileHandle(forWritingAtPath: path)
        handle?.seekToEndOfFile()
        return handle
    }

    /// Redraws `chart.png`: training loss (top), validation PSNR and, once there are NIQE scores, validation
    /// NIQE (bottom) against step.
    public func drawChart() throws {
        let losses = records.compactMap { r in r.losses.map { (Double(r.step), log10(max($0.total, 1e-12))) } }
        let psnr = records.compactMap { r in r.validationPSNR.map { (Double(r.step), $0) } }
        let niqe = records.compactMap { r in r.validationNIQE.map { (Double(r.step), $0) } }
        let panels = niqe.isEmpty ? 2 : 3
        let chart = LineChart(width: 800, height: 300 * panels)
        chart.plot(panel: 0, of: panels, title: "log10 training loss", points: losses, color: (0.8, 0.2, 0.1))
        chart.plot(panel: 1, of: panels, title: "validation PSNR dB", points: psnr, color: (0.1, 0.3, 0.8))
        if !niqe.isEmpty {
            chart.plot(
                panel: 2, of: panels, title: "validation NIQE (lower: more natural)", points: niqe,
                color: (0.2, 0.6, 0.2))
        }
        try ImageFile.write(chart.image, to: folder + "/chart.png")
    }
}

func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds)
    return s >= 3600
        ? String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) : String(format: "%dm%02ds", s / 60, s % 60)
}
