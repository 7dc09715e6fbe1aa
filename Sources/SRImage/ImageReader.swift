import CImageCodec
import Foundation
import SRFiles

/// What an image file holds, as the reader delivers it (after EXIF orientation).
public struct ImageDescription: Sendable {
    public var format: ImageFormat
    /// Width and height after applying the EXIF orientation.
    public var width: Int
    public var height: Int
    /// 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    public var channels: Int
    /// 8 or 16: the depth of the delivered samples (1/2/4-bit PNGs are widened to 8); 32 for TIFFs of
    /// floating-point samples, whose values are kept as they are (not clamped to [0, 1]).
    public var bitDepth: Int
    /// EXIF (JPEG) or TIFF orientation found in the file (1 when there is none).
    public var orientation: Int
    /// Colour profile, EXIF, XMP and resolution, for the outputs (`ImageMetadata.forOutput`). Only a
    /// JPEG's EXIF orientation and a TIFF's orientation tag are applied (PNG viewers disagree about eXIf
    /// orientation).
    public var metadata: ImageMetadata
    /// Whether rows are decoded on demand (false for interlaced PNGs and rotated JPEGs).
    public var isStreaming: Bool
    /// Pages in the file: a multi-page TIFF's count, else 1.
    public var pageCount = 1

    public var hasAlpha: Bool { channels == 2 || channels == 4 }
}

/// Limits checked before any pixel is decoded, so a hostile or enormous file fails with a clear
/// message instead of exhausting memory.
public struct DecodeLimits: Sendable, Equatable {
    /// Largest image accepted, in pixels (the default, 1000 megapixels, admits a 30,000 × 30,000 photo).
    public var maximumPixels: Int
    /// Largest allocation for images that cannot stream (interlaced PNGs, rotated JPEGs).
    public var maximumWholeDecodeBytes: Int

    public init(maximumPixels: Int = 1_000_000_000, maximumWholeDecodeBytes: Int = 4_000_000_000) {
        self.maximumPixels = maximumPixels
        self.maximumWholeDecodeBytes = maximumWholeDecodeBytes
    }
}

/// Reads an image as consecutive bands of rows, so memory stays proportional to width × band height.
///
/// PNG and JPEG go through the C codec, TIFF through `TIFFReader`.
/// JPEGs and TIFFs whose orientation rotates or flips vertically (3-8) cannot be decoded top-down in display
/// order; those are decoded whole when opened (as stored: 8- or 16-bit, or 32-bit floats) and served in bands.
/// Interlaced PNGs are decoded whole by the codec and served from its buffer.
public final class ImageReader {
    public let path: String
    public let description: ImageDescription
    /// Rows delivered so far.
    public private(set) var rowsRead = 0

    /// The decoder: the C codec (PNG, JPEG) or the TIFF reader; nil once every row is read.
    private enum Decoder {
        case codec(OpaquePointer)
        case tiff(TIFFReader)
        case tga(TGAReader)
        case bmp(BMPReader)
        case netpbm(NetpbmReader)
    }
    private var decoder: Decoder?
    private let storedWidth: Int
    private let storedHeight: Int
    private let storedChannels: Int
    private let bytesPerSample: Int
    private let orientation: Int
    private let limits: DecodeLimits
    /// A TIFF's page directory offsets, for `openingPage(_:)`.
    private let tiffPageOffsets: [Int]?
    /// The whole stored image, for orientations that cannot stream.
    private var whole: UnsafeMutableRawBufferPointer?
    private var raw: [UInt8] = []

    /// Opens `path` and reads its header (for a TIFF, page `page`'s, 0 the first).
    /// - Throws: `ImageError` naming the file when it is missing, not a regular file, not PNG/JPEG/TIFF/TGA/BMP/Netpbm,
    ///   corrupt, or over the `limits`.
    public convenience init(path: String, limits: DecodeLimits = DecodeLimits(), page: Int = 0) throws {
        try self.init(path: path, limits: limits, page: page, tiffPageOffsets: nil)
    }

    /// Opens page `page` (0 the first) of the same multi-page TIFF with the same limits, reusing the page
    /// chain this reader found, so that walking every page reads the chain once.
    /// - Throws: `ImageError` as `init(path:limits:page:)` does.
    public func openingPage(_ page: Int) throws -> ImageReader {
        try ImageReader(path: path, limits: limits, page: page, tiffPageOffsets: tiffPageOffsets)
    }

    private init(path: String, limits: DecodeLimits, page: Int, tiffPageOffsets knownOffsets: [Int]?) throws {
        self.path = path
        self.limits = limits
        try FileSystem.requireRegularFile(path)
        let format: ImageFormat
        let metadata: ImageMetadata
        let interlaced: Bool
        var pageCount = 1
        if TIFFReader.isTIFF(path: path) {
            let tiff = try Self.opening(path) {
                try TIFFReader(path: path, limits: limits, page: page, pageOffsets: knownOffsets)
            }
            decoder = .tiff(tiff)
            (format, metadata, interlaced, pageCount) = (.tiff, tiff.metadata, false, tiff.pageCount)
            tiffPageOffsets = tiff.pageOffsets
            (storedWidth, storedHeight, storedChannels) = (tiff.width, tiff.height, tiff.channels)
            bytesPerSample = tiff.bitDepth / 8
            orientation = tiff.orientation
        } else if BMPReader.isBMP(path: path) {
            let bmp = try Self.opening(path) { try BMPReader(path: path, limits: limits) }
            decoder = .bmp(bmp)
            tiffPageOffsets = nil
            (format, interlaced) = (.bmp, false)
            metadata = ImageMetadata(resolution: bmp.resolution)
            (storedWidth, storedHeight, storedChannels) = (bmp.width, bmp.height, bmp.channels)
            bytesPerSample = 1
            orientation = 1
        } else if NetpbmReader.isNetpbm(path: path) {
            let netpbm = try Self.opening(path) { try NetpbmReader(path: path, limits: limits) }
            decoder = .netpbm(netpbm)
            tiffPageOffsets = nil
            (format, metadata, interlaced) = (.netpbm, ImageMetadata(), false)
            (storedWidth, storedHeight, storedChannels) = (netpbm.width, netpbm.height, netpbm.channels)
            bytesPerSample = netpbm.bitDepth / 8
            orientation = 1
        } else if TGAReader.isTGAName(path) && !Self.hasCodecSignature(path) {
            let tga = try Self.opening(path) { try TGAReader(path: path, limits: limits) }
            decoder = .tga(tga)
            tiffPageOffsets = nil
            (format, metadata, interlaced) = (.tga, ImageMetadata(), false)
            (storedWidth, storedHeight, storedChannels) = (tga.width, tga.height, tga.channels)
            bytesPerSample = 1
            orientation = tga.orientation
        } else {
            var info = sr_image_info()
            var reader: OpaquePointer?
            var message = [CChar](repeating: 0, count: 512)
            let status = PathEncoding.withCString(path) { cPath in
                sr_reader_open(
                    cPath, Int64(limits.maximumPixels), Int64(limits.maximumWholeDecodeBytes), &reader, &info,
                    &message, message.count)
            }
            guard status == 0, let reader else {
                throw ImageError(path: path, reason: String(cString: message))
            }
            decoder = .codec(reader)
            tiffPageOffsets = nil
            let icc = info.icc.map { Array(UnsafeBufferPointer(start: $0, count: info.icc_length)) }
            let exif = info.exif.map { Array(UnsafeBufferPointer(start: $0, count: info.exif_length)) }
            let xmp = info.xmp.map { Array(UnsafeBufferPointer(start: $0, count: info.xmp_length)) }
            orientation = info.format == SR_FORMAT_JPEG ? exif.map(Orientation.value(fromExif:)) ?? 1 : 1
            format = info.format == SR_FORMAT_PNG ? .png : .jpeg
            metadata = ImageMetadata(
                iccProfile: icc, exif: exif, xmp: xmp,
                resolution: info.x_pixels_per_inch > 0 && info.y_pixels_per_inch > 0
                    ? Resolution(x: info.x_pixels_per_inch, y: info.y_pixels_per_inch) : nil)
            interlaced = info.interlaced != 0
            storedWidth = Int(info.width)
            storedHeight = Int(info.height)
            storedChannels = Int(info.channels)
            bytesPerSample = Int(info.bit_depth) / 8
        }
        let swapped = Orientation.swapsAxes(orientation)
        let streams = Orientation.isStreamable(orientation)
        description = ImageDescription(
            format: format, width: swapped ? storedHeight : storedWidth, height: swapped ? storedWidth : storedHeight,
            channels: storedChannels, bitDepth: bytesPerSample * 8, orientation: orientation, metadata: metadata,
            isStreaming: streams && !interlaced, pageCount: pageCount)
        if !streams {
            let bytes = storedWidth * storedHeight * storedChannels * bytesPerSample
            guard bytes <= limits.maximumWholeDecodeBytes else {
                close()
                throw ImageError(
                    path: path,
                    reason: (format == .tga
                        ? "bottom-to-top TGA"
                        : "rotated (\(format == .tiff ? "TIFF" : "EXIF") orientation \(orientation))")
                        + " \(storedWidth)x\(storedHeight) image "
                        + "must be decoded whole: needs \(bytes / 1_000_000) MB, over the "
                        + "\(limits.maximumWholeDecodeBytes / 1_000_000) MB allowed"
                )
            }
            guard let memory = malloc(max(bytes, 1)) else {
                close()
                throw ImageError(
                    path: path, reason: "not enough memory to decode the rotated image whole (\(bytes / 1_000_000) MB)")
            }
            let buffer = UnsafeMutableRawBufferPointer(start: memory, count: bytes)
            whole = buffer
            try readStored(rows: storedHeight, into: buffer.baseAddress!)
            close()
        }
    }

    /// `open()`, with a Swift decoder's format error turned into an `ImageError` naming `path`.
    private static func opening<Reader>(_ path: String, _ open: () throws -> Reader) throws -> Reader {
        do {
            return try open()
        } catch let error as any FormatError {
            throw ImageError(path: path, reason: error.reason)
        }
    }

    /// Whether a file starts like a PNG or a JPEG (a misnamed `.tga` goes to the codec that can read it).
    private static func hasCodecSignature(_ path: String) -> Bool {
        guard let file = try? PositionedReader(path: path), let start = try? file.bytes(at: 0, count: 4) else {
            return false
        }
        return start == [0x89, 0x50, 0x4E, 0x47] || start[0..<3] == [0xFF, 0xD8, 0xFF]
    }

    deinit {
        close()
        if let whole { free(whole.baseAddress) }
    }

    private func close() {
        if case .codec(let handle) = decoder { sr_reader_close(handle) }
        decoder = nil
    }

    /// Reads the next `count` rows (fewer at the end of the image) as a band.
    /// - Throws: `ImageError` when the file turns out to be truncated or corrupt.
    public func readRows(_ count: Int) throws -> PlanarImage {
        let rows = min(count, description.height - rowsRead)
        precondition(rows >= 0)
        defer { rowsRead += rows }
        if let whole {
            return Self.convert(
                whole.baseAddress!, width: storedWidth, height: storedHeight, channels: storedChannels,
                bytesPerSample: bytesPerSample, orientation: orientation, rows: rowsRead..<(rowsRead + rows))
        }
        let needed = rows * storedWidth * storedChannels * bytesPerSample
        if raw.count < needed { raw = [UInt8](repeating: 0, count: needed) }
        try raw.withUnsafeMutableBytes { try readStored(rows: rows, into: $0.baseAddress!) }
        if rowsRead + rows == description.height { close() }
        return raw.withUnsafeBytes { buffer in
            Self.convert(
                buffer.baseAddress!, width: storedWidth, height: rows, channels: storedChannels,
                bytesPerSample: bytesPerSample, orientation: orientation, rows: 0..<rows)
        }
    }

    /// Reads every remaining row.
    public func readAll() throws -> PlanarImage { try readRows(description.height - rowsRead) }

    /// Runs `body`; a format error of a Swift decoder closes the reader and becomes an `ImageError` naming the file.
    private func rethrowingFormatErrors(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as any FormatError {
            close()
            throw ImageError(path: path, reason: error.reason)
        }
    }

    private func readStored(rows: Int, into buffer: UnsafeMutableRawPointer) throws {
        switch decoder {
        case nil: throw ImageError(path: path, reason: "reader already closed")
        case .tiff(let tiff): try rethrowingFormatErrors { try tiff.readRows(rows, into: buffer) }
        case .tga(let tga): try rethrowingFormatErrors { try tga.readRows(rows, into: buffer) }
        case .bmp(let bmp): try rethrowingFormatErrors { try bmp.readRows(rows, into: buffer) }
        case .netpbm(let netpbm): try rethrowingFormatErrors { try netpbm.readRows(rows, into: buffer) }
        case .codec(let handle):
            var message = [CChar](repeating: 0, count: 512)
            let status = sr_reader_read_rows(
                handle, buffer.assumingMemoryBound(to: UInt8.self), Int32(rows), &message, message.count)
            if status != 0 {
                close()
                throw ImageError(path: path, reason: String(cString: message))
            }
        }
    }

    /// Display rows `rows` of a stored interleaved image of `width` × `height` as planar floats: integer
    /// samples (1 or 2 bytes) scaled to [0, 1], floating-point ones (4 bytes) as they are.
    static func convert(
        _ stored: UnsafeRawPointer, width: Int, height: Int, channels: Int, bytesPerSample: Int,
        orientation: Int, rows: Range<Int>
    ) -> PlanarImage {
        let outWidth = Orientation.swapsAxes(orientation) ? height : width
        var band = PlanarImage(width: outWidth, height: rows.count, channels: channels)
        let plane = rows.count * outWidth
        band.pixels.withUnsafeMutableBufferPointer { out in
            for (i, y) in rows.enumerated() {
                let (start, step) = Orientation.storedLine(orientation, row: y, width: width, height: height)
                for c in 0..<channels {
                    let target = out.baseAddress! + c * plane + i * outWidth
                    if bytesPerSample == 1 {
                        let samples = stored.assumingMemoryBound(to: UInt8.self)
                        for x in 0..<outWidth { target[x] = Float(samples[(start + x * step) * channels + c]) / 255 }
                    } else if bytesPerSample == 4 {
                        let samples = stored.assumingMemoryBound(to: Float.self)
                        for x in 0..<outWidth { target[x] = samples[(start + x * step) * channels + c] }
                    } else {
                        let samples = stored.assumingMemoryBound(to: UInt16.self)
                        for x in 0..<outWidth { target[x] = Float(samples[(start + x * step) * channels + c]) / 65535 }
                    }
                }
            }
        }
        return band
    }
}
