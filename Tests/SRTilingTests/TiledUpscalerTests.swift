import SRImage
import SRModels
import SRNN
import SRTensor
import SRTiling
import XCTest

final class TiledUpscalerTests: XCTestCase {
    func testTiledEqualsWholeImageWhenOverlapCoversReceptiveField() throws {
        for (scale, architecture) in [(4, .msrResNet), (2, .msrResNet), (3, .msrResNet), (4, .compact), (3, .compact)]
            as [(Int, GeneratorConfig.Architecture)]
        {
            let generator = tinyGenerator(scale: scale, architecture: architecture)
            let image = randomImage(width: 37, height: 29, seed: UInt64(scale))
            let whole = PlanarImage(tensor: generator.inference(Tensor(image: image)))
            let radius = generator.config.exactOverlap
            for (tile, blend) in [(8, 0), (11, 2), (16, 3), (64, 2)] {
                let result = try tiled(
                    image, generator: generator, options: TilingOptions(tileSize: tile, overlap: radius, blend: blend))
                XCTAssertLessThanOrEqual(
                    maxDifference(result, whole), 1e-5, "\(architecture) scale \(scale) tile \(tile) blend \(blend)")
            }
        }
    }

    /// RRDBNet ×2 and ×1 pixel-unshuffle their input by 2 and 4: odd images are padded inside the model,
    /// and tiles start on the unshuffle grid, so odd tiles and overlaps still give the whole-image output.
    func testTiledEqualsWholeImageForUnshuffledInputs() throws {
        for scale in [2, 1] {
            let network = RRDBNet(features: 4, growth: 2, blocks: 0, scale: scale)
            var random = SeededGenerator(seed: UInt64(10 + scale))
            for (_, parameter) in network.namedParameters {
                parameter.value = Tensor.randomNormal(
                    shape: parameter.value.shape, standardDeviation: 0.3, generator: &random)
            }
            XCTAssertEqual(network.inputAlignment, 4 / scale)
            let image = randomImage(width: 45, height: 31, seed: 5)
            let whole = PlanarImage(tensor: network.inference(Tensor(image: image)))
            XCTAssertEqual([whole.width, whole.height], [45 * scale, 31 * scale])
            for (tile, extraOverlap, blend) in [(7, 0, 0), (9, 1, 2), (16, 3, 1)] {
                let out = try tiled(
                    image, scale: scale,
                    options: TilingOptions(
                        tileSize: tile, overlap: network.exactOverlap + extraOverlap, blend: blend,
                        alignment: network.inputAlignment)
                ) { network.inference($0) }
                XCTAssertLessThanOrEqual(maxDifference(out, whole), 1e-5, "×\(scale) tile \(tile)")
            }
        }
    }

    func testErrorShrinksWithOverlapAndBlendingReducesIt() throws {
        let generator = tinyGenerator(scale: 4)
        let image = randomImage(width: 40, height: 40, seed: 5)
        let whole = PlanarImage(tensor: generator.inference(Tensor(image: image)))
        let radius = generator.config.exactOverlap
        var errors: [Float] = []
        for overlap in Array(stride(from: 0, to: radius, by: 2)) + [radius] {
            let result = try tiled(
                image, generator: generator, options: TilingOptions(tileSize: 16, overlap: overlap, blend: 0))
            errors.append(maxDifference(result, whole))
        }
        XCTAssertGreaterThan(errors[0], 1e-3, "with no overlap the seams must show in this test")
        for i in 1..<errors.count {
            XCTAssertLessThanOrEqual(errors[i], errors[i - 1] * 1.05, "overlap errors \(errors)")
        }
        XCTAssertLessThanOrEqual(errors.last!, 1e-5)
        // Cross-fading spreads the remaining discrepancy over a band instead of a hard step.
        let hard = try tiled(image, generator: generator, options: TilingOptions(tileSize: 16, overlap: 2, blend: 0))
        let faded = try tiled(image, generator: generator, options: TilingOptions(tileSize: 16, overlap: 2, blend: 4))
        XCTAssertLessThan(maxDifference(faded, whole), maxDifference(hard, whole))
    }

    func testBackgroundSinkKeepsOrderAndReportsErrors() throws {
        var seen: [Int] = []
        let sink = BackgroundSink { band in seen.append(band.width) }
        for width in 1...20 { try sink.write(PlanarImage(width: width, height: 1, channels: 1)) }
        try sink.finish()
        XCTAssertEqual(seen, Array(1...20))
        struct Full: Error {}
        let failing = BackgroundSink { band in if band.width == 3 { throw Full() } }
        var thrown = false
        for width in 1...10 {
            do { try failing.write(PlanarImage(width: width, height: 1, channels: 1)) } catch { thrown = true }
        }
        do { try failing.finish() } catch { thrown = true }
        XCTAssertTrue(thrown)
    }

    func testPrefetchingSourceServesExactRowsAndRethrows() throws {
        let image = randomImage(width: 7, height: 50, channels: 2, seed: 3)
        let source = PrefetchingRowSource(source: MemoryRowSource(image), height: 50, bandHeight: 9, capacity: 2)
        var rows: [PlanarImage] = []
        for count in [5, 13, 1, 20, 30] { rows.append(try source.readRows(count)) }
        XCTAssertEqual(rows.map(\.height), [5, 13, 1, 20, 11])
        var y = 0
        for band in rows {
            XCTAssertEqual(band, image.rows(y..<(y + band.height)))
            y += band.height
        }
        final class Failing: RowSource {
            struct Broken: Error {}
            func readRows(_ count: Int) throws -> PlanarImage { throw Broken() }
        }
        XCTAssertThrowsError(try PrefetchingRowSource(source: Failing(), height: 10).readRows(3))
    }

    func testWorkersGiveTheSameResult() throws {
        let generator = tinyGenerator(scale: 2)
        let image = randomImage(width: 50, height: 21, seed: 8)
        let one = try tiled(
            image, generator: generator, options: TilingOptions(tileSize: 12, overlap: 7, blend: 2, workers: 1))
        let two = try tiled(
            image, generator: generator, options: TilingOptions(tileSize: 12, overlap: 7, blend: 2, workers: 2))
        XCTAssertEqual(one, two)
    }

    func testPipelineKeepsAlphaAndGrayAndResamplesNonNativeScales() throws {
        let generator = tinyGenerator(scale: 2)
        for channels in [1, 2, 3, 4] {
            let image = randomImage(width: 19, height: 13, channels: channels, seed: UInt64(channels))
            let (width, height) = ImagePipeline.outputSize(width: 19, height: 13, scale: 2.5)
            var rows: [PlanarImage] = []
            try ImagePipeline.run(
                source: MemoryRowSource(image), width: 19, height: 13, channels: channels, outputWidth: width,
                outputHeight: height,
                method: .model(
                    nativeScale: 2, options: TilingOptions(tileSize: 8, overlap: 7), run: { generator.inference($0) }),
                sink: { rows.append($0) })
            XCTAssertEqual(rows.reduce(0) { $0 + $1.height }, height)
            XCTAssertTrue(rows.allSatisfy { $0.channels == channels && $0.width == width })
            if channels == 2 || channels == 4 {
                // Alpha is the bicubic resize of the input alpha.
                let alpha = Resampler.resize(
                    image.selectingChannels((channels - 1)..<channels), width: width, height: height)
                var got: [Float] = []
                for band in rows { got += band.selectingChannels((channels - 1)..<channels).pixels }
                XCTAssertEqual(got.count, alpha.pixels.count)
                XCTAssertLessThan(zip(got, alpha.pixels).reduce(0) { max($0, abs($1.0 - $1.1)) }, 1e-5)
            }
        }
    }
}

/// The colour hidden under alpha 0 (straight alpha) must not reach visible output pixels.
final class TransparentColorFillTests: XCTestCase {
    func testHiddenColourTakesTheNearestVisibleColourAcrossBands() throws {
        // A 9 × 300 RGBA image, transparent and green but for four visible pixels; bicubic at scale 1 is the
        // identity, so the output shows the filled colours. The bicubic reach at scale 1 is 4 pixels: every
        // pixel within 4 (Chebyshev distance) of one visible pixel takes its colour, the rest stay green. The
        // pixel in row 62 is filled across the pipeline's 64-row bands.
        let (width, height) = (9, 300)
        var image = PlanarImage(width: width, height: height, channels: 4)
        for y in 0..<height { for x in 0..<width { image[1, y, x] = 1 } }
        let visible: [(x: Int, y: Int, color: [Float])] = [
            (4, 3, [1, 0.5, 0]), (2, 62, [0.25, 0, 1]), (8, 130, [0.5, 0.5, 0.5]), (0, 297, [0, 0.75, 0.25]),
        ]
        for pixel in visible {
            for c in 0..<3 { image[c, pixel.y, pixel.x] = pixel.color[c] }
            image[3, pixel.y, pixel.x] = 1
        }
        let output = try ImagePipeline.upscale(image, outputWidth: width, outputHeight: height, method: .bicubic)
        for y in 0..<height {
            for x in 0..<width {
                let near = visible.first { max(abs($0.x - x), abs($0.y - y)) <= 4 }
                XCTAssertEqual((0..<3).map { output[$0, y, x] }, near?.color ?? [0, 1, 0], "(\(x), \(y))")
            }
        }
    }

    func testHiddenColourDoesNotReachVisibleOutput() throws {
        // A disk with a soft edge; outside it alpha is 0 over black in one copy and over noise in the other.
        let (width, height) = (40, 150)
        var generator = SeededGenerator(seed: 9)
        var black = PlanarImage(width: width, height: height, channels: 4)
        for y in 0..<height {
            for x in 0..<width {
                let distance = (Float(x - 20) * Float(x - 20) + Float(y - 75) * Float(y - 75)).squareRoot()
                black[3, y, x] = min(1, max(0, (14 - distance) / 3))
                for c in 0..<3 { black[c, y, x] = black[3, y, x] > 0 ? Float(generator.nextUniform()) : 0 }
            }
        }
        var noisy = black
        for y in 0..<height {
            for x in 0..<width where black[3, y, x] == 0 {
                for c in 0..<3 { noisy[c, y, x] = Float(generator.nextUniform()) }
            }
        }
        let generatorModel = tinyGenerator(scale: 2, architecture: .compact)
        let methods: [(String, UpscaleMethod, Int)] = [
            ("bicubic ×3", .bicubic, 3),
            (
                "model ×2",
                .model(
                    nativeScale: 2,
                    options: TilingOptions(tileSize: 16, overlap: generatorModel.config.exactOverlap, blend: 0),
                    run: { generatorModel.inference($0) }), 2
            ),
        ]
        for (name, method, scale) in methods {
            func visibleColour(_ image: PlanarImage, _ alpha: AlphaMeaning) throws -> [Float] {
                let out = try ImagePipeline.upscale(
                    image, outputWidth: width * scale, outputHeight: height * scale, method: method, alpha: alpha)
                let plane = out.width * out.height
                return (0..<plane).filter { out.pixels[3 * plane + $0] > 0.001 }.flatMap { i in
                    (0..<3).map { out.pixels[$0 * plane + i] }
                }
            }
            let (a, b) = (try visibleColour(black, .coverage), try visibleColour(noisy, .coverage))
            XCTAssertGreaterThan(a.count, 1000, name)
            XCTAssertLessThanOrEqual(zip(a, b).map { abs($0 - $1) }.max()!, 1e-5, name)
            // Alpha as data keeps every colour as stored, so there the hidden colour shows.
            let (c, d) = (try visibleColour(black, .data), try visibleColour(noisy, .data))
            XCTAssertGreaterThan(zip(c, d).map { abs($0 - $1) }.max()!, 0.05, name)
        }
    }
}
