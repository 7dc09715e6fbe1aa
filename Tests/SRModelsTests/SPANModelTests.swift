import Foundation
import SRModels
import SRTensor
import SRTestSupport
import XCTest

/// SPAN from its PyTorch state dicts (a BasicSR `.pth` with input normalisation, an OpenModelDB-style
/// safetensors with `no_norm`), against an independent PyTorch forward (Fixtures/make_span_fixture.py, whose
/// files hold stale `eval_conv` tensors: the loader must merge each Conv3XC chain itself).
final class SPANModelTests: XCTestCase {
    func fixture(_ name: String, _ type: String = "safetensors") throws -> String {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: type)).path
    }

    func testRecognisedAndMatchesPyTorch() throws {
        let io = try SafeTensors.read(path: try fixture("tiny_span_io"))
        for (file, type, scale, normalizes) in [
            ("tiny_span_x4", "pth", 4, true), ("tiny_span_x2", "safetensors", 2, false),
        ] {
            let model = try XCTUnwrap(try ModelFile.load(path: try fixture(file, type)) as? SPANModel, file)
            XCTAssertEqual([model.features, model.scale], [8, scale], file)
            XCTAssertEqual(model.normalizesInput, normalizes, file)
            XCTAssertEqual(model.architectureName, "SPAN")
            let input = try XCTUnwrap(io.tensors["x\(scale)_input"])
            let expected = try XCTUnwrap(io.tensors["x\(scale)_output"])
            let largest = expected.scalars.map(abs).max()!
            XCTAssertLessThanOrEqual(model.interpret(input).maxAbsDifference(expected), 1e-4 * largest, file)
            guard model.usesOneDNN else { continue }
            XCTAssertTrue(model.inferencePath.hasPrefix("oneDNN plan"), model.inferencePath)
            XCTAssertLessThanOrEqual(model.inference(input).maxAbsDifference(expected), 1e-4 * largest, file)
        }
    }

    /// The oneDNN plan equals the reference interpreter on the tile shapes the engine uses (odd, tiny, tall).
    func testOneDNNPlanMatchesTheInterpreter() throws {
        let model = try XCTUnwrap(try ModelFile.load(path: try fixture("tiny_span_x4", "pth")) as? SPANModel)
        guard model.usesOneDNN else { throw XCTSkip("oneDNN is not available here") }
        for (seed, (height, width)) in [(1, 1), (16, 20), (33, 17), (64, 8)].enumerated() {
            var random = SeededGenerator(seed: UInt64(seed))
            let input = Tensor.randomUniform(shape: [1, 3, height, width], generator: &random)
            assertClose(model.inference(input), to: model.interpret(input), relative: 2e-5, "\(height)×\(width)")
        }
    }

    func testRefusesABrokenSPANWithAClearError() throws {
        let folder = NSTemporaryDirectory() + "span-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var tensors = try SafeTensors.read(path: try fixture("tiny_span_x2")).tensors
        tensors["block_3.c2_r.conv.1.weight"] = Tensor(zeros: [16, 16, 3, 1])
        let broken = folder + "/broken.safetensors"
        try SafeTensors(tensors: tensors).write(path: broken)
        XCTAssertThrowsError(try ModelFile.load(path: broken)) {
            XCTAssertTrue(
                "\($0)".contains("broken.safetensors") && "\($0)".contains("block_3.c2_r.conv.1.weight"), "\($0)")
        }
    }
}
