import Foundation
import SRImage
import SRTensor
import XCTest

/// TIFF reading against pixels written independently (Fixtures/make_tiff_fixtures.py, which builds every
/// layout byte by byte and checks Pillow decodes the same pixels where it can), writing by round trip, and
/// damaged files.
final class TIFFTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "tiff-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    private var fixtures: String {
        get throws { try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).path }
    }

    /// Interleaved integer samples of a planar image at `bitDepth`.
    private func samples(_ image: PlanarImage, bitDepth: Int) -> [Int] {
        let maximum = Float((1 << bitDepth) - 1)
        let plane = image.width * image.height
        return (0..<plane).flatMap { i in
            (0..<image.channels).map { Int((image.pixels[$0 * plane + i] * maximum).rounded()) }
        }
    }

    func testEveryLayoutDecodesToTheIndependentPixels() throws {
        let folder = try fixtures
        let expected = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/tiff_expected.json")))
                as? [String: [String: Any]])
        XCTAssertEqual(expected.count, 18)
        for (name, entry) in expected {
            let path = folder + "/" + name
            if let message = entry["error"] as? String {
                XCTAssertThrowsError(try ImageReader(path: path), name) { error in
                    XCTAssertTrue("\(error)".contains(name) && "\(error)".contains(message), "\(error)")
                }
                continue
            }
            if let pages = entry["pages"] as? [[String: Any]] {
                let first = try ImageReader(path: path)
                XCTAssertEqual(first.description.pageCount, pages.count)
                for (page, expected) in pages.enumerated() {
                    // Opened on its own, or from the first page's reader (which reuses its page chain).
                    for reader in [try ImageReader(path: path, page: page), try first.openingPage(page)] {
                        let d = reader.description
                        XCTAssertEqual(
                            [d.width, d.height, d.channels, d.bitDepth, d.pageCount],
                            [
                                expected["width"], expected["height"], expected["channels"], expected["bitDepth"],
                                pages.count,
                            ].map { $0 as? Int }, "\(name) page \(page)")
                        XCTAssertEqual(
                            samples(try reader.readAll(), bitDepth: 8), expected["pixels"] as? [Int],
                            "\(name) page \(page)")
                    }
                }
                XCTAssertThrowsError(try ImageReader(path: path, page: pages.count)) {
                    XCTAssertTrue("\($0)".contains("has no page 4"), "\($0)")
                }
                XCTAssertThrowsError(try first.openingPage(pages.count)) {
                    XCTAssertTrue("\($0)".contains("has no page 4"), "\($0)")
                }
                continue
            }
            if let png = entry["expected"] as? String {
                // Fax pages: the same pixels as the PNG written beside them.
                let (page, description) = try ImageFile.read(path)
                XCTAssertEqual([description.channels, description.bitDepth], [1, 8], name)
                XCTAssertEqual(page, try ImageFile.read(folder + "/" + png).image, name)
                continue
            }
            let reader = try ImageReader(path: path)
            let d = reader.description
            XCTAssertEqual(d.format, .tiff)
            XCTAssertEqual(
                [d.width, d.height, d.channels, d.bitDepth],
                [entry["width"], entry["height"], entry["channels"], entry["bitDepth"]].map { $0 as? Int }, name)
            // Bands of 3 rows cross every strip and tile boundary at a different place.
            var values: [Int] = []
            while reader.rowsRead < d.height { values += samples(try reader.readRows(3), bitDepth: d.bitDepth) }
            XCTAssertEqual(values, entry["pixels"] as? [Int], name)
        }
        let tagged = try ImageReader(path: folder + "/resolution-icc-xmp.tif").description
        XCTAssertEqual(tagged.metadata.resolution, Resolution(x: 762, y: 381))
        XCTAssertEqual(tagged.metadata.iccProfile, Array(0..<40))
        XCTAssertEqual(tagged.metadata.xmp, Array("<x:xmpmeta/>".utf8))
        XCTAssertEqual(
            try ImageReader(path: folder + "/orientation6-tiles-planar-deflate.tif").description.orientation, 6)
    }

    /// Writes the 150 rows of `image` as a TIFF in bands of 7, 90, 3 and 50 rows on 2 threads: with 1 000-pixel
    /// rows, bands leave partial strips waiting for the next band, or fill one and hold whole strips, and the
    /// last strip is short.
    private func writeInBands(
        _ image: PlanarImage, to path: String, bitDepth: Int, metadata: ImageMetadata = ImageMetadata()
    ) throws {
        precondition(image.height == 150, "the bands cover 150 rows")
        let writer = try ImageWriter(
            path: path, format: .tiff, width: image.width, height: image.height, channels: image.channels,
            bitDepth: bitDepth, metadata: metadata, threads: 2)
        var start = 0
        for band in [7, 90, 3, 50] {
            try writer.writeRows(image.rows(start..<(start + band)))
            start += band
        }
        try writer.finish()
    }

    func testFloatingPointSamplesDecodeToTheIndependentValues() throws {
        let folder = try fixtures
        let expected = try XCTUnwrap(
            JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: folder + "/float_tiff_expected.json")))
                as? [String: [String: Any]])
        XCTAssertEqual(expected.count, 4)
        for (name, entry) in expected {
            let reader = try ImageReader(path: folder + "/" + name)
            let d = reader.description
            XCTAssertEqual(
                [d.width, d.height, d.channels, d.bitDepth],
                [entry["width"], entry["height"], entry["channels"], 32].map { $0 as? Int }, name)
            // Bands of 3 rows cross every strip and tile boundary at a different place.
            var values: [Float] = []
            while reader.rowsRead < d.height {
                let band = try reader.readRows(3)
                let plane = band.width * band.height
                values += (0..<plane).flatMap { i in (0..<band.channels).map { band.pixels[$0 * plane + i] } }
            }
            XCTAssertEqual(values, try XCTUnwrap(entry["values"] as? [Double]).map { Float($0) }, name)
        }
    }

    func testFloatingPointWriterKeepsValuesBeyondTheUnitRange() throws {
        var generator = SeededGenerator(seed: 4)
        for channels in 1...4 {
            // 1 000 px of float RGBA is 16 000 bytes a row: 16 rows a strip, so the bands leave partial strips.
            let (width, height) = (1000, 150)
            let image = PlanarImage(
                width: width, height: height, channels: channels,
                pixels: (0..<(width * height * channels)).map { i in
                    // Ramps from -0.5 to 2 with noise (alpha stays in [0, 1], as the reader clamps it).
                    let value =
                        Float(i % width) / Float(width) * 2.5 - 0.5 + Float.random(in: 0...0.01, using: &generator)
                    let isAlpha = channels % 2 == 0 && i / (width * height) == channels - 1
                    return isAlpha ? min(max(value, 0), 1) : value
                })
            let path = folder + "/float-\(channels).tif"
            try writeInBands(image, to: path, bitDepth: 32)
            let (read, description) = try ImageFile.read(path)
            XCTAssertEqual([description.channels, description.bitDepth], [channels, 32])
            XCTAssertEqual(read, image, "\(channels) channels")
            // The floating-point predictor makes the ramps compress.
            let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            XCTAssertLessThan(size, width * height * channels * 4 * 3 / 4)
        }
        // A PNG cannot hold floats: it gets 16-bit samples clamped to [0, 1]; JPEG gets 8 bits.
        let ramp = PlanarImage(width: 4, height: 1, channels: 1, pixels: [-0.5, 0.25, 0.75, 2])
        try ImageFile.write(ramp, to: folder + "/ramp.png", bitDepth: 32)
        let (png, description) = try ImageFile.read(folder + "/ramp.png")
        XCTAssertEqual(description.bitDepth, 16)
        XCTAssertEqual(png.pixels, [0, 16384 / 65535, 49151 / 65535, 1])
        try ImageFile.write(ramp, to: folder + "/ramp.jpg", bitDepth: 32)
        XCTAssertEqual(try ImageFile.read(folder + "/ramp.jpg").description.bitDepth, 8)
    }

    func testWriterRoundTripsDepthsChannelsAndMetadata() throws {
        var generator = SeededGenerator(seed: 3)
        for channels in 1...4 {
            for bitDepth in [8, 16] {
                // 1 000 px of 16-bit RGBA is 8 000 bytes a row: 32 rows a strip, so bands of 7, 90, 3 and 50 rows
                // leave partial strips waiting for the next band, or fill one and hold whole strips, and the
                // last strip is short.
                let (width, height) = (1000, 150)
                let maximum = Float((1 << bitDepth) - 1)
                let image = PlanarImage(
                    width: width, height: height, channels: channels,
                    pixels: (0..<(width * height * channels)).map { i in
                        // Smooth ramps with noise, over the whole range.
                        let ramp = Float(i % width) / Float(width) * 0.95
                        return ((ramp + Float.random(in: 0...0.002, using: &generator)) * maximum).rounded() / maximum
                    })
                let metadata = ImageMetadata(
                    iccProfile: Array(repeating: 7, count: 5000), xmp: Array("<x:xmpmeta a='1'/>".utf8),
                    resolution: Resolution(x: 300, y: 150.5))
                let path = folder + "/round-\(channels)-\(bitDepth).tiff"
                try writeInBands(image, to: path, bitDepth: bitDepth, metadata: metadata)
                let (read, description) = try ImageFile.read(path)
                XCTAssertEqual(description.format, .tiff)
                XCTAssertEqual([description.channels, description.bitDepth], [channels, bitDepth])
                XCTAssertEqual(read, image, "\(channels) channels, \(bitDepth) bits")
                XCTAssertEqual(description.metadata.iccProfile, metadata.iccProfile)
                XCTAssertEqual(description.metadata.xmp, metadata.xmp)
                XCTAssertEqual(description.metadata.resolution, metadata.resolution)
                // Deflate with differencing: the ramps compress.
                let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
                XCTAssertLessThan(size, width * height * channels * bitDepth / 8 * 3 / 4)
            }
        }
    }

    func testWriterChainsPagesOfDifferentSizesAndDepths() throws {
        let path = folder + "/pages.tif"
        let layouts: [(width: Int, height: Int, channels: Int, bitDepth: Int)] = [
            (300, 200, 3, 8), (70, 3, 1, 16), (40, 90, 4, 8),
        ]
        var generator = SeededGenerator(seed: 9)
        let images = layouts.map { layout in
            PlanarImage(
                width: layout.width, height: layout.height, channels: layout.channels,
                pixels: (0..<(layout.width * layout.height * layout.channels)).map { _ in
                    Float(Int.random(in: 0...255, using: &generator)) / 255
                })
        }
        let writer = try ImageWriter(
            path: path, format: .tiff, width: 300, height: 200, channels: 3,
            metadata: ImageMetadata(xmp: Array("page 1".utf8)), pages: 3)
        for (index, (image, layout)) in zip(images, layouts).enumerated() {
            if index > 0 {
                try writer.startPage(
                    width: layout.width, height: layout.height, channels: layout.channels, bitDepth: layout.bitDepth,
                    metadata: ImageMetadata(xmp: Array("page \(index + 1)".utf8)))
            }
            try writer.writeRows(image)
        }
        try writer.finish()
        for (index, (image, layout)) in zip(images, layouts).enumerated() {
            let reader = try ImageReader(path: path, page: index)
            XCTAssertEqual(reader.description.pageCount, 3)
            XCTAssertEqual(reader.description.bitDepth, layout.bitDepth)
            XCTAssertEqual(reader.description.metadata.xmp, Array("page \(index + 1)".utf8))
            XCTAssertEqual(try reader.readAll(), image, "page \(index + 1)")
        }
        // Only a TIFF holds pages.
        let png = try ImageWriter(path: folder + "/one.png", format: .png, width: 1, height: 1, channels: 1)
        try png.writeRows(PlanarImage(width: 1, height: 1, channels: 1))
        XCTAssertThrowsError(try png.startPage(width: 1, height: 1, channels: 1, bitDepth: 8))
    }

    func testEXIFMovesBetweenTIFFAndOtherFormats() throws {
        // A big-endian TIFF's camera, dates, exposure and GPS become a (little-endian) EXIF block.
        let reader = try ImageReader(path: try fixtures + "/exif-bigendian.tif")
        let block = try XCTUnwrap(reader.description.metadata.exif)
        let exif = try XCTUnwrap(ExifBlock(block))
        XCTAssertEqual(exif.value(of: 0xA002, inExifIFD: true), 6)
        XCTAssertEqual(exif.value(of: 0xA003, inExifIFD: true), 4)
        func contains(_ part: [UInt8], in bytes: [UInt8]) -> Bool {
            (0...(bytes.count - part.count)).contains { Array(bytes[$0..<($0 + part.count)]) == part }
        }
        for text in ["Nikon", "Someone", "2020:01:02 03:04:05", "2020:01:02 03:04:06"] {
            XCTAssertTrue(contains(Array(text.utf8), in: block), text)
        }
        // Exposure 1/250 and latitude 15/2 seconds, as little-endian LONG pairs: RATIONALs were swapped.
        XCTAssertTrue(contains([1, 0, 0, 0, 250, 0, 0, 0], in: block))
        XCTAssertTrue(contains([15, 0, 0, 0, 2, 0, 0, 0], in: block))
        // Written into a TIFF (8- and 16-bit, which lays the values out differently) and read back, the block
        // is the same, byte for byte.
        let image = try reader.readAll()
        for bitDepth in [8, 16] {
            let path = folder + "/exif-\(bitDepth).tif"
            try ImageFile.write(image, to: path, bitDepth: bitDepth, metadata: reader.description.metadata)
            XCTAssertEqual(try ImageReader(path: path).description.metadata.exif, block)
        }
        // A JPEG's EXIF (Pillow's layout) survives a TIFF in between, with the output's pixel size.
        let jpeg = try ImageReader(path: try fixtures + "/exif-pillow.jpg")
        let upright = jpeg.description.metadata.forOutput(width: 48, height: 80, resettingOrientation: true)
        let path = folder + "/from-jpeg.tif"
        try ImageFile.write(PlanarImage(width: 48, height: 80, channels: 3), to: path, metadata: upright)
        let moved = try XCTUnwrap(ImageReader(path: path).description.metadata.exif)
        let movedExif = try XCTUnwrap(ExifBlock(moved))
        XCTAssertEqual(movedExif.orientation, 1)
        XCTAssertEqual(movedExif.value(of: 0xA002, inExifIFD: true), 48)
        for text in ["Canon", "2021:07:04 11:59:58", "2021:07:04 12:00:00"] {
            XCTAssertTrue(contains(Array(text.utf8), in: moved), text)
        }
        XCTAssertTrue(contains([52, 0, 0, 0, 1, 0, 0, 0, 30, 0, 0, 0, 1, 0, 0, 0], in: moved), "GPS latitude")
    }

    func testDamagedFilesFailWithTheirName() throws {
        for name in [
            "strips-lzw-predictor-rgb8.tif", "tiles-deflate-predictor-rgba16-bigendian.tif", "fax-group4.tif",
            "bigtiff-deflate-gray16-bigendian.tif", "exif-bigendian.tif", "float16-rgb-planar-deflate-predictor.tif",
        ] {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try fixtures + "/" + name)))
            let path = folder + "/damaged.tif"
            var failures = 0
            func attempt(_ bytes: [UInt8]) throws {
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                do {
                    let reader = try ImageReader(path: path)
                    let image = try reader.readAll()
                    XCTAssertEqual(image.width * image.height, reader.description.width * reader.description.height)
                } catch let error as ImageError {
                    XCTAssertTrue("\(error)".contains("damaged.tif"), "\(error)")
                    XCTAssertFalse("\(error)".contains("\n"))
                    failures += 1
                }
            }
            // Every truncation fails (the directory and the values it points to are at the end), never crashes;
            // libtiff's file ends in the 4-byte pointer to a next page, which is never read, and tifffile's in the
            // last strip's zlib stream, whose Adler-32 and final end-of-block byte are not needed once every row
            // is decoded.
            for length in 0..<original.count { try attempt(Array(original[0..<length])) }
            XCTAssertGreaterThanOrEqual(failures, original.count - (name.hasPrefix("float") ? 5 : 4), name)
            // Every single byte set to 0xFF: never a crash or a hang; every failure is one line naming the file.
            for position in 0..<original.count {
                var bytes = original
                bytes[position] = 0xFF
                try attempt(bytes)
            }
            XCTAssertGreaterThan(failures, original.count + 20, name)
        }
        // A huge size is refused before anything is allocated.
        let original = [UInt8](
            try Data(contentsOf: URL(fileURLWithPath: try fixtures + "/strips-lzw-predictor-rgb8.tif")))
        let directory = Int(original[4]) | Int(original[5]) << 8 | Int(original[6]) << 16 | Int(original[7]) << 24
        var huge = original
        // The first entry is ImageWidth (LONG): its value field starts 10 bytes into the directory.
        huge[(directory + 10)...(directory + 13)] = [0xFF, 0xFF, 0x00, 0x00]
        let path = folder + "/huge.tif"
        try Data(huge).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ImageReader(path: path, limits: DecodeLimits(maximumPixels: 1_000_000))) {
            XCTAssertTrue("\($0)".contains("huge.tif: image is 65535x19"), "\($0)")
        }
        // So is a row longer than the memory allowed for decoding (a 1 000 000 000 x 1 image fits the pixel limit).
        var wide = original
        wide[(directory + 10)...(directory + 13)] = [0x00, 0xCA, 0x9A, 0x3B]
        wide[(directory + 22)...(directory + 25)] = [1, 0, 0, 0]
        try Data(wide).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ImageReader(path: path)) {
            XCTAssertTrue("\($0)".contains("huge.tif: needs 9000 MB for one row"), "\($0)")
        }
    }
}
