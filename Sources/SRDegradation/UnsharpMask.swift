import Foundation
import SRImage

/// Real-ESRGAN's sharpening of the ground truth for the pixel and perceptual targets (not the GAN's):
/// out = img + m·(clamp(img + weight·(img − blur(img))) − img), where the soft mask m is a blur of
/// [|img − blur(img)|·255 > threshold]; blur is a Gaussian of (2·radius + 1) taps with OpenCV's σ for
/// that size (0.3·(radius − 1) + 0.8). Defaults: weight 0.5, radius 50, threshold 10.
public struct UnsharpMask: Codable, Sendable, Equatable {
    public var weight: Float = 0.5
    public var radius = 50
    public var threshold: Float = 10

    public init() {}

    public func apply(_ image: PlanarImage) -> PlanarImage {
        let blurred = UnsharpMask.gaussianBlur(image, radius: radius)
        var mask = image
        var sharpened = image
        for i in image.pixels.indices {
            let residual = image.pixels[i] - blurred.pixels[i]
            mask.pixels[i] = abs(residual) * 255 > threshold ? 1 : 0
            sharpened.pixels[i] = min(max(image.pixels[i] + weight * residual, 0), 1)
        }
        let soft = UnsharpMask.gaussianBlur(mask, radius: radius)
        var out = image
        for i in out.pixels.indices {
            out.pixels[i] = soft.pixels[i] * sharpened.pixels[i] + (1 - soft.pixels[i]) * image.pixels[i]
        }
        return out
    }

    /// A separable Gaussian blur with 2·radius + 1 taps and σ = 0.3·(radius − 1) + 0.8, borders reflected
    /// as OpenCV's default (…, 2, 1 | 0, 1, 2, …).
    static func gaussianBlur(_ image: PlanarImage, radius: Int) -> PlanarImage {
        let sigma = 0.3 * (Double(radius) - 1) + 0.8
        var taps = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let total = taps.reduce(0, +)
        taps = taps.map { $0 / total }
        let weights = taps.map(Float.init)
        func reflect(_ i: Int, _ length: Int) -> Int {
            guard length > 1 else { return 0 }
            var i = i
            while i < 0 || i >= length { i = i < 0 ? -i : 2 * (length - 1) - i }
            return i
        }
        let (w, h) = (image.width, image.height)
        // Both passes accumulate one tap at a time over a whole row (vectorisable, contiguous): along a
        // row from a copy padded with its reflection, down the columns from the reflected source rows.
        var horizontal = image
        var out = image
        var padded = [Float](repeating: 0, count: w + 2 * radius)
        let rows = (0..<(h + 2 * radius)).map { reflect($0 - radius, h) }
        horizontal.pixels.withUnsafeMutableBufferPointer { across in
            out.pixels.withUnsafeMutableBufferPointer { down in
                padded.withUnsafeMutableBufferPointer { line in
                    for c in 0..<image.channels {
                        let plane = c * w * h
                        for y in 0..<h {
                            let row = across.baseAddress! + plane + y * w
                            for i in 0..<(w + 2 * radius) { line[i] = row[reflect(i - radius, w)] }
                            row.update(repeating: 0, count: w)
                            for (k, weight) in weights.enumerated() {
                                for x in 0..<w { row[x] += weight * line[x + k] }
                            }
                        }
                        for y in 0..<h {
                            let row = down.baseAddress! + plane + y * w
                            row.update(repeating: 0, count: w)
                            for (k, weight) in weights.enumerated() {
                                let source = across.baseAddress! + plane + rows[y + k] * w
                                for x in 0..<w { row[x] += weight * source[x] }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
