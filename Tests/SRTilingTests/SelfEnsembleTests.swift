import SRImage
import SRModels
import SRNN
import SRTensor
import SRTiling
import XCTest

/// The self-ensemble's eight orientations against EXIF's eight (an independent implementation in SRImage),
/// its average against a direct computation, and tiled against whole-image output.
final class SelfEnsembleTests: XCTestCase {
    func testTheEightTransformsAreExifsEightOrientationsAndInvert() {
        let image = randomImage(width: 5, height: 3, seed: 2)
        let x = Tensor(image: image)
        let ours = SelfEnsemble.Transform.all.map { PlanarImage(tensor: $0.apply(x)).pixels }
        let exif = (1...8).map { Orientation.apply($0, to: image).pixels }
        XCTAssertEqual(Set(ours).count, 8, "eight different images")
        XCTAssertEqual(Set(ours), Set(exif), "the same eight as the EXIF orientations")
        for transform in SelfEnsemble.Transform.all {
            let turned = transform.apply(x)
            XCTAssertEqual(turned.shape, transform.transposes ? [1, 3, 5, 3] : [1, 3, 3, 5])
            XCTAssertEqual(transform.invert(turned), x, "\(transform)")
        }
    }

    /// A model that commutes with the orientations (nearest-neighbour ×2) is unchanged; one that does not
    /// (it adds a left-to-right ramp) gets the average of the eight, computed here directly.
    func testAveragesTheEightOrientations() {
        let x = Tensor(image: randomImage(width: 4, height: 6, seed: 3))
        let nearest: TiledUpscaler.Model = { input in
            let (h, w) = (input.shape[2], input.shape[3])
            var out = Tensor(zeros: [input.shape[0], input.shape[1], 2 * h, 2 * w])
            for plane in 0..<(input.shape[0] * input.shape[1]) {
                for i in 0..<(2 * h) {
                    for j in 0..<(2 * w) {
                        out.scalars[(plane * 2 * h + i) * 2 * w + j] = input.scalars[(plane * h + i / 2) * w + j / 2]
                    }
                }
            }
            return out
        }
        let plain = nearest(x), ensemble = SelfEnsemble.wrap(nearest)(x)
        XCTAssertLessThanOrEqual(zip(plain.scalars, ensemble.scalars).map { abs($0 - $1) }.max()!, 1e-6)
        let ramp: TiledUpscaler.Model = { input in
            var out = nearest(input)
            let width = out.shape[3]
            for index in out.scalars.indices { out.scalars[index] += Float(index % width) }
            return out
        }
        // Turned back, the eight ramps run along both axes in both directions (each twice): at every pixel
        // they average to (width − 1 + height − 1) / 4.
        let up = nearest(x)
        let rampMean = Float(up.shape[2] + up.shape[3] - 2) / 4
        let expected = Tensor(shape: up.shape, scalars: up.scalars.map { $0 + rampMean })
        let got = SelfEnsemble.wrap(ramp)(x)
        XCTAssertLessThanOrEqual(zip(got.scalars, expected.scalars).map { abs($0 - $1) }.max()!, 1e-5)
    }

    func testTiledEqualsWholeImage() throws {
        for (scale, architecture) in [(4, .compact), (2, .msrResNet)] as [(Int, GeneratorConfig.Architecture)] {
            let generator = tinyGenerator(scale: scale, architecture: architecture)
            let image = randomImage(width: 23, height: 17, seed: 5)
            let model = SelfEnsemble.wrap { generator.inference($0) }
            let whole = PlanarImage(tensor: model(Tensor(image: image)))
            XCTAssertGreaterThan(
                maxDifference(whole, PlanarImage(tensor: generator.inference(Tensor(image: image)))), 1e-3,
                "the ensemble differs from a single pass")
            for tile in [8, 13] {
                let options = TilingOptions(tileSize: tile, overlap: generator.config.exactOverlap, blend: 2)
                let result = try tiled(image, scale: scale, options: options, model: model)
                XCTAssertLessThanOrEqual(maxDifference(result, whole), 1e-5, "\(architecture) tile \(tile)")
            }
        }
    }
}
