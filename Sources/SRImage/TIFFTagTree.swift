/// The descriptive tags of a TIFF structure's first directory (date, camera, artist, copyright, rating,
/// orientation) with the Exif and GPS sub-directories they point to, held apart from any file so they can
/// move between a TIFF image and an EXIF block (JPEG APP1, PNG eXIf) in either direction: values are kept
/// little-endian, and every offset is recomputed when the tree is laid out again.
struct TIFFTagTree: Equatable {
    struct Entry: Equatable {
        let tag: Int
        let type: Int
        let count: Int
        /// The values, little-endian (empty for a sub-directory pointer).
        let values: [UInt8]
        /// The sub-directory a pointer tag (Exif, GPS, interoperability) leads to.
        let child: TIFFTagTree?
    }

    private(set) var entries: [Entry]

    /// First-directory tags that describe the picture rather than how its pixels are stored.
    static let descriptiveTags: Set<Int> = [
        269, 270, 271, 272, 274, 285, 306, 315, 316, 18246, 18249, 33432, 34665, 34853, 40091, 40092, 40093, 40094,
        40095,
    ]
    /// Pointer tags followed into sub-directories: Exif, GPS, interoperability.
    static let pointerTags: Set<Int> = [34665, 34853, 40965]
    static let maximumEntries = 512
    static let maximumValueBytes = 16 << 20

    var isEmpty: Bool { entries.isEmpty }

    /// Reads the directory at `offset` and the sub-directories it points to (two levels at most), keeping the
    /// first level's entries whose tag passes `keep`. Entries of unknown types, values past the end and
    /// oversized values are skipped; a directory that cannot be read at all ends the tree there.
    /// - Parameter read: `count` bytes at an offset of the structure, or nil past its end.
    static func read(
        at offset: Int, order: TIFFByteOrder, isBigTIFF: Bool, keep: (Int) -> Bool = { _ in true }, depth: Int = 0,
        read: (Int, Int) -> [UInt8]?
    ) -> TIFFTagTree {
        let countSize = isBigTIFF ? 8 : 2
        let entrySize = isBigTIFF ? 20 : 12
        let inline = isBigTIFF ? 8 : 4
        guard let countBytes = read(offset, countSize) else { return TIFFTagTree(entries: []) }
        let count = order.unsigned(countBytes, at: 0, size: countSize)
        guard count <= maximumEntries, let table = read(offset + countSize, count * entrySize) else {
            return TIFFTagTree(entries: [])
        }
        var entries: [Entry] = []
        for k in 0..<count {
            let (tag, type, valueCount, field) = TIFFDirectory.entry(k, of: table, order: order, isBigTIFF: isBigTIFF)
            guard keep(tag), let size = TIFFDirectory.typeSize(type), valueCount >= 0,
                valueCount <= maximumValueBytes / size
            else {
                continue
            }
            if pointerTags.contains(tag) {
                guard depth < 2, valueCount == 1, [4, 13, 16, 18].contains(type) else { continue }
                let child = Self.read(
                    at: order.unsigned(table, at: field, size: size), order: order, isBigTIFF: isBigTIFF,
                    depth: depth + 1, read: read)
                if !child.isEmpty { entries.append(Entry(tag: tag, type: 4, count: 1, values: [], child: child)) }
                continue
            }
            let total = size * valueCount
            let bytes: [UInt8]?
            if total <= inline {
                bytes = Array(table[field..<(field + total)])
            } else {
                bytes = read(order.unsigned(table, at: field, size: inline), total)
            }
            guard var values = bytes else { continue }
            // Element size for byte order: RATIONALs swap as two LONGs; bytes and text never swap.
            let element = type == 5 || type == 10 ? 4 : size
            if !order.littleEndian && element > 1 {
                for start in stride(from: 0, to: values.count, by: element) {
                    values[start..<(start + element)].reverse()
                }
            }
            entries.append(Entry(tag: tag, type: type, count: valueCount, values: values, child: nil))
        }
        return TIFFTagTree(entries: entries.sorted { $0.tag < $1.tag })
    }

    /// The tree read from an EXIF block's first directory (descriptive tags only), or nil when the block is
    /// not a TIFF structure.
    init?(exifBlock bytes: [UInt8]) {
        guard bytes.count >= 8, TIFFDirectory.hasSignature(bytes), bytes[2] == 42 || bytes[3] == 42 else {
            return nil
        }
        let order = TIFFByteOrder(littleEndian: bytes[0] == 0x49)
        self = Self.read(
            at: order.unsigned(bytes, at: 4, size: 4), order: order, isBigTIFF: false,
            keep: Self.descriptiveTags.contains
        ) { offset, count in
            offset >= 0 && count >= 0 && offset <= bytes.count && count <= bytes.count - offset
                ? Array(bytes[offset..<(offset + count)]) : nil
        }
    }

    init(entries: [Entry]) { self.entries = entries }

    /// Leaves out the first-level entries whose tag fails `keep`.
    func filtered(_ keep: (Int) -> Bool) -> TIFFTagTree { TIFFTagTree(entries: entries.filter { keep($0.tag) }) }

    /// A little-endian EXIF block holding this tree as its first directory.
    var exifBlock: [UInt8] { [0x49, 0x49, 42, 0, 8, 0, 0, 0] + laidOut(at: 8, isBigTIFF: false) }

    /// The directory as bytes to be placed at offset `base` of a little-endian file: the entries, then the
    /// values that do not fit in them and the sub-directories, every offset absolute.
    func laidOut(at base: Int, isBigTIFF: Bool) -> [UInt8] {
        let inline = isBigTIFF ? 8 : 4
        let directorySize = (isBigTIFF ? 8 : 2) + entries.count * (isBigTIFF ? 20 : 12) + inline
        var data: [UInt8] = []
        var fields: [[UInt8]] = []
        for entry in entries {
            var values = entry.values
            if let child = entry.child {
                if (base + directorySize + data.count) % 2 == 1 { data.append(0) }
                values = Self.littleEndian(base + directorySize + data.count, size: inline)
                data += child.laidOut(at: base + directorySize + data.count, isBigTIFF: isBigTIFF)
            } else if values.count > inline {
                if (base + directorySize + data.count) % 2 == 1 { data.append(0) }
                let offset = base + directorySize + data.count
                data += values
                values = Self.littleEndian(offset, size: inline)
            }
            fields.append(values + [UInt8](repeating: 0, count: inline - values.count))
        }
        var bytes = Self.littleEndian(entries.count, size: isBigTIFF ? 8 : 2)
        for (entry, field) in zip(entries, fields) {
            let type = entry.child == nil ? entry.type : (isBigTIFF ? 16 : 4)
            bytes += Self.littleEndian(entry.tag, size: 2) + Self.littleEndian(type, size: 2)
            bytes += Self.littleEndian(entry.count, size: isBigTIFF ? 8 : 4) + field
        }
        return bytes + Self.littleEndian(0, size: inline) + data
    }

    static func littleEndian(_ value: Int, size: Int) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}
