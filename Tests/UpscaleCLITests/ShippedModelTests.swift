import Foundation
import SRImage
import SRModels
import SRTensor
import SRTiling
import XCTest

/// Regression guard for the weights in `weights/`: each loads, declares its scale and kind, and maps a
/// fixed input to the output recorded when it was exported (Fixtures/shipped_outputs.json). This is not a
/// quality claim — the model card's figures come from `upscale eval`.
final class ShippedModelTests: XCTestCase {
    static let shipped = [
        ("x4-psnr", 4, "psnr"), ("x4-psnr-msrresnet", 4, "psnr"), ("x4-gan", 4, "gan"),
        ("x4-gan-realistic", 4, "gan"), ("x2-psnr", 2, "psnr"),
    ]

    var weights: String { CLITests.repository + "/weights" }

    /// A deterministic 20×16 RGB test pattern.
    static func probe() -> Tensor {
        var t = Tensor(zeros: [1, 3, 16, 20])
        for c in 0..<3 {
            for y in 0..<16 {
                for x in 0..<20 {
                    t.scalars[(c * 16 + y) * 20 + x] = Float(
                        0.5 + 0.4 * sin(Double(x) * 0.7 + Double(c)) * cos(Double(y) * 0.45))
                }
            }
        }
        return t
    }

    /// A summary of an output: its mean and 16 samples spread over it.
    static func signature(_ output: Tensor) -> [Double] {
        var values = [output.sum() / Double(output.count)]
        for i in 0..<16 { values.append(Double(output.scalars[(i * 7919) % output.count])) }
        return values
    }

    func testEveryShippedModelLoadsAndReproducesItsRecordedOutput() throws {
        let fixture = CLITests.repository + "/Tests/UpscaleCLITests/Fixtures/shipped_outputs.json"
        var recorded =
            (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture))))
            as? [String: [Double]] ?? [:]
        let update = ProcessInfo.processInfo.environment["UPSCALE_RECORD_SHIPPED"] == "1"
        for (name, scale, kind) in ShippedModelTests.shipped {
            let path = weights + "/\(name).safetensors"
            XCTAssertTrue(FileManager.default.fileExists(atPath: path), "\(path) is not shipped")
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let generator = try Generator.load(path: path)
            XCTAssertEqual(generator.config.scale, scale, name)
            XCTAssertEqual(try SafeTensors.read(path: path).metadata["kind"], kind, name)
            let output = generator.inference(ShippedModelTests.probe())
            XCTAssertEqual(output.shape, [1, 3, 16 * scale, 20 * scale])
            let signature = ShippedModelTests.signature(output)
            if update { recorded[name] = signature; continue }
            let expected = try XCTUnwrap(recorded[name], "no recorded output for \(name)")
            for (a, b) in zip(signature, expected) { XCTAssertEqual(a, b, accuracy: 1e-4, name) }
        }
        if update {
            let data = try JSONSerialization.data(withJSONObject: recorded, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: fixture))
        }
    }

    /// With a real model, tiles overlapping less than the receptive radius still agree closely with the
    /// whole-image result: the bound below is what users get from `--overlap 4` (exact needs 19 here).
    func testSmallOverlapSeamBoundOnTheShippedModel() throws {
        let generator = try Generator.load(path: weights + "/x4-psnr.safetensors")
        let (truth, _) = try ImageFile.read(CLITests.repository + "/samples/bird-lr.png")
        let whole = PlanarImage(tensor: generator.inference(Tensor(image: truth)))
        var worst: [Int: Float] = [:]
        for overlap in [2, 4, 8] {
            let image = try ImagePipeline.upscale(
                truth, outputWidth: whole.width, outputHeight: whole.height,
                method: .model(
                    nativeScale: 4, options: TilingOptions(tileSize: 24, overlap: overlap, blend: 2),
                    run: { generator.inference($0) }))
            let out = zip(image.pixels, whole.pixels).map { abs($0.0 - $0.1) }
            worst[overlap] = out.max() ?? 0
        }
        print("shipped x4-psnr, tile 24, blend 2: max |tiled - whole| by overlap: \(worst.sorted { $0.key < $1.key })")
        XCTAssertLessThan(worst[4]!, 2.0 / 255, "overlap 4 stays within 2 levels of 8-bit")
        XCTAssertLessThan(worst[8]!, 0.5 / 255, "overlap 8 is below 8-bit rounding")
    }
}
