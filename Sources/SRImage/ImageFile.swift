/// Whole-image convenience over the streaming reader and writer.
public enum ImageFile {
    /// Decodes a whole image (after EXIF orientation) and describes it.
    public static func read(_ path: String) throws -> (image: PlanarImage, description: ImageDescription) {
        let reader = try ImageReader(path: path)
        return (try reader.readAll(), reader.description)
    }

    /// Writes an image atomically; the format comes from the path's extension.
    /// JPEG output drops alpha and is always 8-bit.
    public static func write(
        _ image: PlanarImage, to path: String, bitDepth: Int = 8, quality: Int = 95,
        iccProfile: [UInt8]? = nil
    ) throws {
        let format = try ImageFormat(forOutputPath: path)
        let prepared = format == .jpeg ? image.forJPEG() : image
        let writer = try ImageWriter(
            path: path, format: format, width: image.width, height: image.height,
            channels: prepared.channels, bitDepth: format == .jpeg ? 8 : bitDepth,
            quality: quality, iccProfile: iccProfile)
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
