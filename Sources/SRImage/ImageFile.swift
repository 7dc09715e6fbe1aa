import Foundation

/// Whole-image convenience over the streaming reader and writer.
public enum ImageFile {
    /// Memory one whole decoded image may take (float planes): a quarter of the machine's memory, at
    /// most 8 GB. Commands that hold images whole (eval, degrade, training data) refuse larger ones
    /// with a clear message instead of running out of memory; `upscale` itself streams any size.
    public static var wholeImageBytes: Int { min(Int(ProcessInfo.processInfo.physicalMemory / 4), 8_000_000_000) }

    /// Decodes a whole image (after EXIF orientation; a GIF's first frame as shown, a TIFF's first page) and
    /// describes it.
    /// - Throws: `ImageError` for unreadable files and for images over `maximumBytes` as float planes.
    public static func read(
        _ path: String, maximumBytes: Int = ImageFile.wholeImageBytes
    ) throws -> (
        image: PlanarImage, description: ImageDescription
    ) {
        if GIFReader.isGIF(path: path) {
            let reader = try GIFReader(path: path)
            guard reader.width * reader.height * 4 * MemoryLayout<Float>.size <= maximumBytes else {
                throw ImageError(
                    path: path, reason: "is \(reader.width)x\(reader.height): too large to hold whole here")
            }
            let image = try reader.nextFrame()!.planarImage()
            return (
                image,
                ImageDescription(
                    format: .gif, width: image.width, height: image.height, channels: image.channels, bitDepth: 8,
                    orientation: 1, metadata: ImageMetadata(), isStreaming: false)
            )
        }
        let reader = try ImageReader(path: path)
        let d = reader.description
        let bytes = d.width * d.height * d.channels * MemoryLayout<Float>.size
        guard bytes <= maximumBytes else {
            throw ImageError(
                path: path,
                reason:
                    "is \(d.width)x\(d.height) (\(d.width * d.height / 1_000_000) MP): too large to hold whole here "
                    + "(\(maximumBytes / 1_000_000) MB at most; `upscale IN OUT` streams images of any size)")
        }
        return (try reader.readAll(), d)
    }

    /// Writes an image atomically; the format comes from the path's extension.
    /// `bitDepth` is the image's (8, 16, or 32 for floating point); the format stores what
    /// `ImageFormat.outputBitDepth` says. JPEG output drops alpha; GIF output is a still 8-bit palette image
    /// without metadata.
    public static func write(
        _ image: PlanarImage, to path: String, bitDepth: Int = 8, quality: Int = 95,
        metadata: ImageMetadata = ImageMetadata()
    ) throws {
        let format = try ImageFormat(forOutputPath: path)
        if format == .gif {
            let writer = try GIFWriter(path: path, width: image.width, height: image.height, loopCount: nil)
            try writer.write(image, delay: 0)
            try writer.finish()
            return
        }
        let prepared = format == .jpeg ? image.forJPEG() : image
        let writer = try ImageWriter(
            path: path, format: format, width: image.width, height: image.height,
            channels: prepared.channels, bitDepth: format.outputBitDepth(forInputDepth: bitDepth),
            quality: quality, metadata: metadata)
        try writer.writeRows(prepared)
        try writer.finish()
    }
}

extension PlanarImage {
    /// The planes a JPEG can hold: gray or RGB, alpha composited over white.
    public func forJPEG() -> PlanarImage {
        guard hasAlpha else { return self }
        let plane = width * height
        let alpha = Array(pixels[(colorChannels * plane)..<(channels * plane)])
        var out = selectingChannels(0..<colorChannels)
        for c in 0..<colorChannels {
            for i in 0..<plane {
                out.pixels[c * plane + i] = out.pixels[c * plane + i] * alpha[i] + (1 - alpha[i])
            }
        }
        return out
    }
}
