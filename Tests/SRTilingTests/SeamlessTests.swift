import SRImage
import SRModels
import SRTensor
import SRTiling
import XCTest

/// Repeating textures: the upscale of one tile with wrapped edges must equal the centre of the ordinary
/// upscale of a 3 × 3 mosaic of that tile (where the centre tile's neighbours really are its own edges).
final class SeamlessTests: XCTestCase {
    func testWrapPaddingRepeatsTheTexture() {
        let image = randomImage(width: 5, height: 3, channels: 2, seed: 1)
        let padded = image.wrapPadded(margin: 7)
        XCTAssertEqual([padded.width, padded.height, padded.channels], [19, 17, 2])
        for c in 0..<2 {
            for y in 0..<17 {
                for x in 0..<19 {
                    XCTAssertEqual(padded[c, y, x], image[c, (y + 3 * 3 - 7) % 3, (x + 5 * 2 - 7) % 5])
                }
            }
        }
    }

    func testWrappingResamplerEqualsTheCentreOfARepeatedSignal() {
        // Up, down (antialiased, a kernel wider than the period's quarter) and odd ratios.
        for (length, output) in [(7, 20), (12, 9), (10, 33), (9, 3)] {
            let signal = (0..<length).map { Float(sin(Double($0) * 1.7) + 0.1 * Double($0 % 3)) }
            let wrapped = ResampleKernel(inputLength: length, outputLength: output, wrapping: true)
            let repeated = ResampleKernel(inputLength: 5 * length, outputLength: 5 * output)
            let long = Array(repeating: signal, count: 5).flatMap { $0 }
            var a = [Float](repeating: 0, count: output), b = [Float](repeating: 0, count: 5 * output)
            wrapped.apply(signal, inputStride: 1, &a, outputStride: 1)
            repeated.apply(long, inputStride: 1, &b, outputStride: 1)
            for j in 0..<output {
                XCTAssertEqual(a[j], b[2 * output + j], accuracy: 1e-5, "\(length)→\(output) at \(j)")
            }
        }
    }

    func testSeamlessEqualsTheCentreOfAThreeByThreeMosaic() throws {
        let generator = tinyGenerator(scale: 4, architecture: .compact)
        let options = TilingOptions(tileSize: 16, overlap: generator.config.exactOverlap, blend: 2)
        let model = UpscaleMethod.model(nativeScale: 4, options: options) { generator.inference($0) }
        // RRDBNet ×1 pixel-unshuffles its input by 4: the padding must keep the texture on that grid.
        let unshuffling = RRDBNet(features: 4, growth: 2, blocks: 0, scale: 1)
        var random = SeededGenerator(seed: 12)
        for (_, parameter) in unshuffling.namedParameters {
            parameter.value = Tensor.randomNormal(
                shape: parameter.value.shape, standardDeviation: 0.3, generator: &random)
        }
        let unshuffled = UpscaleMethod.model(
            nativeScale: 1,
            options: TilingOptions(
                tileSize: 16, overlap: unshuffling.exactOverlap, blend: 1, alignment: unshuffling.inputAlignment)
        ) { unshuffling.inference($0) }
        // RGB at the native scale, at ×3 (resampled) and with bicubic; RGBA with a transparent hole and gray +
        // alpha at the native scale.
        // The hole crosses the left and right edges and is wider than the model's context, so the hidden colour
        // there is filled from visible pixels beyond a context's reach of the edge.
        var holed = randomImage(width: 27, height: 23, channels: 4, seed: 3)
        for y in 5..<15 { for x in Array(0..<9) + Array(18..<27) { holed[3, y, x] = 0 } }
        let cases: [(PlanarImage, UpscaleMethod, Int, String)] = [
            (randomImage(width: 27, height: 23, seed: 2), model, 4, "RGB ×4"),
            (randomImage(width: 27, height: 23, seed: 2), model, 3, "RGB ×3"),
            (randomImage(width: 27, height: 23, seed: 2), .bicubic, 3, "bicubic ×3"),
            (holed, model, 4, "RGBA ×4"),
            (randomImage(width: 27, height: 23, channels: 2, seed: 4), model, 4, "gray + alpha ×4"),
            (randomImage(width: 28, height: 24, seed: 6), unshuffled, 1, "RRDBNet ×1 (unshuffle by 4)"),
        ]
        for (image, method, scale, name) in cases {
            let (width, height) = (image.width * scale, image.height * scale)
            var seamless: PlanarImage?
            try ImagePipeline.runSeamless(
                image: image, outputWidth: width, outputHeight: height, method: method,
                sink: { seamless = seamless?.appendingRows(of: $0) ?? $0 })
            let nine = image.repeatedThreeByThree()
            let whole = try ImagePipeline.upscale(
                nine, outputWidth: 3 * width, outputHeight: 3 * height, method: method)
            let centre = whole.cropped(x: width, y: height, width: width, height: height)
            let result = try XCTUnwrap(seamless, name)
            XCTAssertEqual([result.width, result.height, result.channels], [width, height, image.channels], name)
            XCTAssertLessThanOrEqual(maxDifference(result, centre), 2e-5, name)
            // Without wrapping, the ordinary upscale's edges differ from the mosaic's centre.
            let plain = try ImagePipeline.upscale(image, outputWidth: width, outputHeight: height, method: method)
            XCTAssertGreaterThan(maxDifference(plain, centre), 0.01, name)
        }
    }
}

extension PlanarImage {
    /// This image repeated 3 × 3, written out independently of `wrapPadded`.
    fileprivate func repeatedThreeByThree() -> PlanarImage {
        var out = PlanarImage(width: 3 * width, height: 3 * height, channels: channels)
        for c in 0..<channels {
            for y in 0..<(3 * height) {
                for x in 0..<(3 * width) { out[c, y, x] = self[c, y % height, x % width] }
            }
        }
        return out
    }
}
