/// Reduces an RGB image to a palette by median cut over a 5-bit-per-channel histogram (Heckbert 1982):
/// the box with the most pixels × squared widest extent is split at the pixel median of its widest channel
/// until there are enough boxes, each palette colour starts as the mean of its box's pixels, and a few
/// k-means rounds move the colours to the means of the pixels they end up with. An image whose colours fall
/// in at most `maximumColors` histogram cells is reproduced within each cell's spread (exactly when each cell
/// holds one colour). Distances weigh red, green and blue 2 : 4 : 1, roughly as the eye does.
public struct ColorQuantizer {
    public typealias Color = (red: UInt8, green: UInt8, blue: UInt8)

    /// The palette.
    public private(set) var palette: [Color] = []
    /// Mean weighted squared distance from each pixel's histogram cell (its mean colour) to the palette colour
    /// it is given: comparable between quantizers of the same pixels.
    public private(set) var meanError = 0.0
    /// Palette index for each of the 32 768 histogram cells that occurs.
    private var indexOfCell = [UInt8](repeating: 0, count: 32_768)

    /// The occupied 5-bit cells of an image's opaque pixels (alpha ≥ 128), with their pixel counts and colour
    /// sums: made once per image, shared by every quantizer tried on it.
    public struct Histogram {
        fileprivate let cells: [Cell]

        public init(rgba: [UInt8]) {
            var cells = [Cell?](repeating: nil, count: 32_768)
            for i in stride(from: 0, to: rgba.count, by: 4) where rgba[i + 3] >= 128 {
                let key = ColorQuantizer.cellKey(rgba[i], rgba[i + 1], rgba[i + 2])
                var cell = cells[key] ?? Cell(key: key, count: 0, sum: (0, 0, 0))
                cell.count += 1
                cell.sum.0 += Int(rgba[i])
                cell.sum.1 += Int(rgba[i + 1])
                cell.sum.2 += Int(rgba[i + 2])
                cells[key] = cell
            }
            self.cells = cells.compactMap { $0 }
        }
    }

    fileprivate struct Cell {
        var key: Int
        var count: Int
        var sum: (Int, Int, Int)
        var mean: (Int, Int, Int) {
            ((sum.0 + count / 2) / count, (sum.1 + count / 2) / count, (sum.2 + count / 2) / count)
        }
        func coordinate(_ channel: Int) -> Int { (key >> (10 - 5 * channel)) & 31 }
    }

    static func cellKey(_ red: UInt8, _ green: UInt8, _ blue: UInt8) -> Int {
        Int(red >> 3) << 10 | Int(green >> 3) << 5 | Int(blue >> 3)
    }

    /// Rounds of k-means after median cut.
    static let refinementRounds = 4

    /// Builds a palette of at most `maximumColors` (1-256) for the pixels `histogram` counts.
    public init(histogram: Histogram, maximumColors: Int) {
        precondition((1...256).contains(maximumColors), "a palette holds 1-256 colours")
        var occupied = histogram.cells
        guard !occupied.isEmpty else {
            palette = [(0, 0, 0)]
            return
        }
        // Boxes are ranges of `occupied`, each sorted along the channel it was last split on, with their
        // pixel count and widest channel measured once.
        typealias Box = (range: Range<Int>, count: Int, channel: Int, width: Int)
        func measure(_ range: Range<Int>) -> Box {
            var box: Box = (range, 0, 0, -1)
            var low = [31, 31, 31]
            var high = [0, 0, 0]
            for cell in occupied[range] {
                box.count += cell.count
                for channel in 0..<3 {
                    low[channel] = min(low[channel], cell.coordinate(channel))
                    high[channel] = max(high[channel], cell.coordinate(channel))
                }
            }
            for channel in 0..<3 where high[channel] - low[channel] > box.width {
                box.channel = channel
                box.width = high[channel] - low[channel]
            }
            return box
        }
        func score(_ box: Box) -> Int { box.count * (box.width + 1) * (box.width + 1) }
        var boxes = [measure(0..<occupied.count)]
        while boxes.count < maximumColors {
            let splittable = boxes.indices.filter { boxes[$0].range.count > 1 }
            guard let chosen = splittable.max(by: { score(boxes[$0]) < score(boxes[$1]) }) else { break }
            let (range, total, channel, _) = boxes[chosen]
            occupied[range].sort { $0.coordinate(channel) < $1.coordinate(channel) }
            var running = 0
            var split = range.lowerBound + 1
            for index in range.dropLast() {
                running += occupied[index].count
                split = index + 1
                if 2 * running >= total { break }
            }
            boxes[chosen] = measure(range.lowerBound..<split)
            boxes.append(measure(split..<range.upperBound))
        }
        palette = boxes.map { box in
            let count = box.count
            let sum = occupied[box.range].reduce((0, 0, 0)) { ($0.0 + $1.sum.0, $0.1 + $1.sum.1, $0.2 + $1.sum.2) }
            return (
                UInt8((sum.0 + count / 2) / count), UInt8((sum.1 + count / 2) / count),
                UInt8((sum.2 + count / 2) / count)
            )
        }
        for round in 0...ColorQuantizer.refinementRounds {
            let sums = assign(occupied)
            guard round < ColorQuantizer.refinementRounds else { break }
            for (index, sum) in sums.enumerated() where sum.count > 0 {
                let half = sum.count / 2
                palette[index] = (
                    UInt8((sum.red + half) / sum.count), UInt8((sum.green + half) / sum.count),
                    UInt8((sum.blue + half) / sum.count)
                )
            }
        }
    }

    /// Maps the pixels `histogram` counts to the nearest colours of a given `palette` (1-256 colours), e.g. the
    /// previous frame's, so that areas that do not change keep their colours.
    public init(palette: [Color], histogram: Histogram) {
        precondition((1...256).contains(palette.count), "a palette holds 1-256 colours")
        self.palette = palette
        _ = assign(histogram.cells)
    }

    /// The palette index of a colour that was among the pixels the quantizer was made for.
    public func index(red: UInt8, green: UInt8, blue: UInt8) -> UInt8 {
        indexOfCell[ColorQuantizer.cellKey(red, green, blue)]
    }

    /// Gives each cell the palette colour nearest its mean; sets `meanError` and returns, per palette colour,
    /// the pixel count and colour sums it was given.
    private mutating func assign(_ cells: [Cell]) -> [(count: Int, red: Int, green: Int, blue: Int)] {
        var sums = [(count: Int, red: Int, green: Int, blue: Int)](repeating: (0, 0, 0, 0), count: palette.count)
        var error = 0
        for cell in cells {
            let mean = cell.mean
            var best = (index: 0, distance: Int.max)
            for (index, color) in palette.enumerated() {
                let (dr, dg, db) = (Int(color.red) - mean.0, Int(color.green) - mean.1, Int(color.blue) - mean.2)
                let distance = 2 * dr * dr + 4 * dg * dg + db * db
                if distance < best.distance { best = (index, distance) }
            }
            indexOfCell[cell.key] = UInt8(best.index)
            error += best.distance * cell.count
            sums[best.index].count += cell.count
            sums[best.index].red += cell.sum.0
            sums[best.index].green += cell.sum.1
            sums[best.index].blue += cell.sum.2
        }
        let pixels = cells.reduce(0) { $0 + $1.count }
        meanError = pixels > 0 ? Double(error) / Double(pixels) : 0
        return sums
    }
}
