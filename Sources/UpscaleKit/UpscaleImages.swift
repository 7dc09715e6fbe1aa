import ArgumentParser
import Foundation
import SRImage
import SRModels
import SRTensor
import SRTiling

struct UpscaleImages: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Upscale one image, or every image in a folder (the default command).",
        discussion: """
            Native model scales: ×4 (gan, psnr) and ×2 (psnr). Any other factor (3, 2.5, 8, …) runs the nearest native model at or above it (else the largest) and resamples its output with antialiased bicubic. Alpha is upscaled separately with bicubic; gray stays gray; 16-bit PNG input gives 16-bit PNG output; EXIF orientation is applied and the ICC profile copied. Outputs are written to a temporary file and renamed into place; an input is never overwritten.

            Tiling: images stream through in strips of tiles, so memory grows with width × tile size, never with height. Defaults, measured on 2 cores with the ×4 model (512×512 input): tile 128 with the model's exact overlap (15 for the shipped models, see `upscale model info`), which reproduces the whole-image result exactly, at 1.05 s per output megapixel and 390 MB peak; tile 64 took 1.3× longer, tile 256 was 15% faster but needed 530 MB. --overlap 8 is 11% faster and differs from the whole-image result by at most 2e-5. --max-memory picks the tile size for you. A 12000×12000 input upscaled ×2 peaked at 358 MB.

            Examples:
              upscale photo.jpg photo-x4.png --scale 4
              upscale scan.png scan-x3.png --scale 3 --model psnr
              upscale photos/ bigger/ --scale 4 --recursive --format png --skip-existing
              upscale photos/ bigger/ --shard 2/8        # the 2nd of 8 deterministic slices (cluster arrays)
            """)

    @Argument(help: "Input image or folder.") var input: String
    @Argument(help: "Output image or folder.") var output: String
    @Option(help: "Scale factor (any number > 0; native: 4 and 2).") var scale: Double = 4
    @Option(help: "Model: gan (default ×4), psnr (faithful), or a .safetensors file.") var model: String?
    @Option(help: "model (default) or bicubic.") var method = "model"
    @Option(help: "Tile core size in input pixels (default 128, or from --max-memory).") var tile: Int?
    @Option(help: "Context around each tile in input pixels (default: the model's exact overlap).") var overlap: Int?
    @Option(help: "Half-width of the cross-fade between tiles, in input pixels.") var blend = 2
    @Option(help: "Memory budget in MB for the tiled engine; picks the largest tile that fits.") var maxMemory: Int?
    @Option(help: "Batch output format: png, jpg or same (as the input).") var format = "same"
    @Option(parsing: .unconditional, help: "Text added to each output file name before the extension (e.g. -x4).") var suffix = ""
    @Option(help: "JPEG quality (1-100).") var quality = 95
    @Flag(help: "Process subfolders too, keeping the folder structure.") var recursive = false
    @Flag(help: "Skip files whose output already exists (resume an interrupted batch).") var skipExisting = false
    @Option(help: "Process only slice K of N (1-based, by sorted relative path), e.g. 3/8.") var shard: String?
    @Option(help: "Cores to use (default: all).") var threads: Int?
    @Flag(help: "No progress output.") var quiet = false
    @Flag(help: "Machine-readable JSON lines on standard output.") var json = false

    func validate() throws {
        guard scale > 0, scale <= 64 else { throw ValidationError("--scale must be between 0 and 64") }
        guard ["model", "bicubic"].contains(method) else { throw ValidationError("--method must be model or bicubic") }
        guard ["png", "jpg", "jpeg", "same"].contains(format) else { throw ValidationError("--format must be png, jpg or same") }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be 1-100") }
        if let tile, tile < 8 { throw ValidationError("--tile must be at least 8") }
        if let overlap, overlap < 0 { throw ValidationError("--overlap must not be negative") }
        if let shard { _ = try parseShard(shard) }
    }

    func parseShard(_ text: String) throws -> (Int, Int) {
        let parts = text.split(separator: "/").compactMap { Int($0) }
        guard parts.count == 2, parts[1] >= 1, (1...parts[1]).contains(parts[0]) else {
            throw ValidationError("--shard must be K/N with 1 ≤ K ≤ N, e.g. 1/4")
        }
        return (parts[0], parts[1])
    }

    func run() throws {
        let cores = threads ?? ProcessInfo.processInfo.activeProcessorCount
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
            printError("error: \(input): no such file or folder")
            throw ExitCode.failure
        }
        let reporter = Reporter(quiet: quiet, json: json)
        do {
            let engine = try Engine(method: method, model: model, scale: scale, tile: tile, overlap: overlap, blend: blend,
                                    maxMemory: maxMemory, quality: quality, cores: cores)
            if isDirectory.boolValue {
                try runBatch(engine: engine, reporter: reporter)
            } else {
                var outputPath = output
                var outputIsFolder: ObjCBool = false
                if FileManager.default.fileExists(atPath: output, isDirectory: &outputIsFolder), outputIsFolder.boolValue {
                    let name = URL(fileURLWithPath: input).deletingPathExtension().lastPathComponent
                    let ext = format == "same" ? URL(fileURLWithPath: input).pathExtension : format
                    outputPath = output + "/" + name + suffix + "." + ext
                }
                try checkNotInput(input: input, output: outputPath)
                let seconds = try engine.upscale(input: input, output: outputPath, reporter: reporter, label: input)
                reporter.finished(input: input, output: outputPath, seconds: seconds)
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            reporter.failed(input: input, error: "\(error)")
            throw ExitCode.failure
        }
    }

    func runBatch(engine: Engine, reporter: Reporter) throws {
        let inputRoot = URL(fileURLWithPath: input).standardizedFileURL.path
        var files = listImages(root: inputRoot)
        if let shard {
            let (k, n) = try parseShard(shard)
            files = files.enumerated().filter { $0.offset % n == k - 1 }.map(\.element)
        }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        var done = 0, skipped = 0
        var failures: [(String, String)] = []
        for (index, relative) in files.enumerated() {
            let source = inputRoot + "/" + relative
            let base = (relative as NSString).deletingPathExtension
            let ext = format == "same" ? (relative as NSString).pathExtension.lowercased() : format
            let target = output + "/" + base + suffix + "." + ext
            if skipExisting && FileManager.default.fileExists(atPath: target) {
                skipped += 1
                reporter.skipped(input: source, output: target)
                continue
            }
            do {
                try checkNotInput(input: source, output: target)
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                let seconds = try engine.upscale(input: source, output: target, reporter: reporter,
                                                 label: "[\(index + 1)/\(files.count)] \(relative)")
                done += 1
                reporter.finished(input: source, output: target, seconds: seconds)
            } catch {
                failures.append((source, "\(error)"))
                reporter.failed(input: source, error: "\(error)")
            }
        }
        reporter.summary(done: done, skipped: skipped, failures: failures)
        if !failures.isEmpty { throw ExitCode.failure }
    }

    /// Image files under the input folder, as sorted relative paths.
    func listImages(root: String) -> [String] {
        var found: [String] = []
        let manager = FileManager.default
        if recursive {
            let enumerator = manager.enumerator(atPath: root)
            while let item = enumerator?.nextObject() as? String { found.append(item) }
        } else {
            found = (try? manager.contentsOfDirectory(atPath: root)) ?? []
        }
        return found.filter { path in
            let name = (path as NSString).lastPathComponent
            let ext = (name as NSString).pathExtension.lowercased()
            return !name.hasPrefix(".") && ["png", "jpg", "jpeg"].contains(ext)
        }.sorted()
    }

    /// Refuses to write over an input file (also when input and output folders are the same).
    func checkNotInput(input: String, output: String) throws {
        let a = URL(fileURLWithPath: input).resolvingSymlinksInPath().standardizedFileURL.path
        let b = URL(fileURLWithPath: output).resolvingSymlinksInPath().standardizedFileURL.path
        if a == b { throw CLIError("\(output): refusing to overwrite the input file; choose another output name or --suffix") }
    }
}

/// The chosen method, ready to run on files.
final class Engine {
    let method: UpscaleMethod?
    let modelPath: String?
    let nativeScale: Int
    let scale: Double
    let quality: Int
    let generator: Generator?
    let options: TilingOptions
    let cores: Int

    init(method: String, model: String?, scale: Double, tile: Int?, overlap: Int?, blend: Int, maxMemory: Int?, quality: Int,
         cores: Int) throws {
        self.scale = scale
        self.quality = quality
        self.cores = cores
        if method == "bicubic" {
            self.method = .bicubic
            modelPath = nil
            nativeScale = 1
            generator = nil
            options = TilingOptions()
            return
        }
        let path = try ModelCatalog.resolve(model, scale: scale)
        let generator = try Generator.load(path: path)
        let config = generator.config
        let overlap = overlap ?? config.exactOverlap
        let tile = tile ?? maxMemory.map { Engine.tileSize(budgetMB: $0, features: config.features, scale: config.scale, margin: overlap + blend) } ?? 128
        options = TilingOptions(tileSize: tile, overlap: overlap, blend: blend, workers: 1)
        modelPath = path
        nativeScale = config.scale
        self.generator = generator
        self.method = .model(nativeScale: config.scale, options: options, run: { generator.inference($0) })
    }

    /// How the cores are shared — the one place this is decided. Measured on 2 cores (`make bench`,
    /// 384×384 ×4): one tile per core with single-threaded BLAS took 2.32 s, one tile at a time with
    /// 2-thread BLAS 3.16 s (small per-layer multiplies scale poorly across threads). So tiles run in
    /// parallel whenever a strip has at least as many tiles as cores; otherwise BLAS gets the cores.
    func method(forWidth width: Int) -> UpscaleMethod {
        guard case let .model(nativeScale, options, run)? = method else {
            GEMM.setThreadCount(cores)
            return .bicubic
        }
        let columns = (width + options.tileSize - 1) / options.tileSize
        var split = options
        if columns >= cores && cores > 1 {
            split.workers = cores
            GEMM.setThreadCount(1)
        } else {
            split.workers = 1
            GEMM.setThreadCount(cores)
        }
        return .model(nativeScale: nativeScale, options: split, run: run)
    }

    /// The largest tile whose working set fits the budget: about five live feature maps of the
    /// extended tile at full output resolution, plus a 4 MB column buffer.
    static func tileSize(budgetMB: Int, features: Int, scale: Int, margin: Int) -> Int {
        let candidates = [512, 384, 256, 192, 128, 96, 64, 48, 32, 16]
        for tile in candidates {
            let side = Double((tile + 2 * margin) * scale)
            let bytes = 5 * side * side * Double(features) * 4 + 4e6
            if bytes / 1e6 <= Double(budgetMB) { return tile }
        }
        return 16
    }

    /// Upscales one file; returns seconds taken.
    func upscale(input: String, output: String, reporter: Reporter, label: String) throws -> Double {
        let start = Date()
        let format = try ImageFormat(forOutputPath: output)
        let reader = try ImageReader(path: input)
        let d = reader.description
        let (width, height) = ImagePipeline.outputSize(width: d.width, height: d.height, scale: scale)
        let hasAlpha = d.hasAlpha
        let colorChannels = hasAlpha ? d.channels - 1 : d.channels
        let outChannels = format == .jpeg ? colorChannels : d.channels
        let writer = try ImageWriter(path: output, format: format, width: width, height: height, channels: outChannels,
                                     bitDepth: format == .jpeg ? 8 : d.bitDepth, quality: quality, iccProfile: d.iccProfile)
        // Encoding runs on its own thread, overlapping with the tiles being computed.
        let encoder = BackgroundSink { band in try writer.writeRows(format == .jpeg ? band.forJPEG() : band) }
        do {
            // Decoding runs ahead on its own thread too.
            let source = PrefetchingRowSource(source: reader, height: d.height)
            try ImagePipeline.run(source: source, width: d.width, height: d.height, channels: d.channels, outputWidth: width,
                                  outputHeight: height, method: method(forWidth: d.width), sink: { try encoder.write($0) },
                                  progress: { done, total in reporter.progress(label: label, done: done, total: total, start: start) })
            try encoder.finish()
            try writer.finish()
        } catch {
            try? encoder.finish()
            writer.abort()
            throw error
        }
        return Date().timeIntervalSince(start)
    }
}

/// Progress and results on stderr (text) or stdout (JSON lines).
final class Reporter {
    let quiet: Bool
    let json: Bool
    let terminal = standardErrorIsTerminal
    var lastDraw = Date.distantPast

    init(quiet: Bool, json: Bool) {
        self.quiet = quiet
        self.json = json
    }

    func emit(_ object: [String: Any]) {
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
            print(String(decoding: data, as: UTF8.self))
            fflush(stdout)
        }
    }

    func progress(label: String, done: Int, total: Int, start: Date) {
        guard !quiet, total > 0 else { return }
        let now = Date()
        if now.timeIntervalSince(lastDraw) < 0.25 && done < total { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        if json {
            emit(["event": "progress", "input": label, "done": done, "total": total, "eta_seconds": eta])
        } else if terminal {
            let line = String(format: "\r%@  %3.0f%%  %d/%d tiles  ETA %.0fs ", label, 100 * Double(done) / Double(total), done, total, eta)
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    func finished(input: String, output: String, seconds: Double) {
        if json {
            emit(["event": "done", "input": input, "output": output, "seconds": seconds])
        } else if !quiet {
            if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            printError(String(format: "%@ -> %@ (%.1fs)", input, output, seconds))
        }
    }

    func skipped(input: String, output: String) {
        if json { emit(["event": "skipped", "input": input, "output": output]) } else if !quiet { printError("skipped \(input): \(output) exists") }
    }

    func failed(input: String, error: String) {
        if terminal && !quiet && !json { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if json { emit(["event": "failed", "input": input, "error": error]) }
        printError("error: \(error)")
    }

    func summary(done: Int, skipped: Int, failures: [(String, String)]) {
        if json {
            emit(["event": "summary", "done": done, "skipped": skipped, "failed": failures.count,
                  "failures": failures.map { ["input": $0.0, "error": $0.1] }])
        }
        if !quiet || !failures.isEmpty {
            printError("\(done) upscaled, \(skipped) skipped, \(failures.count) failed")
            for (_, message) in failures { printError("  failed: \(message)") }
        }
    }
}
