import SRFiles

/// Writes an uncompressed Windows bitmap front to back as rows arrive, top row first (a negative height):
/// gray as 8-bit with a gray palette, RGB as 24-bit, and anything with alpha as 32-bit with a V4 header
/// whose bit masks name the alpha byte (gray + alpha becomes RGBA). The resolution is kept; BMP holds no
/// colour profile or metadata here.
final class BMPWriter {
    let width: Int
    let height: Int
    /// Channels of the rows given to `write` (1-4).
    let channels: Int
    private let file: PositionedWriter
    private let bytesPerPixel: Int
    private let rowBytes: Int
    private var rowsWritten = 0

    /// Creates `path` (a new file) and writes the headers (and palette).
    /// - Throws: `BMPFormatError` for an image whose pixels pass 4 GB, `FileError` when writing fails.
    init(path: String, width: Int, height: Int, channels: Int, resolution: Resolution?) throws {
        precondition((1...4).contains(channels), "unsupported BMP layout")
        (self.width, self.height, self.channels) = (width, height, channels)
        bytesPerPixel = channels == 1 ? 1 : channels == 3 ? 3 : 4
        rowBytes = (width * bytesPerPixel + 3) / 4 * 4
        let alpha = bytesPerPixel == 4
        let headerSize = alpha ? 108 : 40
        let paletteBytes = channels == 1 ? 1024 : 0
        let dataOffset = 14 + headerSize + paletteBytes
        guard dataOffset + rowBytes * height <= Int(UInt32.max), height < 1 << 31, width < 1 << 31 else {
            throw BMPFormatError(reason: "a BMP holds at most 4 GB of pixels, not \(width)x\(height)")
        }
        file = try PositionedWriter(creating: path)
        var bytes: [UInt8] = []
        func put(_ value: Int, _ size: Int) {
            for k in 0..<size { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * k))) }
        }
        bytes += [0x42, 0x4D]
        put(dataOffset + rowBytes * height, 4)
        put(0, 4)
        put(dataOffset, 4)
        put(headerSize, 4)
        put(width, 4)
        put(-height, 4)
        put(1, 2)
        put(bytesPerPixel * 8, 2)
        put(alpha ? 3 : 0, 4)
        put(rowBytes * height, 4)
        put(Int(((resolution?.x ?? 0) / 0.0254).rounded()), 4)
        put(Int(((resolution?.y ?? 0) / 0.0254).rounded()), 4)
        put(channels == 1 ? 256 : 0, 4)
        put(0, 4)
        if alpha {
            for mask in [0x00FF_0000, 0x0000_FF00, 0x0000_00FF, 0xFF00_0000] { put(mask, 4) }
            put(0x7352_4742, 4)  // LCS_sRGB ("sRGB")
            bytes += [UInt8](repeating: 0, count: 48)  // endpoints and gamma, unused for sRGB
        }
        if channels == 1 {
            for level in 0..<256 { bytes += [UInt8(level), UInt8(level), UInt8(level), 0] }
        }
        try file.append(bytes)
    }

    /// Writes `count` rows of 8-bit interleaved samples (gray, gray + alpha, RGB or RGBA).
    func write(_ rows: UnsafeRawBufferPointer, count: Int, threads _: Int = 1) throws {
        precondition(rows.count >= count * width * channels && rowsWritten + count <= height, "rows do not match")
        let samples = rows.bindMemory(to: UInt8.self)
        var out = [UInt8](repeating: 0, count: rowBytes * count)
        for y in 0..<count {
            for x in 0..<width {
                let source = (y * width + x) * channels
                let target = y * rowBytes + x * bytesPerPixel
                switch channels {
                case 1: out[target] = samples[source]
                case 2:
                    for c in 0..<3 { out[target + c] = samples[source] }
                    out[target + 3] = samples[source + 1]
                default:
                    // Stored blue, green, red (then alpha).
                    for c in 0..<3 { out[target + c] = samples[source + 2 - c] }
                    if channels == 4 { out[target + 3] = samples[source + 3] }
                }
            }
        }
        try file.append(out)
        rowsWritten += count
    }

    /// Completes the file (not yet flushed).
    /// - Throws: `BMPFormatError` when rows are missing.
    func finish() throws {
        guard rowsWritten == height else {
            throw BMPFormatError(reason: "only \(rowsWritten) of \(height) rows were written")
        }
        file.close()
    }

    /// Closes the file unfinished (the caller removes it).
    func abort() { file.close() }
}
