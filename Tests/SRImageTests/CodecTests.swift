import CImageCodec
import CPNGCheck
import Foundation
import SRImage
import XCTest

func samplesFolder() -> String {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent("samples").path
}

func temporaryFolder() -> String {
    let path = NSTemporaryDirectory() + "upscale-tests-\(UUID().uuidString)"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

final class CodecTests: XCTestCase {
    func testSamplesDecodeWithTheirProperties() throws {
        let s = samplesFolder()
        let bird = try ImageReader(path: s + "/bird-lr.png").description
        XCTAssertEqual([bird.width, bird.height, bird.channels, bird.bitDepth], [72, 72, 3, 8])
        let alpha = try ImageReader(path: s + "/butterfly-alpha.png").description
        XCTAssertEqual(alpha.channels, 4)
        XCTAssertTrue(alpha.hasAlpha)
        let scan = try ImageReader(path: s + "/scan-16bit.png").description
        XCTAssertEqual([scan.channels, scan.bitDepth], [3, 16])
        let gray = try ImageReader(path: s + "/gray.png").description
        XCTAssertEqual(gray.channels, 1)
        let phone = try ImageReader(path: s + "/phone-exif6-icc.jpg").description
        XCTAssertEqual(phone.orientation, 6)
        XCTAssertEqual([phone.width, phone.height], [192, 128], "orientation 6 swaps width and height")
        XCTAssertEqual(phone.metadata.iccProfile?.count, 588)
        XCTAssertFalse(phone.isStreaming)
    }

    /// The sideways-stored JPEG must come out upright: close to the upright image, far from other turns.
    func testExifOrientationIsApplied() throws {
        let (phone, _) = try ImageFile.read(samplesFolder() + "/phone-exif6-icc.jpg")
        let (monarch, _) = try ImageFile.read(sharedFolder() + "/data/bench/Set14/monarch.png")
        let upright = Resampler.resize(monarch, width: 192, height: 128)
        func meanDifference(_ a: PlanarImage, _ b: PlanarImage) -> Float {
            zip(a.pixels, b.pixels).reduce(0) { $0 + abs($1.0 - $1.1) } / Float(a.pixels.count)
        }
        XCTAssertLessThan(meanDifference(phone, upright), 0.03)
        XCTAssertGreaterThan(meanDifference(phone, Orientation.apply(3, to: upright)), 0.08)
    }

    func testOrientationTransformsAreConsistent() {
        var image = PlanarImage(width: 3, height: 2, channels: 1)
        for i in 0..<6 { image.pixels[i] = Float(i) }
        // 6 then 8 is the identity; 3 twice is the identity; 5 and 7 are their own inverses.
        XCTAssertEqual(Orientation.apply(8, to: Orientation.apply(6, to: image)), image)
        XCTAssertEqual(Orientation.apply(3, to: Orientation.apply(3, to: image)), image)
        XCTAssertEqual(Orientation.apply(5, to: Orientation.apply(5, to: image)), image)
        XCTAssertEqual(Orientation.apply(7, to: Orientation.apply(7, to: image)), image)
        // 6: the stored first row becomes the right-hand column, top to bottom.
        let turned = Orientation.apply(6, to: image)
        XCTAssertEqual([turned[0, 0, 1], turned[0, 1, 1], turned[0, 2, 1]], [0, 1, 2])
    }

    func testPNGVariantsMatchIndependentDecode() throws {
        let folder = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).path
        let expected = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/expected.json")))
                as? [String: [String: Any]])
        XCTAssertEqual(expected.count, 3)
        for (name, entry) in expected {
            let (image, description) = try ImageFile.read(folder + "/" + name)
            XCTAssertEqual(image.channels, entry["channels"] as? Int, name)
            XCTAssertEqual(image.width, entry["width"] as? Int, name)
            XCTAssertEqual(image.height, entry["height"] as? Int, name)
            let values = (entry["values"] as! [NSNumber]).map { $0.floatValue }
            XCTAssertEqual(image.pixels.map { ($0 * 255).rounded() }, values, name)
            if name == "interlaced.png" { XCTAssertFalse(description.isStreaming) }
        }
    }

    func testRoundTripsKeepDepthChannelsAndProfile() throws {
        let folder = temporaryFolder()
        let icc = try XCTUnwrap(
            try ImageReader(path: samplesFolder() + "/phone-exif6-icc.jpg").description.metadata.iccProfile)
        for channels in 1...4 {
            for depth in [8, 16] {
                var image = PlanarImage(width: 13, height: 7, channels: channels)
                for i in image.pixels.indices { image.pixels[i] = Float((i * 37) % 251) / 250 }
                let path = folder + "/rt-\(channels)-\(depth).png"
                try ImageFile.write(image, to: path, bitDepth: depth, metadata: ImageMetadata(iccProfile: icc))
                let (back, description) = try ImageFile.read(path)
                XCTAssertEqual(description.bitDepth, depth)
                XCTAssertEqual(description.channels, channels)
                // An RGB profile is kept on colour PNGs; PNG forbids it on gray ones, so it is dropped there.
                XCTAssertEqual(description.metadata.iccProfile, channels >= 3 ? icc : nil)
                XCTAssertEqual(back, image.quantized(bits: depth))
            }
        }
        for channels in [1, 3] {
            var image = PlanarImage(width: 16, height: 16, channels: channels)
            for i in image.pixels.indices { image.pixels[i] = 0.5 + 0.3 * Float(sin(Double(i) * 0.05)) }
            let path = folder + "/rt-\(channels).jpg"
            try ImageFile.write(image, to: path, quality: 98, metadata: ImageMetadata(iccProfile: icc))
            let (back, description) = try ImageFile.read(path)
            XCTAssertEqual(description.channels, channels)
            XCTAssertEqual(description.metadata.iccProfile, icc)
            XCTAssertLessThan(zip(back.pixels, image.pixels).reduce(0) { max($0, abs($1.0 - $1.1)) }, 0.03)
        }
    }

    /// Level 1 filters and compresses each band in pieces on several threads; every level, thread count,
    /// band split, depth and channel count must give a valid file (checked by an independent walk of
    /// its chunks and zlib stream) that decodes to exactly the quantized image.
    func testPNGBandsInPiecesDecodeExactly() throws {
        let folder = temporaryFolder()
        // 37 pixels: one part per band; 1500: up to three parts per band (parts hold 32 KB or more).
        for (width, height) in [(37, 29), (1500, 29)] {
            for channels in 1...4 {
                for depth in [8, 16] {
                    var image = PlanarImage(width: width, height: height, channels: channels)
                    for i in image.pixels.indices {
                        image.pixels[i] = Float((i * 7919) % 1009) / 1000 - 0.004  // a few values clamp at 0 and 1
                    }
                    for (level, threads) in [(1, 1), (1, 3), (1, 8), (6, 2), (0, 1)] {
                        let path = folder + "/pieces-\(width)-\(channels)-\(depth)-\(level)-\(threads).png"
                        let writer = try ImageWriter(
                            path: path, format: .png, width: width, height: height, channels: channels, bitDepth: depth,
                            pngCompression: level, threads: threads)
                        var top = 0
                        for rows in [1, 5, 13, 10] {
                            try writer.writeRows(image.rows(top..<(top + rows)))
                            top += rows
                        }
                        try writer.finish()
                        var message = [CChar](repeating: 0, count: 256)
                        XCTAssertEqual(png_check_file(path, &message, message.count), 0, String(cString: message))
                        let (back, _) = try ImageFile.read(path)
                        XCTAssertEqual(
                            back, image.quantized(bits: depth), "\(channels) channels, \(depth)-bit, level \(level)")
                    }
                }
            }
        }
    }

    /// The C packer rounds exactly as `Float.rounded()` (half away from zero) on every 8- and 16-bit
    /// level, at the halfway points and just below them (where x + 0.5 alone would round up), and
    /// turns NaN into 0.
    func testPackedSamplesRoundLikeSwift() {
        for (depth, levels) in [(8, Float(255)), (16, Float(65535))] {
            var values: [Float] = [-1, 0, 1, 2, Float(0.49999997) / levels, Float(0.5).nextDown / levels]
            for level in stride(from: 0, to: Int(levels), by: depth == 8 ? 1 : 97) {
                let half = (Float(level) + 0.5) / levels
                values += [half, half.nextDown, half.nextUp, Float(level) / levels]
            }
            var packed = [UInt8](repeating: 0, count: values.count * depth / 8)
            sr_pack_samples(values, values.count, 1, 0, values.count, Int32(depth), 0, &packed)
            packed.withUnsafeBytes { bytes in
                for (i, v) in values.enumerated() {
                    let expected = (min(max(v, 0), 1) * levels).rounded()
                    let got = depth == 8 ? Float(bytes[i]) : Float(bytes.load(fromByteOffset: 2 * i, as: UInt16.self))
                    XCTAssertEqual(got, expected, "\(depth)-bit, value \(v)")
                }
            }
            var nan = [UInt8](repeating: 1, count: 2)
            sr_pack_samples([Float.nan], 1, 1, 0, 1, Int32(depth), 0, &nan)
            XCTAssertEqual(nan[0], 0)
        }
    }

    func testUnknownExtensionAndMissingFolderAreClearErrors() throws {
        XCTAssertThrowsError(try ImageFormat(forOutputPath: "out.webp")) { error in
            XCTAssertTrue("\(error)".contains("out.webp") && "\(error)".contains(".pnm or .pam"), "\(error)")
        }
        XCTAssertEqual(try ImageFormat(forOutputPath: "SCAN.TIF"), .tiff)
        XCTAssertEqual(try ImageFormat(forOutputPath: "Wall.TGA"), .tga)
        XCTAssertEqual(try ImageFormat(forOutputPath: "sprite.Bmp"), .bmp)
        XCTAssertEqual(try ImageFormat(forOutputPath: "depth.PGM"), .netpbm)
        XCTAssertThrowsError(
            try ImageFile.write(PlanarImage(width: 1, height: 1, channels: 3), to: "/nonexistent-folder/x.png")
        ) { error in
            XCTAssertTrue("\(error)".contains("does not exist"))
        }
    }

    func testAbandonedWriteLeavesNothingAndKeepsTheOldFile() throws {
        let folder = temporaryFolder()
        let path = folder + "/keep.png"
        try Data("old contents".utf8).write(to: URL(fileURLWithPath: path))
        do {
            let writer = try ImageWriter(path: path, format: .png, width: 4, height: 4, channels: 3)
            try writer.writeRows(PlanarImage(width: 4, height: 2, channels: 3))
            XCTAssertThrowsError(try writer.finish(), "finishing with rows missing must fail")
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "old contents")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["keep.png"])
    }

    func testLyingHeaderFailsFastWithoutAllocating() throws {
        // A valid PNG signature and IHDR (with a correct CRC) claiming 1,000,000 × 1,000,000 RGBA pixels.
        var ihdr: [UInt8] = Array("IHDR".utf8)
        for value in [UInt32(1_000_000), UInt32(1_000_000)] { ihdr += withUnsafeBytes(of: value.bigEndian, Array.init) }
        ihdr += [8, 6, 0, 0, 0]
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + ihdr
        bytes += withUnsafeBytes(of: crc32(ihdr).bigEndian, Array.init)
        bytes += [0, 0, 0, 0] + Array("IDAT".utf8) + [0x35, 0xAF, 0x06, 0x1E]
        let path = temporaryFolder() + "/huge.png"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertLessThan(bytes.count, 100)
        let start = Date()
        XCTAssertThrowsError(try ImageFile.read(path)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(path), text)
            XCTAssertTrue(text.contains("1000000x1000000"), text)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
    }

    /// Every sample truncated at many offsets and with hundreds of random byte flips must either decode
    /// or throw an `ImageError` naming the file: never crash, hang or return garbage sizes.
    func testCorruptCorpusNeverCrashes() throws {
        let folder = temporaryFolder()
        var state: UInt64 = 12345
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        var decoded = 0, rejected = 0
        for name in ["bird-lr.png", "butterfly-alpha.png", "scan-16bit.png", "gray.png", "phone-exif6-icc.jpg"] {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: samplesFolder() + "/" + name)))
            var variants: [[UInt8]] = []
            for cut in stride(from: 0, to: original.count, by: max(1, original.count / 40)) {
                variants.append(Array(original[0..<cut]))
            }
            for _ in 0..<120 {
                var bytes = original
                for _ in 0..<(1 + next() % 4) { bytes[next() % bytes.count] ^= UInt8(1 + next() % 255) }
                variants.append(bytes)
            }
            for (i, bytes) in variants.enumerated() {
                let path = folder + "/\(i)-" + name
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                do {
                    let (image, _) = try ImageFile.read(path)
                    XCTAssertLessThanOrEqual(image.width * image.height, 1 << 20)
                    decoded += 1
                } catch let error as ImageError {
                    XCTAssertEqual(error.path, path)
                    XCTAssertFalse(error.reason.isEmpty)
                    rejected += 1
                }
                try FileManager.default.removeItem(atPath: path)
            }
        }
        XCTAssertGreaterThan(rejected, 200)
        XCTAssertGreaterThan(decoded, 10)
    }
}

/// CRC-32 (PNG's), for building test files.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc

    /// Whole-image reads refuse what would not fit (a 16 KB budget for a 72×72 RGB image's 62 KB of floats),
    /// naming the file and pointing at the streaming command.
    func testWholeImageReadsRefuseImagesOverTheirBudget() throws {
        let path = samplesFolder() + "/bird-lr.png"
        XCTAssertNoThrow(try ImageFile.read(path))
        XCTAssertThrowsError(try ImageFile.read(path, maximumBytes: 16_000)) { error in
            XCTAssertTrue("\(error)".contains("bird-lr.png"), "\(error)")
            XCTAssertTrue("\(error)".contains("streams"), "\(error)")
        }
    }
}
