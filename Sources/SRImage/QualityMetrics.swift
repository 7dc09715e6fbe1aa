import Foundation

/// Image-quality measures of the super-resolution literature, on the BT.601 luma channel.
public enum QualityMetrics {
    /// Luma Y = 16 + 65.481 R + 128.553 G + 24.966 B (R, G, B in [0, 1]; Y in [16, 235]).
    /// Gray images count as R = G = B; alpha is ignored.
    public static func luma(_ image: PlanarImage) -> [Double] {
        let plane = image.width * image.height
        var y = [Double](repeating: 0, count: plane)
        if image.colorChannels == 1 {
            for i in 0..<plane { y[i] = 16 + 219 * Double(image.pixels[i]) }
        } else {
            for i in 0..<plane {
                y[i] =
                    16 + 65.481 * Double(image.pixels[i]) + 128.553 * Double(image.pixels[plane + i])
                    + 24.966 * Double(image.pixels[2 * plane + i])
            }
        }
        return y
    }

    /// Removes `border` pixels from each side of a plane.
    public static func shave(
        _ plane: [Double], width: Int, height: Int, border: Int
    ) -> (values: [Double], width: Int, height: Int) {
        let w = width - 2 * border, h = height - 2 * border
        precondition(w > 0 && h > 0, "image too small to shave \(border) pixels")
        var out = [Double](repeating: 0, count: w * h)
        for y in 0..<h {
            for x in 0..<w { out[y * w + x] = plane[(y + border) * width + x + border] }
        }
        return (out, w, h)
    }

    /// Peak signal-to-noise ratio in dB for values on a 0-255 scale.
    public static func psnr(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count && !a.isEmpty)
        var sum = 0.0
        for i in a.indices { sum += (a[i] - b[i]) * (a[i] - b[i]) }
        let mse = sum / Double(a.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }

    /// SSIM (Wang et al. 2004): 11×11 Gaussian window with σ = 1.5, K1 = 0.01, K2 = 0.03, L = 255,
    /// averaged over the positions where the whole window fits ('valid'), population covariance.
    public static func ssim(_ a: [Double], _ b: [Double], width: Int, height: Int) -> Double {
        let radius = 5
        var window = (0...(2 * radius)).map { i -> Double in
            let d = Double(i - radius)
            return exp(-d * d / (2 * 1.5 * 1.5))
        }
        let total = window.reduce(0, +)
        window = window.map { $0 / total }
        let outWidth = width - 2 * radius, outHeight = height - 2 * radius
        precondition(outWidth > 0 && outHeight > 0, "image too small for SSIM")
        // Separable valid filtering: rows then columns.
        func filter(_ plane: [Double]) -> [Double] {
            var rows = [Double](repeating: 0, count: height * outWidth)
            for y in 0..<height {
                for x in 0..<outWidth {
                    var s = 0.0
                    for k in 0...(2 * radius) { s += window[k] * plane[y * width + x + k] }
                    rows[y * outWidth + x] = s
                }
            }
            var out = [Double](repeating: 0, count: outHeight * outWidth)
            for y in 0..<outHeight {
                for x in 0..<outWidth {
                    var s = 0.0
                    for k in 0...(2 * radius) { s += window[k] * rows[(y + k) * outWidth + x] }
                    out[y * outWidth + x] = s
                }
            }
            return out
        }
        let c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255)
        let muA = filter(a), muB = filter(b)
        let aa = filter(a.indices.map { a[$0] * a[$0] })
        let bb = filter(b.indices.map { b[$0] * b[$0] })
        let ab = filter(a.indices.map { a[$0] * b[$0] })
        var sum = 0.0
        for i in muA.indices {
            let varA = aa[i] - muA[i] * muA[i], varB = bb[i] - muB[i] * muB[i], cov = ab[i] - muA[i] * muB[i]
            sum +=
                ((2 * muA[i] * muB[i] + c1) * (2 * cov + c2))
                / ((muA[i] * muA[i] + muB[i] * muB[i] + c1) * (varA + varB + c2))
        }
        return sum / Double(muA.count)
    }

    /// How unevenly the output's detail falls on the sub-pixel phases of a ×`period` upscaler: the mean
    /// |Y(x+1) − Y(x)| is taken separately for each x mod `period` (horizontally, and likewise vertically),
    /// and the score is the largest phase's mean over the mean of all phases, minus 1, averaged over both
    /// directions. A pattern that repeats every `period` pixels (a pixel-shuffle grid) scores high; content
    /// with no preferred phase (a ground truth) scores near 0.
    /// - Parameters: `plane` [height × width], row-major; `period` ≥ 2; width, height > `period`.
    public static func phaseUnevenness(_ plane: [Double], width: Int, height: Int, period: Int) -> Double {
        precondition(period >= 2 && width > period && height > period && plane.count == width * height)
        var horizontal = [Double](repeating: 0, count: period), vertical = horizontal
        var horizontalCount = [Int](repeating: 0, count: period), verticalCount = horizontalCount
        for y in 0..<height {
            for x in 0..<width {
                let value = plane[y * width + x]
                if x + 1 < width {
                    horizontal[x % period] += abs(plane[y * width + x + 1] - value)
                    horizontalCount[x % period] += 1
                }
                if y + 1 < height {
                    vertical[y % period] += abs(plane[(y + 1) * width + x] - value)
                    verticalCount[y % period] += 1
                }
            }
        }
        func unevenness(_ sums: [Double], _ counts: [Int]) -> Double {
            let means = sums.indices.map { sums[$0] / Double(counts[$0]) }
            let mean = means.reduce(0, +) / Double(period)
            return mean > 0 ? means.max()! / mean - 1 : 0
        }
        return (unevenness(horizontal, horizontalCount) + unevenness(vertical, verticalCount)) / 2
    }
}
