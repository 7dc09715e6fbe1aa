import Dispatch
import Foundation
import SRImage
import SRTensor

/// Anything that yields an image's rows top to bottom in bands.
public protocol RowSource: AnyObject {
    /// Reads the next `count` rows (fewer at the end).
    func readRows(_ count: Int) throws -> PlanarImage
}

extension ImageReader: RowSource {}

/// An in-memory image served as bands (for tests and whole-image callers).
public final class MemoryRowSource: RowSource {
    let image: PlanarImage
    var next = 0
    public init(_ image: PlanarImage) { self.image = image }
    public func readRows(_ count: Int) throws -> PlanarImage {
        let rows = min(count, image.height - next)
        defer { next += rows }
        return image.rows(next..<(next + rows))
    }
}

/// Tile geometry. All sizes are in input pixels.
public struct TilingOptions: Sendable, Equatable {
    /// Side of each tile's core; cores partition the image.
    public var tileSize: Int
    /// Context added around each core and thrown away after inference. When it is at least the
    /// model's receptive radius, tiled output equals whole-image output.
    public var overlap: Int
    /// Half-width of the linear cross-fade between neighbouring tiles, centred on the core boundary
    /// (at most tileSize / 2). Hides seams when `overlap` is smaller than the receptive radius.
    public var blend: Int
    /// Tiles of one strip run on this many threads at once.
    public var workers: Int
    /// Every tile starts at a multiple of this in both directions (its context reaches further back when
    /// needed), so models that pixel-unshuffle their input see the same grid in every tile as in the
    /// whole image.
    public var alignment: Int

    /// The tile core size used when none is asked for (or chosen from a memory budget).
    public static let defaultTileSize = 128

    public init(
        tileSize: Int = defaultTileSize, overlap: Int = 16, blend: Int = 2, workers: Int = 1, alignment: Int = 1
    ) {
        self.tileSize = tileSize
        self.overlap = overlap
        self.blend = min(blend, tileSize / 2)
        self.workers = max(1, workers)
        self.alignment = max(1, alignment)
    }

    /// Where a tile whose core starts at `coreStart` begins: `margin` before it, at an aligned position.
    func contextStart(core coreStart: Int, margin: Int) -> Int {
        let start = max(0, coreStart - margin)
        return start - start % alignment
    }
}

/// Streaming tiled inference. Rows are read in strips of `tileSize` (plus context), each strip is cut
/// into overlapping tiles that go through the model, tile outputs are cross-faded into an output
/// buffer, and output rows are handed on as soon as no later strip can touch them. Memory holds one
/// strip of input and output rows: it grows with width × tile size, never with height.
public final class TiledUpscaler {
    public typealias Model = @Sendable (Tensor) -> Tensor

    public let scale: Int
    public let options: TilingOptions
    let model: Model

    /// - Parameters:
    ///   - scale: the model's integer factor.
    ///   - model: maps [1, 3, h, w] in [0, 1] to [1, 3, h·scale, w·scale]; must be safe to call from
    ///     several threads when `options.workers` > 1.
    public init(scale: Int, options: TilingOptions, model: @escaping Model) {
        self.scale = scale
        self.options = options
        self.model = model
    }

    /// Upscales a 3-channel image of `width` × `height` from `source`, calling `emit` with consecutive
    /// bands of finished output rows (width·scale wide) and `progress` with (tiles done, tiles total).
    public func run(
        source: RowSource, width: Int, height: Int, emit: (PlanarImage) throws -> Void,
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws {
        let (t, o, h, s) = (options.tileSize, options.overlap, options.blend, scale)
        let strips = (height + t - 1) / t, columns = (width + t - 1) / t
        let outWidth = width * s, outHeight = height * s
        let margin = o + h
        var input = RowBuffer(width: width)
        var output = AccumulationBuffer(width: outWidth)
        var emitted = 0, tilesDone = 0
        for strip in 0..<strips {
            let coreTop = strip * t, coreBottom = min(height, coreTop + t)
            let top = options.contextStart(core: coreTop, margin: margin), bottom = min(height, coreBottom + margin)
            while input.end < bottom {
                let band = try source.readRows(min(max(t, 16), height - input.end))
                precondition(band.height > 0 && band.channels == 3, "row source ended early or is not RGB")
                input.append(band)
            }
            input.drop(below: top)
            // Rows of support: [coreTop − h, coreBottom + h] ∩ image, in output pixels.
            let supportTop = strip == 0 ? 0 : (coreTop - h) * s
            let supportBottom = strip == strips - 1 ? outHeight : (coreBottom + h) * s
            output.extend(to: supportBottom)
            let rowWeights = (supportTop..<supportBottom).map { y in
                TiledUpscaler.weight(
                    at: y, scale: s, coreStart: coreTop, coreEnd: coreBottom, blend: h,
                    rampStart: strip > 0, rampEnd: strip < strips - 1)
            }
            let tiles = (0..<columns).map { column -> (Int, Int, Int, Int) in
                let coreLeft = column * t, coreRight = min(width, coreLeft + t)
                return (
                    coreLeft, coreRight, options.contextStart(core: coreLeft, margin: margin),
                    min(width, coreRight + margin)
                )
            }
            let stripInput = input.tensor(rows: top..<bottom)
            // Workers run the strip's tiles in column order while this thread fades finished tiles in,
            // in column order too (so the sums, and the output, do not depend on timing). At most
            // `workers + 1` tile outputs are alive at once.
            let model = self.model
            let tileResults = TileResults(columns: columns, workers: min(options.workers, columns)) { column in
                let (_, _, left, right) = tiles[column]
                return model(TiledUpscaler.crop(stripInput, x: left, width: right - left))
            }
            for column in 0..<columns {
                let (coreLeft, coreRight, left, right) = tiles[column]
                let result = tileResults.take(column)
                precondition(
                    result.shape == [1, 3, (bottom - top) * s, (right - left) * s], "model returned \(result.shape)")
                let columnWeights = (0..<((right - left) * s)).map { x in
                    TiledUpscaler.weight(
                        at: left * s + x, scale: s, coreStart: coreLeft, coreEnd: coreRight, blend: h,
                        rampStart: column > 0, rampEnd: column < columns - 1)
                }
                output.accumulate(
                    result, top: top * s, left: left * s, rows: supportTop..<supportBottom,
                    rowWeights: rowWeights, columnWeights: columnWeights)
                tilesDone += 1
                progress(tilesDone, strips * columns)
            }
            tileResults.finish()
            let finished = strip == strips - 1 ? outHeight : (coreBottom - h) * s
            // In bands of at most `emitRows`, so the encoder starts on the first while the rest are taken.
            while finished > emitted {
                let end = min(finished, emitted + TiledUpscaler.emitRows)
                try emit(output.take(rows: emitted..<end))
                emitted = end
            }
        }
    }

    /// The most output rows handed to `emit` at once.
    static let emitRows = 128

    /// Cross-fade weight of a tile at output coordinate `y` (its centre is (y + 0.5)/scale in input units):
    /// a linear ramp over [core edge − blend, core edge + blend] on each side that has a neighbour.
    /// The ramps of two neighbours sum to exactly 1.
    static func weight(
        at y: Int, scale: Int, coreStart: Int, coreEnd: Int, blend: Int, rampStart: Bool, rampEnd: Bool
    ) -> Float {
        let centre = (Double(y) + 0.5) / Double(scale)
        var w = 1.0
        if rampStart {
            w =
                blend == 0
                ? (centre >= Double(coreStart) ? 1 : 0)
                : min(max((centre - Double(coreStart - blend)) / Double(2 * blend), 0), 1)
        }
        if rampEnd {
            let end =
                blend == 0
                ? (centre < Double(coreEnd) ? 1 : 0)
                : min(max((Double(coreEnd + blend) - centre) / Double(2 * blend), 0), 1)
            w = min(w, end)
        }
        return Float(w)
    }

    /// Columns [x, x + width) of a [1, C, H, W] tensor.
    static func crop(_ t: Tensor, x: Int, width: Int) -> Tensor {
        let (c, h, w) = (t.shape[1], t.shape[2], t.shape[3])
        var out = Tensor(zeros: [1, c, h, width])
        t.scalars.withUnsafeBufferPointer { src in
            out.scalars.withUnsafeMutableBufferPointer { dst in
                for row in 0..<(c * h) {
                    (dst.baseAddress! + row * width).update(from: src.baseAddress! + row * w + x, count: width)
                }
            }
        }
        return out
    }
}

/// Tile outputs of one strip, computed by `workers` threads in column order and taken in column order.
/// A worker waits before starting a tile while `workers + 1` outputs are computed or waiting, which
/// bounds memory; it cannot deadlock because columns start in order and are taken in order.
final class TileResults: @unchecked Sendable {
    private let condition = NSCondition()
    private let slots: DispatchSemaphore
    private var results: [Tensor?]
    private var next = 0
    private let group = DispatchGroup()
    private let serial: ((Int) -> Tensor)?

    init(columns: Int, workers: Int, compute: @escaping @Sendable (Int) -> Tensor) {
        results = [Tensor?](repeating: nil, count: columns)
        slots = DispatchSemaphore(value: workers + 1)
        guard workers > 1 else {
            serial = compute
            return
        }
        serial = nil
        DispatchQueue.global().async(group: group) { [self] in
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while true {
                    condition.lock()
                    let column = next
                    next += 1
                    condition.unlock()
                    if column >= columns { return }
                    slots.wait()
                    let result = compute(column)
                    condition.lock()
                    results[column] = result
                    condition.broadcast()
                    condition.unlock()
                }
            }
        }
    }

    /// The output of `column`, waiting for it if needed; columns must be taken in order.
    func take(_ column: Int) -> Tensor {
        if let serial { return serial(column) }
        condition.lock()
        while results[column] == nil { condition.wait() }
        let result = results[column]!
        results[column] = nil
        condition.unlock()
        slots.signal()
        return result
    }

    /// Waits for the workers to end (after every column was taken).
    func finish() { group.wait() }
}

/// Input rows [start, end) kept for the current strip, 3 planes per row.
struct RowBuffer {
    let width: Int
    private(set) var start = 0
    private(set) var rows: [[Float]] = []
    var end: Int { start + rows.count }

    init(width: Int) { self.width = width }

    mutating func append(_ band: PlanarImage) {
        for y in 0..<band.height {
            var row = [Float](repeating: 0, count: 3 * width)
            for c in 0..<3 {
                for x in 0..<width { row[c * width + x] = band.pixels[(c * band.height + y) * width + x] }
            }
            rows.append(row)
        }
    }

    mutating func drop(below row: Int) {
        let count = min(max(0, row - start), rows.count)
        if count > 0 {
            rows.removeFirst(count)
            start += count
        }
    }

    /// Rows `range` as [1, 3, rows, width].
    func tensor(rows range: Range<Int>) -> Tensor {
        var out = Tensor(zeros: [1, 3, range.count, width])
        for (i, y) in range.enumerated() {
            let row = rows[y - start]
            for c in 0..<3 {
                for x in 0..<width { out.scalars[(c * range.count + i) * width + x] = row[c * width + x] }
            }
        }
        return out
    }
}

/// Output rows [start, end) being accumulated, 3 planes per row.
struct AccumulationBuffer {
    let width: Int
    private(set) var start = 0
    private(set) var rows: [[Float]] = []

    init(width: Int) { self.width = width }

    mutating func extend(to end: Int) {
        while start + rows.count < end { rows.append([Float](repeating: 0, count: 3 * width)) }
    }

    /// Adds weight · tile into rows `rowRange` (output coordinates); the tile's top-left is (top, left).
    mutating func accumulate(
        _ tile: Tensor, top: Int, left: Int, rows rowRange: Range<Int>, rowWeights: [Float],
        columnWeights: [Float]
    ) {
        let (th, tw) = (tile.shape[2], tile.shape[3])
        tile.scalars.withUnsafeBufferPointer { src in
            for (i, y) in rowRange.enumerated() {
                let wy = rowWeights[i]
                if wy == 0 { continue }
                let ty = y - top
                rows[y - start].withUnsafeMutableBufferPointer { row in
                    for c in 0..<3 {
                        let source = src.baseAddress! + (c * th + ty) * tw
                        let target = row.baseAddress! + c * width + left
                        for x in 0..<tw {
                            let w = wy * columnWeights[x]
                            if w != 0 { target[x] += w * source[x] }
                        }
                    }
                }
            }
        }
    }

    /// Removes and returns rows `range` (which must start at `start`) as a 3-channel band.
    mutating func take(rows range: Range<Int>) -> PlanarImage {
        precondition(range.lowerBound == start)
        var band = PlanarImage(width: width, height: range.count, channels: 3)
        band.pixels.withUnsafeMutableBufferPointer { pixels in
            for i in 0..<range.count {
                rows[i].withUnsafeBufferPointer { row in
                    for c in 0..<3 {
                        (pixels.baseAddress! + (c * range.count + i) * width)
                            .update(from: row.baseAddress! + c * width, count: width)
                    }
                }
            }
        }
        rows.removeFirst(range.count)
        start += range.count
        return band
    }
}
