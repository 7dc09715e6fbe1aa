/// An EXIF block: the TIFF structure a JPEG's APP1 (after `Exif\0\0`) or a PNG's eXIf chunk holds, with
/// IFD0 and the Exif sub-IFD it points to (date taken, camera, exposure, GPS pointer, pixel size). It is
/// read and edited in place, every offset bounds-checked, so a malformed block is never trusted: a
/// lookup that leaves the block finds nothing, and an edit that cannot be made leaves the bytes alone.
public struct ExifBlock: Sendable, Equatable {
    public private(set) var bytes: [UInt8]
    private let littleEndian: Bool

    static let orientationTag: UInt16 = 0x0112
    static let exifPointerTag: UInt16 = 0x8769
    static let pixelWidthTag: UInt16 = 0xA002
    static let pixelHeightTag: UInt16 = 0xA003
    /// IFDs longer than this are treated as corrupt (real ones hold a few dozen entries).
    static let maximumEntries = 512

    /// nil unless `bytes` starts with a TIFF header ("II*\0" or "MM\0*").
    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= 8 else { return nil }
        switch (bytes[0], bytes[1]) {
        case (0x49, 0x49): littleEndian = true
        case (0x4D, 0x4D): littleEndian = false
        default: return nil
        }
        self.bytes = bytes
        guard read16(2) == 42 else { return nil }
    }

    /// The orientation (TIFF tag 0x0112, 1-8) in IFD0; 1 when absent or out of range.
    public var orientation: Int {
        guard let value = value(of: ExifBlock.orientationTag), (1...8).contains(value) else { return 1 }
        return value
    }

    /// A one-number SHORT or LONG tag's value, in IFD0 or (`inExifIFD`) in the Exif sub-IFD.
    public func value(of tag: UInt16, inExifIFD: Bool = false) -> Int? {
        guard let ifd = inExifIFD ? exifIFD : read32(4), let at = entry(tag, inIFDAt: ifd) else { return nil }
        switch (read16(at + 2), read32(at + 4)) {
        case (3, 1): return read16(at + 8)
        case (4, 1): return read32(at + 8)
        default: return nil
        }
    }

    /// The block for an upscaled output of `width` × `height`: the Exif pixel size set to the output's and,
    /// when the orientation was applied to the pixels (`resettingOrientation`), orientation 1, where those
    /// tags exist. Everything else is kept as it was (dates, camera, GPS); the embedded thumbnail, if any,
    /// stays the original's.
    public func forOutput(width: Int, height: Int, resettingOrientation: Bool = true) -> [UInt8] {
        var copy = self
        if resettingOrientation, let ifd0 = read32(4) { copy.set(ExifBlock.orientationTag, inIFDAt: ifd0, to: 1) }
        if let ifd = exifIFD {
            copy.set(ExifBlock.pixelWidthTag, inIFDAt: ifd, to: width)
            copy.set(ExifBlock.pixelHeightTag, inIFDAt: ifd, to: height)
        }
        return copy.bytes
    }

    private var exifIFD: Int? {
        guard let ifd0 = read32(4), let at = entry(ExifBlock.exifPointerTag, inIFDAt: ifd0),
            read32(at + 4) == 1
        else { return nil }
        return read32(at + 8)
    }

    /// The byte offset of `tag`'s 12-byte entry in the IFD at `ifd`.
    private func entry(_ tag: UInt16, inIFDAt ifd: Int) -> Int? {
        guard let count = read16(ifd), count <= ExifBlock.maximumEntries else { return nil }
        for index in 0..<count {
            let at = ifd + 2 + index * 12
            guard at + 12 <= bytes.count, let found = read16(at) else { return nil }
            if found == Int(tag) { return at }
        }
        return nil
    }

    /// Sets a one-number SHORT or LONG tag; a SHORT that cannot hold `value` becomes a LONG (both keep
    /// the value inside the entry). Absent or other-typed tags are left alone.
    private mutating func set(_ tag: UInt16, inIFDAt ifd: Int, to value: Int) {
        guard let at = entry(tag, inIFDAt: ifd), read32(at + 4) == 1, let type = read16(at + 2),
            type == 3 || type == 4, value >= 0, value <= Int(UInt32.max)
        else { return }
        if type == 3 && value <= 0xFFFF {
            write(value, at: at + 8, byteCount: 2)
            write(0, at: at + 10, byteCount: 2)
        } else if tag == ExifBlock.orientationTag {
            return  // orientation is a SHORT by definition
        } else {
            write(4, at: at + 2, byteCount: 2)
            write(value, at: at + 8, byteCount: 4)
        }
    }

    private func read16(_ at: Int) -> Int? {
        guard at >= 0, at + 2 <= bytes.count else { return nil }
        let (a, b) = (Int(bytes[at]), Int(bytes[at + 1]))
        return littleEndian ? a | b << 8 : a << 8 | b
    }

    private func read32(_ at: Int) -> Int? {
        guard let first = read16(at), let second = read16(at + 2) else { return nil }
        return littleEndian ? second << 16 | first : first << 16 | second
    }

    private mutating func write(_ value: Int, at: Int, byteCount: Int) {
        guard at >= 0, at + byteCount <= bytes.count else { return }
        for index in 0..<byteCount {
            let shift = 8 * (littleEndian ? index : byteCount - 1 - index)
            bytes[at + index] = UInt8((value >> shift) & 0xFF)
        }
    }
}
