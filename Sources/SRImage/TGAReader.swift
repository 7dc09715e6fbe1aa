import SRFiles

/// A TGA problem found while reading or writing: the reader and writer add the file's name.
struct TGAFormatError: FormatError {
    let reason: String
}

/// Reads a Truevision TGA image row by row, so memory stays one row plus a read block whatever the image's
/// size: uncompressed files top row first (each row lies at a known offset), run-length encoded ones in the
/// order the file stores them.
///
/// Supported: uncompressed and run-length encoded (types 1, 2, 3, 9, 10, 11) true-colour images of 15, 16,
/// 24 and 32 bits, gray images of 8 bits and 16 (gray + alpha), and colour-mapped images with 8-bit indices
/// into 15-, 16-, 24- or 32-bit colour maps. A 32-bit image (or map) has alpha when its descriptor gives
/// alpha bits, a 16-bit one when it gives one; without them the extra bits are ignored. Rows are delivered
/// interleaved as 8-bit gray, gray + alpha, RGB or RGBA; `orientation` (as TIFF and EXIF number it) says how
/// to turn them upright: 2 for rows stored right to left, and for run-length encoded files stored bottom to
/// top (TGA's default) 4, or 3 when also right to left.
final class TGAReader {
    let width: Int
    let height: Int
    /// Delivered samples per pixel (1-4), 8 bits each.
    let channels: Int
    /// 1 (rows top to bottom, left to right), 2 (right to left), 4 (bottom to top, TGA's default) or 3.
    let orientation: Int

    private let file: PositionedReader
    private let runLength: Bool
    /// Bytes per stored pixel (or colour-map index).
    private let pixelBytes: Int
    private let pixelBits: Int
    private let hasAlpha: Bool
    private let isGray: Bool
    /// The colour map as delivered pixels (`channels` bytes per entry), for colour-mapped images.
    private let colorMap: [UInt8]
    private let mapFirst: Int

    private var position: Int
    /// Where the pixels start, and whether uncompressed rows stored bottom to top are read from the last one.
    private let dataStart: Int
    private let readsRowsBackwards: Bool
    private var block = [UInt8](repeating: 0, count: 65_536)
    private var blockStart = 0
    private var blockCount = 0
    /// The run-length packet being decoded: pixels left, and whether they repeat `runPixel`.
    private var packetLeft = 0
    private var packetRepeats = false
    private var runPixel = [UInt8](repeating: 0, count: 4)
    private var rowsRead = 0

    /// Whether a file name ends in `.tga` (any case).
    static func isTGAName(_ path: String) -> Bool { path.lowercased().hasSuffix(".tga") }

    /// Opens `path` and checks its header (and reads its colour map) before any pixel is read.
    /// - Throws: `TGAFormatError` for a damaged or unsupported file, or one over `limits.maximumPixels`;
    ///   `FileError` when it cannot be read.
    init(path: String, limits: DecodeLimits) throws {
        file = try PositionedReader(path: path)
        guard file.size >= 18 else { throw TGAFormatError(reason: "is too short for a TGA header") }
        let header = try file.bytes(at: 0, count: 18)
        func word(_ at: Int) -> Int { Int(header[at]) | Int(header[at + 1]) << 8 }
        let (idLength, mapType, imageType) = (Int(header[0]), Int(header[1]), Int(header[2]))
        let (mapFirst, mapLength, mapEntryBits) = (word(3), word(5), Int(header[7]))
        width = word(12)
        height = word(14)
        pixelBits = Int(header[16])
        let descriptor = Int(header[17])
        guard [1, 2, 3, 9, 10, 11].contains(imageType) else {
            throw TGAFormatError(
                reason: imageType == 0
                    ? "is a TGA without image data" : "is not a TGA image this reader knows (image type \(imageType))")
        }
        guard width > 0, height > 0 else {
            throw TGAFormatError(reason: "has no valid image size (\(width)x\(height))")
        }
        guard width * height <= limits.maximumPixels else {
            throw TGAFormatError(
                reason: "image is \(width)x\(height), over the limit of \(limits.maximumPixels / 1_000_000) megapixels "
                    + "(raise it with --max-pixels)")
        }
        runLength = imageType >= 9
        let kind = imageType % 8
        let alphaBits = descriptor & 15
        var mapBytes = 0
        switch kind {
        case 1:
            guard mapType == 1, pixelBits == 8, [15, 16, 24, 32].contains(mapEntryBits), mapLength > 0 else {
                throw TGAFormatError(reason: "is a colour-mapped TGA without a valid 8-bit index and colour map")
            }
            mapBytes = mapLength * ((mapEntryBits + 7) / 8)
            (isGray, hasAlpha) = (
                false, (mapEntryBits == 32 && alphaBits > 0) || (mapEntryBits == 16 && alphaBits == 1)
            )
        case 2:
            guard [15, 16, 24, 32].contains(pixelBits) else {
                throw TGAFormatError(reason: "has \(pixelBits)-bit true-colour pixels; 15, 16, 24 and 32 are supported")
            }
            (isGray, hasAlpha) = (false, (pixelBits == 32 && alphaBits > 0) || (pixelBits == 16 && alphaBits == 1))
        default:
            guard pixelBits == 8 || pixelBits == 16 else {
                throw TGAFormatError(reason: "has \(pixelBits)-bit gray pixels; 8 and 16 (with alpha) are supported")
            }
            (isGray, hasAlpha) = (true, pixelBits == 16)
        }
        if kind != 1 && mapType == 1 {
            mapBytes = mapLength * ((mapEntryBits + 7) / 8)  // a map the pixels do not use: skipped
        }
        channels = (isGray ? 1 : 3) + (hasAlpha ? 1 : 0)
        pixelBytes = (pixelBits + 7) / 8
        let topDown = descriptor & 0x20 != 0
        let rightToLeft = descriptor & 0x10 != 0
        readsRowsBackwards = !topDown && !runLength
        orientation = topDown || readsRowsBackwards ? (rightToLeft ? 2 : 1) : (rightToLeft ? 3 : 4)
        position = 18 + idLength + mapBytes
        dataStart = position
        guard position <= file.size else { throw TGAFormatError(reason: "ends inside its header or colour map") }
        self.mapFirst = mapFirst
        if kind == 1 {
            let stored = try file.bytes(at: 18 + idLength, count: mapBytes)
            let entryBytes = (mapEntryBits + 7) / 8
            var map = [UInt8](repeating: 0, count: mapLength * channels)
            for entry in 0..<mapLength {
                Self.decodeColor(
                    stored, at: entry * entryBytes, bits: mapEntryBits, alpha: hasAlpha,
                    into: &map, at: entry * channels)
            }
            colorMap = map
        } else {
            colorMap = []
        }
    }

    /// Bytes one delivered row takes.
    var rowBytes: Int { width * channels }

    /// Decodes the next `count` rows (in stored order) into `buffer` (`count × rowBytes` bytes).
    /// - Throws: `TGAFormatError` when the data ends early or a colour index lies outside the map.
    func readRows(_ count: Int, into buffer: UnsafeMutableRawPointer) throws {
        precondition(rowsRead + count <= height, "reading past the last row")
        let out = buffer.assumingMemoryBound(to: UInt8.self)
        var pixel = [UInt8](repeating: 0, count: 4)
        var delivered = [UInt8](repeating: 0, count: 4)
        for row in 0..<count {
            if readsRowsBackwards { position = dataStart + (height - 1 - rowsRead - row) * width * pixelBytes }
            for x in 0..<width {
                try nextPixel(into: &pixel)
                try deliver(pixel, into: &delivered)
                let target = (row * width + x) * channels
                for c in 0..<channels { out[target + c] = delivered[c] }
            }
        }
        rowsRead += count
    }

    /// The next stored pixel's bytes (run-length packets decoded).
    private func nextPixel(into pixel: inout [UInt8]) throws {
        guard runLength else { return try readBytes(into: &pixel) }
        if packetLeft == 0 {
            let header = try readByte()
            packetLeft = Int(header & 0x7F) + 1
            packetRepeats = header & 0x80 != 0
            if packetRepeats { try readBytes(into: &runPixel) }
        }
        packetLeft -= 1
        if packetRepeats {
            for k in 0..<pixelBytes { pixel[k] = runPixel[k] }
        } else {
            try readBytes(into: &pixel)
        }
    }

    private func readBytes(into pixel: inout [UInt8]) throws {
        for k in 0..<pixelBytes { pixel[k] = try readByte() }
    }

    private func readByte() throws -> UInt8 {
        if position < blockStart || position - blockStart >= blockCount {
            blockStart = position
            blockCount = try block.withUnsafeMutableBytes { try file.read(at: position, into: $0) }
            guard blockCount > 0 else { throw TGAFormatError(reason: "image data ends early") }
        }
        position += 1
        return block[position - 1 - blockStart]
    }

    /// A stored pixel as delivered samples.
    private func deliver(_ pixel: [UInt8], into delivered: inout [UInt8]) throws {
        if !colorMap.isEmpty {
            let entry = Int(pixel[0]) - mapFirst
            guard entry >= 0, entry < colorMap.count / channels else {
                throw TGAFormatError(reason: "has a colour index (\(pixel[0])) outside its colour map")
            }
            for c in 0..<channels { delivered[c] = colorMap[entry * channels + c] }
        } else if isGray {
            delivered[0] = pixel[0]
            if hasAlpha { delivered[1] = pixel[1] }
        } else {
            Self.decodeColor(pixel, at: 0, bits: pixelBits, alpha: hasAlpha, into: &delivered, at: 0)
        }
    }

    /// One stored colour (little-endian BGR, BGRA, or 5-bit fields with the alpha bit on top) as RGB or RGBA.
    private static func decodeColor(
        _ stored: [UInt8], at offset: Int, bits: Int, alpha: Bool, into out: inout [UInt8], at target: Int
    ) {
        if bits >= 24 {
            (out[target], out[target + 1], out[target + 2]) = (stored[offset + 2], stored[offset + 1], stored[offset])
            if alpha { out[target + 3] = stored[offset + 3] }
        } else {
            let value = Int(stored[offset]) | Int(stored[offset + 1]) << 8
            // 5 bits widened to 8 as v · 255 / 31, rounded down (as Pillow does).
            func widen(_ field: Int) -> UInt8 { UInt8((field & 31) * 255 / 31) }
            (out[target], out[target + 1], out[target + 2]) = (widen(value >> 10), widen(value >> 5), widen(value))
            if alpha { out[target + 3] = value & 0x8000 != 0 ? 255 : 0 }
        }
    }
}
