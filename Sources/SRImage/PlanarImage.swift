/// Image file formats the codec layer reads and writes.
public enum ImageFormat: String, Sendable, CaseIterable {
    case png
    case jpeg
    /// Written by `GIFWriter` (still or animated), never by `ImageWriter`.
    case gif
    /// Baseline TIFF with Deflate strips, 8 or 16 bits or 32-bit floating point, with alpha (`.tif`, `.tiff`).
    case tiff
    /// Truevision TGA, 8 bits, gray or RGB with alpha, run-length encoded (`.tga`): game textures.
    case tga
    /// Windows bitmap, uncompressed 8-bit gray, 24-bit RGB or 32-bit RGBA (`.bmp`).
    case bmp
    /// Binary Netpbm: PGM, PPM, or PAM with alpha, 8 or 16 bits (`.pgm`, `.ppm`, `.pnm`, `.pam`).
    case netpbm

    /// The sample depth an output in this format stores for an input of `inputDepth` bits (8, 16, or 32 for
    /// floating point): JPEG, GIF, TGA and BMP 8, PNG and Netpbm the input's up to 16 (floating point becomes
    /// 16-bit), TIFF the input's own.
    public func outputBitDepth(forInputDepth inputDepth: Int) -> Int {
        switch self {
        case .jpeg, .gif, .tga, .bmp: 8
        case .png, .netpbm: min(inputDepth, 16)
        case .tiff: inputDepth
        }
    }

    /// The format a path's extension asks for (`.png`, `.jpg`, `.jpeg`, `.gif`, `.tif`, `.tiff`, `.tga`,
    /// `.bmp`, `.pgm`, `.ppm`, `.pnm`, `.pam`, any case).
    /// - Throws: `ImageError` for any other extension.
    public init(forOutputPath path: String) throws {
        let lower = path.lowercased()
        if lower.hasSuffix(".png") {
            self = .png
        } else if lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") {
            self = .jpeg
        } else if lower.hasSuffix(".gif") {
            self = .gif
        } else if lower.hasSuffix(".tif") || lower.hasSuffix(".tiff") {
            self = .tiff
        } else if lower.hasSuffix(".tga") {
            self = .tga
        } else if lower.hasSuffix(".bmp") {
            self = .bmp
        } else if [".pgm", ".ppm", ".pnm", ".pam"].contains(where: lower.hasSuffix) {
            self = .netpbm
        } else {
            throw ImageError(
                path: path,
                reason: "unknown output format: use a .png, .jpg, .jpeg, .gif, .tif, .tiff, .tga, .bmp, .pgm, .ppm, "
                    + ".pnm or .pam file name")
        }
    }

    /// Whether a file name ends in an extension of a still image format the readers take whole (PNG, JPEG,
    /// TIFF, TGA, BMP, Netpbm; any case): the images `eval` scores and `train` learns from.
    public static func isStillImageName(_ name: String) -> Bool {
        let lower = name.lowercased()
        return [".png", ".jpg", ".jpeg", ".tif", ".tiff", ".tga", ".bmp", ".pgm", ".ppm", ".pnm", ".pam"].contains {
            lower.hasSuffix($0)
        }
    }

    /// The usual file extension, without the dot.
    public var fileExtension: String {
        switch self {
        case .jpeg: "jpg"
        case .tiff: "tif"
        case .netpbm: "pnm"
        default: rawValue
        }
    }
}

/// A float image stored plane by plane: sample (c, y, x) is `pixels[(c * height + y) * width + x]`,
/// with values in [0, 1]. Channels are 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA).
/// A band of rows from a streaming reader is a `PlanarImage` whose height is the band height.
public struct PlanarImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [Float]

    /// A zero-filled image.
    public init(width: Int, height: Int, channels: Int) {
        precondition(width >= 0 && height >= 0 && channels >= 1, "invalid image size")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = [Float](repeating: 0, count: width * height * channels)
    }

    /// An image over existing planar data (`pixels.count == width * height * channels`).
    public init(width: Int, height: Int, channels: Int, pixels: [Float]) {
        precondition(pixels.count == width * height * channels, "pixel count does not match the size")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// Whether the last channel is alpha (gray + alpha or RGBA).
    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    /// Number of colour channels, without alpha.
    public var colorChannels: Int { hasAlpha ? channels - 1 : channels }

    /// Sample at channel `c`, row `y`, column `x`.
    @inlinable public subscript(c: Int, y: Int, x: Int) -> Float {
        get { pixels[(c * height + y) * width + x] }
        set { pixels[(c * height + y) * width + x] = newValue }
    }

    /// The planes `range` of this image (e.g. the colour planes without alpha).
    public func selectingChannels(_ range: Range<Int>) -> PlanarImage {
        let plane = width * height
        return PlanarImage(
            width: width, height: height, channels: range.count,
            pixels: Array(pixels[(range.lowerBound * plane)..<(range.upperBound * plane)]))
    }

    /// Stacks the planes of `other` (same size) after this image's planes.
    public func appendingChannels(of other: PlanarImage) -> PlanarImage {
        precondition(other.width == width && other.height == height, "sizes differ")
        return PlanarImage(
            width: width, height: height, channels: channels + other.channels,
            pixels: pixels + other.pixels)
    }

    /// This image with `bottom`'s rows added below (same width and channels).
    public func appendingRows(of bottom: PlanarImage) -> PlanarImage {
        precondition(bottom.width == width && bottom.channels == channels, "bands differ in width or channels")
        var stacked: [Float] = []
        stacked.reserveCapacity(pixels.count + bottom.pixels.count)
        for c in 0..<channels {
            stacked += pixels[(c * height * width)..<((c + 1) * height * width)]
            stacked += bottom.pixels[(c * bottom.height * width)..<((c + 1) * bottom.height * width)]
        }
        return PlanarImage(width: width, height: height + bottom.height, channels: channels, pixels: stacked)
    }

    /// Rows `range` as a band image.
    public func rows(_ range: Range<Int>) -> PlanarImage {
        var band = PlanarImage(width: width, height: range.count, channels: channels)
        for c in 0..<channels {
            let source = (c * height + range.lowerBound) * width
            let target = c * range.count * width
            band.pixels.withUnsafeMutableBufferPointer { out in
                pixels.withUnsafeBufferPointer { input in
                    for i in 0..<(range.count * width) { out[target + i] = input[source + i] }
                }
            }
        }
        return band
    }

    /// The rectangle at (`x`, `y`) of size `width` × `height`, which must lie inside the image.
    public func cropped(x: Int, y: Int, width cropWidth: Int, height cropHeight: Int) -> PlanarImage {
        precondition(x >= 0 && y >= 0 && x + cropWidth <= width && y + cropHeight <= height, "crop outside the image")
        var out = PlanarImage(width: cropWidth, height: cropHeight, channels: channels)
        for c in 0..<channels {
            for row in 0..<cropHeight {
                let source = (c * height + y + row) * width + x
                let target = (c * cropHeight + row) * cropWidth
                for i in 0..<cropWidth { out.pixels[target + i] = pixels[source + i] }
            }
        }
        return out
    }

    /// Every sample rounded to the nearest multiple of 1/(2^bits − 1), as saving to a file of that depth does.
    public func quantized(bits: Int = 8) -> PlanarImage {
        let levels = Float((1 << bits) - 1)
        var out = self
        for i in out.pixels.indices {
            out.pixels[i] = (min(max(out.pixels[i], 0), 1) * levels).rounded() / levels
        }
        return out
    }

    /// Three colour planes: gray is repeated as R = G = B, alpha is dropped.
    public func rgb() -> PlanarImage {
        let plane = width * height
        switch colorChannels {
        case 1:
            let gray = Array(pixels[0..<plane])
            return PlanarImage(width: width, height: height, channels: 3, pixels: gray + gray + gray)
        default:
            return selectingChannels(0..<3)
        }
    }
}
