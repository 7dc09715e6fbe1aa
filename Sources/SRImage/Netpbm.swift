import SRFiles

/// A Netpbm problem found while reading or writing: the reader and writer add the file's name.
struct NetpbmFormatError: FormatError {
    let reason: String
}

/// Reads a binary Netpbm image (PGM `P5`, PPM `P6`, PAM `P7` with or without alpha) row by row from the top,
/// so memory stays one row whatever the image's size. Samples up to a maximum of 255 are delivered as 8 bits,
/// larger ones (two big-endian bytes each) as 16 bits in host order, both rescaled from the file's maximum to
/// the full range. ASCII (`P1`-`P3`) and bilevel (`P4`) files are refused.
final class NetpbmReader {
    let width: Int
    let height: Int
    /// Delivered samples per pixel: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    let channels: Int
    /// Bits per delivered sample: 8 or 16.
    let bitDepth: Int

    private let file: PositionedReader
    private let maximum: Int
    private var position: Int
    private var row: [UInt8]
    private var rowsRead = 0

    /// Whether a file starts with a Netpbm signature (`P1` to `P7` and a space; only `P5`-`P7` are read).
    static func isNetpbm(path: String) -> Bool {
        guard let file = try? PositionedReader(path: path), let start = try? file.bytes(at: 0, count: 3) else {
            return false
        }
        return start[0] == 0x50 && (0x31...0x37).contains(start[1]) && [0x20, 0x09, 0x0A, 0x0D].contains(start[2])
    }

    /// Opens `path` and parses its header before any pixel is read.
    /// - Throws: `NetpbmFormatError` for a damaged or unsupported file, or one over `limits.maximumPixels`;
    ///   `FileError` when it cannot be read.
    init(path: String, limits: DecodeLimits) throws {
        file = try PositionedReader(path: path)
        let header = try file.bytes(at: 0, count: min(file.size, 4096))
        guard header.count >= 3, header[0] == 0x50 else { throw NetpbmFormatError(reason: "is not a Netpbm image") }
        var at = 2
        func isSpace(_ byte: UInt8) -> Bool { [0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C].contains(byte) }
        /// The next whitespace-separated token, skipping `#` comments.
        func token() throws -> String {
            while at < header.count {
                if header[at] == 0x23 {
                    while at < header.count && header[at] != 0x0A { at += 1 }
                } else if isSpace(header[at]) {
                    at += 1
                } else {
                    break
                }
            }
            let start = at
            while at < header.count && !isSpace(header[at]) && header[at] != 0x23 { at += 1 }
            guard at > start, at < header.count else { throw NetpbmFormatError(reason: "has a damaged header") }
            return String(decoding: header[start..<at], as: UTF8.self)
        }
        func number() throws -> Int {
            guard let value = Int(try token()), value >= 0, value < 1 << 31 else {
                throw NetpbmFormatError(reason: "has a damaged header")
            }
            return value
        }
        switch header[1] {
        case 0x35, 0x36:
            (width, height, maximum) = (try number(), try number(), try number())
            channels = header[1] == 0x35 ? 1 : 3
        case 0x37:
            var fields: [String: String] = [:]
            while true {
                let key = try token()
                if key == "ENDHDR" { break }
                guard fields.count < 16 else { throw NetpbmFormatError(reason: "has a damaged PAM header") }
                fields[key] = try token()
            }
            guard let w = fields["WIDTH"].flatMap(Int.init), let h = fields["HEIGHT"].flatMap(Int.init),
                let depth = fields["DEPTH"].flatMap(Int.init), let m = fields["MAXVAL"].flatMap(Int.init),
                (1...4).contains(depth)
            else {
                throw NetpbmFormatError(
                    reason: "has a PAM header without a valid WIDTH, HEIGHT, DEPTH (1-4) and MAXVAL")
            }
            (width, height, maximum, channels) = (w, h, m, depth)
        default:
            throw NetpbmFormatError(
                reason: "is an ASCII or bilevel Netpbm file (P\(Character(UnicodeScalar(header[1])))); "
                    + "binary PGM, PPM and PAM (P5, P6, P7) are supported")
        }
        // Exactly one whitespace byte ends the header.
        position = at + 1
        guard width > 0, height > 0, width < 1 << 24, height < 1 << 24 else {
            throw NetpbmFormatError(reason: "has no valid image size (\(width)x\(height))")
        }
        guard (1...65_535).contains(maximum) else {
            throw NetpbmFormatError(reason: "has a maximum sample value of \(maximum); 1-65535 are valid")
        }
        guard width * height <= limits.maximumPixels else {
            throw NetpbmFormatError(
                reason: "image is \(width)x\(height), over the limit of \(limits.maximumPixels / 1_000_000) megapixels "
                    + "(raise it with --max-pixels)")
        }
        bitDepth = maximum > 255 ? 16 : 8
        row = [UInt8](repeating: 0, count: width * channels * bitDepth / 8)
    }

    /// Bytes one delivered row takes.
    var rowBytes: Int { width * channels * bitDepth / 8 }

    /// Decodes the next `count` rows into `buffer` (`count × rowBytes` bytes).
    /// - Throws: `NetpbmFormatError` when the pixel data ends early.
    func readRows(_ count: Int, into buffer: UnsafeMutableRawPointer) throws {
        precondition(rowsRead + count <= height, "reading past the last row")
        let samples = width * channels
        for k in 0..<count {
            let read = try row.withUnsafeMutableBytes { try file.read(at: position, into: $0) }
            guard read == row.count else { throw NetpbmFormatError(reason: "pixel data ends early") }
            position += row.count
            if bitDepth == 8 {
                let out = buffer.assumingMemoryBound(to: UInt8.self) + k * samples
                for i in 0..<samples {
                    let value = Int(row[i])
                    out[i] = UInt8(min(255, (value * 255 + maximum / 2) / maximum))
                }
            } else {
                let out = buffer.assumingMemoryBound(to: UInt16.self) + k * samples
                for i in 0..<samples {
                    let value = Int(row[2 * i]) << 8 | Int(row[2 * i + 1])
                    out[i] = UInt16(min(65_535, (value * 65_535 + maximum / 2) / maximum))
                }
            }
        }
        rowsRead += count
    }
}

/// Writes a binary Netpbm image front to back as rows arrive: PGM (`P5`) for gray, PPM (`P6`) for RGB and PAM
/// (`P7`) for gray + alpha and RGBA, at 8 bits (maximum 255) or 16 (maximum 65535, big-endian).
final class NetpbmWriter {
    let width: Int
    let height: Int
    let channels: Int
    let bitDepth: Int
    private let file: PositionedWriter
    private var rowsWritten = 0

    /// Creates `path` (a new file) and writes the header.
    init(path: String, width: Int, height: Int, channels: Int, bitDepth: Int) throws {
        precondition((1...4).contains(channels) && (bitDepth == 8 || bitDepth == 16), "unsupported Netpbm layout")
        (self.width, self.height, self.channels, self.bitDepth) = (width, height, channels, bitDepth)
        file = try PositionedWriter(creating: path)
        let maximum = bitDepth == 16 ? 65_535 : 255
        let header =
            switch channels {
            case 1: "P5\n\(width) \(height)\n\(maximum)\n"
            case 3: "P6\n\(width) \(height)\n\(maximum)\n"
            default:
                "P7\nWIDTH \(width)\nHEIGHT \(height)\nDEPTH \(channels)\nMAXVAL \(maximum)\nTUPLTYPE "
                    + (channels == 2 ? "GRAYSCALE_ALPHA" : "RGB_ALPHA") + "\nENDHDR\n"
            }
        try file.append(Array(header.utf8))
    }

    /// Writes `count` rows of interleaved samples (8-bit, or 16-bit in host order).
    func write(_ rows: UnsafeRawBufferPointer, count: Int, threads _: Int = 1) throws {
        let samples = count * width * channels
        precondition(rows.count >= samples * bitDepth / 8 && rowsWritten + count <= height, "rows do not match")
        if bitDepth == 8 {
            try file.append(UnsafeRawBufferPointer(rebasing: rows[0..<samples]))
        } else {
            var bigEndian = [UInt16](repeating: 0, count: samples)
            for i in 0..<samples { bigEndian[i] = rows.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).bigEndian }
            try bigEndian.withUnsafeBytes { try file.append($0) }
        }
        rowsWritten += count
    }

    /// Completes the file (not yet flushed); throws when rows are missing.
    func finish() throws {
        guard rowsWritten == height else {
            throw NetpbmFormatError(reason: "only \(rowsWritten) of \(height) rows were written")
        }
        file.close()
    }

    /// Closes the file unfinished (the caller removes it).
    func abort() { file.close() }
}
