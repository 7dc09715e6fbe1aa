import Foundation
import SRModels
import SRNN
import SRTensor
import SRTestSupport
import XCTest

/// Real-ESRGAN's SRVGGNetCompact, loaded from a plain state dict (no metadata of ours) and checked against an
/// independent numpy forward (Fixtures/make_srvgg_fixture.py).
final class SRVGGNetCompactTests: XCTestCase {
    func fixture(_ name: String) throws -> String {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: "safetensors")).path
    }

    func testRecognisedFromNamesAndMatchesNumpy() throws {
        let model = try ModelFile.load(path: try fixture("tiny_srvgg_x4"))
        let network = try XCTUnwrap(model as? SRVGGNetCompact)
        XCTAssertEqual([network.features, network.convolutions, network.scale], [6, 2, 4])
        XCTAssertEqual(model.exactOverlap, 4)
        let io = try SafeTensors.read(path: try fixture("tiny_srvgg_x4_io"))
        let input = try XCTUnwrap(io.tensors["input"]), expected = try XCTUnwrap(io.tensors["expected"])
        XCTAssertLessThanOrEqual(model.inference(input).maxAbsDifference(expected), 1e-4)
        XCTAssertLessThanOrEqual(network.forward(input).output.maxAbsDifference(expected), 1e-4)
    }

    /// With PReLU slopes of 1 the network is linear, so finite differences are exact.
    func testGradients() {
        let network = SRVGGNetCompact(features: 4, convolutions: 2, scale: 2)
        var random = SeededGenerator(seed: 2)
        for (name, parameter) in network.namedParameters {
            parameter.value =
                parameter.value.shape.count == 1 && name.hasSuffix("weight") && !name.hasPrefix("body.0")
                    && Int(name.split(separator: ".")[1])! % 2 == 1
                ? Tensor(repeating: 1, shape: parameter.value.shape)
                : Tensor.randomNormal(shape: parameter.value.shape, standardDeviation: 0.3, generator: &random)
        }
        checkGradients(network, input: randomTensor([2, 3, 5, 4], seed: 3, low: 0, high: 1), epsilon: 1e-2)
    }

    func testRefusesLookAlikesWithAClearError() throws {
        let folder = NSTemporaryDirectory() + "srvgg-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let odd = folder + "/odd.safetensors"
        try SafeTensors(tensors: [
            "body.0.weight": Tensor(zeros: [4, 3, 3, 3]), "body.0.bias": Tensor(zeros: [4]),
            "body.2.weight": Tensor(zeros: [5, 4, 3, 3]), "body.2.bias": Tensor(zeros: [5]),
        ]).write(path: odd)
        XCTAssertThrowsError(try ModelFile.load(path: odd)) { XCTAssertTrue("\($0)".contains("odd.safetensors")) }
        let unknown = folder + "/unknown.safetensors"
        try SafeTensors(tensors: ["model.conv.weight": Tensor(zeros: [4, 3, 3, 3])]).write(path: unknown)
        XCTAssertThrowsError(try ModelFile.load(path: unknown)) { XCTAssertTrue("\($0)".contains("no family")) }
    }
}
