import CImageCodec
import Foundation

/// What an image file holds, as the reader delivers it (after EXIF orientation).
public struct ImageDescription: Sendable {
    public var format: ImageFormat
    /// Width and height after applying the EXIF orientation.
    public var width: Int
    public var height: Int
    /// 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    public var channels: Int
    /// 8 or 16: the depth of the delivered samples (1/2/4-bit PNGs are widened to 8).
    public var bitDepth: Int
    /// EXIF orientation found in the file (1 when there is none).
    public var orientation: Int
    /// The embedded ICC colour profile, copied to outputs.
    public var iccProfile: [UInt8]?
    /// Whether rows are decoded on demand (false for interlaced PNGs and rotated JPEGs).
    public var isStreaming: Bool

    public var hasAlpha: Bool { channels == 2 || channels == 4 }
}

/// Reads an image as consecutive bands of rows, so memory stays proportional to width × band height.
///
/// Interlaced PNGs and JPEGs whose EXIF orientation rotates or flips vertically (3-8) cannot be
/// decoded top-down in display order; those are decoded whole when opened and then served in bands.
public final class ImageReader {
    public let path: String
    public let description: ImageDescription
    /// Rows delivered so far.
    public private(set) var rowsRead = 0

    private var handle: OpaquePointer?
    private let storedWidth: Int
    private let storedChannels: Int
    private let mirrorRows: Bool
    private var whole: PlanarImage?
    private var raw: [UInt8] = []

    /// Opens `path` and reads its header.
    /// - Throws: `ImageError` naming the file when it is missing, not PNG/JPEG, or corrupt.
    public init(path: String) throws {
        self.path = path
        var info = sr_image_info()
        var reader: OpaquePointer?
        var message = [CChar](repeating: 0, count: 512)
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            throw ImageError(path: path, reason: "no such file")
        }
        if isDirectory.boolValue { throw ImageError(path: path, reason: "is a folder, not an image file") }
        let status = sr_reader_open(path, &reader, &info, &message, message.count)
        guard status == 0, let reader else {
            throw ImageError(path: path, reason: String(cString: message))
        }
        handle = reader
        let icc = info.icc.map { Array(UnsafeBufferPointer(start: $0, count: info.icc_length)) }
        let exif = info.exif.map { Array(UnsafeBufferPointer(start: $0, count: info.exif_length)) }
        let orientation = exif.map(Orientation.value(fromExif:)) ?? 1
        storedWidth = Int(info.width)
        storedChannels = Int(info.channels)
        let swapped = Orientation.swapsAxes(orientation)
        let streams = info.interlaced == 0 && Orientation.isStreamable(orientation)
        description = ImageDescription(
            format: info.format == SR_FORMAT_PNG ? .png : .jpeg,
            width: Int(swapped ? info.height : info.width),
            height: Int(swapped ? info.width : info.height),
            channels: Int(info.channels), bitDepth: Int(info.bit_depth), orientation: orientation,
            iccProfile: icc, isStreaming: streams)
        mirrorRows = orientation == 2
        if !streams {
            let stored = try decodeRows(Int(info.height))
            whole = Orientation.apply(orientation, to: stored)
            close()
        }
    }

    deinit { close() }

    private func close() {
        if let handle { sr_reader_close(handle) }
        handle = nil
    }

    /// Reads the next `count` rows (fewer at the end of the image) as a band.
    /// - Throws: `ImageError` when the file turns out to be truncated or corrupt.
    public func readRows(_ count: Int) throws -> PlanarImage {
        let rows = min(count, description.height - rowsRead)
        precondition(rows >= 0)
        defer { rowsRead += rows }
        if let whole { return whole.rows(rowsRead..<(rowsRead + rows)) }
        var band = try decodeRows(rows)
        if mirrorRows { band = Orientation.apply(2, to: band) }
        if rowsRead + rows == description.height { close() }
        return band
    }

    /// Reads every remaining row.
    public func readAll() throws -> PlanarImage { try readRows(description.height - rowsRead) }

    private func decodeRows(_ rows: Int) throws -> PlanarImage {
        guard let handle else { throw ImageError(path: path, reason: "reader already closed") }
        let bytesPerSample = description.bitDepth / 8
        let count = rows * storedWidth * storedChannels
        if raw.count < count * bytesPerSample { raw = [UInt8](repeating: 0, count: count * bytesPerSample) }
        var message = [CChar](repeating: 0, count: 512)
        let status = raw.withUnsafeMutableBufferPointer { buffer in
            sr_reader_read_rows(handle, buffer.baseAddress, Int32(rows), &message, message.count)
        }
        if status != 0 {
            close()
            throw ImageError(path: path, reason: String(cString: message))
        }
        var band = PlanarImage(width: storedWidth, height: rows, channels: storedChannels)
        let plane = rows * storedWidth
        let channels = storedChannels
        band.pixels.withUnsafeMutableBufferPointer { out in
            raw.withUnsafeBufferPointer { input in
                if bytesPerSample == 1 {
                    for i in 0..<plane {
                        for c in 0..<channels { out[c * plane + i] = Float(input[i * channels + c]) / 255 }
                    }
                } else {
                    input.baseAddress!.withMemoryRebound(to: UInt16.self, capacity: count) { samples in
                        for i in 0..<plane {
                            for c in 0..<channels { out[c * plane + i] = Float(samples[i * channels + c]) / 65535 }
                        }
                    }
                }
            }
        }
        return band
    }
}
