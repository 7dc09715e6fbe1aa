import SRTraining
import XCTest

final class LineChartTests: XCTestCase {
    /// An axis's two labels differ whenever its ends do, with as few digits as that takes.
    func testAxisLabelsTellTheEndsApart() {
        XCTAssertTrue(LineChart.rangeLabels(low: 26.375, high: 26.421) == ("26.38", "26.42"))
        XCTAssertTrue(LineChart.rangeLabels(low: 0.993, high: 1.27) == ("0.993", "1.27"))
        XCTAssertTrue(LineChart.rangeLabels(low: 5.2601, high: 5.2604) == ("5.2601", "5.2604"))
        XCTAssertTrue(LineChart.rangeLabels(low: 7, high: 7) == ("7", "7"))
    }
}
