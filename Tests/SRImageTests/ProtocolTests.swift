import Foundation
import SRImage
import XCTest

/// Where ../shared sits relative to this checkout.
func sharedFolder() -> String {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.deletingLastPathComponent().appendingPathComponent("shared").path
}

/// The standard ×4 protocol with bicubic upscaling must reproduce the published baseline.
final class ProtocolTests: XCTestCase {
    func bicubicScores(_ set: String, scale: Int) throws -> [ImageScore] {
        let folder = sharedFolder() + "/data/bench/" + set
        try XCTSkipUnless(FileManager.default.fileExists(atPath: folder), "\(folder) not present")
        return try Evaluation.imageFiles(in: folder).map { file in
            try Evaluation.evaluate(file: file, scale: scale) { input in
                Resampler.resize(input, width: input.width * scale, height: input.height * scale)
            }
        }
    }

    func testSet5BicubicMatchesPublishedBaseline() throws {
        let scores = try bicubicScores("Set5", scale: 4)
        let mean = scores.map(\.psnr).reduce(0, +) / Double(scores.count)
        XCTAssertEqual(mean, 28.42, accuracy: 0.05)
        // Per-image reference values from docs/PROTOCOL.md (independent implementation).
        let reference: [String: (Double, Double)] = [
            "baby": (31.787, 0.8577), "bird": (30.186, 0.8738), "butterfly": (22.100, 0.7374),
            "head": (31.617, 0.7548), "woman": (26.467, 0.8326),
        ]
        for score in scores {
            guard let (psnr, ssim) = reference[score.name] else { XCTFail("unexpected image \(score.name)"); continue }
            XCTAssertEqual(score.psnr, psnr, accuracy: 0.02, score.name)
            XCTAssertEqual(score.ssim, ssim, accuracy: 0.002, score.name)
        }
    }

    func testSet14BicubicMatchesReference() throws {
        let scores = try bicubicScores("Set14", scale: 4)
        XCTAssertEqual(scores.count, 14)
        let mean = scores.map(\.psnr).reduce(0, +) / Double(scores.count)
        XCTAssertEqual(mean, 26.09, accuracy: 0.05)
        let ssim = scores.map(\.ssim).reduce(0, +) / Double(scores.count)
        XCTAssertEqual(ssim, 0.7050, accuracy: 0.003)
    }
}
