import Foundation
import SRFiles

/// Writes a GIF89a, still or animated, one whole-canvas frame at a time. Each frame has a local palette
/// (`ColorQuantizer`: 256 colours, or 255 and a transparent index when some alpha is below ½): the previous
/// frame's while it fits nearly as well as a new one (so areas that do not change keep their colours instead
/// of shimmering), else a new one. Each frame is cleared before the next is drawn, so transparency shows
/// exactly each frame's own alpha.
/// Like `ImageWriter` it writes to a temporary file beside `path` and renames it into place on `finish`.
public final class GIFWriter {
    public let path: String
    public let width: Int
    public let height: Int
    private let temporaryPath: String
    private var handle: FileHandle?
    private var previousPalette: [ColorQuantizer.Color]?

    /// A frame keeps the previous palette while its error is at most this multiple of a new palette's
    /// (plus one, for near-exact palettes).
    static let paletteReuseTolerance = 1.25

    /// Starts a GIF of `width` × `height` (1-65 535 each).
    /// - Parameter loopCount: the NETSCAPE2.0 loop count to store (0 loops forever); nil stores none.
    /// - Throws: `ImageError` when the folder is missing or not writable, or the size does not fit a GIF.
    public init(path: String, width: Int, height: Int, loopCount: Int?) throws {
        self.path = path
        self.width = width
        self.height = height
        guard (1...65_535).contains(width), (1...65_535).contains(height) else {
            throw ImageError(
                path: path, reason: "a GIF holds at most 65535x65535 pixels; this output is \(width)x\(height)")
        }
        temporaryPath = try ImageWriter.temporaryFile(for: path)
        guard FileManager.default.createFile(atPath: temporaryPath, contents: nil),
            let handle = FileHandle(forWritingAtPath: temporaryPath)
        else {
            TemporaryFiles.discard(temporaryPath)
            throw ImageError(
                path: path,
                reason: "cannot create a file in \(PathEncoding.displayed(FileSystem.parentFolder(of: path)))")
        }
        self.handle = handle
        var header = Array("GIF89a".utf8)
        header += GIFWriter.word(width) + GIFWriter.word(height) + [0x70, 0, 0]  // no global colour table
        if let loopCount {
            header +=
                [0x21, 0xFF, 11] + Array("NETSCAPE2.0".utf8) + [3, 1] + GIFWriter.word(min(loopCount, 65_535)) + [0]
        }
        try append(header)
    }

    deinit { abort() }

    /// Appends one frame: 1-4 planes (gray, gray + alpha, RGB, RGBA) in [0, 1], the writer's size.
    /// - Parameter delay: hundredths of a second (0-65 535).
    public func write(_ image: PlanarImage, delay: Int) throws {
        precondition(image.width == width && image.height == height, "frame does not match the GIF's size")
        let plane = width * height
        var rgba = [UInt8](repeating: 255, count: plane * 4)
        func byte(_ value: Float) -> UInt8 { UInt8((min(max(value, 0), 1) * 255).rounded()) }
        for i in 0..<plane {
            for c in 0..<3 { rgba[4 * i + c] = byte(image.pixels[min(c, image.colorChannels - 1) * plane + i]) }
            if image.hasAlpha { rgba[4 * i + 3] = image.pixels[image.colorChannels * plane + i] >= 0.5 ? 255 : 0 }
        }
        let transparent = image.hasAlpha && stride(from: 3, to: rgba.count, by: 4).contains { rgba[$0] == 0 }
        let histogram = ColorQuantizer.Histogram(rgba: rgba)
        var quantizer = ColorQuantizer(histogram: histogram, maximumColors: transparent ? 255 : 256)
        if let previousPalette, !transparent || previousPalette.count < 256 {
            let reused = ColorQuantizer(palette: previousPalette, histogram: histogram)
            if reused.meanError <= GIFWriter.paletteReuseTolerance * quantizer.meanError + 1 { quantizer = reused }
        }
        previousPalette = quantizer.palette
        let transparentIndex = quantizer.palette.count
        let used = quantizer.palette.count + (transparent ? 1 : 0)
        let tableBits = max(1, Int.bitWidth - (used - 1).leadingZeroBitCount)
        var indices = [UInt8](repeating: 0, count: plane)
        for i in 0..<plane {
            indices[i] =
                rgba[4 * i + 3] == 0
                ? UInt8(transparentIndex)
                : quantizer.index(red: rgba[4 * i], green: rgba[4 * i + 1], blue: rgba[4 * i + 2])
        }
        // Graphic control: dispose to background (cleared) after showing, the delay, the transparent index.
        var block: [UInt8] = [0x21, 0xF9, 4, 2 << 2 | (transparent ? 1 : 0)]
        block += GIFWriter.word(min(max(delay, 0), 65_535)) + [transparent ? UInt8(transparentIndex) : 0, 0]
        block += [0x2C, 0, 0, 0, 0] + GIFWriter.word(width) + GIFWriter.word(height) + [0x80 | UInt8(tableBits - 1)]
        var table = [UInt8](repeating: 0, count: 3 << tableBits)
        for (index, color) in quantizer.palette.enumerated() {
            table[3 * index] = color.red
            table[3 * index + 1] = color.green
            table[3 * index + 2] = color.blue
        }
        block += table
        let codeSize = max(2, tableBits)
        block.append(UInt8(codeSize))
        let data = GIFLZW.encode(indices, minimumCodeSize: codeSize)
        for start in stride(from: 0, to: data.count, by: 255) {
            let end = min(data.count, start + 255)
            block.append(UInt8(end - start))
            block += data[start..<end]
        }
        block.append(0)
        try append(block)
    }

    /// Writes the trailer and moves the file into place.
    public func finish() throws {
        try append([0x3B])
        try handle?.close()
        handle = nil
        try TemporaryFiles.commit(temporaryPath, to: path)
    }

    /// Abandons the write and removes the temporary file.
    public func abort() {
        guard let handle else { return }
        try? handle.close()
        self.handle = nil
        TemporaryFiles.discard(temporaryPath)
    }

    private func append(_ bytes: [UInt8]) throws {
        guard let handle else { throw ImageError(path: path, reason: "writer already closed") }
        do {
            try handle.write(contentsOf: Data(bytes))
        } catch {
            throw ImageError(path: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    private static func word(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)] }
}
