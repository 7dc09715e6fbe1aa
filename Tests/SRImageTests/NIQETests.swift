import Foundation
import SRImage
import SRTensor
import XCTest

/// NIQE against an independent numpy/scipy implementation (Fixtures/make_niqe_fixture.py) with the
/// shipped pristine model.
final class NIQETests: XCTestCase {
    static func shippedModel() throws -> NIQE {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let file = try SafeTensors.read(
            path: root.appendingPathComponent("weights/niqe_pristine_params.safetensors").path)
        let mean = try XCTUnwrap(file.tensors["mean"]).scalars.map(Double.init)
        let covariance = try XCTUnwrap(file.tensors["covariance"]).scalars.map(Double.init)
        return NIQE(pristineMean: mean, pristineCovariance: covariance)
    }

    func testScoresMatchTheNumpyReference() throws {
        let niqe = try NIQETests.shippedModel()
        let folder = try XCTUnwrap(Bundle.module.resourceURL).appendingPathComponent("Fixtures")
        let expected = try JSONDecoder().decode(
            [String: Double].self, from: Data(contentsOf: folder.appendingPathComponent("niqe_expected.json")))
        XCTAssertEqual(expected.count, 3)
        for (name, value) in expected {
            let (image, _) = try ImageFile.read(folder.appendingPathComponent("niqe-\(name).png").path)
            let score = try XCTUnwrap(niqe.score(image), name)
            // Float32 images and resampling here, float64 there: within 0.5 % (measured 0.05-0.2 %).
            XCTAssertEqual(score, value, accuracy: 0.005 * value, name)
        }
    }

    func testRefusesImagesSmallerThanTwoBlocks() throws {
        let niqe = try NIQETests.shippedModel()
        XCTAssertNil(niqe.score(PlanarImage(width: 191, height: 96, channels: 3)))
        XCTAssertFalse(NIQE.canScore(width: 100, height: 150))
        XCTAssertTrue(NIQE.canScore(width: 192, height: 96))
    }
}
