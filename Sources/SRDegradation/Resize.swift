import Foundation
import SRImage

/// The interpolation modes of the degradation's random resizes (PyTorch `F.interpolate`'s, as
/// Real-ESRGAN uses them): area averages when shrinking, bilinear and bicubic interpolate without
/// antialiasing, so shrinking with them aliases, as many real resizers do.
public enum ResizeMode: String, Codable, Sendable, CaseIterable {
    case area, bilinear, bicubic

    /// Weights of the output samples along one axis: (first input index, weights) per output index.
    func taps(inputLength: Int, outputLength: Int) -> [(first: Int, weights: [Float])] {
        let scale = Double(outputLength) / Double(inputLength)
        return (0..<outputLength).map { o in
            let center = (Double(o) + 0.5) / scale - 0.5
            let (radius, kernel): (Double, (Double) -> Double)
            switch self {
            case .area:
                // Box over the input span of this output pixel (exactly the average when shrinking,
                // bilinear-like coverage when enlarging).
                let width = max(1 / scale, 1)
                radius = width / 2 + 0.5
                kernel = { x in max(0, min(x + width / 2, 0.5) - max(x - width / 2, -0.5)) }
            case .bilinear:
                radius = 1
                kernel = { x in max(0, 1 - abs(x)) }
            case .bicubic:
                radius = 2
                kernel = { x in
                    let a = abs(x), a2 = a * a, a3 = a2 * a
                    if a <= 1 { return 1.25 * a3 - 2.25 * a2 + 1 }  // PyTorch's a = −0.75
                    if a <= 2 { return -0.75 * a3 + 3.75 * a2 - 6 * a + 3 }
                    return 0
                }
            }
            let first = Int((center - radius).rounded(.up))
            let last = Int((center + radius).rounded(.down))
            var weights = [Float](repeating: 0, count: inputLength)
            for i in first...max(first, last) {
                let clamped = min(max(i, 0), inputLength - 1)
                weights[clamped] += Float(kernel(Double(i) - center))
            }
            let nonZero = weights.indices.filter { weights[$0] != 0 }
            let lower = nonZero.first ?? min(max(Int(center.rounded()), 0), inputLength - 1)
            let upper = nonZero.last ?? lower
            var slice = Array(weights[lower...upper])
            let total = slice.reduce(0, +)
            if total != 0 { slice = slice.map { $0 / total } } else { slice = [1] }
            return (lower, slice)
        }
    }
}

extension PlanarImage {
    /// Every plane resized to `width` × `height` with `mode` (separable, borders clamped).
    public func resized(width newWidth: Int, height newHeight: Int, mode: ResizeMode) -> PlanarImage {
        precondition(newWidth > 0 && newHeight > 0, "resize to an empty image")
        if newWidth == width && newHeight == height { return self }
        let horizontal = mode.taps(inputLength: width, outputLength: newWidth)
        let vertical = mode.taps(inputLength: height, outputLength: newHeight)
        var wide = PlanarImage(width: newWidth, height: height, channels: channels)
        for c in 0..<channels {
            for y in 0..<height {
                let row = (c * height + y) * width
                let target = (c * height + y) * newWidth
                for x in 0..<newWidth {
                    let (first, weights) = horizontal[x]
                    var sum: Float = 0
                    for (k, weight) in weights.enumerated() { sum += weight * pixels[row + first + k] }
                    wide.pixels[target + x] = sum
                }
            }
        }
        var out = PlanarImage(width: newWidth, height: newHeight, channels: channels)
        for c in 0..<channels {
            for y in 0..<newHeight {
                let (first, weights) = vertical[y]
                let target = (c * newHeight + y) * newWidth
                for (k, weight) in weights.enumerated() {
                    let source = (c * height + first + k) * newWidth
                    for x in 0..<newWidth { out.pixels[target + x] += weight * wide.pixels[source + x] }
                }
            }
        }
        return out
    }
}
