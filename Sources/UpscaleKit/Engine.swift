import Foundation
import SRFiles
import SRImage
import SRModels
import SRTensor
import SRTiling

/// The chosen method, ready to run on files: the model loaded once, the tiling fixed, the memory
/// budget and pixel limit kept for every file.
final class Engine {
    /// The generator and the tiling it runs with; nil for bicubic.
    private let model:
        (network: any SuperResolutionModel, options: TilingOptions, run: TiledUpscaler.Model, parallelTiles: Bool)?
    /// Whether the tile size was given (else it is chosen per file from the budget).
    private let fixedTile: Bool
    let outputSize: OutputSize
    let quality: Int
    let pngCompression: Int
    /// Whether each tile runs in all eight orientations, averaged (`SelfEnsemble`).
    let selfEnsemble: Bool
    /// Whether outputs carry the input's EXIF and XMP (made upright and resized by `ImageMetadata.forOutput`).
    let keepsMetadata: Bool
    /// Whether alpha is transparency (hidden colours are filled in from visible ones) or other data.
    let alphaMeaning: AlphaMeaning
    /// Whether each image is a repeating texture whose edges wrap around (`ImagePipeline.runSeamless`).
    let seamless: Bool
    let cores: Int
    /// Bytes one image may use; without --max-memory, half the machine's memory (at most 8 GB), so a
    /// very wide image gets smaller tiles instead of exhausting memory.
    let memoryBudget: Int
    let explicitBudget: Bool
    let limits: DecodeLimits

    init(
        method: UpscaleMethodChoice, model name: String?, detail: Float? = nil, outputSize: OutputSize, tile: Int?,
        overlap: Int?, blend: Int, maxMemoryMB: Int?, maxPixels: Int, quality: Int, pngCompression: Int = 1,
        selfEnsemble: Bool = false, keepsMetadata: Bool = true, alphaMeaning: AlphaMeaning = .coverage,
        seamless: Bool = false, cores: Int
    ) throws {
        self.selfEnsemble = selfEnsemble
        self.seamless = seamless
        self.alphaMeaning = alphaMeaning
        self.outputSize = outputSize
        self.quality = quality
        self.pngCompression = pngCompression
        self.keepsMetadata = keepsMetadata
        self.cores = cores
        explicitBudget = maxMemoryMB != nil
        memoryBudget = maxMemoryMB.map { $0 * 1_000_000 } ?? Engine.defaultBudget
        var limits = DecodeLimits(maximumPixels: maxPixels)
        limits.maximumWholeDecodeBytes = memoryBudget / 2
        self.limits = limits
        fixedTile = tile != nil
        guard method == .model else {
            model = nil
            return
        }
        let path = try ModelCatalog.resolve(name, scale: outputSize.modelScale)
        let generator = try DetailControl.model(path: path, detail: detail)
        let options = TilingOptions(
            tileSize: tile ?? TilingOptions.defaultTileSize, overlap: overlap ?? generator.defaultOverlap, blend: blend,
            alignment: generator.inputAlignment)
        // oneDNN threads each convolution over all cores itself; the reference path runs one tile per core.
        let run = SelfEnsemble.model({ generator.inference($0) }, enabled: selfEnsemble)
        model = (generator, options, run, !generator.usesOneDNN)
        if explicitBudget {
            // A budget that no image can meet is an option error, found before any file is created.
            let smallest = MemoryModel(
                model: generator, options: options, workers: 1, oneDNN: generator.usesOneDNN,
                selfEnsemble: selfEnsemble
            )
            .peakBytes(
                width: 1, channels: 4, tile: 16)
            if smallest > memoryBudget {
                throw CLIError(
                    "--max-memory \(maxMemoryMB!) MB is too small for this model: it needs at least "
                        + "\(smallest / 1_000_000 + 1) MB"
                )
            }
        }
    }

    /// Without a budget, tiles above 128 only while one tile's feature maps and the whole run stay under these.
    static let comfortableTileBytes = 800_000_000.0
    static let comfortablePeakBytes = 1_000_000_000

    static var defaultBudget: Int {
        min(Int(ProcessInfo.processInfo.physicalMemory / 2), 8_000_000_000)
    }

    /// The method for an image `width` pixels wide with `channels` channels: how the cores are shared
    /// and, under a memory budget, the tile size. How the cores are shared is decided here only.
    /// Measured on 2 cores (`make bench`): one tile per core with single-threaded BLAS beats one
    /// tile at a time with multi-threaded BLAS, so tiles run in parallel whenever a strip has at
    /// least as many tiles as cores; otherwise BLAS gets the cores.
    func method(width: Int, channels: Int, path: String) throws -> UpscaleMethod {
        guard let model else {
            GEMM.setThreadCount(cores)
            return .bicubic
        }
        var options = model.options
        func useWorkers(for tile: Int) -> Int {
            model.parallelTiles && (width + tile - 1) / tile >= cores && cores > 1 ? cores : 1
        }
        do {
            // The largest tile (and, for it, the most workers) whose peak fits the budget.
            // Without a budget, larger tiles only while one tile's maps stay under `comfortableTileBytes`
            // and the whole run under `comfortablePeakBytes`: models that work at input resolution
            // (CompactResNet, ncnn graphs, RRDBNet whose 4× stages run in row bands) get large tiles on all but
            // very wide images and recompute less overlap; MSRResNet's wide 4×-resolution maps allow it 256 on
            // a 512-pixel-wide image (peak 767 MB, and 1.3× faster than tile 128) and 128 from 1,100 pixels wide.
            let largest = [512, 384, 256, 192].filter { tile in
                let memory = MemoryModel(
                    model: model.network, options: options, workers: 1, oneDNN: !model.parallelTiles,
                    selfEnsemble: selfEnsemble)
                return explicitBudget
                    || (memory.tileBytes(tile: tile) <= Self.comfortableTileBytes
                        && memory.peakBytes(width: width, channels: channels, tile: tile) <= Self.comfortablePeakBytes)
            }
            let candidates = fixedTile ? [options.tileSize] : largest + [128, 96, 64, 48, 32, 24, 16]
            func peak(tile: Int, workers: Int) -> Int {
                MemoryModel(
                    model: model.network, options: options, workers: workers, oneDNN: !model.parallelTiles,
                    selfEnsemble: selfEnsemble
                )
                .peakBytes(
                    width: width, channels: channels, tile: tile)
            }
            let choices = candidates.flatMap { tile in Set([useWorkers(for: tile), 1]).sorted(by: >).map { (tile, $0) }
            }
            guard let (tile, workers) = choices.first(where: { peak(tile: $0.0, workers: $0.1) <= memoryBudget }) else {
                let tile = candidates.last!
                throw ImageError(
                    path: path,
                    reason:
                        "a \(width)-pixel-wide image needs at least \(peak(tile: tile, workers: 1) / 1_000_000 + 1) MB "
                        + "with tile \(tile); raise --max-memory (now \(memoryBudget / 1_000_000) MB) or lower --tile")
            }
            options = TilingOptions(
                tileSize: tile, overlap: options.overlap, blend: options.blend, workers: workers,
                alignment: options.alignment)
        }
        GEMM.setThreadCount(options.workers > 1 ? 1 : cores)
        DNNL.setThreadCount(cores)
        return .model(nativeScale: model.network.scale, options: options, run: model.run)
    }

    /// What one upscaled file took: seconds, and the tile size and tile workers the memory budget chose
    /// (nil for bicubic).
    struct Run {
        let seconds: Double
        let tile: Int?
        let workers: Int?
    }

    /// Upscales one file. GIF inputs go frame by frame (`upscaleGIF`); a GIF output is held whole, since
    /// its palette needs every pixel; everything else streams.
    func upscale(input: String, output: String, reporter: Reporter, label: String) throws -> Run {
        let start = Date()
        let format = try ImageFormat(forOutputPath: output)
        if GIFReader.isGIF(path: input) {
            return try upscaleGIF(input: input, output: output, format: format, reporter: reporter, label: label)
        }
        let reader = try ImageReader(path: input, limits: limits)
        let d = reader.description
        if seamless && d.pageCount > 1 {
            throw ImageError(path: input, reason: "is a multi-page TIFF; --seamless takes single images")
        }
        if d.pageCount > 1 {
            return try upscalePages(
                first: reader, input: input, output: output, format: format, reporter: reporter, label: label)
        }
        let (width, height) = try outputSize.outputSize(width: d.width, height: d.height, path: input)
        let method = try method(width: d.width, channels: d.channels, path: input)
        // Decoding runs ahead on its own thread.
        let source = PrefetchingRowSource(source: reader, height: d.height)
        let progress = { (done: Int, total: Int) in
            reporter.progress(label: label, done: done, total: total, start: start)
        }
        if seamless {
            try requireSeamlessFits(
                width: d.width, height: d.height, channels: d.channels, method: method, format: format,
                outputWidth: width, outputHeight: height, path: input)
            try upscaleSeamless(
                try source.readRows(d.height), bitDepth: d.bitDepth,
                metadata: outputMetadata(d, width: width, height: height), input: input, output: output,
                format: format, width: width, height: height, method: method, progress: progress)
        } else if format == .gif {
            try writingGIF(to: output, width: width, height: height, channels: d.channels, loopCount: nil, input: input)
            { writer in
                try writer.write(
                    try upscaleWhole(
                        source: source, width: d.width, height: d.height, channels: d.channels, outputWidth: width,
                        outputHeight: height, method: method, progress: progress), delay: 0)
            }
        } else {
            try stream(
                source: source, width: d.width, height: d.height, channels: d.channels, bitDepth: d.bitDepth,
                metadata: outputMetadata(d, width: width, height: height),
                to: output, format: format, outputWidth: width, outputHeight: height, method: method, progress: progress
            )
        }
        return Run(method: method, start: start)
    }

    /// Checks that a repeating texture of `width` × `height` fits the memory limits of `upscaleSeamless`: the
    /// padded input, and the whole output when it must be resampled or goes to a GIF.
    private func requireSeamlessFits(
        width: Int, height: Int, channels: Int, method: UpscaleMethod, format: ImageFormat, outputWidth: Int,
        outputHeight: Int, path: String
    ) throws {
        let margin = ImagePipeline.dependencyRadius(method: method, channels: channels, alpha: alphaMeaning)
        let paddedBytes = (width + 2 * margin) * (height + 2 * margin) * channels * MemoryLayout<Float>.size
        guard paddedBytes <= limits.maximumWholeDecodeBytes else {
            throw ImageError(
                path: path,
                reason: "--seamless holds the image whole: needs \(paddedBytes / 1_000_000 + 1) MB, over the "
                    + "\(limits.maximumWholeDecodeBytes / 1_000_000) MB allowed (raise --max-memory)")
        }
        var nativeScale = 1
        if case .model(let scale, _, _) = method { nativeScale = scale }
        if format == .gif || outputWidth != width * nativeScale || outputHeight != height * nativeScale {
            try requireWholeOutputFits(
                width: width * nativeScale, height: height * nativeScale, channels: channels, path: path,
                what: format == .gif ? "a GIF output frame" : "a --seamless output at a scale the model lacks")
        }
    }

    /// Upscales a repeating texture held whole (`ImagePipeline.runSeamless`) into `output`; the output streams
    /// unless it must be resampled or goes to a GIF. `requireSeamlessFits` comes first.
    private func upscaleSeamless(
        _ image: PlanarImage, bitDepth: Int, metadata: ImageMetadata, input: String, output: String,
        format: ImageFormat, width: Int, height: Int, method: UpscaleMethod, progress: (Int, Int) -> Void
    ) throws {
        func produce(_ sink: (PlanarImage) throws -> Void) throws {
            try ImagePipeline.runSeamless(
                image: image, outputWidth: width, outputHeight: height, method: method, alpha: alphaMeaning,
                sink: sink, progress: progress)
        }
        guard format == .gif else {
            return try stream(
                channels: image.channels, bitDepth: bitDepth, metadata: metadata, to: output, format: format,
                outputWidth: width, outputHeight: height, produce: produce)
        }
        try writingGIF(
            to: output, width: width, height: height, channels: image.channels, loopCount: nil, input: input
        ) { writer in
            var whole: PlanarImage?
            try produce { band in whole = whole?.appendingRows(of: band) ?? band }
            try writer.write(whole!, delay: 0)
        }
    }

    /// Upscales a GIF: every frame, as displayed, into a GIF output (keeping each frame's delay, the loop
    /// count and binary transparency), or a still GIF into any format.
    private func upscaleGIF(
        input: String, output: String, format: ImageFormat, reporter: Reporter, label: String
    )
        throws -> Run
    {
        let start = Date()
        let reader = try GIFReader(path: input, limits: limits)
        let frames = reader.frameCount
        if seamless && frames > 1 {
            throw ImageError(path: input, reason: "is an animated GIF; --seamless takes still images")
        }
        if format != .gif && frames > 1 {
            throw ImageError(
                path: input,
                reason: "is an animated GIF (\(frames) frames): write it to a .gif file (or --format gif) "
                    + "to keep every frame")
        }
        let (width, height) = try outputSize.outputSize(width: reader.width, height: reader.height, path: input)
        let method = try method(width: reader.width, channels: 4, path: input)
        var frameNumber = 0
        let progress = { (done: Int, total: Int) in
            reporter.progress(label: label, done: frameNumber * total + done, total: frames * total, start: start)
        }
        if seamless {
            try requireSeamlessFits(
                width: reader.width, height: reader.height, channels: 4, method: method, format: format,
                outputWidth: width, outputHeight: height, path: input)
            try upscaleSeamless(
                try reader.nextFrame()!.planarImage(), bitDepth: 8, metadata: ImageMetadata(), input: input,
                output: output, format: format, width: width, height: height, method: method, progress: progress)
            return Run(method: method, start: start)
        }
        guard format == .gif else {
            let image = try reader.nextFrame()!.planarImage()
            try stream(
                source: MemoryRowSource(image), width: image.width, height: image.height, channels: image.channels,
                bitDepth: 8, metadata: ImageMetadata(), to: output, format: format, outputWidth: width,
                outputHeight: height, method: method, progress: progress)
            return Run(method: method, start: start)
        }
        try writingGIF(to: output, width: width, height: height, channels: 4, loopCount: reader.loopCount, input: input)
        { writer in
            while let frame = try reader.nextFrame() {
                let image = frame.planarImage()
                let result = try upscaleWhole(
                    source: MemoryRowSource(image), width: image.width, height: image.height, channels: image.channels,
                    outputWidth: width, outputHeight: height, method: method, progress: progress)
                try writer.write(result, delay: frame.delay)
                frameNumber += 1
            }
        }
        return Run(method: method, start: start)
    }

    /// Writes a `width` × `height` GIF into `output` with the frames `writeFrames` gives it, after checking that
    /// a whole frame fits the memory limits (GIF frames are held whole); on failure nothing is left behind.
    private func writingGIF(
        to output: String, width: Int, height: Int, channels: Int, loopCount: Int?, input: String,
        _ writeFrames: (GIFWriter) throws -> Void
    ) throws {
        try requireWholeOutputFits(width: width, height: height, channels: channels, path: input)
        let writer = try GIFWriter(path: output, width: width, height: height, loopCount: loopCount)
        do {
            try writeFrames(writer)
            try writer.finish()
        } catch {
            writer.abort()
            throw error
        }
    }

    /// The metadata of an output of `width` × `height` made from an input described by `d`: upright, resized,
    /// and without the descriptive EXIF and XMP unless they are kept.
    private func outputMetadata(_ d: ImageDescription, width: Int, height: Int) -> ImageMetadata {
        d.metadata.forOutput(
            width: width, height: height, resettingOrientation: d.orientation != 1,
            strippingDescriptive: !keepsMetadata)
    }

    /// Upscales every page of a multi-page TIFF into a multi-page TIFF, one page streaming after another.
    private func upscalePages(
        first: ImageReader, input: String, output: String, format: ImageFormat, reporter: Reporter, label: String
    ) throws -> Run {
        let start = Date()
        let pages = first.description.pageCount
        guard format == .tiff else {
            throw ImageError(
                path: input,
                reason: "is a multi-page TIFF (\(pages) pages): write it to a .tif file (or --format tiff) to keep "
                    + "every page")
        }
        var writer: ImageWriter?
        var method = UpscaleMethod.bicubic
        do {
            for page in 0..<pages {
                let reader = page == 0 ? first : try first.openingPage(page)
                let d = reader.description
                let (width, height) = try outputSize.outputSize(width: d.width, height: d.height, path: input)
                method = try self.method(width: d.width, channels: d.channels, path: input)
                let metadata = outputMetadata(d, width: width, height: height)
                if let writer {
                    try writer.startPage(
                        width: width, height: height, channels: d.channels, bitDepth: d.bitDepth, metadata: metadata)
                } else {
                    writer = try ImageWriter(
                        path: output, format: .tiff, width: width, height: height, channels: d.channels,
                        bitDepth: d.bitDepth, metadata: metadata, threads: cores, pages: pages)
                }
                try encode(into: writer!, format: .tiff) { sink in
                    try ImagePipeline.run(
                        source: PrefetchingRowSource(source: reader, height: d.height), width: d.width,
                        height: d.height, channels: d.channels, outputWidth: width, outputHeight: height,
                        method: method, alpha: alphaMeaning, sink: sink,
                        progress: { done, total in
                            reporter.progress(
                                label: label, done: page * total + done, total: pages * total, start: start)
                        })
                }
            }
            try writer!.finish()
        } catch {
            writer?.abort()
            throw error
        }
        return Run(method: method, start: start)
    }

    /// Streams rows from `source` through `method` into a PNG, JPEG or TIFF encoder running on its own thread.
    private func stream(
        source: RowSource, width: Int, height: Int, channels: Int, bitDepth: Int, metadata: ImageMetadata,
        to output: String, format: ImageFormat, outputWidth: Int, outputHeight: Int, method: UpscaleMethod,
        progress: (Int, Int) -> Void
    ) throws {
        try stream(
            channels: channels, bitDepth: bitDepth, metadata: metadata, to: output, format: format,
            outputWidth: outputWidth, outputHeight: outputHeight
        ) { sink in
            try ImagePipeline.run(
                source: source, width: width, height: height, channels: channels, outputWidth: outputWidth,
                outputHeight: outputHeight, method: method, alpha: alphaMeaning, sink: sink, progress: progress)
        }
    }

    /// Writes the bands `produce` gives its sink (`channels` planes, `outputWidth` wide, `outputHeight` rows in
    /// all) into a new PNG, JPEG, TIFF or TGA; on failure nothing is left behind.
    private func stream(
        channels: Int, bitDepth: Int, metadata: ImageMetadata, to output: String, format: ImageFormat,
        outputWidth: Int, outputHeight: Int, produce: (_ sink: (PlanarImage) throws -> Void) throws -> Void
    ) throws {
        let colorChannels = channels == 2 || channels == 4 ? channels - 1 : channels
        let writer = try ImageWriter(
            path: output, format: format, width: outputWidth, height: outputHeight,
            channels: format == .jpeg ? colorChannels : channels,
            bitDepth: format.outputBitDepth(forInputDepth: bitDepth),
            quality: quality, pngCompression: pngCompression, metadata: metadata, threads: cores)
        do {
            try encode(into: writer, format: format, produce: produce)
            try writer.finish()
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Encodes the bands `produce` gives its sink into `writer`'s current page, on a thread of its own so that
    /// encoding overlaps with computing.
    private func encode(
        into writer: ImageWriter, format: ImageFormat, produce: (_ sink: (PlanarImage) throws -> Void) throws -> Void
    ) throws {
        let encoder = BackgroundSink { band in try writer.writeRows(format == .jpeg ? band.forJPEG() : band) }
        do {
            try produce { try encoder.write($0) }
            try encoder.finish()
        } catch {
            try? encoder.finish()
            throw error
        }
    }

    /// The whole output of `method` over `source`, for outputs that cannot stream.
    private func upscaleWhole(
        source: RowSource, width: Int, height: Int, channels: Int, outputWidth: Int, outputHeight: Int,
        method: UpscaleMethod, progress: (Int, Int) -> Void
    ) throws -> PlanarImage {
        var result = PlanarImage(width: outputWidth, height: outputHeight, channels: channels)
        var row = 0
        try ImagePipeline.run(
            source: source, width: width, height: height, channels: channels, outputWidth: outputWidth,
            outputHeight: outputHeight, method: method, alpha: alphaMeaning,
            sink: { band in
                let count = band.height * outputWidth
                for c in 0..<channels {
                    let to = (c * outputHeight + row) * outputWidth
                    result.pixels.replaceSubrange(
                        to..<(to + count), with: band.pixels[(c * count)..<((c + 1) * count)])
                }
                row += band.height
            }, progress: progress)
        return result
    }

    /// A GIF output frame is held whole (float planes, then bytes for the palette): it must fit the budget.
    /// `what` names the output held whole in the error ("a GIF output frame").
    private func requireWholeOutputFits(
        width: Int, height: Int, channels: Int, path: String, what: String = "a GIF output frame"
    ) throws {
        let bytes = width * height * (channels * MemoryLayout<Float>.size + 5)
        guard bytes <= memoryBudget / 2 else {
            throw ImageError(
                path: path,
                reason: "\(what) is held whole: \(width)x\(height) needs \(bytes / 1_000_000 + 1) MB, over "
                    + "half the memory budget (\(memoryBudget / 1_000_000) MB); write a .png, choose a smaller size or "
                    + "raise --max-memory")
        }
    }
}

extension Engine.Run {
    /// A finished run of `method` that began at `start`.
    init(method: UpscaleMethod, start: Date) {
        let seconds = Date().timeIntervalSince(start)
        if case .model(_, let options, _) = method {
            self.init(seconds: seconds, tile: options.tileSize, workers: options.workers)
        } else {
            self.init(seconds: seconds, tile: nil, workers: nil)
        }
    }
}

/// Peak memory of upscaling one image with the tiled engine, as a function of the image width and
/// the tile size (never of the height). The terms follow the buffers the engine holds at once; the
/// constants were fitted to the peak RSS of the real binary on 2 cores (widths 64-20,000, tiles
/// 16-256, 1 and 2 workers) with 15 % to spare, and `CLITests.testMaxMemoryIsKept` checks them.
struct MemoryModel {
    let scale: Int
    let channels: (input: Int, output: Int)
    let parameterCount: Int
    let options: TilingOptions
    let workers: Int
    /// oneDNN plans keep more full-resolution maps alive (blocked and plain copies of the last stage).
    let oneDNN: Bool
    /// How many times the model's working-set channels are alive at once.
    let copies: Double
    /// The self-ensemble keeps a running sum and a turned-back output per tile.
    let selfEnsemble: Bool
    /// The model's own count of feature-map floats for an input of height × width, when it has one.
    let workingSetFloats: (Int, Int) -> Double?

    /// Libraries, weights and thread stacks: about the RSS of a run on a tiny image.
    static let baseBytes = 40_000_000.0
    /// BLAS buffers and allocator arenas: small for one worker, about 60 MB for each parallel worker.
    static let singleWorkerBytes = 20_000_000.0
    static let parallelWorkerBytes = 60_000_000.0

    init(
        model: any SuperResolutionModel, options: TilingOptions, workers: Int, oneDNN: Bool, selfEnsemble: Bool = false
    ) {
        self.selfEnsemble = selfEnsemble
        copies = model.workingSetCopies ?? (oneDNN ? 5.0 : 2.5)
        scale = model.scale
        channels = model.workingSetChannels
        workingSetFloats = { [model] in model.workingSetFloats(height: $0, width: $1) }
        parameterCount = model.parameterCount
        self.options = options
        self.workers = workers
        self.oneDNN = oneDNN
    }

    /// One worker's bytes for one tile: feature maps at output resolution (and, for models that work at
    /// input resolution, there; about 2.5 copies on the reference path, 5 in a oneDNN plan, or as many as
    /// the model says), plus the tile's input and output (and the self-ensemble's sum and turned-back output).
    func tileBytes(tile: Int) -> Double {
        // One extended tile in input pixels (aligned tiles reach up to alignment − 1 further back).
        let side = Double(tile + 2 * (options.overlap + options.blend) + options.alignment - 1)
        let hr = side * Double(scale)
        let floats =
            workingSetFloats(Int(side), Int(side))
            ?? Double(channels.output) * hr * hr + Double(channels.input) * side * side
        return copies * floats * 4 + (selfEnsemble ? 36 : 12) * hr * hr
    }

    func peakBytes(width: Int, channels imageChannels: Int, tile: Int) -> Int {
        let s = Double(scale)
        let perWorker = tileBytes(tile: tile)
        let overhead = workers > 1 ? Double(workers) * Self.parallelWorkerBytes : Self.singleWorkerBytes
        // Per input column: about 3.1 copies of the tile's output rows (accumulation, finished band,
        // queues), alpha, and the decode-ahead bands.
        let hasAlpha = imageChannels == 2 || imageChannels == 4
        let alpha = hasAlpha ? 2.0 : 0
        // With alpha, output rows also wait in the colour and alpha queues while the alpha resizer and the
        // model catch up with each other: about three planes of 64 input rows at output resolution (with the
        // terms around it, the 18-21 KB more per input column than RGB measured at ×4, tiles 32 and 128, widths
        // 6 000-12 000).
        let alphaQueues = hasAlpha ? 64 * s * s * 4 * 3 : 0
        // Filling the colour under transparent pixels holds a strip plus its context twice, with a byte and
        // an index per pixel (`TransparentColorFill`).
        let fillRows = Double(tile + 2 * (options.overlap + 3) + 64)
        let fill = hasAlpha ? fillRows * Double(imageChannels * 4 * 2 + 5) : 0
        let perColumn =
            Double(tile) * s * s * 4 * (3 * 3.1 + alpha) + 64 * 10 * Double(imageChannels) + alphaQueues + fill
        // The weights as loaded, a prepared copy for oneDNN, and Winograd's transformed copy (16/9 of the
        // 3×3 weights) where it runs.
        let weights = Double(parameterCount) * 4 * (WinogradConvolution.isEnabled ? 2 + 16.0 / 9 : 2)
        return Int(
            1.15 * (Self.baseBytes + overhead + Double(workers) * perWorker + Double(width) * perColumn + weights))
    }
}

/// Upscaling from Swift code, with the engine the command line uses: streaming, tiled, atomic output.
///
///     let upscaler = try Upscaler(model: "psnr", size: .scale(4))
///     try upscaler.upscale(input: "photo.jpg", output: "photo-x4.png")
///     let wallpaper = try Upscaler(size: .pixels(width: 3840, height: nil), keepsMetadata: false)
public struct Upscaler {
    private let engine: Engine

    /// - Parameters:
    ///   - model: `gan`, `gan-clean`, `psnr`, a `.safetensors` generator file, or nil for the default; ignored by `bicubic`.
    ///   - detail: for a GAN model, how much of its invented detail to keep (0...1, default 1): blends it with
    ///     the faithful model it names, weight by weight.
    ///   - method: the neural model or plain bicubic.
    ///   - size: a factor in (0, 64], or a width and/or height in pixels (one side keeps the aspect ratio; the
    ///     ×4 model runs and its output is resampled). An output over 64 times its input per side fails that file.
    ///   - selfEnsemble: run the model in all eight orientations and average them (8× the time).
    ///   - seamless: the image is a repeating texture; its edges wrap around so the output tiles without seams
    ///     (the input is held whole).
    ///   - keepsMetadata: copy the input's EXIF and XMP into the output (upright, with the output's pixel size);
    ///     the colour profile and resolution are always kept.
    ///   - jpegQuality: 1...100, for `.jpg` outputs.
    ///   - maxMemoryMB: memory budget for one image (default: half the machine's memory, at most 8 GB).
    ///   - threads: cores to use (default: all).
    /// - Throws: `CLIError` or `FileError` with a one-line description for bad options or model files.
    public init(
        model: String? = nil, detail: Float? = nil, method: UpscaleMethodChoice = .model,
        size: OutputSize = .scale(4), selfEnsemble: Bool = false, seamless: Bool = false, keepsMetadata: Bool = true,
        jpegQuality: Int = 95, maxMemoryMB: Int? = nil, threads: Int? = nil
    ) throws {
        if let problem = size.problem { throw CLIError(problem) }
        if let problem = DetailControl.problem(detail: detail, selfEnsemble: selfEnsemble, method: method) {
            throw CLIError(problem)
        }
        guard (1...100).contains(jpegQuality) else { throw CLIError("jpegQuality must be between 1 and 100") }
        if let threads, threads < 1 { throw CLIError("threads must be at least 1") }
        if let maxMemoryMB, maxMemoryMB < 1 { throw CLIError("maxMemoryMB must be at least 1") }
        engine = try Engine(
            method: method, model: model, detail: detail, outputSize: size, tile: nil, overlap: nil, blend: 2,
            maxMemoryMB: maxMemoryMB, maxPixels: 1_000_000_000, quality: jpegQuality, selfEnsemble: selfEnsemble,
            keepsMetadata: keepsMetadata, seamless: seamless,
            cores: threads ?? ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Upscales `input` (PNG, JPEG, GIF, TIFF or TGA) into `output` (`.png`, `.jpg`, `.jpeg`, `.gif`, `.tif`, `.tiff` or `.tga`; an animated GIF
    /// only into `.gif`); returns the seconds taken.
    /// The output is written to a temporary file beside it and renamed into place; on an error nothing is left.
    @discardableResult
    public func upscale(input: String, output: String) throws -> Double {
        if FileSystem.canonicalPath(input) == FileSystem.canonicalPath(output) {
            throw CLIError("\(output): refusing to overwrite the input file")
        }
        return try engine.upscale(
            input: input, output: output, reporter: Reporter(quiet: true, json: false), label: input
        ).seconds
    }
}
