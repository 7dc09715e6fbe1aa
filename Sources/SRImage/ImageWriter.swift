import CImageCodec
import Foundation
import SRFiles

/// Encodes an image band by band into a temporary file beside the destination, and renames it into
/// place only when `finish()` succeeds: a failed or abandoned write leaves nothing behind and never
/// touches an existing file at the destination.
public final class ImageWriter {
    public let path: String
    public let format: ImageFormat
    public let width: Int
    public let height: Int
    public let channels: Int
    public let bitDepth: Int
    public private(set) var rowsWritten = 0

    private var handle: OpaquePointer?
    private let temporaryPath: String
    private var raw: [UInt8] = []

    /// Starts an encoder.
    /// - Parameters:
    ///   - path: destination; its extension does not matter here (`format` decides).
    ///   - channels: 1-4 for PNG; JPEG takes 1 or 3 (alpha must be removed by the caller).
    ///   - bitDepth: 8 or 16 (PNG only).
    ///   - quality: JPEG quality 1-100.
    ///   - pngCompression: zlib level 0-9 for PNG (1, OpenCV's default: fast; 9: smallest files).
    ///   - iccProfile: colour profile to embed, if any.
    /// - Throws: `ImageError` when the folder is not writable or the combination is invalid.
    public init(
        path: String, format: ImageFormat, width: Int, height: Int, channels: Int, bitDepth: Int = 8,
        quality: Int = 95, pngCompression: Int = 1, iccProfile: [UInt8]? = nil
    ) throws {
        self.path = path
        self.format = format
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        let folder = FileSystem.parentFolder(of: path)
        guard FileSystem.isDirectory(folder) else {
            throw ImageError(path: path, reason: "output folder \(PathEncoding.displayed(folder)) does not exist")
        }
        if FileSystem.isDirectory(path) {
            throw ImageError(path: path, reason: "is a folder; cannot write an image there")
        }
        TemporaryFiles.removeStale(inFolderOnce: folder)
        temporaryPath = TemporaryFiles.create(for: path)
        var message = [CChar](repeating: 0, count: 512)
        var writer: OpaquePointer?
        let icc = iccProfile ?? []
        let temporaryPath = self.temporaryPath
        let status = icc.withUnsafeBufferPointer { profile in
            PathEncoding.withCString(temporaryPath) { cPath in
                sr_writer_open(
                    cPath, format == .png ? Int32(SR_FORMAT_PNG) : Int32(SR_FORMAT_JPEG),
                    Int32(width), Int32(height), Int32(channels), Int32(bitDepth), Int32(quality),
                    Int32(pngCompression), profile.baseAddress, profile.count, &writer, &message, message.count)
            }
        }
        guard status == 0, let writer else {
            TemporaryFiles.discard(temporaryPath)
            throw ImageError(path: path, reason: String(cString: message))
        }
        handle = writer
    }

    deinit { abort() }

    /// Abandons the write: frees the encoder and removes the temporary file.
    public func abort() {
        if let handle {
            sr_writer_abort(handle)
            TemporaryFiles.discard(temporaryPath)
        }
        handle = nil
    }

    /// Encodes the next rows. `band` must have this writer's width and channel count; values are
    /// clamped to [0, 1] and rounded to the output depth.
    public func writeRows(_ band: PlanarImage) throws {
        precondition(band.width == width && band.channels == channels, "band does not match the writer")
        guard let handle else { throw ImageError(path: path, reason: "writer already closed") }
        let rows = band.height
        let plane = rows * width
        let bytesPerSample = bitDepth / 8
        if raw.count < plane * channels * bytesPerSample {
            raw = [UInt8](repeating: 0, count: plane * channels * bytesPerSample)
        }
        let channels = self.channels
        raw.withUnsafeMutableBufferPointer { out in
            band.pixels.withUnsafeBufferPointer { input in
                if bytesPerSample == 1 {
                    for i in 0..<plane {
                        for c in 0..<channels {
                            let v = min(max(input[c * plane + i], 0), 1)
                            out[i * channels + c] = UInt8((v * 255).rounded())
                        }
                    }
                } else {
                    out.baseAddress!.withMemoryRebound(to: UInt16.self, capacity: plane * channels) { samples in
                        for i in 0..<plane {
                            for c in 0..<channels {
                                let v = min(max(input[c * plane + i], 0), 1)
                                samples[i * channels + c] = UInt16((v * 65535).rounded())
                            }
                        }
                    }
                }
            }
        }
        var message = [CChar](repeating: 0, count: 512)
        let status = raw.withUnsafeBufferPointer { buffer in
            sr_writer_write_rows(handle, buffer.baseAddress, Int32(rows), &message, message.count)
        }
        if status != 0 {
            abort()
            throw ImageError(path: path, reason: String(cString: message))
        }
        rowsWritten += rows
    }

    /// Completes the file, flushes it to the disk and renames it into place.
    /// - Throws: `ImageError` if rows are missing, encoding fails or the rename fails.
    public func finish() throws {
        guard let handle else { throw ImageError(path: path, reason: "writer already closed") }
        self.handle = nil
        var message = [CChar](repeating: 0, count: 512)
        if sr_writer_finish(handle, &message, message.count) != 0 {
            TemporaryFiles.discard(temporaryPath)
            throw ImageError(path: path, reason: String(cString: message))
        }
        try TemporaryFiles.commit(temporaryPath, to: path)
    }
}
