import Foundation
import SRDegradation
import SRImage
import SRTensor
import XCTest

final class DegradationTests: XCTestCase {
    func smoothImage(width: Int, height: Int, seed: UInt64 = 1) -> PlanarImage {
        var random = SeededGenerator(seed: seed)
        var image = PlanarImage(width: width, height: height, channels: 3)
        let phases = (0..<6).map { _ in random.nextUniform() * 6 }
        for c in 0..<3 {
            for y in 0..<height {
                for x in 0..<width {
                    let v = 0.5 + 0.3 * sin(Double(x) / 7 + phases[c]) * cos(Double(y) / 9 + phases[c + 3])
                    image[c, y, x] = Float(v)
                }
            }
        }
        return image
    }

    func testEveryKernelSumsToOneAndIsPointSymmetric() {
        var kernels: [BlurKernel] = [.pulse(size: 7)]
        for shape in BlurKernel.Shape.allCases {
            kernels.append(.gaussianFamily(shape, size: 13, sigmaX: 2.5, sigmaY: 0.7, rotation: 0.6, beta: 1.5))
        }
        kernels += [.sinc(size: 21, cutoff: .pi / 4), .sinc(size: 7, cutoff: .pi)]
        for kernel in kernels {
            XCTAssertEqual(kernel.weights.reduce(0, +), 1, accuracy: 1e-5)
            for i in kernel.weights.indices {
                XCTAssertEqual(kernel.weights[i], kernel.weights[kernel.weights.count - 1 - i], accuracy: 1e-6)
            }
        }
        // The isotropic Gaussian is exp(−r²/2σ²): neighbours at distance 1 and 2 on the axis.
        let gaussian = BlurKernel.gaussianFamily(.isotropic, size: 9, sigmaX: 1.5, sigmaY: 1.5, rotation: 0, beta: 1)
        let centre = gaussian.weights[40]
        XCTAssertEqual(Double(gaussian.weights[41] / centre), exp(-1 / (2 * 2.25)), accuracy: 1e-5)
        XCTAssertEqual(Double(gaussian.weights[42] / centre), exp(-4 / (2 * 2.25)), accuracy: 1e-5)
        // Rotating an anisotropic kernel by 90° swaps its axes.
        let wide = BlurKernel.gaussianFamily(.anisotropic, size: 9, sigmaX: 3, sigmaY: 1, rotation: 0, beta: 1)
        let tall = BlurKernel.gaussianFamily(.anisotropic, size: 9, sigmaX: 3, sigmaY: 1, rotation: .pi / 2, beta: 1)
        XCTAssertEqual(wide.weights[4 * 9 + 6], tall.weights[6 * 9 + 4], accuracy: 1e-6)
        XCTAssertGreaterThan(wide.weights[4 * 9 + 6], wide.weights[6 * 9 + 4] * 2)
    }

    func testFilteringKeepsConstantsAndThePulseIsTheIdentity() {
        let image = smoothImage(width: 23, height: 17)
        XCTAssertEqual(image.filtered(with: .pulse(size: 5)), image)
        let flat = PlanarImage(width: 9, height: 6, channels: 3, pixels: [Float](repeating: 0.4, count: 162))
        let blurred = flat.filtered(with: .sinc(size: 21, cutoff: .pi / 3))
        for value in blurred.pixels { XCTAssertEqual(value, 0.4, accuracy: 1e-5) }
    }

    func testResizeModes() {
        let image = smoothImage(width: 16, height: 12)
        let half = image.resized(width: 8, height: 6, mode: .area)
        // Area halving is the exact 2×2 average.
        let expected = (image[1, 4, 6] + image[1, 4, 7] + image[1, 5, 6] + image[1, 5, 7]) / 4
        XCTAssertEqual(half[1, 2, 3], expected, accuracy: 1e-6)
        for mode in ResizeMode.allCases {
            let resized = image.resized(width: 21, height: 5, mode: mode)
            XCTAssertEqual([resized.width, resized.height], [21, 5])
            XCTAssertEqual(
                resized.pixels.reduce(0, +) / Float(resized.pixels.count),
                image.pixels.reduce(0, +) / Float(image.pixels.count), accuracy: 0.03, "\(mode)")
        }
    }

    func testJPEGRoundTripIsCloseAtHighQualityAndWorseAtLow() throws {
        let image = smoothImage(width: 64, height: 48).quantized(bits: 8)
        func meanError(_ other: PlanarImage) -> Float {
            zip(image.pixels, other.pixels).reduce(0) { $0 + abs($1.0 - $1.1) } / Float(image.pixels.count)
        }
        let high = try JPEGArtifacts.roundTrip(image, quality: 95)
        let low = try JPEGArtifacts.roundTrip(image, quality: 20)
        XCTAssertLessThan(meanError(high), 2 / 255)
        XCTAssertGreaterThan(meanError(low), meanError(high) * 1.5)
        XCTAssertThrowsError(try JPEGArtifacts.roundTrip(image, quality: 0))
    }

    func testNoiseStatistics() {
        let flat = PlanarImage(width: 100, height: 100, channels: 3, pixels: [Float](repeating: 0.5, count: 30000))
        var random = SeededGenerator(seed: 3)
        let gaussian = flat.addingGaussianNoise(sigma: 0.1, gray: false, generator: &random)
        let deviations = gaussian.pixels.map { Double($0) - 0.5 }
        let variance = deviations.map { $0 * $0 }.reduce(0, +) / Double(deviations.count)
        XCTAssertEqual(variance.squareRoot(), 0.1, accuracy: 0.005)
        let gray = flat.addingGaussianNoise(sigma: 0.1, gray: true, generator: &random)
        XCTAssertEqual(gray[0, 5, 5], gray[2, 5, 5])
        let shot = flat.addingPoissonNoise(scale: 1, gray: false, generator: &random)
        let shotDeviations = shot.pixels.map { Double($0) - 0.5 }
        XCTAssertEqual(shotDeviations.reduce(0, +) / Double(shotDeviations.count), 0, accuracy: 0.002)
        // Poisson(128)/256 has standard deviation √128/256.
        let shotVariance = shotDeviations.map { $0 * $0 }.reduce(0, +) / Double(shotDeviations.count)
        XCTAssertEqual(shotVariance.squareRoot(), 128.0.squareRoot() / 256, accuracy: 0.003)
    }

    func testPipelineIsDeterministicPerSeedAndDeliversAnEightBitInput() {
        let hr = smoothImage(width: 96, height: 96, seed: 4)
        let pipeline = RealisticDegradation()
        var outputs: [PlanarImage] = []
        for seed in [7, 7, 8] as [UInt64] {
            var random = SeededGenerator(seed: seed)
            outputs.append(pipeline.degrade(hr, scale: 4, generator: &random))
        }
        XCTAssertEqual(outputs[0], outputs[1], "same seed, same input")
        XCTAssertNotEqual(outputs[0], outputs[2], "another seed, another degradation")
        for output in outputs {
            XCTAssertEqual([output.width, output.height, output.channels], [24, 24, 3])
            for value in output.pixels {
                XCTAssertTrue((0...1).contains(value))
                XCTAssertEqual(value * 255, (value * 255).rounded(), accuracy: 1e-3)
            }
        }
        // Degraded inputs differ from clean bicubic ones, by more than rounding, on average over seeds.
        let clean = Resampler.resize(hr, width: 24, height: 24)
        var total: Float = 0
        for seed in 0..<8 as Range<UInt64> {
            var random = SeededGenerator(seed: seed)
            let degraded = pipeline.degrade(hr, scale: 4, generator: &random)
            total += zip(degraded.pixels, clean.pixels).reduce(0) { $0 + abs($1.0 - $1.1) } / Float(clean.pixels.count)
        }
        XCTAssertGreaterThan(total / 8, 4 / 255)
    }

    /// `cleanProbability` p: a share p of the inputs are exactly the clean bicubic ones, the rest degraded.
    /// At 0 the pipeline draws nothing extra, so fixed-seed inputs stay what they were.
    func testCleanShareGivesBicubicInputsAtItsRate() throws {
        let hr = smoothImage(width: 64, height: 64, seed: 5)
        let clean = Resampler.resize(hr, width: 16, height: 16).quantized(bits: 8)
        var mixed = RealisticDegradation()
        mixed.cleanProbability = 0.3
        var random = SeededGenerator(seed: 11)
        let trials = 200
        let cleanCount = (0..<trials).filter { _ in mixed.degrade(hr, scale: 4, generator: &random) == clean }.count
        XCTAssertEqual(Double(cleanCount) / Double(trials), 0.3, accuracy: 0.1)
        var all = RealisticDegradation()
        all.cleanProbability = 1
        XCTAssertEqual(all.degrade(hr, scale: 4, generator: &random), clean)
        var first = SeededGenerator(seed: 3), second = SeededGenerator(seed: 3)
        XCTAssertEqual(
            RealisticDegradation().degrade(hr, scale: 4, generator: &first),
            RealisticDegradation().degrade(hr, scale: 4, generator: &second))
        XCTAssertEqual(first.nextUniform(), second.nextUniform())
        // A description written before the setting existed still decodes, with the default.
        var encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(mixed)) as! [String: Any]
        XCTAssertEqual(encoded["cleanProbability"] as? Double, 0.3)
        encoded["cleanProbability"] = nil
        let older = try JSONDecoder().decode(
            RealisticDegradation.self, from: JSONSerialization.data(withJSONObject: encoded))
        XCTAssertEqual(older, RealisticDegradation())
    }

    func testSettingsFileOverridesSomeKeysAndRefusesUnknownOrBadOnes() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("degradation-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = folder.appendingPathComponent("good.json").path
        try #"{"jpeg1": {"low": 60, "high": 90}, "noise2": {"gaussianProbability": 0}}"#.write(
            toFile: good, atomically: true, encoding: .utf8)
        let loaded = try RealisticDegradation.load(path: good)
        XCTAssertEqual(loaded.jpeg1, .init(60, 90))
        XCTAssertEqual(loaded.noise2.gaussianProbability, 0)
        XCTAssertEqual(loaded.noise2.gaussianSigma, RealisticDegradation().noise2.gaussianSigma, "others keep defaults")
        for (name, text) in [
            ("unknown", #"{"blur3": {}}"#), ("range", #"{"jpeg2": {"low": 90, "high": 40}}"#),
            ("even", #"{"blur1": {"kernelSizes": [8]}}"#), ("array", "[1, 2]"), ("text", "not json"),
            ("clean", #"{"cleanProbability": 1.5}"#),
        ] {
            let path = folder.appendingPathComponent(name + ".json").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try RealisticDegradation.load(path: path), name) { error in
                XCTAssertTrue("\(error)".contains(path), "the error names the file: \(error)")
            }
        }
    }

    /// Unsharp masking leaves flat areas alone, steepens an edge (overshoot on both sides), stays in [0, 1].
    func testUnsharpMaskSharpensEdgesOnly() {
        var image = PlanarImage(width: 256, height: 8, channels: 1)
        for y in 0..<8 { for x in 0..<256 { image[0, y, x] = x < 128 ? 0.3 : 0.7 } }
        let sharpened = UnsharpMask().apply(image)
        XCTAssertEqual(sharpened[0, 4, 0], 0.3, accuracy: 1e-3, "far from the edge: unchanged")
        XCTAssertLessThan(sharpened[0, 4, 127], 0.3 - 0.01, "dark side darker at the edge")
        XCTAssertGreaterThan(sharpened[0, 4, 128], 0.7 + 0.01, "bright side brighter at the edge")
        XCTAssertTrue(sharpened.pixels.allSatisfy { (0...1).contains($0) })
    }

    /// The documented formula, with the blur written as a plain 2-D sum over OpenCV's reflected borders,
    /// on an image smaller than the kernel (borders reflected more than once) and on a larger one.
    func testUnsharpMaskMatchesItsFormula() {
        var random = SeededGenerator(seed: 5)
        for (width, height, radius) in [(9, 5, 6), (23, 17, 3)] {
            var image = PlanarImage(width: width, height: height, channels: 2)
            for i in image.pixels.indices { image.pixels[i] = Float.random(in: 0...1, using: &random) }
            var mask = UnsharpMask()
            (mask.radius, mask.threshold, mask.weight) = (radius, 60, 0.7)
            let sigma = 0.3 * (Double(radius) - 1) + 0.8
            let raw = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
            let taps = raw.map { $0 / raw.reduce(0, +) }
            func reflect(_ i: Int, _ n: Int) -> Int {
                var i = i
                while i < 0 || i >= n { i = i < 0 ? -i : 2 * (n - 1) - i }
                return i
            }
            func blur(_ p: PlanarImage) -> PlanarImage {
                var out = p
                for c in 0..<p.channels {
                    for y in 0..<height {
                        for x in 0..<width {
                            var sum = 0.0
                            for dy in -radius...radius {
                                for dx in -radius...radius {
                                    sum +=
                                        taps[dy + radius] * taps[dx + radius]
                                        * Double(p[c, reflect(y + dy, height), reflect(x + dx, width)])
                                }
                            }
                            out[c, y, x] = Float(sum)
                        }
                    }
                }
                return out
            }
            let blurred = blur(image)
            var edges = image
            for i in edges.pixels.indices {
                edges.pixels[i] = abs(image.pixels[i] - blurred.pixels[i]) * 255 > 60 ? 1 : 0
            }
            let soft = blur(edges)
            let got = mask.apply(image)
            for i in image.pixels.indices {
                let sharpened = min(max(image.pixels[i] + 0.7 * (image.pixels[i] - blurred.pixels[i]), 0), 1)
                let expected = soft.pixels[i] * sharpened + (1 - soft.pixels[i]) * image.pixels[i]
                XCTAssertEqual(got.pixels[i], expected, accuracy: 2e-5, "\(width)×\(height) pixel \(i)")
            }
        }
    }
}
