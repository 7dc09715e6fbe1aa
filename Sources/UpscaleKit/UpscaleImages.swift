import ArgumentParser
import Foundation
import SRFiles
import SRImage
import SRModels
import SRTensor
import SRTiling

struct UpscaleImages: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Upscale one image, or every image in a folder (the default command).",
        discussion: """
            Native model scales: ×4 (gan, gan-clean, psnr) and ×2 (psnr). Any other factor (3, 2.5, 8, …) runs the nearest \
            native model at or above it (else the largest) and resamples its output with antialiased bicubic. Alpha \
            is upscaled separately with bicubic; gray stays gray; 16-bit PNG or TIFF input gives 16-bit PNG or TIFF \
            output; EXIF and TIFF orientation is applied, the ICC profile and resolution copied, and the EXIF and XMP metadata kept (upright, with the \
            new pixel size) unless --strip-metadata. An animated GIF is upscaled frame by frame into an animated GIF (the \
            delays, the loop count and on/off transparency kept; 256 colours per frame, the previous frame's palette \
            kept while it fits, so still areas do not shimmer); a still GIF may be written as PNG or JPEG. TIFF: strips \
            or tiles, uncompressed, LZW, Deflate, PackBits or fax (Group 3/4), 1-16-bit gray, palette, RGB and alpha, and \
            16-64-bit floating-point gray and RGB are read, every page of a multi-page TIFF into a multi-page TIFF; TIFF \
            is written with Deflate, keeping 16 bits, alpha and the metadata, and floating point as unclamped 32-bit \
            floats (a PNG of it is 16-bit, clamped to 0-1). TGA game textures (true colour, gray or colour-mapped, \
            plain or run-length encoded, either row order) are read and written as run-length encoded 8-bit TGA with \
            alpha (TGA holds no metadata). BMP (uncompressed, palette, 16, 24 and 32 bits, bit masks with alpha) is \
            read and written as 8-bit gray, 24-bit RGB or 32-bit RGBA, keeping the resolution. Binary Netpbm \
            (PGM, PPM, PAM with alpha; 8 or 16 bits) is read and written. The colour \
            hidden under fully transparent pixels is replaced by the nearby visible colour first (see --alpha). Outputs are written to a temporary file, flushed to \
            the disk and renamed into place; an input is never overwritten. Ctrl-C or SIGTERM removes the unfinished \
            output and prints what a batch has done so far.

            Tiling: images stream through in strips of tiles, so memory grows with width × tile size, never with \
            height (GIF frames are held whole: a GIF's palette needs every pixel). The default overlap is the model's exact overlap (see `upscale model info`): tiled output then \
            equals the whole-image output. Larger tiles run a little faster and need more memory; --max-memory picks \
            the largest tile whose working set fits the budget, for each image's width, and refuses an image that \
            cannot fit.

            Batches: every output name is planned before anything is written; a batch that would overwrite an input, \
            write two inputs to one name, or write outside the output folder does not start. A bad file fails alone; \
            all failures are listed at the end and the exit status is 1.

            Examples:
              upscale photo.jpg photo-x4.png --scale 4
              upscale scan.png scan-x3.png --scale 3 --model psnr
              upscale photo.jpg wallpaper.png --width 3840       # height follows the aspect ratio
              upscale photos/ bigger/ --scale 4 --recursive --format png --skip-existing
              upscale sprite.gif sprite-x4.gif --model psnr      # every frame of an animation
              upscale photos/ bigger/ --shard 2/8        # the 2nd of 8 deterministic slices (cluster arrays)
            """)

    @Argument(help: "Input image or folder.") var input: String
    @Argument(help: "Output image or folder.") var output: String
    @Option(help: "Scale factor (any number > 0 up to 64; native: 4 and 2). (default: 4)") var scale: Double?
    @Option(
        help: """
            Output width in pixels instead of --scale: the height keeps the aspect ratio unless --height is given \
            too. The ×4 model runs and its output is resampled to the size (at most 64 times the input).
            """) var width: Int?
    @Option(help: "Output height in pixels instead of --scale (see --width).") var height: Int?
    @Option(
        help: """
            Model: gan (default ×4: trained on blurred, noisy, resized and JPEG-compressed inputs), gan-clean \
            (trained on clean bicubic inputs), psnr (faithful), or a model file (.safetensors, .pth, ncnn .param).
            """)
    var model: String?
    @Option(
        help: """
            For a GAN model, how much of its invented detail to keep, 0-1: 1 as trained (default), 0 the faithful \
            model it was trained from, between a weight-by-weight blend of the two. The shipped GAN models name \
            their faithful partner.
            """) var detail: Float?
    @Option(help: "model (default) or bicubic.") var method: UpscaleMethodChoice = .model
    @Flag(
        help: """
            Self-ensemble (TTA): run every tile in all 8 flips and rotations and average them. 8 times slower; \
            a little more faithful for psnr models, smoother texture for GAN models.
            """) var tta = false
    @Option(
        help:
            "Tile core size in input pixels, 8-4096 (default \(TilingOptions.defaultTileSize), or chosen from --max-memory)."
    ) var tile: Int?
    @Option(help: "Context around each tile in input pixels, 0-512 (default: the model's exact overlap).") var overlap:
        Int?
    @Option(help: "Half-width of the cross-fade between tiles in input pixels, 0 to tile/2.") var blend = 2
    @Option(help: "Memory budget in MB; picks the largest tile that fits each image's width.") var maxMemory: Int?
    @Option(help: "Largest image accepted, in megapixels (checked before decoding).") var maxPixels = 1000
    @Option(help: "Batch output format: png, jpg, gif, tiff, tga, bmp, pnm or same (as the input).")
    var format: OutputFormatChoice = .same
    @Option(parsing: .unconditional, help: "Text added to each output file name before the extension (e.g. -x4).")
    var suffix = ""
    @Option(help: "JPEG quality (1-100).") var quality = 95
    @Option(
        help:
            "PNG compression level (0-9): 0 stores, 1 is fast (the Paeth filter with run-length deflate; on photos smaller than level 6), 2-9 are zlib's levels with adaptive filters."
    )
    var pngCompression = 1
    @Flag(
        help: """
            Leave out the input's EXIF and XMP metadata (date taken, camera, GPS, keywords, rights). By default they \
            are copied, with the orientation set upright and the pixel size set to the output's. The colour profile \
            and the resolution are always kept.
            """) var stripMetadata = false
    @Option(
        help: """
            What alpha holds: coverage (default: transparency; the colour hidden under fully transparent pixels is \
            replaced by the nearby visible colour first, so it cannot fringe the edges) or data (a texture's mask \
            or height map: every colour is upscaled as stored).
            """) var alpha: AlphaMeaning = .coverage
    @Flag(
        help: """
            The image is a repeating (tileable) texture: its edges wrap around (beyond the right edge lies the left \
            edge, below the bottom the top), so copies of the output tile without seams. The input is held whole, \
            and so is an output at a scale the model does not have natively. Not for animated GIFs or multi-page \
            TIFFs.
            """) var seamless = false
    @Flag(help: "Process subfolders too, keeping the folder structure.") var recursive = false
    @Option(
        help: """
            Batch: take only files matching this shell pattern (*, ?, [...]; case ignored; repeatable). A pattern \
            with a / is matched against the path inside the input folder, e.g. 'scans/*.tif'; one without against \
            the file name, e.g. '*.jpg'.
            """) var include: [String] = []
    @Option(help: "Batch: leave out files matching this shell pattern (as --include; repeatable).")
    var exclude: [String] = []
    @Flag(help: "Skip files whose output already exists (resume an interrupted batch).") var skipExisting = false
    @Flag(help: "Batch: stop at the first file that fails (the default goes on and lists every failure at the end).")
    var failFast = false
    @Option(help: "Process only slice K of N (1-based, by sorted relative path), e.g. 3/8.") var shard: Shard?
    @Option(help: "Cores to use, 1-256 (default: all).") var threads: Int?
    @Flag(help: "No progress output.") var quiet = false
    @Flag(help: "Machine-readable JSON lines on standard output.") var json = false

    /// Every option is checked here, once, before any file is read or created.
    func validate() throws {
        if scale != nil && (width != nil || height != nil) {
            throw ValidationError("give either --scale or --width/--height, not both")
        }
        if let problem = outputSize.problem { throw ValidationError("--" + problem) }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be 1-100") }
        guard (0...9).contains(pngCompression) else { throw ValidationError("--png-compression must be 0-9") }
        if let problem = DetailControl.problem(detail: detail, selfEnsemble: tta, method: method) {
            throw ValidationError("--" + problem)
        }
        if let tile, !(8...4096).contains(tile) { throw ValidationError("--tile must be between 8 and 4096") }
        if let overlap, !(0...512).contains(overlap) { throw ValidationError("--overlap must be between 0 and 512") }
        guard blend >= 0, blend <= (tile ?? 16) / 2 else {
            throw ValidationError(
                "--blend must be between 0 and \((tile ?? 16) / 2) (half of "
                    + (tile == nil ? "the smallest tile, 16)" : "--tile)"))
        }
        if let maxMemory, !(1...1_000_000).contains(maxMemory) {
            throw ValidationError("--max-memory must be between 1 and 1000000 (MB)")
        }
        guard (1...1_000_000).contains(maxPixels) else {
            throw ValidationError("--max-pixels must be between 1 and 1000000 (megapixels)")
        }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be between 1 and 256") }
        if (include + exclude).contains(where: \.isEmpty) {
            throw ValidationError("--include and --exclude need a pattern, e.g. '*.png'")
        }
        guard !suffix.contains("/"), !suffix.contains("\0") else {
            throw ValidationError("--suffix must not contain '/'")
        }
    }

    func run() throws {
        let tally = BatchTally()
        let reporter = Reporter(quiet: quiet, json: json)
        let guardian = SignalGuard { number in
            reporter.interrupted(signal: number, tally: tally.snapshot())
        }
        defer { withExtendedLifetime(guardian) {} }
        switch FileSystem.kind(of: input) {
        case .missing:
            throw fail("\(PathEncoding.displayed(input)): no such file or folder")
        case .special(let what):
            throw fail("\(PathEncoding.displayed(input)): is \(what), not an image file or folder")
        case .directory:
            if BatchPlan.imageExtensions.contains(BatchPlan.extensionOf(output).lowercased())
                && !FileSystem.isDirectory(output)
            {
                throw fail(
                    "\(PathEncoding.displayed(input)) is a folder but the output "
                        + "\(PathEncoding.displayed(output)) names an image file; "
                        + "give an output folder")
            }
            let plan: BatchPlan
            let engine: Engine
            do {
                plan = try BatchPlan.make(
                    input: input, output: output, recursive: recursive, format: format, suffix: suffix, shard: shard,
                    selection: FileSelection(include: include, exclude: exclude))
                engine = try makeEngine()
            } catch {
                throw fail("\(error)")
            }
            try runBatch(plan: plan, engine: engine, reporter: reporter, tally: tally)
        case .regular:
            if !include.isEmpty || !exclude.isEmpty {
                throw fail(
                    "--include and --exclude pick files in a folder, but \(PathEncoding.displayed(input)) is a file")
            }
            var target = output
            if FileSystem.isDirectory(output) {
                let name = FileSystem.fileName(of: input)
                let inputExtension = BatchPlan.extensionOf(name)
                target =
                    output + "/" + String(name.dropLast(inputExtension.isEmpty ? 0 : inputExtension.count + 1)) + suffix
                    + "."
                    + format.fileExtension(forInputExtension: inputExtension.isEmpty ? "png" : inputExtension)
            }
            do {
                if FileSystem.isSameFile(input, target)
                    || FileSystem.canonicalPath(input) == FileSystem.canonicalPath(target)
                {
                    throw CLIError(
                        "\(PathEncoding.displayed(target)): refusing to overwrite the input file; choose "
                            + "another output name"
                    )
                }
                let engine = try makeEngine()
                let run = try engine.upscale(
                    input: input, output: target, reporter: reporter, label: PathEncoding.displayed(input))
                reporter.finished(input: input, output: target, run: run)
            } catch {
                reporter.failed(input: input, error: "\(error)")
                throw ExitCode.failure
            }
        }
    }

    private func fail(_ message: String) -> ExitCode {
        printError("error: \(message)")
        return ExitCode.failure
    }

    private var outputSize: OutputSize {
        width != nil || height != nil ? .pixels(width: width, height: height) : .scale(scale ?? 4)
    }

    private func makeEngine() throws -> Engine {
        try Engine(
            method: method, model: model, detail: detail,
            outputSize: outputSize,
            tile: tile, overlap: overlap, blend: blend,
            maxMemoryMB: maxMemory,
            maxPixels: maxPixels * 1_000_000, quality: quality, pngCompression: pngCompression,
            selfEnsemble: tta, keepsMetadata: !stripMetadata, alphaMeaning: alpha, seamless: seamless,
            cores: threads ?? ProcessInfo.processInfo.activeProcessorCount
        )
    }

    private func runBatch(plan: BatchPlan, engine: Engine, reporter: Reporter, tally: BatchTally) throws {
        for (path, reason) in plan.rejected {
            let message = "\(PathEncoding.displayed(path)): \(reason)"
            tally.recordFailure(input: path, error: message)
            reporter.failed(input: path, error: message)
        }
        if failFast && !plan.rejected.isEmpty {
            let result = tally.snapshot()
            reporter.summary(done: 0, skipped: 0, failures: result.failures, remaining: plan.items.count)
            throw ExitCode.failure
        }
        do {
            try FileSystem.createDirectories(output)
        } catch {
            throw fail("\(error)")
        }
        var remaining = 0
        for (index, item) in plan.items.enumerated() {
            if skipExisting && FileSystem.exists(item.target) {
                tally.recordSkipped()
                reporter.skipped(input: item.source, output: item.target)
                continue
            }
            do {
                try FileSystem.createDirectories(FileSystem.parentFolder(of: item.target))
                let run = try engine.upscale(
                    input: item.source, output: item.target, reporter: reporter,
                    label: "[\(index + 1)/\(plan.items.count)] \(PathEncoding.displayed(item.relative))")
                tally.recordDone()
                reporter.finished(input: item.source, output: item.target, run: run)
            } catch {
                tally.recordFailure(input: item.source, error: "\(error)")
                reporter.failed(input: item.source, error: "\(error)")
                if failFast {
                    remaining = plan.items.count - index - 1
                    break
                }
            }
        }
        let result = tally.snapshot()
        reporter.summary(done: result.done, skipped: result.skipped, failures: result.failures, remaining: remaining)
        if !result.failures.isEmpty { throw ExitCode.failure }
    }
}
