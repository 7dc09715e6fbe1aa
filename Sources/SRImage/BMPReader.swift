import SRFiles

/// A BMP problem found while reading or writing: the reader and writer add the file's name.
struct BMPFormatError: FormatError {
    let reason: String
}

/// Reads a Windows or OS/2 bitmap row by row from the top, whichever order the file stores its rows in (each
/// row lies at a known offset), so memory stays one row whatever the image's size.
///
/// Supported: uncompressed images with the core (OS/2), info, V2-V5 headers; 1-, 4- and 8-bit palettes
/// (delivered as gray when every entry is gray), 16-bit (5-5-5 unless bit masks say otherwise), 24-bit and
/// 32-bit pixels, and bit masks (BI_BITFIELDS, BI_ALPHABITFIELDS) with or without an alpha mask. A 32-bit
/// image without an alpha mask is RGB (its fourth byte is padding), as Pillow and Windows read it. Rows are
/// delivered top to bottom, interleaved as 8-bit gray, RGB or RGBA. Run-length compressed and embedded
/// JPEG/PNG bitmaps are refused.
final class BMPReader {
    let width: Int
    let height: Int
    /// Delivered samples per pixel: 1, 3 or 4, 8 bits each.
    let channels: Int
    /// Pixels per inch, when the header gives them.
    let resolution: Resolution?

    private let file: PositionedReader
    private let bits: Int
    private let rowBytes: Int
    /// Whether the file stores the bottom row first (a positive height, BMP's usual order).
    private let bottomUp: Bool
    private let dataOffset: Int
    /// The palette as delivered pixels (`channels` bytes per entry).
    private let palette: [UInt8]
    /// Bit masks of red, green, blue and alpha for 16- and 32-bit pixels (alpha 0: none).
    private let masks: [UInt32]
    private var row: [UInt8]
    private var rowsRead = 0

    /// Whether a file starts with the "BM" signature.
    static func isBMP(path: String) -> Bool {
        guard let file = try? PositionedReader(path: path), let start = try? file.bytes(at: 0, count: 2) else {
            return false
        }
        return start == [0x42, 0x4D]
    }

    /// Opens `path` and checks its headers (and reads its palette) before any pixel is read.
    /// - Throws: `BMPFormatError` for a damaged or unsupported file, or one over `limits.maximumPixels`;
    ///   `FileError` when it cannot be read.
    init(path: String, limits: DecodeLimits) throws {
        file = try PositionedReader(path: path)
        guard file.size >= 26 else { throw BMPFormatError(reason: "is too short for a BMP header") }
        let start = try file.bytes(at: 0, count: 26)
        func u32(_ b: [UInt8], _ at: Int) -> Int {
            Int(b[at]) | Int(b[at + 1]) << 8 | Int(b[at + 2]) << 16 | Int(b[at + 3]) << 24
        }
        func u16(_ b: [UInt8], _ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 }
        let dataOffset = u32(start, 10)
        let headerSize = u32(start, 14)
        guard [12, 40, 52, 56, 64, 108, 124].contains(headerSize), 14 + headerSize <= file.size else {
            throw BMPFormatError(reason: "has an unknown BMP header (\(headerSize) bytes)")
        }
        let header = try file.bytes(at: 14, count: headerSize)
        let compression: Int
        let storedHeight: Int
        var paletteEntries: Int
        let entryBytes: Int
        if headerSize == 12 {
            (width, storedHeight, bits) = (u16(header, 4), u16(header, 6), u16(header, 10))
            (compression, paletteEntries, entryBytes, resolution) = (0, 0, 3, nil)
        } else {
            width = Int(Int32(truncatingIfNeeded: u32(header, 4)))
            storedHeight = Int(Int32(truncatingIfNeeded: u32(header, 8)))
            bits = u16(header, 14)
            compression = u32(header, 16)
            let (xPerMetre, yPerMetre) = (u32(header, 24), u32(header, 28))
            resolution =
                xPerMetre > 0 && yPerMetre > 0 && xPerMetre < 1 << 30 && yPerMetre < 1 << 30
                ? Resolution(x: Double(xPerMetre) * 0.0254, y: Double(yPerMetre) * 0.0254) : nil
            paletteEntries = u32(header, 32)
            entryBytes = 4
        }
        height = abs(storedHeight)
        bottomUp = storedHeight > 0
        guard width > 0, height > 0, width < 1 << 24, height < 1 << 24 else {
            throw BMPFormatError(reason: "has no valid image size (\(width)x\(storedHeight))")
        }
        guard width * height <= limits.maximumPixels else {
            throw BMPFormatError(
                reason: "image is \(width)x\(height), over the limit of \(limits.maximumPixels / 1_000_000) megapixels "
                    + "(raise it with --max-pixels)")
        }
        switch compression {
        case 0, 3, 6: break
        case 1, 2: throw BMPFormatError(reason: "is a run-length compressed BMP, which is not supported")
        case 4, 5: throw BMPFormatError(reason: "holds an embedded JPEG or PNG, which is not supported")
        default: throw BMPFormatError(reason: "uses BMP compression \(compression), which is not supported")
        }
        guard [1, 4, 8, 16, 24, 32].contains(bits) else {
            throw BMPFormatError(reason: "has \(bits)-bit pixels; 1, 4, 8, 16, 24 and 32 are supported")
        }
        guard compression == 0 || bits == 16 || bits == 32 else {
            throw BMPFormatError(reason: "has bit masks on \(bits)-bit pixels")
        }
        // Bit masks: inside a V2+ header, or after an info header.
        var masks: [UInt32] =
            bits == 16 ? [0x7C00, 0x03E0, 0x001F, 0] : [0x00FF_0000, 0x0000_FF00, 0x0000_00FF, 0]
        var paletteStart = 14 + headerSize
        if compression != 0 {
            let count = compression == 6 ? 4 : 3
            let source: [UInt8]
            let at: Int
            if headerSize >= 52 {
                (source, at) = (header, 40)
            } else {
                source = try file.bytes(at: paletteStart, count: 4 * count)
                (at, paletteStart) = (0, paletteStart + 4 * count)
            }
            for k in 0..<count { masks[k] = UInt32(u32(source, at + 4 * k)) }
            if headerSize >= 56 && compression == 3 { masks[3] = UInt32(u32(header, 52)) }
        }
        self.masks = masks
        let hasAlpha = bits >= 16 && masks[3] != 0
        if bits <= 8 {
            if paletteEntries == 0 || paletteEntries > 1 << bits { paletteEntries = 1 << bits }
            let stored = try file.bytes(at: paletteStart, count: paletteEntries * entryBytes)
            let gray = (0..<paletteEntries).allSatisfy { k in
                stored[k * entryBytes] == stored[k * entryBytes + 1]
                    && stored[k * entryBytes + 1] == stored[k * entryBytes + 2]
            }
            channels = gray ? 1 : 3
            var entries = [UInt8](repeating: 0, count: (1 << bits) * channels)
            for k in 0..<paletteEntries {
                for c in 0..<channels { entries[k * channels + c] = stored[k * entryBytes + 2 - c] }
            }
            palette = entries
        } else {
            channels = hasAlpha ? 4 : 3
            palette = []
        }
        rowBytes = (width * bits + 31) / 32 * 4
        guard dataOffset >= paletteStart, dataOffset <= file.size else {
            throw BMPFormatError(reason: "points to its pixels at \(dataOffset), outside the file")
        }
        self.dataOffset = dataOffset
        row = [UInt8](repeating: 0, count: rowBytes)
    }

    /// Bytes one delivered row takes.
    var deliveredRowBytes: Int { width * channels }

    /// Decodes the next `count` rows (from the top) into `buffer` (`count × deliveredRowBytes` bytes).
    /// - Throws: `BMPFormatError` when the pixel data ends early.
    func readRows(_ count: Int, into buffer: UnsafeMutableRawPointer) throws {
        precondition(rowsRead + count <= height, "reading past the last row")
        let out = buffer.assumingMemoryBound(to: UInt8.self)
        for k in 0..<count {
            let stored = bottomUp ? height - 1 - (rowsRead + k) : rowsRead + k
            let read = try row.withUnsafeMutableBytes { try file.read(at: dataOffset + stored * rowBytes, into: $0) }
            guard read == rowBytes else { throw BMPFormatError(reason: "pixel data ends early") }
            deliver(into: out + k * width * channels)
        }
        rowsRead += count
    }

    private func deliver(into out: UnsafeMutablePointer<UInt8>) {
        if bits <= 8 {
            for x in 0..<width {
                let bit = x * bits
                let index = Int(row[bit >> 3] >> UInt8(8 - bits - bit & 7)) & ((1 << bits) - 1)
                for c in 0..<channels { out[x * channels + c] = palette[index * channels + c] }
            }
        } else if bits == 24 {
            for x in 0..<width {
                for c in 0..<3 { out[x * 3 + c] = row[x * 3 + 2 - c] }
            }
        } else {
            let size = bits / 8
            for x in 0..<width {
                var value: UInt32 = 0
                for k in 0..<size { value |= UInt32(row[x * size + k]) << (8 * k) }
                for c in 0..<channels { out[x * channels + c] = Self.field(value, mask: masks[c]) }
            }
        }
    }

    /// The bits of `value` under `mask`, widened to 8 bits (v · 255 / max, rounded down); 0 for an empty mask.
    private static func field(_ value: UInt32, mask: UInt32) -> UInt8 {
        guard mask != 0 else { return 0 }
        let shifted = mask >> mask.trailingZeroBitCount
        let maximum = UInt64(shifted)
        return UInt8(UInt64((value & mask) >> mask.trailingZeroBitCount) * 255 / maximum)
    }
}
