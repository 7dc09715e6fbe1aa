import SRFiles

/// Writes a Truevision TGA front to back as rows arrive: run-length encoded (type 10 true colour, 11 gray),
/// rows top to bottom (descriptor bit 5), packets never crossing a row, and the TGA 2.0 footer. Gray is
/// 8-bit, gray + alpha 16-bit, RGB 24-bit and RGBA 32-bit with 8 alpha bits (straight alpha), as games and
/// texture tools read them. TGA holds no colour profile or metadata.
final class TGAWriter {
    let width: Int
    let height: Int
    let channels: Int
    private let file: PositionedWriter
    private var rowsWritten = 0
    private var encoded: [UInt8] = []

    /// Creates `path` (a new file) and writes the header.
    /// - Throws: `TGAFormatError` for a size TGA cannot hold (over 65 535 a side), `FileError` when writing fails.
    init(path: String, width: Int, height: Int, channels: Int) throws {
        precondition((1...4).contains(channels), "unsupported TGA layout")
        guard width <= 65_535, height <= 65_535 else {
            throw TGAFormatError(reason: "a TGA holds at most 65535 pixels a side, not \(width)x\(height)")
        }
        (self.width, self.height, self.channels) = (width, height, channels)
        file = try PositionedWriter(creating: path)
        let gray = channels <= 2
        let alphaBits: UInt8 = channels == 2 || channels == 4 ? 8 : 0
        var header = [UInt8](repeating: 0, count: 18)
        header[2] = gray ? 11 : 10
        (header[12], header[13]) = (UInt8(width & 0xFF), UInt8(width >> 8))
        (header[14], header[15]) = (UInt8(height & 0xFF), UInt8(height >> 8))
        header[16] = UInt8(channels * 8)
        header[17] = 0x20 | alphaBits
        try file.append(header)
    }

    /// Encodes and writes `count` rows of 8-bit interleaved samples (gray, gray + alpha, RGB or RGBA).
    func write(_ rows: UnsafeRawBufferPointer, count: Int, threads _: Int = 1) throws {
        precondition(rows.count >= count * width * channels && rowsWritten + count <= height, "rows do not match")
        let samples = rows.bindMemory(to: UInt8.self)
        encoded.removeAll(keepingCapacity: true)
        var pixel = [UInt8](repeating: 0, count: channels)
        func stored(_ index: Int) -> [UInt8] {
            // TGA stores blue, green, red (then alpha).
            let base = index * channels
            for c in 0..<channels { pixel[c] = samples[base + c] }
            if channels >= 3 { pixel.swapAt(0, 2) }
            return pixel
        }
        func same(_ a: Int, _ b: Int) -> Bool {
            (0..<channels).allSatisfy { samples[a * channels + $0] == samples[b * channels + $0] }
        }
        for row in 0..<count {
            let first = row * width
            var x = 0
            while x < width {
                var run = 1
                while x + run < width && run < 128 && same(first + x, first + x + run) { run += 1 }
                if run >= 2 {
                    encoded.append(UInt8(0x80 | (run - 1)))
                    encoded += stored(first + x)
                    x += run
                    continue
                }
                // Raw pixels up to the next pair of equal ones.
                var raw = 1
                while x + raw < width && raw < 128
                    && !(x + raw + 1 < width && same(first + x + raw, first + x + raw + 1))
                {
                    raw += 1
                }
                encoded.append(UInt8(raw - 1))
                for k in 0..<raw { encoded += stored(first + x + k) }
                x += raw
            }
        }
        try file.append(encoded)
        rowsWritten += count
    }

    /// Writes the TGA 2.0 footer; the file is complete (not yet flushed).
    /// - Throws: `TGAFormatError` when rows are missing, `FileError` when writing fails.
    func finish() throws {
        guard rowsWritten == height else {
            throw TGAFormatError(reason: "only \(rowsWritten) of \(height) rows were written")
        }
        try file.append([UInt8](repeating: 0, count: 8) + Array("TRUEVISION-XFILE.".utf8) + [0])
        file.close()
    }

    /// Closes the file unfinished (the caller removes it).
    func abort() { file.close() }
}
