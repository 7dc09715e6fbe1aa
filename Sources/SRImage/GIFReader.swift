import Foundation
import SRFiles

/// One frame of a GIF as it is shown: the whole canvas after the frame is drawn over what the earlier
/// frames left, as 8-bit RGBA (alpha 0 where nothing was drawn or the frame's colour is transparent).
public struct GIFFrame: Sendable {
    public var width: Int
    public var height: Int
    /// Row-major RGBA, 4 bytes per pixel.
    public var rgba: [UInt8]
    /// How long the frame shows, in hundredths of a second, as stored (viewers show 0 and 1 as about 10).
    public var delay: Int

    public init(width: Int, height: Int, rgba: [UInt8], delay: Int) {
        precondition(rgba.count == width * height * 4, "RGBA bytes do not match the size")
        (self.width, self.height, self.rgba, self.delay) = (width, height, rgba, delay)
    }

    /// The frame as planes in [0, 1]: RGB when every pixel is opaque, else RGBA.
    public func planarImage() -> PlanarImage {
        let plane = width * height
        let transparent = stride(from: 3, to: rgba.count, by: 4).contains { rgba[$0] < 255 }
        var image = PlanarImage(width: width, height: height, channels: transparent ? 4 : 3)
        for i in 0..<plane {
            for c in 0..<(transparent ? 4 : 3) { image.pixels[c * plane + i] = Float(rgba[4 * i + c]) / 255 }
        }
        return image
    }
}

/// Reads a GIF (87a or 89a, still or animated) one displayed frame at a time, composing the frames the
/// way browsers do: each frame's rectangle is drawn over the canvas, transparent indices leave the pixel
/// below, and a frame's disposal (keep, clear to transparent, restore the previous canvas) is applied
/// before the next one. The file's structure is checked when it is opened; memory is the file plus two
/// canvases.
public final class GIFReader {
    public let path: String
    /// The logical screen (canvas) size.
    public let width: Int
    public let height: Int
    /// The NETSCAPE2.0 loop count: 0 loops forever, nil means the file has none (viewers play it once).
    public let loopCount: Int?
    public var frameCount: Int { frames.count }

    private struct Frame {
        var left = 0, top = 0, width = 0, height = 0
        var interlaced = false
        /// RGB triples: the local table, else the global one.
        var colorTable: [UInt8] = []
        var transparentIndex: Int?
        var disposal = 0
        var delay = 0
        var minimumCodeSize = 8
        var data: [UInt8] = []
    }

    private let frames: [Frame]
    private var nextIndex = 0
    private var canvas: [UInt8]
    private var pendingDisposal: (frame: Frame, saved: [UInt8]?)?

    /// Whether the file at `path` starts like a GIF.
    public static func isGIF(path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let start = (try? handle.read(upToCount: 6)) ?? Data()
        return start == Data("GIF87a".utf8) || start == Data("GIF89a".utf8)
    }

    /// Opens `path` and checks its structure (the pixel data is decoded frame by frame later).
    /// - Throws: `ImageError` naming the file when it is missing, not a GIF, truncated before its first
    ///   frame, has a frame without a colour table, or is over the `limits`.
    public init(path: String, limits: DecodeLimits = DecodeLimits()) throws {
        self.path = path
        try FileSystem.requireRegularFile(path)
        let bytes: [UInt8]
        do {
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
            guard size <= limits.maximumWholeDecodeBytes else {
                throw ImageError(path: path, reason: "GIF file of \(size / 1_000_000) MB is over the memory limit")
            }
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let error as ImageError {
            throw error
        } catch {
            throw ImageError(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        var parser = GIFParser(bytes: bytes, path: path)
        let screen = try parser.header()
        guard screen.width > 0, screen.height > 0 else {
            throw ImageError(path: path, reason: "GIF canvas is \(screen.width)x\(screen.height)")
        }
        guard screen.width * screen.height <= limits.maximumPixels else {
            throw ImageError(
                path: path,
                reason: "is \(screen.width)x\(screen.height), over the limit of \(limits.maximumPixels) pixels")
        }
        // Frames are composed whole: two RGBA canvases and one frame as float planes.
        guard screen.width * screen.height * (8 + 16) <= limits.maximumWholeDecodeBytes else {
            throw ImageError(
                path: path,
                reason: "is \(screen.width)x\(screen.height): GIF frames are decoded whole, and that needs more than "
                    + "the \(limits.maximumWholeDecodeBytes / 1_000_000) MB allowed")
        }
        width = screen.width
        height = screen.height
        var frames: [Frame] = []
        var loopCount: Int?
        var control: (disposal: Int, delay: Int, transparent: Int?)?
        scan: while true {
            let introducer: UInt8
            do {
                introducer = try parser.byte()
            } catch {
                // A missing trailer after complete frames is common and harmless.
                if frames.isEmpty { throw error }
                break
            }
            switch introducer {
            case 0x3B:
                break scan
            case 0x21:
                let label = try parser.byte()
                let blocks = try parser.subBlocks()
                if label == 0xF9, let block = blocks.first, block.count >= 4 {
                    control = (
                        disposal: Int(block[0] >> 2) & 7, delay: Int(block[1]) | Int(block[2]) << 8,
                        transparent: block[0] & 1 != 0 ? Int(block[3]) : nil
                    )
                } else if label == 0xFF, blocks.count >= 2, blocks[0].count == 11,
                    ["NETSCAPE2.0", "ANIMEXTS1.0"].contains(String(decoding: blocks[0], as: UTF8.self)),
                    blocks[1].count >= 3, blocks[1][0] == 1
                {
                    loopCount = Int(blocks[1][1]) | Int(blocks[1][2]) << 8
                }
            case 0x2C:
                var frame = Frame()
                frame.left = try parser.word()
                frame.top = try parser.word()
                frame.width = try parser.word()
                frame.height = try parser.word()
                // A frame's indices are held whole while it is drawn; a tiny file can claim a huge one.
                guard frame.width * frame.height <= min(limits.maximumPixels, limits.maximumWholeDecodeBytes) else {
                    throw ImageError(
                        path: path,
                        reason: "GIF frame \(frames.count + 1) is \(frame.width)x\(frame.height), over the limit")
                }
                let packed = try parser.byte()
                frame.interlaced = packed & 0x40 != 0
                if packed & 0x80 != 0 {
                    frame.colorTable = try parser.bytes(3 << (Int(packed & 7) + 1))
                } else {
                    frame.colorTable = screen.colorTable
                }
                guard !frame.colorTable.isEmpty else {
                    throw ImageError(path: path, reason: "GIF frame \(frames.count + 1) has no colour table")
                }
                frame.disposal = control?.disposal ?? 0
                frame.delay = control?.delay ?? 0
                frame.transparentIndex = control?.transparent
                control = nil
                frame.minimumCodeSize = Int(try parser.byte())
                guard (1...11).contains(frame.minimumCodeSize) else {
                    throw ImageError(
                        path: path,
                        reason: "GIF frame \(frames.count + 1) has an invalid LZW code size \(frame.minimumCodeSize)")
                }
                // Image data cut short decodes as far as it goes (as browsers show it).
                let (blocks, complete) = parser.subBlocksAllowingTruncation()
                frame.data = blocks
                frames.append(frame)
                if !complete { break scan }
            default:
                if frames.isEmpty {
                    throw ImageError(
                        path: path,
                        reason: "corrupt GIF: unexpected byte 0x\(String(introducer, radix: 16)) "
                            + "at offset \(parser.position - 1)")
                }
                // Trailing garbage after complete frames: stop there, as viewers do.
                break scan
            }
        }
        guard !frames.isEmpty else { throw ImageError(path: path, reason: "GIF has no frames") }
        self.frames = frames
        self.loopCount = loopCount
        canvas = [UInt8](repeating: 0, count: width * height * 4)
    }

    /// The next displayed frame, or nil after the last.
    /// - Throws: `ImageError` when the frame's LZW data is corrupt.
    public func nextFrame() throws -> GIFFrame? {
        guard nextIndex < frames.count else { return nil }
        let frame = frames[nextIndex]
        nextIndex += 1
        if case let (previous, saved)? = pendingDisposal {
            if previous.disposal == 2 {
                // The rectangle may lie partly or wholly outside the canvas.
                let (rows, columns) = (
                    previous.top..<max(previous.top, min(height, previous.top + previous.height)),
                    previous.left..<max(previous.left, min(width, previous.left + previous.width))
                )
                for y in rows {
                    for x in columns { for c in 0..<4 { canvas[4 * (y * width + x) + c] = 0 } }
                }
            } else if previous.disposal == 3, let saved {
                canvas = saved
            }
        }
        pendingDisposal = (frame, frame.disposal == 3 ? canvas : nil)
        let indices: [UInt8]
        do {
            indices = try GIFLZW.decode(
                frame.data, minimumCodeSize: frame.minimumCodeSize, pixelCount: frame.width * frame.height)
        } catch {
            throw ImageError(path: path, reason: "GIF frame \(nextIndex): \(error)")
        }
        let colors = frame.colorTable.count / 3
        // Stored rows in order (data cut short fills fewer); columns past the canvas are skipped.
        let storedRows = frame.width > 0 ? (indices.count + frame.width - 1) / frame.width : 0
        let columns = 0..<max(0, min(frame.width, width - frame.left))
        for order in 0..<storedRows {
            let y = frame.top + GIFReader.storedRow(order, height: frame.height, interlaced: frame.interlaced)
            guard y < height else { continue }
            for column in columns where order * frame.width + column < indices.count {
                let value = Int(indices[order * frame.width + column])
                if value == frame.transparentIndex { continue }
                let at = 4 * (y * width + frame.left + column)
                // An index past the table shows black, as in browsers.
                for c in 0..<3 { canvas[at + c] = value < colors ? frame.colorTable[3 * value + c] : 0 }
                canvas[at + 3] = 255
            }
        }
        return GIFFrame(width: width, height: height, rgba: canvas, delay: frame.delay)
    }

    /// The frame row that the `order`-th stored row holds: itself, or for interlaced frames rows
    /// 0, 8, 16, … then 4, 12, … then 2, 6, … then 1, 3, ….
    static func storedRow(_ order: Int, height: Int, interlaced: Bool) -> Int {
        guard interlaced else { return order }
        var order = order
        for (start, step) in [(0, 8), (4, 8), (2, 4), (1, 2)] {
            let rows = start < height ? (height - start + step - 1) / step : 0
            if order < rows { return start + order * step }
            order -= rows
        }
        return height
    }
}

/// Byte-level reading of a GIF's blocks.
private struct GIFParser {
    let bytes: [UInt8]
    let path: String
    var position = 0

    init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    var truncated: ImageError { ImageError(path: path, reason: "truncated GIF (ends at byte \(bytes.count))") }

    mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw truncated }
        position += 1
        return bytes[position - 1]
    }

    mutating func word() throws -> Int { Int(try byte()) | Int(try byte()) << 8 }

    mutating func bytes(_ count: Int) throws -> [UInt8] {
        guard count <= bytes.count - position else { throw truncated }
        position += count
        return Array(bytes[(position - count)..<position])
    }

    /// The signature and logical screen descriptor, with the global colour table (empty when absent).
    mutating func header() throws -> (width: Int, height: Int, colorTable: [UInt8]) {
        let signature = try bytes(6)
        guard signature == Array("GIF87a".utf8) || signature == Array("GIF89a".utf8) else {
            throw ImageError(path: path, reason: "not a GIF file")
        }
        let width = try word()
        let height = try word()
        let packed = try byte()
        _ = try bytes(2)  // background colour index and pixel aspect ratio: browsers ignore both
        let table = packed & 0x80 != 0 ? try bytes(3 << (Int(packed & 7) + 1)) : []
        return (width, height, table)
    }

    /// The sub-blocks of an extension, each as read, up to the zero-length terminator.
    mutating func subBlocks() throws -> [[UInt8]] {
        var blocks: [[UInt8]] = []
        while true {
            let count = Int(try byte())
            if count == 0 { return blocks }
            blocks.append(try bytes(count))
        }
    }

    /// The concatenated sub-blocks of image data, and whether the terminator was reached.
    mutating func subBlocksAllowingTruncation() -> (data: [UInt8], complete: Bool) {
        var data: [UInt8] = []
        while position < bytes.count {
            let count = Int(bytes[position])
            position += 1
            if count == 0 { return (data, true) }
            let end = min(bytes.count, position + count)
            data.append(contentsOf: bytes[position..<end])
            position = end
        }
        return (data, false)
    }
}
