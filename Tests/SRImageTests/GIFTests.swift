import Foundation
import SRImage
import SRTensor
import XCTest

/// GIF reading against frames composed independently (Fixtures/make_gif_fixtures.py, checked there
/// against Pillow), writing by round trip, and hostile files.
final class GIFTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "gif-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    private var fixtures: String {
        get throws { try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).path }
    }

    /// Frames as shown, with the colour of transparent pixels zeroed (it is not part of what is shown).
    private func shown(_ frame: GIFFrame) -> [Int] {
        var values = frame.rgba.map(Int.init)
        for i in stride(from: 0, to: values.count, by: 4) where values[i + 3] == 0 {
            for c in 0..<3 { values[i + c] = 0 }
        }
        return values
    }

    func testFramesMatchAnIndependentComposition() throws {
        let folder = try fixtures
        let expected = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/gif_expected.json")))
                as? [String: [String: Any]])
        XCTAssertEqual(expected.count, 2)
        for (name, entry) in expected {
            let reader = try GIFReader(path: folder + "/" + name)
            XCTAssertEqual(reader.width, entry["width"] as? Int, name)
            XCTAssertEqual(reader.height, entry["height"] as? Int, name)
            XCTAssertEqual(reader.loopCount, entry["loop"] as? Int, name)
            let frames = try XCTUnwrap(entry["frames"] as? [[Int]])
            let delays = try XCTUnwrap(entry["delays"] as? [Int])
            XCTAssertEqual(reader.frameCount, frames.count, name)
            for (index, values) in frames.enumerated() {
                let frame = try XCTUnwrap(reader.nextFrame(), "\(name) frame \(index)")
                XCTAssertEqual(shown(frame), values, "\(name) frame \(index)")
                XCTAssertEqual(frame.delay, delays[index], "\(name) frame \(index)")
            }
            XCTAssertNil(try reader.nextFrame())
        }
    }

    /// An RGBA image whose colours fall in distinct 5-bit cells (so a palette can hold them exactly).
    private func cellColoredImage(
        width: Int, height: Int, colors: Int, transparentEvery: Int?, seed: UInt64
    )
        -> PlanarImage
    {
        var generator = SeededGenerator(seed: seed)
        let cells = Array((0..<32_768).shuffled(using: &generator).prefix(colors))
        var image = PlanarImage(width: width, height: height, channels: 4)
        let plane = width * height
        for i in 0..<plane {
            let cell = cells[Int.random(in: 0..<colors, using: &generator)]
            for c in 0..<3 { image.pixels[c * plane + i] = Float(((cell >> (10 - 5 * c)) & 31) << 3 | 4) / 255 }
            image.pixels[3 * plane + i] = transparentEvery.map { i % $0 == 0 ? 0 : 1 } ?? 1
        }
        return image
    }

    func testWriterRoundTripsPalettesTransparencyDelaysAndLoops() throws {
        let path = folder + "/round.gif"
        // 256 colours of noise overflow LZW's 4096-code table many times; two colours use the smallest
        // code size; one colour is a single long run; transparency takes the 256th index.
        let frames = [
            cellColoredImage(width: 97, height: 61, colors: 256, transparentEvery: nil, seed: 1),
            cellColoredImage(width: 97, height: 61, colors: 255, transparentEvery: 7, seed: 2),
            cellColoredImage(width: 97, height: 61, colors: 2, transparentEvery: nil, seed: 3),
            cellColoredImage(width: 97, height: 61, colors: 1, transparentEvery: 1000, seed: 4),
        ]
        let writer = try GIFWriter(path: path, width: 97, height: 61, loopCount: 0)
        for (index, frame) in frames.enumerated() { try writer.write(frame, delay: 10 * index + 3) }
        try writer.finish()
        let reader = try GIFReader(path: path)
        XCTAssertEqual(reader.loopCount, 0)
        XCTAssertEqual(reader.frameCount, 4)
        for (index, image) in frames.enumerated() {
            let frame = try XCTUnwrap(reader.nextFrame())
            XCTAssertEqual(frame.delay, 10 * index + 3)
            let plane = 97 * 61
            var expected = [Int](repeating: 0, count: plane * 4)
            for i in 0..<plane where image.pixels[3 * plane + i] == 1 {
                for c in 0..<3 { expected[4 * i + c] = Int((image.pixels[c * plane + i] * 255).rounded()) }
                expected[4 * i + 3] = 255
            }
            XCTAssertEqual(shown(frame), expected, "frame \(index)")
        }
        // No loop block when none is asked for, and no temporary file left behind.
        let still = folder + "/still.gif"
        try ImageFile.write(frames[0].selectingChannels(0..<3), to: still)
        XCTAssertNil(try GIFReader(path: still).loopCount)
        XCTAssertEqual(try ImageFile.read(still).image.channels, 3)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: folder).sorted(), ["round.gif", "still.gif"])
    }

    func testManyColoursBeatAFixedPalette() throws {
        // A smooth image with 12 288 colours. The adaptive palette must beat the fixed 3-3-2-bit palette of the
        // same size (levels spread evenly over 0-255, each pixel rounded to the nearest level) on the same pixels.
        let (width, height) = (128, 96)
        var image = PlanarImage(width: width, height: height, channels: 3)
        for y in 0..<height {
            for x in 0..<width {
                image[0, y, x] = Float(x) / Float(width - 1)
                image[1, y, x] = Float(y) / Float(height - 1)
                image[2, y, x] = 0.5 + 0.5 * sin(Float(x + y) / 20)
            }
        }
        let path = folder + "/gradient.gif"
        try ImageFile.write(image, to: path)
        let read = try ImageFile.read(path).image
        func errors(_ other: [Float]) -> (mean: Float, worst: Float) {
            let errors = zip(other, image.pixels).map { abs($0 - $1) * 255 }
            return (errors.reduce(0, +) / Float(errors.count), errors.max()!)
        }
        let plane = width * height
        let fixed = image.pixels.enumerated().map { index, value in
            let levels: Float = index < 2 * plane ? 7 : 3
            return (value * levels).rounded() / levels
        }
        let (ours, uniform) = (errors(read.pixels), errors(fixed))
        XCTAssertLessThan(ours.mean, uniform.mean / 2, "mean channel error in 8-bit steps (3-3-2: \(uniform.mean))")
        XCTAssertLessThan(ours.worst, uniform.worst, "worst channel error in 8-bit steps")
    }

    func testUnchangedAreasKeepTheirColoursFromFrameToFrame() throws {
        // Frames of a many-coloured gradient with a small square moving over it: away from the square,
        // the frames must show the same colours (a new palette for every frame would shift most of them).
        let (width, height) = (96, 64)
        let path = folder + "/moving.gif"
        let writer = try GIFWriter(path: path, width: width, height: height, loopCount: 0)
        for step in 0..<4 {
            var image = PlanarImage(width: width, height: height, channels: 3)
            for y in 0..<height {
                for x in 0..<width {
                    image[0, y, x] = Float(x) / Float(width - 1)
                    image[1, y, x] = Float(y) / Float(height - 1)
                    image[2, y, x] = 0.5 + 0.5 * sin(Float(x * y) / 300)
                    if (40..<52).contains(y) && (10 + 20 * step..<22 + 20 * step).contains(x) {
                        for c in 0..<3 { image[c, y, x] = [1, 0.1, 0.2][c] }
                    }
                }
            }
            try writer.write(image, delay: 10)
        }
        try writer.finish()
        let reader = try GIFReader(path: path)
        var previous = try XCTUnwrap(reader.nextFrame())
        while let frame = try reader.nextFrame() {
            var changed = 0
            for y in 0..<36 {
                for x in 0..<width
                where frame.rgba[4 * (y * width + x)..<4 * (y * width + x) + 4]
                    != previous.rgba[4 * (y * width + x)..<4 * (y * width + x) + 4]
                {
                    changed += 1
                }
            }
            XCTAssertEqual(changed, 0, "pixels above the square that changed colour")
            previous = frame
        }
    }

    func testFramesReachingPastTheCanvasAreClipped() throws {
        let path = folder + "/offset.gif"
        let image = cellColoredImage(width: 8, height: 8, colors: 5, transparentEvery: nil, seed: 5)
        let writer = try GIFWriter(path: path, width: 8, height: 8, loopCount: nil)
        try writer.write(image, delay: 0)
        try writer.finish()
        // Move the frame to (5, 6): header (13 bytes), graphic control (8), then the descriptor.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(bytes[21], 0x2C)
        bytes[22] = 5
        bytes[24] = 6
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let frame = try XCTUnwrap(try GIFReader(path: path).nextFrame())
        let plane = 64
        for y in 0..<8 {
            for x in 0..<8 {
                let alpha = frame.rgba[4 * (y * 8 + x) + 3]
                XCTAssertEqual(alpha, x >= 5 && y >= 6 ? 255 : 0, "(\(x), \(y))")
                if x >= 5 && y >= 6 {
                    let source = (y - 6) * 8 + (x - 5)
                    XCTAssertEqual(Float(frame.rgba[4 * (y * 8 + x)]) / 255, image.pixels[source], accuracy: 1e-6)
                    XCTAssertEqual(
                        Float(frame.rgba[4 * (y * 8 + x) + 2]) / 255, image.pixels[2 * plane + source], accuracy: 1e-6)
                }
            }
        }
    }

    func testDamagedFilesFailWithTheirNameOrDecodeWhatIsThere() throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try fixtures + "/animated.gif")))
        let path = folder + "/damaged.gif"
        var failures = 0
        func attempt(_ bytes: [UInt8]) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let reader = try GIFReader(path: path)
                while let frame = try reader.nextFrame() {
                    XCTAssertEqual(frame.rgba.count, reader.width * reader.height * 4)
                }
            } catch let error as ImageError {
                XCTAssertTrue("\(error)".contains("damaged.gif"), "\(error)")
                XCTAssertFalse("\(error)".contains("\n"))
                failures += 1
            }
        }
        // Every truncation: a file cut inside the header fails; one cut inside later frames decodes what is there.
        for length in 0..<original.count { try attempt(Array(original[0..<length])) }
        XCTAssertGreaterThan(failures, 20)
        // Every single byte set to 0xFF: never a crash, every failure one line naming the file.
        for position in 0..<original.count {
            var bytes = original
            bytes[position] = 0xFF
            try attempt(bytes)
        }
        try Data("GIF89a".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try GIFReader(path: path)) { XCTAssertTrue("\($0)".contains("truncated GIF")) }
        // A huge canvas is refused before any pixel is allocated.
        var huge = original
        huge[6...9] = [0xFF, 0xFF, 0xFF, 0xFF]
        try Data(huge).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try GIFReader(path: path, limits: DecodeLimits(maximumPixels: 1_000_000))) {
            XCTAssertTrue("\($0)".contains("65535x65535"), "\($0)")
        }
        // So is a frame far larger than its small canvas (its indices would be allocated whole).
        var bomb = original
        let descriptor = try XCTUnwrap((13 + 48..<original.count).first { original[$0] == 0x2C })
        bomb[(descriptor + 5)...(descriptor + 8)] = [0xFF, 0xFF, 0xFF, 0xFF]
        try Data(bomb).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try GIFReader(path: path, limits: DecodeLimits(maximumPixels: 1_000_000))) {
            XCTAssertTrue("\($0)".contains("GIF frame 1 is 65535x65535, over the limit"), "\($0)")
        }
    }
}
