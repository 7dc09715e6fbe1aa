import Foundation
import SRTensor
import XCTest

final class SafeTensorsTests: XCTestCase {
    func fixture(_ name: String) throws -> String {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: nil)).path
    }

    func expectedValues() throws -> [String: [Float]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: try fixture("values.json")))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [NSNumber]])
        return object.mapValues { $0.map(\.floatValue) }
    }

    func testReadsFilesWrittenByPythonSafetensors() throws {
        let values = try expectedValues()
        let f32 = try SafeTensors.read(path: try fixture("python_f32.safetensors"))
        XCTAssertEqual(f32.metadata["arch"], "MSRResNet")
        XCTAssertEqual(f32.metadata["note"], "quote \" and backslash \\")
        XCTAssertEqual(f32.tensors["conv_first.weight"]?.shape, [4, 3, 3, 3])
        for name in ["conv_first.weight", "conv_first.bias", "body.0.conv1.weight", "scalar_like"] {
            XCTAssertEqual(f32.tensors[name]?.scalars, values[name], name)
        }
        XCTAssertEqual(
            try SafeTensors.read(path: try fixture("python_f16.safetensors")).tensors["half"]?.scalars, values["half"])
        XCTAssertEqual(try SafeTensors.read(path: try fixture("bf16.safetensors")).tensors["b"]?.scalars, values["b"])
    }

    /// Our encoder must produce exactly the bytes Python's safetensors wrote for the same content,
    /// which proves our files are valid for that package.
    func testEncodesByteForByteLikePython() throws {
        let path = try fixture("python_f32.safetensors")
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let decoded = try SafeTensors.read(path: path)
        XCTAssertEqual(decoded.encoded(), original)
    }

    func testRoundTripAndF16() throws {
        let folder = NSTemporaryDirectory() + "st-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let file = SafeTensors(
            tensors: [
                "a": Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6.5]), "b": Tensor(shape: [0], scalars: []),
            ],
            metadata: ["upscale": "4"])
        try file.write(path: folder + "/x.safetensors")
        let back = try SafeTensors.read(path: folder + "/x.safetensors")
        XCTAssertEqual(back.tensors, file.tensors)
        XCTAssertEqual(back.metadata, file.metadata)
        try file.write(path: folder + "/h.safetensors", dataType: .f16)
        XCTAssertEqual(try SafeTensors.read(path: folder + "/h.safetensors").tensors["a"], file.tensors["a"])
    }

    func testRejectsMalformedFilesWithTheFileName() throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try fixture("python_f32.safetensors"))))
        let folder = NSTemporaryDirectory() + "st-bad-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var cases: [[UInt8]] = [[], [1, 2, 3], Array(original.prefix(original.count - 4)), Array(original.prefix(40))]
        var huge = original
        huge[7] = 0x7F  // header length beyond the file
        cases.append(huge)
        var badJSON = original
        badJSON[8] = UInt8(ascii: "[")
        cases.append(badJSON)
        for (i, bytes) in cases.enumerated() {
            let path = folder + "/\(i).safetensors"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try SafeTensors.read(path: path)) { error in
                XCTAssertTrue("\(error)".hasPrefix(path), "\(error)")
            }
        }
        XCTAssertThrowsError(try SafeTensors.read(path: folder + "/missing.safetensors"))
    }
}
