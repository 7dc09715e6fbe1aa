import CImageCodec

/// JPEG compression in memory, for degradations: what an image looks like after being saved as a
/// JPEG of some quality and opened again.
public enum JPEGArtifacts {
    /// Encodes the colour planes of `image` (gray or RGB, values clamped to [0, 1] and rounded to
    /// 8 bits) at `quality` (1-100) with libjpeg's defaults (4:2:0 chroma for RGB) and decodes them
    /// again. Alpha, if any, is kept as it was. Same size in and out.
    /// - Throws: `ImageError` (path "<memory>") if libjpeg refuses the image (e.g. a side over 65500).
    public static func roundTrip(_ image: PlanarImage, quality: Int) throws -> PlanarImage {
        let channels = image.colorChannels == 1 ? 1 : 3
        let plane = image.width * image.height
        var interleaved = [UInt8](repeating: 0, count: plane * channels)
        for c in 0..<channels {
            for i in 0..<plane {
                interleaved[i * channels + c] = UInt8((min(max(image.pixels[c * plane + i], 0), 1) * 255).rounded())
            }
        }
        var decoded = [UInt8](repeating: 0, count: interleaved.count)
        var message = [CChar](repeating: 0, count: 512)
        let status = sr_jpeg_roundtrip(
            interleaved, Int32(image.width), Int32(image.height), Int32(channels), Int32(quality), &decoded,
            &message, message.count)
        guard status == 0 else { throw ImageError(path: "<memory>", reason: String(cString: message)) }
        var out = image
        for c in 0..<channels {
            for i in 0..<plane { out.pixels[c * plane + i] = Float(decoded[i * channels + c]) / 255 }
        }
        return out
    }
}
