import CImageCodec
import Dispatch
import Foundation
import SRFiles

/// Encodes an image band by band into a temporary file beside the destination, and renames it into
/// place only when `finish()` succeeds: a failed or abandoned write leaves nothing behind and never
/// touches an existing file at the destination.
public final class ImageWriter {
    public let path: String
    public let format: ImageFormat
    /// The page being written (a multi-page TIFF's pages may differ).
    public private(set) var width: Int
    public private(set) var height: Int
    public private(set) var channels: Int
    public private(set) var bitDepth: Int
    public private(set) var rowsWritten = 0

    /// The C encoder (PNG, JPEG), or the Swift one (TIFF, TGA, BMP, Netpbm); a TIFF's is also `tiff`, which
    /// starts pages.
    private var handle: OpaquePointer?
    private var rowWriter: (any RowWriter)?
    private var tiff: TIFFWriter?
    private let temporaryPath: String
    private var raw: [UInt8] = []
    /// Bands are split into parts of at least this many bytes.
    static let minimumPartBytes = 32_768
    /// The last row written (PNG in pieces: the Paeth filter of the next band's first row needs it).
    private var previousRow: [UInt8] = []
    private let threads: Int

    /// Starts an encoder.
    /// - Parameters:
    ///   - path: destination; its extension does not matter here (`format` decides).
    ///   - channels: 1-4 for PNG, TIFF and TGA; JPEG takes 1 or 3 (alpha must be removed by the caller).
    ///   - bitDepth: 8 or 16 (PNG and TIFF), or 32 for floating-point samples (TIFF only); TGA takes 8.
    ///   - quality: JPEG quality 1-100.
    ///   - pngCompression: 0-9 for PNG: 1 (fast) is the Paeth filter with run-length deflate, the
    ///     others zlib's levels with adaptive filters.
    ///   - metadata: colour profile, EXIF, XMP and resolution to embed (`ImageMetadata.forOutput` makes
    ///     them from the input's).
    ///   - threads: threads converting and (PNG level 1, TIFF) compressing each band.
    ///   - pages: for TIFF, how many pages of about this size will be written (`startPage`).
    /// - Throws: `ImageError` when the folder is not writable or the combination is invalid.
    public init(
        path: String, format: ImageFormat, width: Int, height: Int, channels: Int, bitDepth: Int = 8,
        quality: Int = 95, pngCompression: Int = 1, metadata: ImageMetadata = ImageMetadata(), threads: Int = 1,
        pages: Int = 1
    ) throws {
        precondition(threads >= 1, "threads must be at least 1")
        precondition(format != .gif, "GIF output is written by GIFWriter")
        self.threads = threads
        self.path = path
        self.format = format
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        temporaryPath = try ImageWriter.temporaryFile(for: path)
        if format != .png && format != .jpeg {
            precondition(
                format == .tiff || bitDepth == 8 || (format == .netpbm && bitDepth == 16),
                "TGA and BMP output is 8-bit, Netpbm 8- or 16-bit")
            do {
                switch format {
                case .tiff:
                    let writer = try TIFFWriter(
                        path: temporaryPath, width: width, height: height, channels: channels, bitDepth: bitDepth,
                        metadata: metadata, pages: pages)
                    (tiff, rowWriter) = (writer, writer)
                case .tga:
                    rowWriter = try TGAWriter(path: temporaryPath, width: width, height: height, channels: channels)
                case .bmp:
                    rowWriter = try BMPWriter(
                        path: temporaryPath, width: width, height: height, channels: channels,
                        resolution: metadata.resolution)
                default:
                    rowWriter = try NetpbmWriter(
                        path: temporaryPath, width: width, height: height, channels: channels, bitDepth: bitDepth)
                }
            } catch {
                TemporaryFiles.discard(temporaryPath)
                throw ImageError(path: path, reason: Self.reason(error))
            }
            return
        }
        var message = [CChar](repeating: 0, count: 512)
        var writer: OpaquePointer?
        let (icc, exif, xmp) = (metadata.iccProfile ?? [], metadata.exif ?? [], metadata.xmp ?? [])
        let temporaryPath = self.temporaryPath
        let status = icc.withUnsafeBufferPointer { icc in
            exif.withUnsafeBufferPointer { exif in
                xmp.withUnsafeBufferPointer { xmp in
                    var embedded = sr_metadata(
                        icc: icc.baseAddress, icc_length: icc.count, exif: exif.baseAddress, exif_length: exif.count,
                        xmp: xmp.baseAddress, xmp_length: xmp.count,
                        x_pixels_per_inch: metadata.resolution?.x ?? 0, y_pixels_per_inch: metadata.resolution?.y ?? 0)
                    return PathEncoding.withCString(temporaryPath) { cPath in
                        sr_writer_open(
                            cPath, format == .png ? Int32(SR_FORMAT_PNG) : Int32(SR_FORMAT_JPEG),
                            Int32(width), Int32(height), Int32(channels), Int32(bitDepth), Int32(quality),
                            Int32(pngCompression), &embedded, &writer, &message, message.count)
                    }
                }
            }
        }
        guard status == 0, let writer else {
            TemporaryFiles.discard(temporaryPath)
            throw ImageError(path: path, reason: String(cString: message))
        }
        handle = writer
    }

    deinit { abort() }

    /// A fresh temporary file name beside `path`, once the output folder is known to exist and `path` is not
    /// a folder (stale temporaries of killed runs in that folder are removed first).
    static func temporaryFile(for path: String) throws -> String {
        let folder = FileSystem.parentFolder(of: path)
        guard FileSystem.isDirectory(folder) else {
            throw ImageError(path: path, reason: "output folder \(PathEncoding.displayed(folder)) does not exist")
        }
        if FileSystem.isDirectory(path) {
            throw ImageError(path: path, reason: "is a folder; cannot write an image there")
        }
        TemporaryFiles.removeStale(inFolderOnce: folder)
        return TemporaryFiles.create(for: path)
    }

    /// Abandons the write: frees the encoder and removes the temporary file.
    public func abort() {
        if let handle {
            sr_writer_abort(handle)
            TemporaryFiles.discard(temporaryPath)
        }
        if let rowWriter {
            rowWriter.abort()
            TemporaryFiles.discard(temporaryPath)
        }
        handle = nil
        tiff = nil
        rowWriter = nil
    }

    /// Encodes the next rows. `band` must have this writer's width and channel count; values are
    /// clamped to [0, 1] and rounded to the output depth (a 32-bit floating-point TIFF keeps them as they are). With `threads` > 1, the conversion and (at
    /// PNG level 1) the filtering and compression run on that many threads, each on its own rows.
    public func writeRows(_ band: PlanarImage) throws {
        precondition(band.width == width && band.channels == channels, "band does not match the writer")
        guard handle != nil || rowWriter != nil else {
            throw ImageError(path: path, reason: "writer already closed")
        }
        let rows = band.height
        guard rows > 0 else { return }
        let rowBytes = width * channels * bitDepth / 8
        if raw.count < rows * rowBytes { raw = [UInt8](repeating: 0, count: rows * rowBytes) }
        let inPieces = handle.map { sr_writer_takes_pieces($0) != 0 } ?? false
        // Each part compresses on its own (a fresh deflate state of a few hundred KB), so parts stay large.
        let parts = max(1, min(rows, threads, rows * rowBytes / ImageWriter.minimumPartBytes))
        func part(_ k: Int) -> Range<Int> { (k * rows / parts)..<((k + 1) * rows / parts) }
        raw.withUnsafeMutableBytes { out in
            band.pixels.withUnsafeBufferPointer { input in
                let (input, out) = (input.baseAddress!, out.baseAddress!)
                let plane = rows * width
                DispatchQueue.concurrentPerform(iterations: parts) { k in
                    let part = part(k)
                    sr_pack_samples(
                        input, plane, Int32(channels), part.lowerBound * width, part.count * width, Int32(bitDepth),
                        inPieces ? 1 : 0, out)
                }
            }
        }
        if let rowWriter {
            do {
                try raw.withUnsafeBytes { try rowWriter.write($0, count: rows, threads: threads) }
            } catch {
                abort()
                throw ImageError(path: path, reason: Self.reason(error))
            }
            rowsWritten += rows
            return
        }
        guard let handle else { throw ImageError(path: path, reason: "writer already closed") }
        var message = [CChar](repeating: 0, count: 512)
        var status: Int32 = 0
        if inPieces {
            var pieces = [sr_png_piece](repeating: sr_png_piece(), count: parts)
            var failures = [Int32](repeating: 0, count: parts)
            raw.withUnsafeBufferPointer { rawRows in
                previousRow.withUnsafeBufferPointer { previous in
                    pieces.withUnsafeMutableBufferPointer { pieces in
                        failures.withUnsafeMutableBufferPointer { failures in
                            let (rawRows, pieces, failures) = (
                                rawRows.baseAddress!, pieces.baseAddress!, failures.baseAddress!
                            )
                            let above = previous.isEmpty ? nil : previous.baseAddress
                            let pixelBytes = Int32(channels * bitDepth / 8)
                            DispatchQueue.concurrentPerform(iterations: parts) { k in
                                let rows = part(k)
                                let first = rawRows + rows.lowerBound * rowBytes
                                failures[k] = sr_png_encode_piece(
                                    first, rows.lowerBound == 0 ? above : first - rowBytes, rowBytes, pixelBytes,
                                    Int32(rows.count), pieces + k)
                            }
                        }
                    }
                }
            }
            defer { for k in 0..<parts { sr_png_piece_free(&pieces[k]) } }
            if failures.contains(where: { $0 != 0 }) {
                abort()
                throw ImageError(path: path, reason: "out of memory compressing the PNG")
            }
            for k in 0..<parts where status == 0 {
                status = sr_writer_write_piece(handle, &pieces[k], &message, message.count)
            }
            previousRow = Array(raw[((rows - 1) * rowBytes)..<(rows * rowBytes)])
        } else {
            status = raw.withUnsafeBufferPointer { buffer in
                sr_writer_write_rows(handle, buffer.baseAddress, Int32(rows), &message, message.count)
            }
        }
        if status != 0 {
            abort()
            throw ImageError(path: path, reason: String(cString: message))
        }
        rowsWritten += rows
    }

    /// Ends the current page of a TIFF and starts the next (every row of the current page must be written).
    /// - Throws: `ImageError` when rows are missing or writing fails; the output is then abandoned.
    public func startPage(
        width: Int, height: Int, channels: Int, bitDepth: Int, metadata: ImageMetadata = ImageMetadata()
    ) throws {
        guard let tiff else { throw ImageError(path: path, reason: "only a TIFF holds several pages") }
        do {
            try tiff.startPage(width: width, height: height, channels: channels, bitDepth: bitDepth, metadata: metadata)
        } catch {
            abort()
            throw ImageError(path: path, reason: Self.reason(error))
        }
        (self.width, self.height, self.channels, self.bitDepth) = (width, height, channels, bitDepth)
        rowsWritten = 0
        previousRow = []
    }

    /// Completes the file, flushes it to the disk and renames it into place.
    /// - Throws: `ImageError` if rows are missing, encoding fails or the rename fails.
    public func finish() throws {
        if let rowWriter {
            (self.rowWriter, tiff) = (nil, nil)
            do {
                try rowWriter.finish()
            } catch {
                rowWriter.abort()
                TemporaryFiles.discard(temporaryPath)
                throw ImageError(path: path, reason: Self.reason(error))
            }
            try TemporaryFiles.commit(temporaryPath, to: path)
            return
        }
        guard let handle else { throw ImageError(path: path, reason: "writer already closed") }
        self.handle = nil
        var message = [CChar](repeating: 0, count: 512)
        if sr_writer_finish(handle, &message, message.count) != 0 {
            TemporaryFiles.discard(temporaryPath)
            throw ImageError(path: path, reason: String(cString: message))
        }
        try TemporaryFiles.commit(temporaryPath, to: path)
    }

    /// The reason of a TIFF writer's error, without the temporary file's name.
    private static func reason(_ error: Error) -> String {
        switch error {
        case let error as any FormatError: error.reason
        case let error as FileError: error.reason
        default: "\(error)"
        }
    }
}

/// An encoder written in Swift that takes interleaved rows in host order (TIFF, TGA, BMP, Netpbm).
protocol RowWriter: AnyObject {
    /// Encodes and writes `count` rows, on up to `threads` threads where the format compresses in parts (TIFF's
    /// strips); the others encode on the calling thread.
    func write(_ rows: UnsafeRawBufferPointer, count: Int, threads: Int) throws
    /// Completes the file (not yet flushed); throws when rows are missing.
    func finish() throws
    /// Closes the file unfinished (the caller removes it).
    func abort()
}

extension TIFFWriter: RowWriter {}
extension TGAWriter: RowWriter {}
extension BMPWriter: RowWriter {}
extension NetpbmWriter: RowWriter {}
