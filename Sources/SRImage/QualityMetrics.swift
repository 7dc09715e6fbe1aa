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
}
