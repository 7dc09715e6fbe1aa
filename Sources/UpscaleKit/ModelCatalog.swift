import Foundation
import SRModels

/// Finds shipped weights: `$UPSCALE_WEIGHTS`, then `./weights`, then `weights/` beside the build folder
/// of the executable (so `.build/release/upscale` finds the repository's `weights/`).
enum ModelCatalog {
    /// Shipped generator files by (short name, scale). `gan`, the default, is the GAN trained on
    /// realistic degradations (blur, noise, resizing, JPEG); `gan-clean` the older one trained on clean
    /// bicubic inputs.
    static let shipped: [(name: String, scale: Int, file: String)] = [
        ("gan", 4, "x4-gan-realistic.safetensors"),
        ("gan-clean", 4, "x4-gan.safetensors"),
        ("psnr", 4, "x4-psnr.safetensors"),
        ("psnr", 2, "x2-psnr.safetensors"),
    ]

    static var searchFolders: [String] {
        var folders: [String] = []
        if let environment = ProcessInfo.processInfo.environment["UPSCALE_WEIGHTS"] { folders.append(environment) }
        folders.append(FileManager.default.currentDirectoryPath + "/weights")
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        for up in 0...3 {
            var url = executable
            for _ in 0..<up { url.deleteLastPathComponent() }
            folders.append(url.appendingPathComponent("weights").path)
        }
        var seen = Set<String>()
        return folders.filter { seen.insert(URL(fileURLWithPath: $0).standardizedFileURL.path).inserted }
    }

    static func locate(_ file: String) -> String? {
        for folder in searchFolders where FileManager.default.fileExists(atPath: folder + "/" + file) {
            return folder + "/" + file
        }
        return nil
    }

    /// Installed shipped models, as (name, scale, path).
    static var installed: [(name: String, scale: Int, path: String)] {
        shipped.compactMap { entry in locate(entry.file).map { (entry.name, entry.scale, $0) } }
    }

    /// Resolves `--model` (a short name, a path, or nil for the default) for a requested scale.
    /// The default prefers the GAN model, and among native scales the smallest one ≥ the request
    /// (else the largest), so non-native scales are reached by resampling down where possible.
    static func resolve(_ model: String?, scale: Double) throws -> String {
        if let model,
            model.contains("/") || [".safetensors", ".pth", ".param", ".bin"].contains(where: model.hasSuffix)
        {
            guard FileManager.default.fileExists(atPath: model) else {
                throw CLIError("\(model): model file not found")
            }
            return model
        }
        let candidates = installed.filter { model == nil || $0.name == model }
        if candidates.isEmpty {
            if let model, !shipped.contains(where: { $0.name == model }) {
                throw CLIError(
                    "unknown model '\(model)': use gan, gan-clean, psnr or a model file (.safetensors, .pth, ncnn .param)"
                )
            }
            throw CLIError(
                "no \(model.map { "'\($0)' " } ?? "")weights are installed (looked in "
                    + "\(searchFolders.joined(separator: ", "))): "
                    + "run from the repository folder, set UPSCALE_WEIGHTS, pass --model FILE, or train one "
                    + "with `upscale train`"
            )
        }
        let scales = Set(candidates.map(\.scale)).sorted()
        let chosen = scales.first { Double($0) >= scale - 1e-9 } ?? scales.last!
        let atScale = candidates.filter { $0.scale == chosen }
        return (atScale.first { $0.name == "gan" } ?? atScale[0]).path
    }
}

/// A command-line error: one line, non-zero exit.
public struct CLIError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
