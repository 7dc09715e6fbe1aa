import ArgumentParser
import Foundation
import SRDegradation
import SRFiles
import SRImage
import SRModels
import SRTensor
import SRTiling

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score a method on a folder of ground-truth images with the standard super-resolution protocol.",
        discussion: """
            Each ground truth is cropped to a multiple of the scale and downscaled with MATLAB-style antialiased bicubic \
            (rounded to 8 bits) to make the input; the upscaled output is rounded to 8 bits and compared on the BT.601 \
            luma channel (Y, range 16-235) with `scale` pixels shaved from each border. SSIM: 11×11 Gaussian window, \
            σ = 1.5. Grayscale images count as R = G = B.

            With --json each image (and the mean) also gets "grid": how unevenly the output's luma gradients fall on \
            the scale's sub-pixel phases (largest phase over the mean, minus 1). A pixel-shuffle grid scores high; \
            a ground truth scores near 0; bicubic's own phase pattern scores a little above it.

            Examples:
              upscale eval --data ../shared/data/bench/Set5 --scale 4 --method bicubic
              upscale eval --data ../shared/data/bench/Set14 --scale 4 --model psnr --json
            """)

    @Option(help: "Folder of ground-truth PNG, JPEG or TIFF images.") var data: String
    @Option(help: "Scale factor (integer, 1-16).") var scale = 4
    @Option(help: "model (default) or bicubic.") var method: UpscaleMethodChoice = .model
    @Option(help: "Model: gan, gan-clean, psnr, or a model file (.safetensors, .pth, ncnn .param).") var model: String?
    @Option(help: "For a GAN model, how much of its invented detail to keep, 0-1 (see `upscale --help`).")
    var detail: Float?
    @Flag(help: "Self-ensemble (TTA): average the model over the 8 flips and rotations (see `upscale --help`).")
    var tta = false
    @Option(
        help: """
            How inputs are made: bicubic (the standard protocol), realistic (Real-ESRGAN's degradations, \
            reproducible with --seed) or a JSON file of its settings.
            """, transform: { try Degradation(argument: $0) }) var degradation = Degradation.bicubic
    @Option(help: "Seed of the degradations (image i of the sorted folder uses seed + i).") var seed: UInt64 = 0
    @Flag(help: "Also score each output with NIQE (no-reference naturalness, lower is better).") var niqe = false
    @Option(help: "Write each upscaled output into this folder as NAME.png (created if missing).") var save: String?
    @Flag(help: "Print one JSON object (mean_psnr, mean_ssim, mean_grid, images) instead of a table.") var json = false
    @Option(help: "BLAS threads (default: all cores).") var threads: Int?

    /// Every option is checked here, once, before any file is read.
    func validate() throws {
        guard Evaluation.scales.contains(scale) else {
            throw ValidationError("--scale must be an integer between 1 and 16")
        }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be between 1 and 256") }
        if let problem = DetailControl.problem(detail: detail, selfEnsemble: tta, method: method) {
            throw ValidationError("--" + problem)
        }
        if let save, FileSystem.kind(of: save) != .directory,
            FileSystem.kind(of: FileSystem.parentFolder(of: save)) != .directory
        {
            throw ValidationError("--save \(save): neither it nor its parent folder exists")
        }
        if niqe && ModelCatalog.locate(Evaluate.niqeFile) == nil {
            throw ValidationError(
                "--niqe needs \(Evaluate.niqeFile) (in ./weights, beside the binary or $UPSCALE_WEIGHTS)")
        }
    }

    static let niqeFile = "niqe_pristine_params.safetensors"

    /// The NIQE model from the shipped pristine parameters.
    static func loadNIQE() throws -> NIQE {
        let path = ModelCatalog.locate(niqeFile)!
        let file = try SafeTensors.read(path: path)
        guard let mean = file.tensors["mean"], let covariance = file.tensors["covariance"], mean.count == 36,
            covariance.count == 36 * 36
        else { throw WeightFileError(path: path, reason: "not a NIQE parameter file (mean [36], covariance [36, 36])") }
        return NIQE(
            pristineMean: mean.scalars.map(Double.init), pristineCovariance: covariance.scalars.map(Double.init))
    }

    func run() throws {
        GEMM.setThreadCount(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        DNNL.setThreadCount(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        try reportingFailure {
            // Every ground truth is checked (regular file, readable, large enough) before any work.
            let files = try Evaluation.checkedGroundTruths(in: data, scale: scale)
            let upscale = try makeUpscaler()
            let model = niqe ? try Evaluate.loadNIQE() : nil
            if let save { try FileSystem.createDirectories(save) }
            var scores: [ImageScore] = []
            for (index, file) in files.enumerated() {
                var degrade: ((PlanarImage) -> PlanarImage)?
                if case .realistic = degradation {
                    var generator = SeededGenerator(seed: seed &+ UInt64(index))
                    degrade = { degradation.degrade($0, scale: scale, generator: &generator) }
                }
                scores.append(
                    try Evaluation.evaluate(
                        file: file, scale: scale, degrade: degrade, niqe: model, saveFolder: save, upscale: upscale))
            }
            let meanPSNR = scores.map(\.psnr).reduce(0, +) / Double(scores.count)
            let meanSSIM = scores.map(\.ssim).reduce(0, +) / Double(scores.count)
            let niqeScores = scores.compactMap(\.niqe)
            let meanNIQE = niqeScores.isEmpty ? nil : niqeScores.reduce(0, +) / Double(niqeScores.count)
            let gridScores = scores.compactMap(\.grid)
            let meanGrid = gridScores.isEmpty ? nil : gridScores.reduce(0, +) / Double(gridScores.count)
            if niqe && niqeScores.count < scores.count {
                printError(
                    "note: \(scores.count - niqeScores.count) output(s) smaller than two 96×96 blocks have no NIQE")
            }
            if json {
                // JSON has no infinity: identical images (PSNR ∞) are written as null.
                func number(_ value: Double) -> Any { value.isFinite ? value : NSNull() }
                var object: [String: Any] = [
                    "mean_psnr": number(meanPSNR), "mean_ssim": meanSSIM, "scale": scale,
                    "degradation": degradation.name,
                    "images": scores.map { score -> [String: Any] in
                        var entry: [String: Any] = ["name": score.name, "psnr": number(score.psnr), "ssim": score.ssim]
                        if let value = score.niqe { entry["niqe"] = value }
                        if let value = score.grid { entry["grid"] = value }
                        return entry
                    },
                ]
                if let meanNIQE { object["mean_niqe"] = meanNIQE }
                if let meanGrid { object["mean_grid"] = meanGrid }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("image                 PSNR (dB)    SSIM" + (niqe ? "     NIQE" : ""))
                func column(_ value: Double?) -> String {
                    guard niqe else { return "" }
                    return value.map { String(format: "  %7.3f", $0) } ?? "        -"
                }
                for score in scores {
                    print(
                        score.name.padding(toLength: 20, withPad: " ", startingAt: 0)
                            + String(format: "  %9.3f  %.4f", score.psnr, score.ssim) + column(score.niqe))
                }
                print(
                    "mean".padding(toLength: 20, withPad: " ", startingAt: 0)
                        + String(format: "  %9.3f  %.4f", meanPSNR, meanSSIM) + column(meanNIQE))
            }
        }
    }

    func makeUpscaler() throws -> (PlanarImage) throws -> PlanarImage {
        if method == .bicubic {
            return { input in Resampler.resize(input, width: input.width * scale, height: input.height * scale) }
        }
        let path = try ModelCatalog.resolve(model, scale: Double(scale))
        let generator = try DetailControl.model(path: path, detail: detail)
        let options = TilingOptions(
            tileSize: 256, overlap: generator.defaultOverlap,
            blend: generator.defaultOverlap < generator.exactOverlap ? 4 : 0, alignment: generator.inputAlignment)
        let method = UpscaleMethod.model(
            nativeScale: generator.scale, options: options,
            run: SelfEnsemble.model({ generator.inference($0) }, enabled: tta))
        return { input in
            try ImagePipeline.upscale(
                input, outputWidth: input.width * scale, outputHeight: input.height * scale, method: method)
        }
    }
}
