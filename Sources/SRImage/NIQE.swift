import Foundation

/// NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan and Bovik, IEEE SPL 2013): a
/// no-reference score, lower is more natural. It fits a multivariate Gaussian to 36 statistics of
/// the image's 96×96 patches (18 per scale, at full and half size) and measures its distance from
/// the Gaussian fitted to pristine photographs.
///
/// The steps follow the authors' MATLAB release: luma Y of BT.601 on 0-255 (as BasicSR), rounded;
/// cropped to whole 96×96 blocks; mean-subtracted contrast-normalised (MSCN) coefficients with a 7×7
/// Gaussian window (σ = 7/6, borders replicated); per block an asymmetric generalised Gaussian fit of
/// the coefficients and of their products with the four neighbours (right, down, two diagonals, wrapping
/// within the block); MATLAB `imresize(0.5)` for the second scale; distance
/// √((μ_p − μ)ᵀ ((Σ_p + Σ)/2)⁺ (μ_p − μ)).
public struct NIQE: Sendable {
    public let pristineMean: [Double]
    public let pristineCovariance: [Double]
    static let block = 96

    /// - Parameters: the pristine model: mean [36] and covariance [36 × 36], row-major.
    public init(pristineMean: [Double], pristineCovariance: [Double]) {
        precondition(pristineMean.count == 36 && pristineCovariance.count == 36 * 36, "NIQE needs 36 features")
        self.pristineMean = pristineMean
        self.pristineCovariance = pristineCovariance
    }

    /// The smallest sides it scores: two blocks are needed for a covariance.
    public static func canScore(width: Int, height: Int) -> Bool {
        (width / block) * (height / block) >= 2
    }

    /// The score of an RGB or gray image (values in [0, 1]); nil when it is smaller than two blocks.
    public func score(_ image: PlanarImage) -> Double? {
        let blocksAcross = image.width / NIQE.block, blocksDown = image.height / NIQE.block
        guard blocksAcross * blocksDown >= 2 else { return nil }
        let (width, height) = (blocksAcross * NIQE.block, blocksDown * NIQE.block)
        let plane = image.width * image.height
        var luma = PlanarImage(width: width, height: height, channels: 1)
        for y in 0..<height {
            for x in 0..<width {
                let i = y * image.width + x
                let value: Float
                if image.colorChannels >= 3 {
                    let (r, g, b) = (image.pixels[i], image.pixels[plane + i], image.pixels[2 * plane + i])
                    value = 16 + 65.481 * r + 128.553 * g + 24.966 * b
                } else {
                    value = 16 + 219 * image.pixels[i]
                }
                luma.pixels[y * width + x] = value.rounded()
            }
        }
        let full = NIQE.blockFeatures(luma, block: NIQE.block)
        // MATLAB's imresize(0.5), on [0, 1] values as BasicSR does, back to 0-255.
        var scaled = luma
        for i in scaled.pixels.indices { scaled.pixels[i] /= 255 }
        var half = Resampler.resize(scaled, width: width / 2, height: height / 2)
        for i in half.pixels.indices { half.pixels[i] *= 255 }
        let halfFeatures = NIQE.blockFeatures(half, block: NIQE.block / 2)
        let rows = zip(full, halfFeatures).map { $0 + $1 }.filter { $0.allSatisfy(\.isFinite) }
        guard rows.count >= 2 else { return nil }
        return distance(rows)
    }

    /// √(dᵀ ((Σ_p + Σ)/2)⁺ d), d = μ_p − μ, with μ and Σ (normalised by n − 1) of the rows.
    func distance(_ rows: [[Double]]) -> Double {
        let n = Double(rows.count), k = 36
        var mean = [Double](repeating: 0, count: k)
        for row in rows { for j in 0..<k { mean[j] += row[j] / n } }
        var pooled = [Double](repeating: 0, count: k * k)
        for a in 0..<k {
            for b in a..<k {
                var sum = 0.0
                for row in rows { sum += (row[a] - mean[a]) * (row[b] - mean[b]) }
                let value = (pristineCovariance[a * k + b] + sum / (n - 1)) / 2
                (pooled[a * k + b], pooled[b * k + a]) = (value, value)
            }
        }
        let inverse = SymmetricMatrix.pseudoInverse(pooled, size: k)
        let d = (0..<k).map { pristineMean[$0] - mean[$0] }
        var total = 0.0
        for a in 0..<k { for b in 0..<k { total += d[a] * inverse[a * k + b] * d[b] } }
        return max(total, 0).squareRoot()
    }

    /// 18 features per block of the image's MSCN coefficients.
    static func blockFeatures(_ image: PlanarImage, block: Int) -> [[Double]] {
        let mscn = contrastNormalized(image)
        var rows: [[Double]] = []
        for by in 0..<(image.height / block) {
            for bx in 0..<(image.width / block) {
                var values = [Double](repeating: 0, count: block * block)
                for y in 0..<block {
                    for x in 0..<block { values[y * block + x] = mscn[(by * block + y) * image.width + bx * block + x] }
                }
                rows.append(features(values, side: block))
            }
        }
        return rows
    }

    /// (I − μ) / (σ + 1) with μ, σ from the 7×7 Gaussian window (σ = 7/6), borders replicated.
    static func contrastNormalized(_ image: PlanarImage) -> [Double] {
        let sigma = 7.0 / 6
        let taps: [Double] = (-3...3).map { (offset: Int) -> Double in
            let distance = Double(offset * offset)
            return exp(-distance / (2 * sigma * sigma))
        }
        let total = taps.reduce(0, +) * taps.reduce(0, +)
        let (w, h) = (image.width, image.height)
        let pixels = image.pixels.map(Double.init)
        var mean = [Double](repeating: 0, count: w * h), square = mean
        for y in 0..<h {
            for x in 0..<w {
                var (m, s) = (0.0, 0.0)
                for dy in -3...3 {
                    let row = min(max(y + dy, 0), h - 1) * w
                    for dx in -3...3 {
                        let weight = taps[dy + 3] * taps[dx + 3] / total
                        let value = pixels[row + min(max(x + dx, 0), w - 1)]
                        m += weight * value
                        s += weight * value * value
                    }
                }
                (mean[y * w + x], square[y * w + x]) = (m, s)
            }
        }
        var out = [Double](repeating: 0, count: w * h)
        for i in 0..<(w * h) {
            let variance: Double = abs(square[i] - mean[i] * mean[i])
            out[i] = (pixels[i] - mean[i]) / (variance.squareRoot() + 1)
        }
        return out
    }

    /// [α, (βl + βr)/2] of the coefficients, then [α, mean, βl, βr] of their products with the
    /// neighbour at each of (0, 1), (1, 0), (1, 1), (1, −1) (MATLAB `circshift` within the block).
    static func features(_ block: [Double], side: Int) -> [Double] {
        let own = AsymmetricGaussian(fitting: block)
        var out = [own.alpha, (own.leftScale + own.rightScale) / 2]
        for (dy, dx) in [(0, 1), (1, 0), (1, 1), (1, -1)] {
            var products = [Double](repeating: 0, count: block.count)
            for y in 0..<side {
                for x in 0..<side {
                    let sy = ((y - dy) % side + side) % side, sx = ((x - dx) % side + side) % side
                    products[y * side + x] = block[y * side + x] * block[sy * side + sx]
                }
            }
            let fit = AsymmetricGaussian(fitting: products)
            let ratio: Double = exp(lgamma(2 / fit.alpha) - lgamma(1 / fit.alpha))
            let mean: Double = (fit.rightScale - fit.leftScale) * ratio
            out += [fit.alpha, mean, fit.leftScale, fit.rightScale]
        }
        return out
    }
}

/// The moment-matching fit of an asymmetric generalised Gaussian (shape α, left and right scales), by
/// a search over α in 0.2…10 in steps of 0.001, as in the NIQE/BRISQUE releases.
struct AsymmetricGaussian {
    let alpha: Double
    let leftScale: Double
    let rightScale: Double

    static let shapes: [(alpha: Double, ratio: Double)] = (0...9800).map { i in
        let g = 0.2 + Double(i) * 0.001
        return (g, exp(2 * lgamma(2 / g) - lgamma(1 / g) - lgamma(3 / g)))
    }

    init(fitting values: [Double]) {
        var (leftSum, leftCount, rightSum, rightCount, absoluteSum, squareSum) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        for v in values {
            if v < 0 { (leftSum, leftCount) = (leftSum + v * v, leftCount + 1) }
            if v > 0 { (rightSum, rightCount) = (rightSum + v * v, rightCount + 1) }
            absoluteSum += abs(v)
            squareSum += v * v
        }
        let left = (leftSum / leftCount).squareRoot(), right = (rightSum / rightCount).squareRoot()
        let gammaHat = left / right
        let n = Double(values.count)
        let rHat = (absoluteSum / n) * (absoluteSum / n) / (squareSum / n)
        let squared: Double = gammaHat * gammaHat
        let numerator: Double = rHat * (squared * gammaHat + 1) * (gammaHat + 1)
        let normalized: Double = numerator / ((squared + 1) * (squared + 1))
        var best = AsymmetricGaussian.shapes[0]
        var bestError = Double.infinity
        for shape in AsymmetricGaussian.shapes {
            let error = (shape.ratio - normalized) * (shape.ratio - normalized)
            if error < bestError { (best, bestError) = (shape, error) }
        }
        alpha = normalized.isFinite ? best.alpha : .nan
        let factor = exp(0.5 * (lgamma(1 / alpha) - lgamma(3 / alpha)))
        leftScale = left * factor
        rightScale = right * factor
    }
}

/// Symmetric matrices in double precision.
enum SymmetricMatrix {
    /// The Moore-Penrose pseudo-inverse of a symmetric matrix (row-major, size × size) from its
    /// eigen-decomposition by cyclic Jacobi rotations; eigenvalues below size·ε·max|λ| count as zero
    /// (MATLAB `pinv`'s tolerance).
    static func pseudoInverse(_ matrix: [Double], size n: Int) -> [Double] {
        var a = matrix
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        for _ in 0..<100 {
            var off = 0.0
            for p in 0..<n { for q in (p + 1)..<n { off += a[p * n + q] * a[p * n + q] } }
            if off < 1e-30 { break }
            for p in 0..<n {
                for q in (p + 1)..<n where abs(a[p * n + q]) > 1e-300 {
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                    let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let (akp, akq) = (a[k * n + p], a[k * n + q])
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let (apk, aqk) = (a[p * n + k], a[q * n + k])
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let (vkp, vkq) = (v[k * n + p], v[k * n + q])
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        let eigenvalues = (0..<n).map { a[$0 * n + $0] }
        let tolerance = Double(n) * Double.ulpOfOne * (eigenvalues.map(abs).max() ?? 0)
        var inverse = [Double](repeating: 0, count: n * n)
        for k in 0..<n where abs(eigenvalues[k]) > tolerance {
            let scale = 1 / eigenvalues[k]
            for i in 0..<n {
                let vi = v[i * n + k] * scale
                for j in 0..<n { inverse[i * n + j] += vi * v[j * n + k] }
            }
        }
        return inverse
    }
}
