import Foundation
import SRModels
import SRNN
import SRTensor
import SRTestSupport
import XCTest

/// `NCNNExport`: every family becomes a .param/.bin pair that ncnn's reader layout gives back exactly (read here
/// by our own ncnn loader; `make bench-peers` runs the files in ncnn itself, check_ncnn_export.py).
final class NCNNExportTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "ncnn-export-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    func fixture(_ name: String, _ type: String) throws -> String {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: type)).path
    }

    /// Writes `model` as ncnn files, loads them back and compares the graph's reference interpreter with the
    /// model's own inference; returns the loaded graph.
    @discardableResult
    func assertRoundTrip(
        _ model: any SuperResolutionModel, _ name: String, file: StaticString = #filePath, line: UInt = #line
    ) throws -> NCNNModel {
        let path = folder + "/\(name).param"
        try NCNNExport.write(model, to: path)
        let loaded = try NCNNModel.load(path: path)
        XCTAssertEqual(loaded.scale, model.scale, name, file: file, line: line)
        let input = randomTensor([1, 3, 11, 9], seed: 5, low: 0, high: 1)
        let expected = model.inference(input)
        let largest = expected.scalars.map(abs).max()!
        XCTAssertLessThanOrEqual(
            loaded.interpret(input).maxAbsDifference(expected), 1e-4 * largest, name, file: file, line: line)
        return loaded
    }

    /// Both layouts, every scale, LeakyReLU and PReLU: the .bin holds each convolution's weights behind a
    /// float32 tag (0) and every other value raw, nothing more.
    func testGeneratorsRoundTrip() throws {
        var random = SeededGenerator(seed: 3)
        for (architecture, activation, scale) in [
            (GeneratorConfig.Architecture.compact, GeneratorConfig.Activation.lrelu, 4), (.compact, .prelu, 2),
            (.msrResNet, .lrelu, 4), (.msrResNet, .lrelu, 3), (.msrResNet, .prelu, 2),
        ] {
            let generator = Generator(
                config: GeneratorConfig(
                    features: 6, blocks: 2, scale: scale, activation: activation, architecture: architecture))
            for (_, parameter) in generator.namedParameters {
                parameter.value = Tensor.randomNormal(
                    shape: parameter.value.shape, standardDeviation: 0.2, generator: &random)
            }
            let name = "\(architecture.rawValue)-\(activation.rawValue)-x\(scale)"
            try assertRoundTrip(generator, name)
            let (param, bin) = try NCNNExport.files(for: generator)
            let convolutions = param.split(separator: "\n").filter { $0.hasPrefix("Convolution ") }.count
            XCTAssertEqual(bin.count, 4 * (generator.parameterCount + convolutions), name)
            XCTAssertTrue(param.hasPrefix("7767517\n"), name)
            XCTAssertTrue(param.contains(" data ") && param.contains(" output "), "ncnn tools' blob names")
        }
    }

    /// A .param that cannot be written (here a folder stands at its path) leaves no lone .bin behind.
    func testAFailedWriteLeavesNoHalfPair() throws {
        let path = folder + "/blocked.param"
        try FileManager.default.createDirectory(atPath: path + "/inside", withIntermediateDirectories: true)
        let model = try ModelFile.load(path: try fixture("tiny_srvgg_x4", "safetensors"))
        XCTAssertThrowsError(try NCNNExport.write(model, to: path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/blocked.bin"))
    }

    func testForeignFamiliesRoundTripAndUnshuffledGraphsAreRefused() throws {
        try assertRoundTrip(try ModelFile.load(path: try fixture("tiny_span_x4", "pth")), "span")
        try assertRoundTrip(try ModelFile.load(path: try fixture("tiny_srvgg_x4", "safetensors")), "srvgg")
        try assertRoundTrip(try ModelFile.load(path: try fixture("tiny_rrdb_x4", "safetensors")), "rrdb")
        let ncnn = try ModelFile.load(path: try fixture("tiny_ncnn_x4", "param"))
        try assertRoundTrip(ncnn, "ncnn")
        XCTAssertThrowsError(
            try NCNNExport.files(for: try ModelFile.load(path: try fixture("tiny_rrdb_x2", "safetensors")))
        ) {
            XCTAssertTrue("\($0)".contains("pixel-unshuffled 12-channel input"), "\($0)")
        }
    }
}
