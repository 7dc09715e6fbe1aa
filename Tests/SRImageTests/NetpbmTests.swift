import Foundation
import SRImage
import SRTensor
import XCTest

/// Netpbm reading against pixels Pillow wrote or decoded (Fixtures/make_netpbm_fixtures.py), writing by round
/// trip through that reader, and damaged files.
final class NetpbmTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "netpbm-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    private var fixtures: String {
        get throws { try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).path }
    }

    func testEveryLayoutDecodesToTheIndependentPixels() throws {
        try checkExpectedPixels(folder: try fixtures, json: "netpbm_expected.json", files: 11, format: .netpbm)
    }

    func testWriterRoundTripsChannelsAndDepths() throws {
        var generator = SeededGenerator(seed: 8)
        for channels in 1...4 {
            for bitDepth in [8, 16] {
                let (width, height) = (37, 6)
                let maximum = Float((1 << bitDepth) - 1)
                let image = PlanarImage(
                    width: width, height: height, channels: channels,
                    pixels: (0..<(width * height * channels)).map { _ in
                        (Float.random(in: 0...1, using: &generator) * maximum).rounded() / maximum
                    })
                let path = folder + "/round-\(channels)-\(bitDepth)." + ["pgm", "pam", "ppm", "pam"][channels - 1]
                try ImageFile.write(image, to: path, bitDepth: bitDepth)
                let (read, description) = try ImageFile.read(path)
                XCTAssertEqual([description.channels, description.bitDepth], [channels, bitDepth])
                XCTAssertEqual(read, image, "\(channels) channels, \(bitDepth) bits")
            }
        }
    }

    func testDamagedFilesFailWithTheirName() throws {
        for name in ["rgb-max100-comment.ppm", "gray-alpha16.pam"] {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try fixtures + "/" + name)))
            // Every truncation fails: the pixels end the file.
            let failures = try truncationFailures(of: original, at: folder + "/damaged.pam")
            XCTAssertEqual(failures, original.count, name)
        }
    }
}
