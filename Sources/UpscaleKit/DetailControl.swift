import ArgumentParser
import Foundation
import SRModels
import SRTensor

/// `--detail`: how much of a GAN model's invented detail to keep. The GAN generator is blended weight by
/// weight with the faithful generator it was fine-tuned from (ESRGAN's network interpolation), which its
/// metadata names under `partnerKey` (a file name, looked up beside the GAN file, then in the weights folders).
enum DetailControl {
    /// The metadata key naming a GAN file's faithful partner.
    static let partnerKey = "faithful"

    /// The accepted range: 0 is the faithful partner, 1 the GAN model as trained.
    static let range: ClosedRange<Float> = 0...1

    /// The model options' checks, shared by `upscale`, `eval` and `Upscaler`, naming the option without dashes:
    /// `detail` within `range` (so not NaN) and, like `tta` (the self-ensemble), only for a model.
    static func problem(detail: Float?, selfEnsemble: Bool, method: UpscaleMethodChoice) -> String? {
        if let detail {
            guard range.contains(detail) else { return "detail must be between 0 and 1" }
            guard method == .model else { return "detail applies to models, not to bicubic" }
        }
        if selfEnsemble && method == .bicubic { return "tta runs a model; it does not apply to bicubic" }
        return nil
    }

    /// Why `name` cannot name a partner (nil when it can): it must be a plain file name, found beside the GAN
    /// file or in the weights folders, never a path.
    static func partnerNameProblem(_ name: String) -> String? {
        guard !name.isEmpty, !name.contains("/"), name != "..", name != "." else {
            return "must be a plain file name, not '\(name)'"
        }
        return nil
    }

    /// The model at `path`, blended toward its faithful partner when `detail` is given.
    static func model(path: String, detail: Float?) throws -> any SuperResolutionModel {
        guard let detail else { return try ModelFile.load(path: path) }
        return try blended(path: path, detail: detail)
    }

    /// `detail` · GAN + (1 − `detail`) · its faithful partner.
    /// - Throws: `CLIError` naming the file when the model names no partner, the partner is missing, or the
    ///   two architectures differ; `WeightFileError` for a broken file.
    static func blended(path: String, detail: Float) throws -> Generator {
        let file = try SafeTensors.read(path: path)
        guard let name = file.metadata[partnerKey] else {
            throw CLIError(
                "\(path): --detail needs a GAN model that names the faithful model it was trained from "
                    + "(metadata \"\(partnerKey)\"); this one does not")
        }
        if let problem = partnerNameProblem(name) {
            throw CLIError("\(path): its \"\(partnerKey)\" metadata \(problem)")
        }
        let beside = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(name).path
        guard let partnerPath = FileManager.default.fileExists(atPath: beside) ? beside : ModelCatalog.locate(name)
        else {
            throw CLIError("\(path): its faithful partner \(name) is neither beside it nor in the weights folders")
        }
        let gan = try Generator.load(file: file, path: path)
        let faithful = try Generator.load(path: partnerPath)
        do {
            return try gan.interpolated(with: faithful, weight: detail)
        } catch {
            throw CLIError("\(partnerPath): \(error), so it cannot blend with \(path)")
        }
    }
}
