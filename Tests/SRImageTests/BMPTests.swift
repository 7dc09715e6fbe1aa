import Foundation
import SRImage
import SRTensor
import XCTest

/// BMP reading against pixels Pillow wrote or decoded (Fixtures/make_bmp_fixtures.py), writing by round
/// trip through that reader, and damaged files.
final class BMPTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "bmp-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    private var fixtures: String {
        get throws { try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).path }
    }

    func testEveryLayoutDecodesToTheIndependentPixels() throws {
        try checkExpectedPixels(folder: try fixtures, json: "bmp_expected.json", files: 13, format: .bmp)
        XCTAssertEqual(
            try ImageReader(path: try fixtures + "/palette4.bmp").description.metadata.resolution?.x ?? 0, 72.009,
            accuracy: 0.001)
    }

    func testWriterRoundTripsEveryChannelLayoutAndTheResolution() throws {
        var generator = SeededGenerator(seed: 7)
        for channels in 1...4 {
            // 301 pixels: rows padded to 4 bytes at every depth.
            let (width, height) = (301, 9)
            let image = PlanarImage(
                width: width, height: height, channels: channels,
                pixels: (0..<(width * height * channels)).map { _ in
                    (Float.random(in: 0...1, using: &generator) * 255).rounded() / 255
                })
            let path = folder + "/round-\(channels).bmp"
            let writer = try ImageWriter(
                path: path, format: .bmp, width: width, height: height, channels: channels,
                metadata: ImageMetadata(resolution: Resolution(x: 300, y: 150)))
            for band in [0..<4, 4..<9] { try writer.writeRows(image.rows(band)) }
            try writer.finish()
            let (read, description) = try ImageFile.read(path)
            // Gray + alpha is stored as RGBA.
            let expected =
                channels == 2
                ? image.selectingChannels(0..<1).rgb().appendingChannels(of: image.selectingChannels(1..<2)) : image
            XCTAssertEqual(read, expected, "\(channels) channels")
            XCTAssertEqual(description.metadata.resolution?.x ?? 0, 300, accuracy: 0.02)
            XCTAssertEqual(description.metadata.resolution?.y ?? 0, 150, accuracy: 0.02)
        }
    }

    func testDamagedFilesFailWithTheirName() throws {
        for name in ["palette4.bmp", "bgra32-v4.bmp"] {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try fixtures + "/" + name)))
            // Every truncation fails: the last stored row is the top one, read first.
            let failures = try truncationFailures(of: original, at: folder + "/damaged.bmp")
            XCTAssertEqual(failures, original.count, name)
        }
    }
}
