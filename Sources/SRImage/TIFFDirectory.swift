import SRFiles

/// The TIFF tags this reader and writer use (TIFF 6.0, plus XMP and ICC).
enum TIFFTag {
    static let imageWidth = 256
    static let imageLength = 257
    static let bitsPerSample = 258
    static let compression = 259
    static let photometric = 262
    static let fillOrder = 266
    static let stripOffsets = 273
    static let orientation = 274
    static let samplesPerPixel = 277
    static let rowsPerStrip = 278
    static let stripByteCounts = 279
    static let xResolution = 282
    static let yResolution = 283
    static let planarConfiguration = 284
    static let resolutionUnit = 296
    static let software = 305
    static let t4Options = 292
    static let predictor = 317
    static let colorMap = 320
    static let tileWidth = 322
    static let tileLength = 323
    static let tileOffsets = 324
    static let tileByteCounts = 325
    static let extraSamples = 338
    static let sampleFormat = 339
    static let xmp = 700
    static let iccProfile = 34675
}

/// A problem with a file's contents found by one of the Swift codecs (TIFF, TGA, BMP): the reason, to which
/// `ImageReader` and `ImageWriter` add the file's name.
protocol FormatError: Error {
    var reason: String { get }
}

/// A TIFF problem found while reading: the reader adds the file's name.
struct TIFFFormatError: FormatError {
    let reason: String
}

/// The byte order a TIFF file declares ("II" little-endian, "MM" big-endian).
struct TIFFByteOrder {
    let littleEndian: Bool

    func unsigned(_ bytes: [UInt8], at offset: Int, size: Int) -> Int {
        var value = 0
        for k in 0..<size {
            let byte = Int(bytes[offset + (littleEndian ? size - 1 - k : k)])
            value = value << 8 | byte
        }
        return value
    }
}

/// One image file directory (IFD) of a classic TIFF or a BigTIFF: the tags describing one page. Values are
/// read from the file on demand, each checked against the file's size.
struct TIFFDirectory {
    struct Entry {
        let type: Int
        let count: Int
        /// Where the values are: inside the entry or at the offset it holds.
        let valueOffset: Int
    }

    let file: PositionedReader
    let order: TIFFByteOrder
    let isBigTIFF: Bool
    /// Where the directory starts in the file.
    let offset: Int
    private var entries: [Int: Entry] = [:]

    /// The header's magic: "II*\0", "MM\0*" (classic) or "II+\0", "MM\0+" (BigTIFF).
    static func hasSignature(_ start: [UInt8]) -> Bool {
        guard start.count >= 4 else { return false }
        return (start[0] == 0x49 && start[1] == 0x49 && (start[2] == 42 || start[2] == 43) && start[3] == 0)
            || (start[0] == 0x4D && start[1] == 0x4D && start[2] == 0 && (start[3] == 42 || start[3] == 43))
    }

    /// The byte order, the kind and the first directory's offset, from the header.
    private static func header(of file: PositionedReader) throws -> (TIFFByteOrder, isBigTIFF: Bool, first: Int) {
        let header = try file.bytes(at: 0, count: min(16, file.size))
        guard hasSignature(header) else { throw TIFFFormatError(reason: "not a TIFF file") }
        let order = TIFFByteOrder(littleEndian: header[0] == 0x49)
        if order.unsigned(header, at: 2, size: 2) == 43 {
            guard header.count == 16, order.unsigned(header, at: 4, size: 2) == 8 else {
                throw TIFFFormatError(reason: "has a damaged BigTIFF header")
            }
            return (order, true, order.unsigned(header, at: 8, size: 8))
        }
        guard header.count >= 8 else { throw TIFFFormatError(reason: "is cut short in its header") }
        return (order, false, order.unsigned(header, at: 4, size: 4))
    }

    /// The offset of the directory after the one at `offset` (0 when it is the last), or nil when the
    /// directory cannot be read.
    private static func nextDirectory(
        after offset: Int, in file: PositionedReader, order: TIFFByteOrder, isBigTIFF: Bool
    ) -> Int? {
        let countSize = isBigTIFF ? 8 : 2
        guard offset >= 8, let countBytes = try? file.bytes(at: offset, count: countSize) else { return nil }
        let count = order.unsigned(countBytes, at: 0, size: countSize)
        guard count > 0, count < 65_536 else { return nil }
        let at = offset + countSize + count * (isBigTIFF ? 20 : 12)
        return (try? file.bytes(at: at, count: isBigTIFF ? 8 : 4)).map {
            order.unsigned($0, at: 0, size: isBigTIFF ? 8 : 4)
        }
    }

    /// Where the directories (pages) the file chains together start, first to last: the chain ends at a zero
    /// or unreadable pointer, a pointer back to an earlier page, or 10 000 pages.
    static func pageOffsets(of file: PositionedReader) throws -> [Int] {
        let (order, isBigTIFF, first) = try header(of: file)
        var offsets = [first]
        var seen: Set<Int> = [first]
        while offsets.count < 10_000,
            let next = nextDirectory(after: offsets.last!, in: file, order: order, isBigTIFF: isBigTIFF), next != 0,
            seen.insert(next).inserted
        {
            offsets.append(next)
        }
        return offsets
    }

    /// Reads the header and the directory starting at `directoryOffset` (one of `pageOffsets(of:)`).
    init(file: PositionedReader, at directoryOffset: Int) throws {
        self.file = file
        (order, isBigTIFF, _) = try Self.header(of: file)
        offset = directoryOffset
        let countSize = isBigTIFF ? 8 : 2
        let entrySize = isBigTIFF ? 20 : 12
        guard directoryOffset >= 8, directoryOffset <= file.size - countSize else {
            throw TIFFFormatError(reason: "points to an image directory past its end")
        }
        let count = order.unsigned(try file.bytes(at: directoryOffset, count: countSize), at: 0, size: countSize)
        guard count > 0, count <= (file.size - directoryOffset - countSize) / entrySize, count < 65_536 else {
            throw TIFFFormatError(reason: "has a damaged image directory (\(count) entries)")
        }
        let table = try file.bytes(at: directoryOffset + countSize, count: count * entrySize)
        let inlineSize = isBigTIFF ? 8 : 4
        for k in 0..<count {
            let (tag, type, valueCount, valueField) = Self.entry(k, of: table, order: order, isBigTIFF: isBigTIFF)
            guard let size = Self.typeSize(type), valueCount >= 0, valueCount <= file.size else { continue }
            let total = size * valueCount
            let valueOffset =
                total <= inlineSize
                ? directoryOffset + countSize + valueField : order.unsigned(table, at: valueField, size: inlineSize)
            guard valueOffset >= 0, valueOffset <= file.size, total <= file.size - valueOffset else {
                throw TIFFFormatError(reason: "has tag \(tag) pointing past the end of the file")
            }
            entries[tag] = Entry(type: type, count: valueCount, valueOffset: valueOffset)
        }
    }

    /// Entry `index` of a directory's entry table: its tag, field type, value count and where in the table its
    /// value (or the offset of its values) starts.
    static func entry(
        _ index: Int, of table: [UInt8], order: TIFFByteOrder, isBigTIFF: Bool
    ) -> (
        tag: Int, type: Int, count: Int, field: Int
    ) {
        let at = index * (isBigTIFF ? 20 : 12)
        return (
            order.unsigned(table, at: at, size: 2), order.unsigned(table, at: at + 2, size: 2),
            order.unsigned(table, at: at + 4, size: isBigTIFF ? 8 : 4), at + (isBigTIFF ? 12 : 8)
        )
    }

    /// Bytes per value of a TIFF field type; nil for unknown types (those entries are skipped).
    static func typeSize(_ type: Int) -> Int? {
        switch type {
        case 1, 2, 6, 7: return 1
        case 3, 8: return 2
        case 4, 9, 11, 13: return 4
        case 5, 10, 12, 16, 17, 18: return 8
        default: return nil
        }
    }

    func has(_ tag: Int) -> Bool { entries[tag] != nil }

    /// How many values a tag holds (nil when absent), to check before reading them.
    func count(_ tag: Int) -> Int? { entries[tag]?.count }

    /// An unsigned integer tag's values (BYTE, SHORT, LONG, LONG8), or nil when the tag is absent.
    func integers(_ tag: Int) throws -> [Int]? {
        guard let entry = entries[tag] else { return nil }
        let size: Int
        switch entry.type {
        case 1, 7: size = 1
        case 3: size = 2
        case 4, 13: size = 4
        case 16, 18: size = 8
        default: throw TIFFFormatError(reason: "has tag \(tag) stored as type \(entry.type), not an integer")
        }
        let bytes = try file.bytes(at: entry.valueOffset, count: entry.count * size)
        return (0..<entry.count).map { order.unsigned(bytes, at: $0 * size, size: size) }
    }

    /// The single value of an integer tag, or `fallback` when it is absent.
    func integer(_ tag: Int, default fallback: Int) throws -> Int {
        guard let values = try integers(tag) else { return fallback }
        guard let first = values.first else { throw TIFFFormatError(reason: "has tag \(tag) with no value") }
        return first
    }

    /// A tag's raw bytes (ICC profile, XMP packet), or nil when absent or larger than `maximumBytes`.
    func bytes(_ tag: Int, maximumBytes: Int = 64 << 20) throws -> [UInt8]? {
        guard let entry = entries[tag], let size = Self.typeSize(entry.type) else { return nil }
        let count = entry.count * size
        guard count <= maximumBytes else { return nil }
        return try file.bytes(at: entry.valueOffset, count: count)
    }

    /// A RATIONAL tag's first value, or nil when absent, of another type or with a zero denominator.
    func rational(_ tag: Int) throws -> Double? {
        guard let entry = entries[tag], entry.type == 5, entry.count >= 1 else { return nil }
        let bytes = try file.bytes(at: entry.valueOffset, count: 8)
        let denominator = order.unsigned(bytes, at: 4, size: 4)
        return denominator == 0 ? nil : Double(order.unsigned(bytes, at: 0, size: 4)) / Double(denominator)
    }
}
