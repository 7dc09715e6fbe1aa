import SRImage

extension PlanarImage {
    /// This image as one tile of a repeating texture, with `margin` pixels of the wrapped-around texture
    /// added on every side: [C, H, W] → [C, H + 2·margin, W + 2·margin]. The margin may exceed the image
    /// (it then repeats more than once).
    public func wrapPadded(margin: Int) -> PlanarImage {
        precondition(margin >= 0 && width > 0 && height > 0, "wrap padding needs a non-empty image")
        let (paddedWidth, paddedHeight) = (width + 2 * margin, height + 2 * margin)
        var out = PlanarImage(width: paddedWidth, height: paddedHeight, channels: channels)
        let columns = (0..<paddedWidth).map { ((($0 - margin) % width) + width) % width }
        for c in 0..<channels {
            for y in 0..<paddedHeight {
                let source = (c * height + (((y - margin) % height) + height) % height) * width
                let target = (c * paddedHeight + y) * paddedWidth
                for x in 0..<paddedWidth { out.pixels[target + x] = pixels[source + columns[x]] }
            }
        }
        return out
    }
}

extension ImagePipeline {
    /// How far (in input pixels) an output pixel of `run` depends on the input around it: the model's
    /// context (its exact overlap), the bicubic kernel, and for coverage alpha the reach of the colour fill;
    /// rounded up to the model's tile alignment, so that a model that pixel-unshuffles its input sees the
    /// texture on the same grid as without the padding.
    public static func dependencyRadius(method: UpscaleMethod, channels: Int, alpha: AlphaMeaning) -> Int {
        var (context, alignment) = (0, 1)
        if case .model(_, let options, _) = method { (context, alignment) = (options.overlap, options.alignment) }
        let fills = (channels == 2 || channels == 4) && alpha == .coverage
        // The fill's radius for a native-scale run (`run`'s `reach` with a kernel reach of 3), at least 4.
        let radius = context + 2 + (fills ? max(4, context + 3) : 0)
        return (radius + alignment - 1) / alignment * alignment
    }

    /// `run` for one tile of a repeating texture: the image's edges wrap around (beyond the right edge lies
    /// the left edge, below the bottom the top), so copies of the output placed side by side meet without a
    /// seam. The image is padded with its own wrapped-around texture by the pipeline's dependency radius and
    /// run at the method's native scale (1 for bicubic); the centre is cropped out, which is exactly the
    /// upscale of the endless texture, and resampled with wrapping bicubic to `outputWidth` × `outputHeight`
    /// when that size is not the native one. Memory holds the padded input; a resampled output is also held
    /// whole, a native-size one streams to `sink`.
    public static func runSeamless(
        image: PlanarImage, outputWidth: Int, outputHeight: Int, method: UpscaleMethod,
        alpha alphaMeaning: AlphaMeaning = .coverage, sink: (PlanarImage) throws -> Void,
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws {
        let scale: Int
        switch method {
        case .bicubic: scale = 1
        case .model(let nativeScale, _, _): scale = nativeScale
        }
        let margin = dependencyRadius(method: method, channels: image.channels, alpha: alphaMeaning)
        let padded = image.wrapPadded(margin: margin)
        let (nativeWidth, nativeHeight) = (image.width * scale, image.height * scale)
        let resamples = nativeWidth != outputWidth || nativeHeight != outputHeight
        var native = PlanarImage(width: nativeWidth, height: resamples ? nativeHeight : 0, channels: image.channels)
        var row = 0
        let (first, last) = (margin * scale, margin * scale + nativeHeight)
        try run(
            source: MemoryRowSource(padded), width: padded.width, height: padded.height, channels: image.channels,
            outputWidth: padded.width * scale, outputHeight: padded.height * scale, method: method,
            alpha: alphaMeaning,
            sink: { band in
                let (start, end) = (max(row, first), min(row + band.height, last))
                row += band.height
                guard start < end else { return }
                let rows = start..<end
                let centre = band.cropped(
                    x: margin * scale, y: rows.lowerBound - (row - band.height), width: nativeWidth,
                    height: rows.count)
                if resamples {
                    native.pixels.withUnsafeMutableBufferPointer { out in
                        for c in 0..<centre.channels {
                            for y in 0..<centre.height {
                                let target = (c * nativeHeight + rows.lowerBound - first + y) * nativeWidth
                                let source = (c * centre.height + y) * nativeWidth
                                for x in 0..<nativeWidth { out[target + x] = centre.pixels[source + x] }
                            }
                        }
                    }
                } else {
                    try sink(centre)
                }
            }, progress: progress)
        if resamples {
            try sink(Resampler.resize(native, width: outputWidth, height: outputHeight, wrapping: true))
        }
    }
}
