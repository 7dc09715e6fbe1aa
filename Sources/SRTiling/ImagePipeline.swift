import Foundation
import SRImage
import SRTensor

/// Rows waiting to be combined: a FIFO of bands with the same width and channel count.
struct RowQueue {
    let width: Int
    let channels: Int
    /// Pending rows, each holding its channels one after another.
    private var rows: [[Float]] = []

    init(width: Int, channels: Int) {
        self.width = width
        self.channels = channels
    }

    var count: Int { rows.count }

    mutating func append(_ band: PlanarImage) {
        precondition(band.width == width && band.channels == channels)
        for y in 0..<band.height {
            var row = [Float](repeating: 0, count: channels * width)
            for c in 0..<channels {
                for x in 0..<width { row[c * width + x] = band.pixels[(c * band.height + y) * width + x] }
            }
            rows.append(row)
        }
    }

    mutating func take(_ count: Int) -> PlanarImage {
        var band = PlanarImage(width: width, height: count, channels: channels)
        for y in 0..<count {
            let row = rows[y]
            for c in 0..<channels {
                for x in 0..<width { band.pixels[(c * count + y) * width + x] = row[c * width + x] }
            }
        }
        rows.removeFirst(count)
        return band
    }
}

/// What an image's alpha channel holds.
public enum AlphaMeaning: String, CaseIterable, Sendable {
    /// Coverage (transparency): the colour under alpha 0 is never shown, so it is replaced by that of the
    /// visible pixels nearby before anything is resized (`TransparentColorFill`).
    case coverage
    /// Other data (a game texture's mask, height or specular map): every colour is upscaled as stored.
    case data
}

/// How to upscale: with a model through the tiled engine, or with the bicubic resampler alone.
public enum UpscaleMethod {
    /// `model` maps [1, 3, h, w] to [1, 3, h·nativeScale, w·nativeScale].
    case model(nativeScale: Int, options: TilingOptions, run: TiledUpscaler.Model)
    case bicubic
}

/// The whole path from decoded rows to encoded rows, for any image a user has:
/// colour goes through the method (gray is fed as R = G = B and comes back as the channel mean), after
/// the hidden colour under alpha 0 is replaced by that of the visible pixels nearby (`TransparentColorFill`),
/// alpha is resized on its own with the antialiased bicubic resampler, and scales the model does not
/// have natively are reached by resampling the model's output. Everything streams.
public enum ImagePipeline {
    /// Output size for a scale factor (rounded, at least 1 pixel).
    public static func outputSize(width: Int, height: Int, scale: Double) -> (width: Int, height: Int) {
        (max(1, Int((Double(width) * scale).rounded())), max(1, Int((Double(height) * scale).rounded())))
    }

    /// Upscales `channels`-plane rows from `source` (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) of size
    /// `width` × `height` to `outputWidth` × `outputHeight`, giving `sink` consecutive bands with the same
    /// channel layout.
    public static func run(
        source: RowSource, width: Int, height: Int, channels: Int, outputWidth: Int, outputHeight: Int,
        method: UpscaleMethod, alpha alphaMeaning: AlphaMeaning = .coverage, sink: (PlanarImage) throws -> Void,
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws {
        var source = source
        if (channels == 2 || channels == 4) && alphaMeaning == .coverage {
            // Far enough for the bicubic kernel (wider when shrinking), or for the model's context around a tile
            // plus the 2 input pixels by which the bicubic-resized alpha reaches past the visible pixels, and 1
            // for resampling the model's output at non-native scales.
            let kernelReach = 2 * Int((Double(width) / Double(outputWidth)).rounded(.up)) + 1
            let reach: Int
            switch method {
            case .bicubic: reach = kernelReach
            case .model(_, let options, _): reach = options.overlap + kernelReach
            }
            source = TransparentColorFill(
                source: source, width: width, height: height, channels: channels, radius: max(4, reach))
        }
        switch method {
        case .bicubic:
            let resizer = StreamingResizer(
                inputWidth: width, inputHeight: height, outputWidth: outputWidth,
                outputHeight: outputHeight, channels: channels)
            var read = 0
            while read < height {
                let band = try source.readRows(min(64, height - read))
                read += band.height
                let out = resizer.push(band)
                if out.height > 0 { try sink(out) }
                progress(read, height)
            }
        case let .model(nativeScale, options, model):
            let hasAlpha = channels == 2 || channels == 4
            let colorChannels = hasAlpha ? channels - 1 : channels
            let alphaResizer =
                hasAlpha
                ? StreamingResizer(
                    inputWidth: width, inputHeight: height, outputWidth: outputWidth,
                    outputHeight: outputHeight, channels: 1) : nil
            var alphaRows = RowQueue(width: outputWidth, channels: 1)
            var colorRows = RowQueue(width: outputWidth, channels: colorChannels)
            let adapter = ColorSource(source: source, colorChannels: colorChannels, hasAlpha: hasAlpha) { alpha in
                if let alphaResizer { alphaRows.append(alphaResizer.push(alpha)) }
            }
            let nativeWidth = width * nativeScale, nativeHeight = height * nativeScale
            let resample = nativeWidth != outputWidth || nativeHeight != outputHeight
            let colorResizer =
                resample
                ? StreamingResizer(
                    inputWidth: nativeWidth, inputHeight: nativeHeight, outputWidth: outputWidth,
                    outputHeight: outputHeight, channels: 3) : nil
            func flush() throws {
                let ready = hasAlpha ? min(colorRows.count, alphaRows.count) : colorRows.count
                guard ready > 0 else { return }
                var band = colorRows.take(ready)
                if hasAlpha { band = band.appendingChannels(of: alphaRows.take(ready)) }
                try sink(band)
            }
            let engine = TiledUpscaler(scale: nativeScale, options: options, model: model)
            try engine.run(
                source: adapter, width: width, height: height,
                emit: { rgb in
                    let resized = colorResizer?.push(rgb) ?? rgb
                    let color = colorChannels == 1 ? ImagePipeline.mean(of: resized) : resized
                    // Only alpha needs rows held back (until its own resizer has caught up).
                    if hasAlpha {
                        colorRows.append(color)
                        try flush()
                    } else if color.height > 0 {
                        try sink(color)
                    }
                }, progress: progress)
            try flush()
        }
    }

    /// `run` on an image held in memory: [C, H, W] → [C, outputHeight, outputWidth], the bands copied into
    /// one output (for evaluation and tests; files stream through `run` instead).
    public static func upscale(
        _ image: PlanarImage, outputWidth: Int, outputHeight: Int, method: UpscaleMethod,
        alpha: AlphaMeaning = .coverage
    ) throws -> PlanarImage {
        var output = PlanarImage(width: outputWidth, height: outputHeight, channels: image.channels)
        var row = 0
        try run(
            source: MemoryRowSource(image), width: image.width, height: image.height, channels: image.channels,
            outputWidth: outputWidth, outputHeight: outputHeight, method: method, alpha: alpha,
            sink: { band in
                for c in 0..<band.channels {
                    for y in 0..<band.height {
                        let to = (c * outputHeight + row + y) * outputWidth, from = (c * band.height + y) * band.width
                        output.pixels[to..<(to + outputWidth)] = band.pixels[from..<(from + outputWidth)]
                    }
                }
                row += band.height
            })
        precondition(row == outputHeight, "the pipeline emitted \(row) of \(outputHeight) rows")
        return output
    }

    /// The mean of three planes, as one plane.
    static func mean(of rgb: PlanarImage) -> PlanarImage {
        let plane = rgb.width * rgb.height
        var out = PlanarImage(width: rgb.width, height: rgb.height, channels: 1)
        for i in 0..<plane { out.pixels[i] = (rgb.pixels[i] + rgb.pixels[plane + i] + rgb.pixels[2 * plane + i]) / 3 }
        return out
    }
}

/// Serves RGB bands from a source with any channel layout, handing alpha planes to a callback.
final class ColorSource: RowSource {
    let source: RowSource
    let colorChannels: Int
    let hasAlpha: Bool
    let alpha: (PlanarImage) -> Void

    init(source: RowSource, colorChannels: Int, hasAlpha: Bool, alpha: @escaping (PlanarImage) -> Void) {
        self.source = source
        self.colorChannels = colorChannels
        self.hasAlpha = hasAlpha
        self.alpha = alpha
    }

    func readRows(_ count: Int) throws -> PlanarImage {
        let band = try source.readRows(count)
        if hasAlpha { alpha(band.selectingChannels(colorChannels..<(colorChannels + 1))) }
        return band.rgb()
    }
}
