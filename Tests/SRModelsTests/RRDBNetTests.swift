import Foundation
import SRModels
import SRNN
import SRTensor
import SRTestSupport
import XCTest

/// ESRGAN's RRDBNet against an independent numpy forward (Fixtures/make_rrdb_fixture.py), under BasicSR's
/// and ESRGAN's original names, at ×4 and ×2 (pixel-unshuffled input), and by finite differences.
final class RRDBNetTests: XCTestCase {
    func fixture(_ name: String) throws -> String {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: "safetensors")).path
    }

    func testMatchesNumpyUnderBothNamings() throws {
        let io = try SafeTensors.read(path: try fixture("tiny_rrdb_io")).tensors
        for (file, key) in [("tiny_rrdb_x4", "x4"), ("tiny_rrdb_x4_old", "x4"), ("tiny_rrdb_x2", "x2")] {
            let model = try ModelFile.load(path: try fixture(file))
            let network = try XCTUnwrap(model as? RRDBNet, file)
            XCTAssertEqual([network.features, network.growth, network.blockCount], [8, 4, 2], file)
            let input = try XCTUnwrap(io[key + "/input"]), expected = try XCTUnwrap(io[key + "/expected"])
            XCTAssertLessThanOrEqual(model.inference(input).maxAbsDifference(expected), 1e-4, file)
            XCTAssertLessThanOrEqual(network.forward(input).output.maxAbsDifference(expected), 1e-4, file)
        }
        XCTAssertEqual(try ModelFile.load(path: try fixture("tiny_rrdb_x4")).defaultOverlap, 32)
    }

    func testChannelConcatenationRoundTrips() {
        let a = randomTensor([2, 3, 4, 5], seed: 1), b = randomTensor([2, 2, 4, 5], seed: 2)
        let joined = Tensor(concatenatingChannels: [a, b])
        XCTAssertEqual(joined.shape, [2, 5, 4, 5])
        XCTAssertEqual(joined.splittingChannels([3, 2]), [a, b])
    }

    /// With LeakyReLU slopes of 1 the network is linear, so the check is exact through every dense connection,
    /// and so are finite differences of any step: a large one (0.5) keeps the float32 rounding of outputs in
    /// the thousands out of them (with 1e-2 it was a 20 % error on AVX-512 hosts, whose kernels round
    /// differently).
    func testGradients() {
        for scale in [4, 2] {
            let network = RRDBNet(features: 4, growth: 2, blocks: 1, scale: scale, slope: 1)
            var random = SeededGenerator(seed: UInt64(scale))
            for (_, parameter) in network.namedParameters {
                parameter.value = Tensor.randomNormal(
                    shape: parameter.value.shape, standardDeviation: 0.4, generator: &random)
            }
            checkGradients(
                network, input: randomTensor([1, 3, 4, 4], seed: 3, low: 0, high: 1), epsilon: 0.5, tolerance: 1e-2)
        }
    }
}
