import Foundation
import SRImage
import SRTensor
import XCTest

/// TGA reading against pixels Pillow wrote or decoded (Fixtures/make_tga_fixtures.py), writing by round
/// trip through that reader, and damaged files.
final class TGATests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "tga-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    private var fixtures: String {
        get throws { try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).path }
    }

    func testEveryLayoutDecodesToTheIndependentPixels() throws {
        try checkExpectedPixels(folder: try fixtures, json: "tga_expected.json", files: 12, format: .tga)
        // Uncompressed rows stored bottom to top stream from the last; run-length encoded ones are decoded whole.
        let raw = try ImageReader(path: try fixtures + "/gray-alpha-raw-bottom-up.tga").description
        let encoded = try ImageReader(path: try fixtures + "/rgb-rle-bottom-up.tga").description
        XCTAssertEqual([raw.orientation, encoded.orientation], [1, 4])
        XCTAssertEqual([raw.isStreaming, encoded.isStreaming], [true, false])
    }

    func testWriterRoundTripsEveryChannelLayout() throws {
        var generator = SeededGenerator(seed: 6)
        for channels in 1...4 {
            // Flat areas (run packets, 128 pixels at most each), ramps and noise (raw packets), in bands.
            let (width, height) = (300, 40)
            let image = PlanarImage(
                width: width, height: height, channels: channels,
                pixels: (0..<(width * height * channels)).map { i in
                    let x = i % width
                    let value: Float =
                        x < 200 ? 0.5 : x < 250 ? Float(x) / 300 : Float.random(in: 0...1, using: &generator)
                    return (value * 255).rounded() / 255
                })
            let path = folder + "/round-\(channels).tga"
            let writer = try ImageWriter(path: path, format: .tga, width: width, height: height, channels: channels)
            for band in [0..<7, 7..<30, 30..<40] { try writer.writeRows(image.rows(band)) }
            try writer.finish()
            let (read, description) = try ImageFile.read(path)
            XCTAssertEqual([description.channels, description.bitDepth, description.orientation], [channels, 8, 1])
            XCTAssertEqual(read, image, "\(channels) channels")
            let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            XCTAssertLessThan(size, width * height * channels / 2, "run-length encoding")
        }
        // A side over 65 535 pixels is refused before anything is written.
        XCTAssertThrowsError(
            try ImageWriter(path: folder + "/wide.tga", format: .tga, width: 70_000, height: 1, channels: 3)
        ) {
            XCTAssertTrue("\($0)".contains("at most 65535 pixels a side"), "\($0)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("wide") }, [])
    }

    func testDamagedFilesFailWithTheirName() throws {
        for name in ["rgba-rle-bottom-up.tga", "palette-rle.tga"] {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try fixtures + "/" + name)))
            // Every truncation inside the pixels fails (Pillow's files end with the 26-byte TGA 2.0 footer, which
            // is never read).
            let failures = try truncationFailures(of: original, at: folder + "/damaged.tga")
            XCTAssertGreaterThanOrEqual(failures, original.count - 26, name)
        }
    }
}
