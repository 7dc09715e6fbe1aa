import Foundation
import SRImage
import XCTest

/// `ExifBlock` on hand-built TIFF blocks in both byte orders, on corrupt blocks, and through the codecs; the
/// stated resolution through the codecs.
final class ExifTests: XCTestCase {
    /// A TIFF block laid out by hand: IFD0 {Orientation SHORT 6, DateTime ASCII, ExifIFD LONG} at 8, the Exif
    /// IFD {PixelXDimension SHORT 300, PixelYDimension LONG 200, DateTimeOriginal ASCII} after it, then the
    /// two date strings.
    static func block(littleEndian: Bool, date: String = "2024:05:01 10:00:00") -> [UInt8] {
        var bytes: [UInt8] = []
        func u16(_ value: Int) {
            let pair = [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)]
            bytes += littleEndian ? pair : pair.reversed()
        }
        func u32(_ value: Int) {
            let quad = (0..<4).map { UInt8(value >> (8 * $0) & 0xFF) }
            bytes += littleEndian ? quad : quad.reversed()
        }
        func entry(_ tag: Int, _ type: Int, _ count: Int, value: Int) {
            u16(tag)
            u16(type)
            u32(count)
            if type == 3 && count == 1 {
                u16(value)
                u16(0)
            } else {
                u32(value)
            }
        }
        let ifd0 = 8, exifIFD = ifd0 + 2 + 3 * 12 + 4, strings = exifIFD + 2 + 3 * 12 + 4
        bytes += littleEndian ? [0x49, 0x49] : [0x4D, 0x4D]
        u16(42)
        u32(ifd0)
        u16(3)
        entry(0x0112, 3, 1, value: 6)
        entry(0x0132, 2, 20, value: strings)
        entry(0x8769, 4, 1, value: exifIFD)
        u32(0)
        u16(3)
        entry(0x9003, 2, 20, value: strings + 20)
        entry(0xA002, 3, 1, value: 300)
        entry(0xA003, 4, 1, value: 200)
        u32(0)
        bytes += Array(date.utf8) + [0] + Array(date.utf8) + [0]
        return bytes
    }

    func testReadsAndEditsBothByteOrders() throws {
        for little in [true, false] {
            let original = ExifTests.block(littleEndian: little)
            let block = try XCTUnwrap(ExifBlock(original))
            XCTAssertEqual(block.orientation, 6)
            XCTAssertEqual(Orientation.value(fromExif: original), 6)
            XCTAssertEqual(block.value(of: 0xA002, inExifIFD: true), 300)
            XCTAssertEqual(block.value(of: 0xA003, inExifIFD: true), 200)
            XCTAssertNil(block.value(of: 0xA002), "the pixel size lives in the Exif IFD, not IFD0")

            let output = block.forOutput(width: 800, height: 70_000)
            XCTAssertEqual(output.count, original.count)
            let edited = try XCTUnwrap(ExifBlock(output))
            XCTAssertEqual(edited.orientation, 1)
            XCTAssertEqual(edited.value(of: 0xA002, inExifIFD: true), 800)
            XCTAssertEqual(edited.value(of: 0xA003, inExifIFD: true), 70_000)
            // An orientation the reader did not apply (a PNG's) stays; the pixel size still changes.
            let kept = try XCTUnwrap(ExifBlock(block.forOutput(width: 800, height: 9, resettingOrientation: false)))
            XCTAssertEqual([kept.orientation, kept.value(of: 0xA002, inExifIFD: true)], [6, 800])
            // A SHORT that cannot hold the new width becomes a LONG.
            let wide = try XCTUnwrap(ExifBlock(block.forOutput(width: 70_001, height: 5)))
            XCTAssertEqual(wide.value(of: 0xA002, inExifIFD: true), 70_001)
            // Only the three values (and that one type) changed: the dates and every offset are intact.
            let changed = zip(original, output).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
            XCTAssertTrue(changed.allSatisfy { (8..<ExifTests.block(littleEndian: little).count - 40).contains($0) })
            XCTAssertEqual(Array(output.suffix(40)), Array(original.suffix(40)))
        }
    }

    /// Corrupt blocks (every truncation, and seeded random byte changes) never trap: reads give nil or 1,
    /// edits keep the length.
    func testCorruptBlocksAreNeverTrusted() {
        XCTAssertNil(ExifBlock([]))
        XCTAssertNil(ExifBlock(Array("JFIF\0\0\0\0".utf8)))
        XCTAssertEqual(Orientation.value(fromExif: [0x49, 0x49, 42, 0]), 1)
        let original = ExifTests.block(littleEndian: true)
        for length in 0..<original.count {
            let cut = Array(original.prefix(length))
            if let block = ExifBlock(cut) {
                XCTAssertEqual(block.forOutput(width: 9, height: 9).count, length)
                XCTAssertTrue((1...8).contains(block.orientation))
            }
        }
        var random = UInt64(7)
        for _ in 0..<2000 {
            var bytes = original
            for _ in 0..<4 {
                random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                bytes[Int(random >> 33) % bytes.count] = UInt8(truncatingIfNeeded: random >> 13)
            }
            guard let block = ExifBlock(bytes) else { continue }
            XCTAssertEqual(block.forOutput(width: 123_456, height: 1).count, bytes.count)
            _ = block.value(of: 0xA003, inExifIFD: true)
        }
    }

    /// A block laid out by Pillow (`Fixtures/make_exif_fixture.py`): orientation, pixel size and the date
    /// are where Pillow put them, and survive `forOutput`.
    func testReadsPillowsLayout() throws {
        let folder = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).path
        let expected = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/exif_expected.json")))
                as? [String: Any])
        let description = try ImageReader(path: folder + "/exif-pillow.jpg").description
        let bytes = try XCTUnwrap(description.metadata.exif)
        XCTAssertEqual(bytes.count, expected["exif_length"] as? Int)
        XCTAssertEqual(description.orientation, expected["orientation"] as? Int)
        XCTAssertEqual([description.width, description.height], [24, 40])
        let block = try XCTUnwrap(ExifBlock(bytes))
        XCTAssertEqual(block.value(of: 0xA002, inExifIFD: true), expected["pixel_x"] as? Int)
        XCTAssertEqual(block.value(of: 0xA003, inExifIFD: true), expected["pixel_y"] as? Int)
        let output = block.forOutput(width: 96, height: 160)
        let edited = try XCTUnwrap(ExifBlock(output))
        XCTAssertEqual(
            [edited.orientation, edited.value(of: 0xA002, inExifIFD: true), edited.value(of: 0xA003, inExifIFD: true)],
            [1, 96, 160])
        let date = Array(try XCTUnwrap(expected["date"] as? String).utf8)
        XCTAssertNotNil(output.indices.first { Array(output[$0..<min($0 + date.count, output.count)]) == date })
    }

    /// The block survives both encoders byte for byte, and only a JPEG's orientation turns the pixels.
    func testCodecsCarryTheBlock() throws {
        let folder = temporaryFolder()
        let block = ExifTests.block(littleEndian: false)
        var image = PlanarImage(width: 6, height: 4, channels: 3)
        for index in image.pixels.indices { image.pixels[index] = Float(index % 7) / 7 }
        for name in ["e.png", "e.jpg"] {
            try ImageFile.write(image, to: folder + "/" + name, metadata: ImageMetadata(exif: block))
            let description = try ImageReader(path: folder + "/" + name).description
            XCTAssertEqual(description.metadata.exif, block, name)
            let turned = name.hasSuffix(".jpg")
            XCTAssertEqual(description.orientation, turned ? 6 : 1, name)
            XCTAssertEqual([description.width, description.height], turned ? [4, 6] : [6, 4], name)
        }
        try ImageFile.write(image, to: folder + "/plain.jpg")
        XCTAssertNil(try ImageReader(path: folder + "/plain.jpg").description.metadata.exif)
        XCTAssertNil(
            try ImageReader(path: folder + "/plain.jpg").description.metadata.resolution, "JFIF's default is 1:1")
    }

    /// Pixels per inch survive JPEG's JFIF density (whole dots per inch) and PNG's pHYs (per metre).
    func testCodecsCarryTheResolution() throws {
        let folder = temporaryFolder()
        let image = PlanarImage(width: 3, height: 2, channels: 3)
        for name in ["r.png", "r.jpg"] {
            try ImageFile.write(
                image, to: folder + "/" + name, metadata: ImageMetadata(resolution: Resolution(x: 300, y: 600)))
            let resolution = try XCTUnwrap(ImageReader(path: folder + "/" + name).description.metadata.resolution, name)
            XCTAssertEqual(resolution.x, 300, accuracy: 0.01, name)
            XCTAssertEqual(resolution.y, 600, accuracy: 0.01, name)
            try ImageFile.write(image, to: folder + "/none-" + name)
            XCTAssertNil(try ImageReader(path: folder + "/none-" + name).description.metadata.resolution, name)
        }
    }

    static let xmp = """
        <?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>\
        <rdf:Description tiff:Orientation="6" exif:PixelXDimension='40' xmp:Rating="4">\
        <exif:PixelYDimension>24</exif:PixelYDimension><tiff:ImageWidth><rdf:Seq/></tiff:ImageWidth>\
        <dc:rights>© 2021 A. Photographer</dc:rights></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>
        """

    /// Orientation and pixel size are rewritten in both RDF spellings; everything else (rating, rights,
    /// a non-numeric value) stays byte for byte.
    func testXMPPacketIsMadeUprightAndResized() {
        let edited = String(
            decoding: XMPPacket.forOutput(Array(ExifTests.xmp.utf8), width: 160, height: 96), as: UTF8.self)
        let expected = ExifTests.xmp.replacingOccurrences(of: "tiff:Orientation=\"6\"", with: "tiff:Orientation=\"1\"")
            .replacingOccurrences(of: "exif:PixelXDimension='40'", with: "exif:PixelXDimension='160'")
            .replacingOccurrences(of: ">24</exif:PixelYDimension>", with: ">96</exif:PixelYDimension>")
        XCTAssertEqual(edited, expected)
        XCTAssertEqual(XMPPacket.forOutput([0xFF, 0xFE, 0x00], width: 1, height: 1), [0xFF, 0xFE, 0x00])
        let unturned = XMPPacket.forOutput(
            Array(ExifTests.xmp.utf8), width: 160, height: 96, resettingOrientation: false)
        XCTAssertTrue(String(decoding: unturned, as: UTF8.self).contains("tiff:Orientation=\"6\""))
    }

    /// XMP survives both encoders byte for byte; stripping keeps only the profile and resolution.
    func testCodecsCarryXMPAndStrippingDropsIt() throws {
        let folder = temporaryFolder()
        let metadata = ImageMetadata(
            exif: ExifTests.block(littleEndian: true), xmp: Array(ExifTests.xmp.utf8),
            resolution: Resolution(x: 72, y: 72))
        for name in ["x.png", "x.jpg"] {
            try ImageFile.write(
                PlanarImage(width: 2, height: 2, channels: 3), to: folder + "/" + name, metadata: metadata)
            XCTAssertEqual(try ImageReader(path: folder + "/" + name).description.metadata.xmp, metadata.xmp, name)
        }
        let stripped = metadata.forOutput(width: 8, height: 8, resettingOrientation: true, strippingDescriptive: true)
        XCTAssertEqual(stripped, ImageMetadata(resolution: metadata.resolution))
    }
}
