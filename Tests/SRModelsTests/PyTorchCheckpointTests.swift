import Foundation
import SRModels
import SRTensor
import SRTestSupport
import XCTest

/// `.pth` files read through the restricted unpickler (fixtures written without PyTorch by
/// Fixtures/make_pth_fixtures.py in torch.save's layout), and plain state dicts recognised by their names.
final class PyTorchCheckpointTests: XCTestCase {
    func fixture(_ name: String, _ kind: String) throws -> String {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: kind)).path
    }

    func testFloatCheckpointEqualsTheSafetensorsWeights() throws {
        let reference = try SafeTensors.read(path: try fixture("tiny_srvgg_x4", "safetensors")).tensors
        let loaded = try PyTorchCheckpoint.stateDictionary(path: try fixture("tiny_srvgg_x4", "pth"))
        XCTAssertEqual(loaded, reference, "unwrapped from 'params', bit-exact")
    }

    /// float16 storages, 'params_ema' and 'module.' prefixes, offsets and transposed strides.
    func testHalfCheckpointWithViewsRunsLikeTheOriginal() throws {
        let reference = try SafeTensors.read(path: try fixture("tiny_srvgg_x4", "safetensors")).tensors
        let loaded = try PyTorchCheckpoint.stateDictionary(path: try fixture("tiny_srvgg_x4_half", "pth"))
        XCTAssertEqual(Set(loaded.keys), Set(reference.keys))
        for (name, tensor) in reference {
            XCTAssertEqual(loaded[name]?.shape, tensor.shape, name)
            XCTAssertLessThanOrEqual(loaded[name]!.maxAbsDifference(tensor), 2e-3, "\(name): float16 rounding only")
        }
        let io = try SafeTensors.read(path: try fixture("tiny_srvgg_x4_io", "safetensors"))
        let model = try ModelFile.load(path: try fixture("tiny_srvgg_x4_half", "pth"))
        let output = model.inference(try XCTUnwrap(io.tensors["input"]))
        XCTAssertLessThanOrEqual(output.maxAbsDifference(try XCTUnwrap(io.tensors["expected"])), 2 / 255)
    }

    /// A pickle that would call os.system is refused by name, and nothing runs.
    func testMaliciousGlobalIsRefusedUnrun() throws {
        let marker = "/tmp/upscale-pth-exploit"
        try? FileManager.default.removeItem(atPath: marker)
        XCTAssertThrowsError(try ModelFile.load(path: try fixture("malicious", "pth"))) { error in
            XCTAssertTrue("\(error)".contains("refusing pickle global"), "\(error)")
            XCTAssertTrue("\(error)".contains("malicious.pth"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }

    func testTruncatedOrForeignFilesGiveOneLineErrors() throws {
        let folder = NSTemporaryDirectory() + "pth-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let whole = try Data(contentsOf: URL(fileURLWithPath: try fixture("tiny_srvgg_x4", "pth")))
        let truncated = folder + "/truncated.pth"
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: truncated))
        XCTAssertThrowsError(try ModelFile.load(path: truncated)) { error in
            XCTAssertTrue("\(error)".contains("truncated.pth"), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"))
        }
    }

    /// BasicSR's MSRResNet state dict without our metadata is recognised from its names and shapes.
    func testBasicSRMSRResNetStateDictIsRecognised() throws {
        let file = try SafeTensors.read(path: try fixture("tiny_generators", "safetensors"))
        var weights: [String: Tensor] = [:]
        for (key, tensor) in file.tensors where key.hasPrefix("x4_lrelu/") {
            let short = String(key.dropFirst("x4_lrelu/".count))
            if short != "input" && short != "expected" { weights[short] = tensor }
        }
        let folder = NSTemporaryDirectory() + "basicsr-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/msrresnet.safetensors"
        try SafeTensors(tensors: weights).write(path: path)
        let model = try ModelFile.load(path: path)
        XCTAssertEqual(model.architectureName, "MSRResNet")
        let output = model.inference(try XCTUnwrap(file.tensors["x4_lrelu/input"]))
        XCTAssertLessThanOrEqual(output.maxAbsDifference(try XCTUnwrap(file.tensors["x4_lrelu/expected"])), 1e-4)
    }
}
