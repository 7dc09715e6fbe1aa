import Foundation
import SRImage
import SRModels
import SRTensor
import XCTest

/// Deterministic mutation fuzzing of everything that parses a file: the PNG, JPEG, TIFF, TGA, BMP, GIF and
/// Netpbm decoders (and the writer behind them) and the model loader. Each case must decode or throw a one-line error naming
/// the file: no crash, no hang, and no file left behind. `make test` runs a bounded number of cases
/// (about a minute); `make fuzz` sets `UPSCALE_FUZZ_CASES` to run thousands.
final class FuzzTests: XCTestCase {
    var cases: Int { Int(ProcessInfo.processInfo.environment["UPSCALE_FUZZ_CASES"] ?? "") ?? 12000 }
    let limits = DecodeLimits(maximumPixels: 20_000_000, maximumWholeDecodeBytes: 200_000_000)

    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "fuzz-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// One mutation of `bytes`: a truncation, a few bit flips, or an edit of a length field.
    static func mutate(_ bytes: [UInt8], lengthFields: [Int], generator: inout SeededGenerator) -> [UInt8] {
        var out = bytes
        switch generator.nextInt(below: 4) {
        case 0:
            out = Array(out.prefix(generator.nextInt(below: out.count)))
        case 1, 2:
            for _ in 0..<(1 + generator.nextInt(below: 8)) {
                let at = generator.nextInt(below: out.count)
                out[at] ^= UInt8(1 << generator.nextInt(below: 8))
            }
        default:
            guard !lengthFields.isEmpty else { break }
            let at = lengthFields[generator.nextInt(below: lengthFields.count)]
            let values: [UInt8] = [0x00, 0x01, 0x7F, 0x80, 0xFF]
            for i in 0..<4 where at + i < out.count {
                out[at + i] =
                    generator.nextInt(below: 2) == 0
                    ? values[generator.nextInt(below: values.count)] : UInt8(generator.nextInt(below: 256))
            }
        }
        return out
    }

    /// Offsets of the 4-byte chunk lengths of a PNG.
    static func pngLengthFields(_ bytes: [UInt8]) -> [Int] {
        var fields: [Int] = [], at = 8
        while at + 8 <= bytes.count {
            fields.append(at)
            let length = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            at += 12 + length
        }
        return fields
    }

    /// Offsets of the 2-byte segment lengths of a JPEG (and of the frame's size fields).
    static func jpegLengthFields(_ bytes: [UInt8]) -> [Int] {
        var fields: [Int] = [], at = 2
        while at + 4 <= bytes.count, bytes[at] == 0xFF {
            let marker = bytes[at + 1]
            if marker == 0xDA { break }
            fields.append(at + 2)
            if marker == 0xC0 || marker == 0xC2 { fields.append(at + 5) }  // height and width
            at += 2 + (Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]))
        }
        return fields
    }

    func checkImage(_ bytes: [UInt8], index: Int, extension suffix: String) {
        let path = folder + "/case-\(index).\(suffix)"
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        do {
            let output = folder + "/out-\(index).png"
            defer { try? FileManager.default.removeItem(atPath: output) }
            if suffix == "gif" {
                let reader = try GIFReader(path: path, limits: limits)
                while let frame = try reader.nextFrame() { try ImageFile.write(frame.planarImage(), to: output) }
            } else {
                let reader = try ImageReader(path: path, limits: limits)
                try ImageFile.write(try reader.readAll(), to: output, bitDepth: reader.description.bitDepth)
            }
        } catch let error as ImageError {
            XCTAssertTrue(error.description.hasPrefix(path) && !error.description.contains("\n"), "\(error)")
        } catch {
            XCTFail("case \(index): unexpected error type \(error)")
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    func testDecodersSurviveMutatedFiles() throws {
        let repository = BinaryTestCase.repository
        var generator = SeededGenerator(seed: 2026)
        // Samples, and the codec fixtures of the formats decoded in Swift (TIFF, TGA, BMP, GIF, Netpbm).
        let fixtures = "Tests/SRImageTests/Fixtures/"
        let seeds: [(String, String)] = [
            ("samples/bird-lr.png", "png"), ("samples/butterfly-alpha.png", "png"), ("samples/scan-16bit.png", "png"),
            ("samples/gray.png", "png"), ("samples/phone-exif6-icc.jpg", "jpg"),
            (fixtures + "tiles-deflate-predictor-rgba16-bigendian.tif", "tif"),
            (fixtures + "float16-rgb-planar-deflate-predictor.tif", "tif"), (fixtures + "palette-rle.tga", "tga"),
            (fixtures + "rgb565-bitfields.bmp", "bmp"), (fixtures + "animated.gif", "gif"),
            (fixtures + "gray-alpha16.pam", "pam"),
        ]
        let originals = try seeds.map { name, suffix in
            (Array(try Data(contentsOf: URL(fileURLWithPath: repository + "/" + name))), suffix)
        }
        let fields = originals.map { bytes, suffix in
            suffix == "png" ? Self.pngLengthFields(bytes) : suffix == "jpg" ? Self.jpegLengthFields(bytes) : []
        }
        for index in 0..<cases {
            let which = index % originals.count
            let mutated = Self.mutate(originals[which].0, lengthFields: fields[which], generator: &generator)
            checkImage(mutated, index: index, extension: originals[which].1)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [], "files left behind")
    }

    func testModelLoaderSurvivesMutatedFiles() throws {
        let generatorModel = Generator(config: GeneratorConfig(features: 4, blocks: 1, scale: 2))
        var random = SeededGenerator(seed: 7)
        generatorModel.initialize(generator: &random)
        let original = folder + "/model.safetensors"
        try generatorModel.save(path: original)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: original)))
        try FileManager.default.removeItem(atPath: original)
        // Length fields: the header length, and every run of digits in the JSON header.
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8
        var fields = [0, 4]
        for at in 8..<(8 + headerLength) where (48...57).contains(bytes[at]) && !(48...57).contains(bytes[at - 1]) {
            fields.append(at)
        }
        var generator = SeededGenerator(seed: 99)
        for index in 0..<cases {
            let mutated = Self.mutate(bytes, lengthFields: fields, generator: &generator)
            let path = folder + "/case-\(index).safetensors"
            _ = FileManager.default.createFile(atPath: path, contents: Data(mutated))
            do {
                let loaded = try Generator.load(path: path)
                XCTAssertLessThanOrEqual(loaded.parameterCount, mutated.count)
            } catch let error as WeightFileError {
                XCTAssertTrue(error.description.hasPrefix(path) && !error.description.contains("\n"), "\(error)")
            } catch {
                XCTFail("case \(index): unexpected error type \(error)")
            }
            try FileManager.default.removeItem(atPath: path)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [], "files left behind")
    }
}
