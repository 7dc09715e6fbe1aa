import Foundation
import SRImage

/// A minimal raster chart: stacked panels, each with axes, a polyline and its title and axis
/// range written in a built-in 5×7 pixel font. Enough to see a learning curve without any library.
public final class LineChart {
    public private(set) var image: PlanarImage

    public init(width: Int, height: Int) {
        image = PlanarImage(
            width: width, height: height, channels: 3, pixels: [Float](repeating: 1, count: width * height * 3))
    }

    /// Draws `points` (x, y) in panel `index` of `count` stacked vertically.
    public func plot(
        panel index: Int, of count: Int, title: String, points: [(Double, Double)], color: (Float, Float, Float)
    ) {
        let top = index * image.height / count + 24, bottom = (index + 1) * image.height / count - 24
        let left = 70, right = image.width - 20
        line(left, top, left, bottom, (0, 0, 0))
        line(left, bottom, right, bottom, (0, 0, 0))
        text(title, x: left, y: top - 16)
        guard let first = points.first else { return }
        var (minX, maxX, minY, maxY) = (first.0, first.0, first.1, first.1)
        for (x, y) in points {
            minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
        }
        if maxX == minX { maxX = minX + 1 }
        if maxY == minY { maxY = minY + 1; minY -= 1 }
        let labels = Self.rangeLabels(low: minY, high: maxY)
        text(labels.high, x: 2, y: top)
        text(labels.low, x: 2, y: bottom - 8)
        text(String(format: "%.0f", minX), x: left, y: bottom + 6)
        let maxLabel = String(format: "%.0f", maxX)
        text(maxLabel, x: right - 6 * maxLabel.count, y: bottom + 6)
        func position(_ p: (Double, Double)) -> (Int, Int) {
            (
                left + Int((p.0 - minX) / (maxX - minX) * Double(right - left)),
                bottom - Int((p.1 - minY) / (maxY - minY) * Double(bottom - top))
            )
        }
        var previous = position(first)
        for p in points.dropFirst() {
            let next = position(p)
            line(previous.0, previous.1, next.0, next.1, color)
            previous = next
        }
        if points.count == 1 { dot(previous.0, previous.1, color) }
    }

    /// The labels of an axis from `low` to `high`: 3 significant digits, more (up to 7) while the two would
    /// read the same (a validation PSNR between 26.375 and 26.421 is labelled 26.38 and 26.42, not 26.4 twice).
    public static func rangeLabels(low: Double, high: Double) -> (low: String, high: String) {
        var digits = 3
        while digits < 7 && String(format: "%.\(digits)g", low) == String(format: "%.\(digits)g", high) { digits += 1 }
        return (String(format: "%.\(digits)g", low), String(format: "%.\(digits)g", high))
    }

    /// Draws labelled points (x, y), each in its colour, in panel `index` of `count`, with axis titles; x on a
    /// logarithmic axis when asked (every x must then be positive).
    public func scatter(
        panel index: Int, of count: Int, title: String, xTitle: String,
        points: [(x: Double, y: Double, label: String, color: (Float, Float, Float))], logarithmicX: Bool = false
    ) {
        let top = index * image.height / count + 24, bottom = (index + 1) * image.height / count - 40
        let left = 70, right = image.width - 40
        line(left, top, left, bottom, (0, 0, 0))
        line(left, bottom, right, bottom, (0, 0, 0))
        text(title, x: left, y: top - 16)
        text(xTitle, x: (left + right) / 2 - 3 * xTitle.count, y: bottom + 22)
        guard !points.isEmpty else { return }
        let axis = { (x: Double) in logarithmicX ? log10(max(x, 1e-9)) : x }
        let minX = logarithmicX ? floor(points.map { axis($0.x) }.min()!) : 0
        var maxX = logarithmicX ? ceil(points.map { axis($0.x) }.max()!) : points.map(\.x).max()! * 1.15
        var minY = points.map(\.y).min()! - 0.5, maxY = points.map(\.y).max()! + 0.5
        if maxX <= minX { maxX = minX + 1 }
        if maxY <= minY {
            maxY = minY + 1
            minY -= 1
        }
        text(String(format: "%.2f", maxY), x: 2, y: top)
        text(String(format: "%.2f", minY), x: 2, y: bottom - 8)
        func label(_ value: Double) -> String {
            logarithmicX ? String(format: "%g", pow(10, value)) : String(format: "%.2f", value)
        }
        text(label(minX), x: left, y: bottom + 6)
        let maxLabel = label(maxX)
        text(maxLabel, x: right - 6 * maxLabel.count, y: bottom + 6)
        if logarithmicX {
            for decade in stride(from: minX + 1, to: maxX, by: 1) {
                let px = left + Int((decade - minX) / (maxX - minX) * Double(right - left))
                for y in stride(from: top, to: bottom, by: 4) { dot(px, y, (0.75, 0.75, 0.75)) }
                text(label(decade), x: px - 3 * label(decade).count, y: bottom + 6)
            }
        }
        for point in points {
            let px = left + Int((axis(point.x) - minX) / (maxX - minX) * Double(right - left))
            let py = bottom - Int((point.y - minY) / (maxY - minY) * Double(bottom - top))
            for dy in -3...3 { for dx in -3...3 where dx * dx + dy * dy <= 9 { dot(px + dx, py + dy, point.color) } }
            text(point.label + String(format: " %.2f", point.y), x: px + 6, y: py - 12)
        }
    }

    private func dot(_ x: Int, _ y: Int, _ color: (Float, Float, Float)) {
        guard x >= 0, y >= 0, x < image.width, y < image.height else { return }
        image[0, y, x] = color.0
        image[1, y, x] = color.1
        image[2, y, x] = color.2
    }

    private func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: (Float, Float, Float)) {
        let steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in 0...steps {
            dot(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps, color)
        }
    }

    /// 5×7 glyphs, one UInt8 row mask per line (bit 4 = leftmost).
    private static let glyphs: [Character: [UInt8]] = [
        "0": [14, 17, 19, 21, 25, 17, 14], "1": [4, 12, 4, 4, 4, 4, 14], "2": [14, 17, 1, 2, 4, 8, 31],
        "3": [30, 1, 1, 14, 1, 1, 30], "4": [2, 6, 10, 18, 31, 2, 2], "5": [31, 16, 30, 1, 1, 17, 14],
        "6": [6, 8, 16, 30, 17, 17, 14], "7": [31, 1, 2, 4, 8, 8, 8], "8": [14, 17, 17, 14, 17, 17, 14],
        "9": [14, 17, 17, 15, 1, 2, 12], ".": [0, 0, 0, 0, 0, 12, 12], "-": [0, 0, 0, 31, 0, 0, 0],
        "e": [0, 0, 14, 17, 31, 16, 14], "+": [0, 4, 4, 31, 4, 4, 0], " ": [0, 0, 0, 0, 0, 0, 0],
        "a": [0, 0, 14, 1, 15, 17, 15], "d": [1, 1, 13, 19, 17, 17, 15], "g": [0, 15, 17, 15, 1, 17, 14],
        "i": [4, 0, 12, 4, 4, 4, 14], "l": [12, 4, 4, 4, 4, 4, 14], "n": [0, 0, 22, 25, 17, 17, 17],
        "o": [0, 0, 14, 17, 17, 17, 14], "r": [0, 0, 22, 25, 16, 16, 16], "s": [0, 0, 15, 16, 14, 1, 30],
        "t": [8, 8, 28, 8, 8, 9, 6], "v": [0, 0, 17, 17, 17, 10, 4], "B": [30, 17, 17, 30, 17, 17, 30],
        "P": [30, 17, 17, 30, 16, 16, 16], "R": [30, 17, 17, 30, 20, 18, 17], "S": [15, 16, 16, 14, 1, 1, 30],
        "N": [17, 25, 21, 19, 17, 17, 17], "p": [0, 0, 30, 17, 30, 16, 16], "x": [0, 0, 17, 10, 4, 10, 17],
        "b": [16, 16, 22, 25, 17, 17, 30], "c": [0, 0, 14, 16, 16, 17, 14], "u": [0, 0, 17, 17, 17, 19, 13],
        "m": [0, 0, 26, 21, 21, 17, 17], "h": [16, 16, 22, 25, 17, 17, 17], "k": [16, 16, 18, 20, 24, 20, 18],
        "f": [6, 9, 8, 28, 8, 8, 8], "w": [0, 0, 17, 17, 21, 21, 10], "y": [0, 0, 17, 17, 15, 1, 14],
        "(": [2, 4, 8, 8, 8, 4, 2], ")": [8, 4, 2, 2, 2, 4, 8], "/": [1, 1, 2, 4, 8, 16, 16],
        ",": [0, 0, 0, 0, 12, 4, 8],
        "M": [17, 27, 21, 21, 17, 17, 17], "G": [14, 17, 16, 23, 17, 17, 15], "A": [14, 17, 17, 31, 17, 17, 17],
        "Y": [17, 17, 10, 4, 4, 4, 4], "D": [28, 18, 17, 17, 17, 18, 28], "E": [31, 16, 16, 30, 16, 16, 31],
        "T": [31, 4, 4, 4, 4, 4, 4], "L": [16, 16, 16, 16, 16, 16, 31], "I": [14, 4, 4, 4, 4, 4, 14],
        ":": [0, 12, 12, 0, 12, 12, 0], "=": [0, 0, 31, 0, 31, 0, 0], "_": [0, 0, 0, 0, 0, 0, 31],
        "C": [14, 17, 16, 16, 16, 17, 14], "F": [31, 16, 16, 30, 16, 16, 16], "H": [17, 17, 17, 31, 17, 17, 17],
        "O": [14, 17, 17, 17, 17, 17, 14], "U": [17, 17, 17, 17, 17, 17, 14], "V": [17, 17, 17, 17, 17, 10, 4],
        "W": [17, 17, 17, 21, 21, 21, 10], "X": [17, 17, 10, 4, 10, 17, 17], "K": [17, 18, 20, 24, 20, 18, 17],
        "J": [7, 2, 2, 2, 2, 18, 12], "Q": [14, 17, 17, 17, 21, 18, 13], "Z": [31, 1, 2, 4, 8, 16, 31],
        "j": [2, 0, 6, 2, 2, 18, 12], "q": [0, 0, 13, 19, 15, 1, 1], "z": [0, 0, 31, 2, 4, 8, 31],
        "'": [4, 4, 8, 0, 0, 0, 0], ";": [0, 12, 12, 0, 12, 4, 8],
    ]

    private func text(_ string: String, x: Int, y: Int) {
        for (i, character) in string.enumerated() {
            guard let rows = LineChart.glyphs[character] else { continue }
            for (r, mask) in rows.enumerated() {
                for bit in 0..<5 where mask & (16 >> bit) != 0 { dot(x + i * 6 + bit, y + r, (0, 0, 0)) }
            }
        }
    }
}
