import Foundation
import SRImage
import XCTest

/// `QualityMetrics.phaseUnevenness`: a pattern repeating at the period scores high, content with no preferred
/// phase scores near 0, and `Evaluation` reports it at the scale's period.
final class GridMetricTests: XCTestCase {
    /// A deterministic value in [0, 255) per index (a 64-bit LCG, high bits).
    func noise(_ index: Int, seed: UInt64) -> Double {
        let state = (UInt64(index) &+ seed) &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let mixed = (state ^ (state >> 29)) &* 0xBF58_476D_1CE4_E5B9
        return Double((mixed ^ (mixed >> 32)) % 255)
    }

    func testBlocksAtThePeriodScoreThreeAndNoiseScoresNearZero() {
        let (width, height, block) = (96, 80, 4)
        let blocks = (0..<(width * height)).map { i in
            noise((i / width / block) * 1000 + (i % width) / block, seed: 7)
        }
        // Only one phase in 4 crosses a block edge: max / mean − 1 = 4 − 1.
        XCTAssertEqual(
            QualityMetrics.phaseUnevenness(blocks, width: width, height: height, period: 4), 3, accuracy: 1e-9)
        // Blocks of 4 seen at period 8 put edges on two phases of 8: about 8 / 2 − 1.
        XCTAssertEqual(
            QualityMetrics.phaseUnevenness(blocks, width: width, height: height, period: 8), 3, accuracy: 0.5)
        // At period 3 the edges spread over every phase.
        XCTAssertLessThan(QualityMetrics.phaseUnevenness(blocks, width: width, height: height, period: 3), 0.3)

        let random = (0..<(256 * 256)).map { noise($0, seed: 3) }
        XCTAssertLessThan(QualityMetrics.phaseUnevenness(random, width: 256, height: 256, period: 4), 0.03)
        XCTAssertEqual(
            QualityMetrics.phaseUnevenness([Double](repeating: 9, count: 100), width: 10, height: 10, period: 4), 0)
    }

    /// Nearest-neighbour ×4 makes exact 4×4 blocks on the protocol's phases (the shave keeps them); bicubic
    /// scores far lower, and ×1 has no phases to compare.
    func testEvaluationReportsTheGridAtTheScale() throws {
        let file = sharedFolder() + "/data/bench/Set5/butterfly.png"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: file), "\(file) not present")
        let nearest = try Evaluation.evaluate(file: file, scale: 4) { input in
            var output = PlanarImage(width: input.width * 4, height: input.height * 4, channels: input.channels)
            for channel in 0..<input.channels {
                for y in 0..<output.height {
                    for x in 0..<output.width {
                        output.pixels[(channel * output.height + y) * output.width + x] =
                            input.pixels[(channel * input.height + y / 4) * input.width + x / 4]
                    }
                }
            }
            return output
        }
        XCTAssertEqual(try XCTUnwrap(nearest.grid), 3, accuracy: 1e-6)
        let bicubic = try Evaluation.evaluate(file: file, scale: 4) { input in
            Resampler.resize(input, width: input.width * 4, height: input.height * 4)
        }
        XCTAssertLessThan(try XCTUnwrap(bicubic.grid), 0.5)
        XCTAssertNil(try Evaluation.evaluate(file: file, scale: 1) { $0 }.grid)
    }
}
