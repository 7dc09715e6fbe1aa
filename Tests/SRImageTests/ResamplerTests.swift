import Foundation
import SRImage
import XCTest

final class ResamplerTests: XCTestCase {
    /// Fixture made by Fixtures/make_resize_fixture.py, an independent numpy port of MATLAB's imresize.
    func testMatchesNumpyImresizePort() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/resize_cases", withExtension: "json"))
        let cases = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 6)
        for entry in cases {
            let (h, w) = (entry["in_h"] as! Int, entry["in_w"] as! Int)
            let (oh, ow) = (entry["out_h"] as! Int, entry["out_w"] as! Int)
            let input = (entry["input"] as! [NSNumber]).map { $0.floatValue }
            let expected = (entry["output"] as! [NSNumber]).map { $0.floatValue }
            let result = Resampler.resize(
                PlanarImage(width: w, height: h, channels: 1, pixels: input), width: ow, height: oh)
            let worst = zip(result.pixels, expected).reduce(0) { max($0, abs($1.0 - $1.1)) }
            XCTAssertLessThanOrEqual(worst, 1e-4, "\(h)x\(w) -> \(oh)x\(ow)")
        }
    }

    func testStreamingInBandsEqualsWholeImage() {
        var image = PlanarImage(width: 23, height: 41, channels: 2)
        for i in image.pixels.indices { image.pixels[i] = Float((i * 7919) % 101) / 100 }
        for (ow, oh) in [(92, 164), (9, 13), (57, 100)] {
            let whole = Resampler.resize(image, width: ow, height: oh)
            let resizer = StreamingResizer(
                inputWidth: 23, inputHeight: 41, outputWidth: ow, outputHeight: oh, channels: 2)
            var rows: [PlanarImage] = []
            var y = 0
            for band in [3, 1, 10, 7, 20] where y < 41 {
                let n = min(band, 41 - y)
                rows.append(resizer.push(image.rows(y..<(y + n))))
                y += n
            }
            XCTAssertTrue(resizer.isFinished)
            for c in 0..<2 {
                var got: [Float] = []
                for band in rows { got += band.selectingChannels(c..<(c + 1)).pixels }
                let expected = whole.selectingChannels(c..<(c + 1)).pixels
                XCTAssertEqual(got, expected, "\(ow)x\(oh) channel \(c)")
            }
        }
    }
}
