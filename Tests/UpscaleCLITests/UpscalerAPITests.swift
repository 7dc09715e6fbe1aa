import Foundation
import SRImage
import UpscaleKit
import XCTest

/// `Upscaler`, the library API, runs the command line's engine: the same pixels, sizes, metadata rules and
/// refusals, with its options checked before any file is created.
final class UpscalerAPITests: BinaryTestCase {
    private func pixels(_ path: String) throws -> [Float] {
        try ImageFile.read(path).image.quantized(bits: 8).pixels
    }

    func testTheLibraryWritesWhatTheCommandLineWrites() throws {
        let input = sample("bird-lr.png")
        let cases: [(OutputSize, [String])] = [
            (.scale(4), ["--scale", "4"]), (.scale(2), ["--scale", "2"]),
            (.pixels(width: 100, height: nil), ["--width", "100"]),
            (.pixels(width: 60, height: 30), ["--width", "60", "--height", "30"]),
        ]
        for (index, (size, arguments)) in cases.enumerated() {
            let fromLibrary = folder + "/library-\(index).png"
            let fromCommand = folder + "/command-\(index).png"
            try Upscaler(model: model, size: size, threads: 2).upscale(input: input, output: fromLibrary)
            let result = try run([input, fromCommand, "--model", model, "--threads", "2", "--quiet"] + arguments)
            XCTAssertEqual(result.status, 0, result.error)
            XCTAssertTrue(try pixels(fromLibrary) == pixels(fromCommand), "\(size): the pixels differ")
            let written = try ImageReader(path: fromLibrary).description
            let expected = try ImageReader(path: fromCommand).description
            XCTAssertEqual([written.width, written.height], [expected.width, expected.height], "\(size)")
        }
        // A seamless texture, as `--seamless` writes it.
        try Upscaler(model: model, size: .scale(4), seamless: true, threads: 2).upscale(
            input: input, output: folder + "/library-seamless.png")
        let result = try run(
            [input, folder + "/command-seamless.png", "--model", model, "--threads", "2", "--quiet", "--seamless"])
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertTrue(try pixels(folder + "/library-seamless.png") == pixels(folder + "/command-seamless.png"))
        XCTAssertFalse(try pixels(folder + "/library-seamless.png") == pixels(folder + "/library-0.png"))
        XCTAssertEqual(leftoverTemporaries(in: folder), [])
    }

    /// EXIF reaches the output upright and with the output's size, unless `keepsMetadata` is false.
    func testMetadataIsKeptUnlessTheCallerStripsIt() throws {
        let input = Self.repository + "/Tests/SRImageTests/Fixtures/exif-pillow.jpg"
        let original = try XCTUnwrap(ImageReader(path: input).description.metadata.exif)
        for keeps in [true, false] {
            let output = folder + "/kept-\(keeps).jpg"
            try Upscaler(method: .bicubic, size: .pixels(width: 48, height: nil), keepsMetadata: keeps)
                .upscale(input: input, output: output)
            let description = try ImageReader(path: output).description
            XCTAssertEqual([description.width, description.height, description.orientation], [48, 80, 1])
            XCTAssertEqual(
                description.metadata.exif, keeps ? ExifBlock(original)?.forOutput(width: 48, height: 80) : nil,
                "keepsMetadata \(keeps)")
        }
    }

    /// Bad options are refused when the upscaler is made; a file that cannot be done fails alone, named, and
    /// leaves nothing behind; the input is never overwritten.
    func testBadOptionsAndFilesAreRefusedWithoutWriting() throws {
        let refused: [(String, () throws -> Upscaler)] = [
            ("scale must be", { try Upscaler(method: .bicubic, size: .scale(0)) }),
            ("scale must be", { try Upscaler(method: .bicubic, size: .scale(65)) }),
            ("scale must be", { try Upscaler(method: .bicubic, size: .scale(.nan)) }),
            ("width or height", { try Upscaler(method: .bicubic, size: .pixels(width: nil, height: nil)) }),
            ("width must be", { try Upscaler(method: .bicubic, size: .pixels(width: 0, height: 10)) }),
            ("height must be", { try Upscaler(method: .bicubic, size: .pixels(width: nil, height: 2_000_000)) }),
            ("jpegQuality", { try Upscaler(method: .bicubic, jpegQuality: 0) }),
            ("tta runs a model", { try Upscaler(method: .bicubic, selfEnsemble: true) }),
            ("detail applies to models", { try Upscaler(detail: 0.5, method: .bicubic) }),
            ("threads", { try Upscaler(method: .bicubic, threads: 0) }),
        ]
        for (expected, make) in refused {
            XCTAssertThrowsError(try make(), expected) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
        let input = sample("bird-lr.png")
        let huge = folder + "/huge.png"
        XCTAssertThrowsError(
            try Upscaler(method: .bicubic, size: .pixels(width: 5_000, height: nil)).upscale(input: input, output: huge)
        ) { error in
            XCTAssertTrue("\(error)".contains("bird-lr.png") && "\(error)".contains("more than 64"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: huge))
        let copy = folder + "/input.png"
        try FileManager.default.copyItem(atPath: input, toPath: copy)
        XCTAssertThrowsError(try Upscaler(method: .bicubic).upscale(input: copy, output: copy))
        XCTAssertEqual(
            try Data(contentsOf: URL(fileURLWithPath: copy)), try Data(contentsOf: URL(fileURLWithPath: input)))
        XCTAssertEqual(leftoverTemporaries(in: folder), [])
    }
}
