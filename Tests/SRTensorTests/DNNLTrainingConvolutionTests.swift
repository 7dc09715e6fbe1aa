import SRTensor
import SRTestSupport
import XCTest

/// oneDNN's training convolutions (forward, backward-data, backward-weights) against the reference
/// im2col + sgemm path, on every convolution shape the generators, the VGG perceptual network and
/// the discriminator train with: odd sizes, batches, 1×1 to 9×9 kernels, stride 2.
final class DNNLTrainingConvolutionTests: XCTestCase {
    struct Shape {
        let channels, outputChannels, kernel, stride, padding: Int
    }

    /// Generators of 16–64 features at ×2/×3/×4 (3×3 and 9×9 outer kernels; CompactResNet 48's ×4 tail),
    /// VGG16 up to conv5_3, the VGG-style and U-Net discriminators, and 1×1 convolutions. On AVX-512 CPUs
    /// the 3×3 stride-1 shapes of 16+ channels run Winograd (checked below), the others direct code.
    let shapes: [Shape] = [
        // Generators.
        Shape(channels: 3, outputChannels: 16, kernel: 3, stride: 1, padding: 1),
        Shape(channels: 3, outputChannels: 32, kernel: 9, stride: 1, padding: 4),
        Shape(channels: 32, outputChannels: 32, kernel: 3, stride: 1, padding: 1),
        Shape(channels: 64, outputChannels: 64, kernel: 3, stride: 1, padding: 1),
        Shape(channels: 32, outputChannels: 128, kernel: 3, stride: 1, padding: 1),
        Shape(channels: 16, outputChannels: 144, kernel: 3, stride: 1, padding: 1),
        Shape(channels: 32, outputChannels: 48, kernel: 3, stride: 1, padding: 1),
        Shape(channels: 32, outputChannels: 3, kernel: 3, stride: 1, padding: 1),
        Shape(channels: 64, outputChannels: 3, kernel: 9, stride: 1, padding: 4),
        Shape(channels: 3, outputChannels: 48, kernel: 3, stride: 1, padding: 1),
        Shape(channels: 48, outputChannels: 48, kernel: 3, stride: 1, padding: 1),
        Shape(channels: 48, outputChannels: 768, kernel: 3, stride: 1, padding: 1),
        // VGG16.
        Shape(channels: 3, outputChannels: 64, kernel: 3, stride: 1, padding: 1),
        Shape(channels: 64, outputChannels: 128, kernel: 3, stride: 1, padding: 1),
        Shape(channels: 128, outputChannels: 256, kernel: 3, stride: 1, padding: 1),
        Shape(channels: 256, outputChannels: 512, kernel: 3, stride: 1, padding: 1),
        Shape(channels: 512, outputChannels: 512, kernel: 3, stride: 1, padding: 1),
        // Discriminator.
        Shape(channels: 32, outputChannels: 32, kernel: 4, stride: 2, padding: 1),
        Shape(channels: 128, outputChannels: 256, kernel: 4, stride: 2, padding: 1),
        Shape(channels: 32, outputChannels: 64, kernel: 3, stride: 2, padding: 1),
        // U-Net discriminator (besides 4×4 stride-2 and 32→32).
        Shape(channels: 32, outputChannels: 64, kernel: 4, stride: 2, padding: 1),
        Shape(channels: 256, outputChannels: 128, kernel: 3, stride: 1, padding: 1),
        Shape(channels: 128, outputChannels: 64, kernel: 3, stride: 1, padding: 1),
        Shape(channels: 64, outputChannels: 32, kernel: 3, stride: 1, padding: 1),
        Shape(channels: 32, outputChannels: 1, kernel: 3, stride: 1, padding: 1),
        // 1×1.
        Shape(channels: 32, outputChannels: 16, kernel: 1, stride: 1, padding: 0),
    ]

    /// Sums over up to 4,608 products, accumulated in another order than sgemm's.
    func assertClose(
        _ fast: Tensor, _ reference: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(fast.shape, reference.shape, what, file: file, line: line)
        let scale = max(1, reference.scalars.map(abs).max() ?? 0)
        XCTAssertLessThanOrEqual(fast.maxAbsDifference(reference), 2e-5 * scale, what, file: file, line: line)
    }

    func testEveryPassMatchesTheReferenceOnEveryModelShape() throws {
        XCTAssertTrue(DNNL.isAvailable, "oneDNN must be installed (make deps)")
        XCTAssertTrue(DNNLTrainingConvolution.isEnabled)
        var random = SeededGenerator(seed: 11)
        for shape in shapes {
            for (batch, height, width) in [(2, 13, 11), (1, 8, 8), (1, 20, 24)] {
                let what = "\(shape) at \(batch)×\(height)×\(width)"
                let input = Tensor.randomUniform(
                    shape: [batch, shape.channels, height, width], low: -1, high: 1, generator: &random)
                let weight = Tensor.randomNormal(
                    shape: [shape.outputChannels, shape.channels, shape.kernel, shape.kernel],
                    standardDeviation: 0.1, generator: &random)
                let bias = Tensor.randomUniform(
                    shape: [shape.outputChannels], low: -1, high: 1, generator: &random)

                let reference = Convolution.forward(
                    input: input, weight: weight, bias: bias, stride: shape.stride, padding: shape.padding,
                    method: .gemm)
                let fast = try XCTUnwrap(
                    DNNLTrainingConvolution.forward(
                        input: input, weight: weight, bias: bias, stride: shape.stride, padding: shape.padding),
                    "forward fell back: \(what)")
                assertClose(fast, reference, "forward " + what)
                let unbiased = try XCTUnwrap(
                    DNNLTrainingConvolution.forward(
                        input: input, weight: weight, bias: nil, stride: shape.stride, padding: shape.padding))
                assertClose(
                    unbiased,
                    Convolution.forward(
                        input: input, weight: weight, bias: nil, stride: shape.stride, padding: shape.padding,
                        method: .gemm), "forward without bias " + what)

                let gradient = Tensor.randomUniform(shape: reference.shape, low: -1, high: 1, generator: &random)
                // The accumulators start non-zero: both paths must add, not overwrite.
                let start = (0..<weight.count).map { Float($0 % 5) * 0.1 }
                var (referenceWeights, referenceBias) = (start, [Float](repeating: 0.5, count: shape.outputChannels))
                var (fastWeights, fastBias) = (referenceWeights, referenceBias)
                let referenceInput = Convolution.backward(
                    outputGradient: gradient, input: input, weight: weight, stride: shape.stride,
                    padding: shape.padding, weightGradient: &referenceWeights, biasGradient: &referenceBias)
                let fastInput = try XCTUnwrap(
                    DNNLTrainingConvolution.backwardData(
                        outputGradient: gradient, weight: weight, inputShape: input.shape, stride: shape.stride,
                        padding: shape.padding), "backward-data fell back: \(what)")
                assertClose(fastInput, referenceInput, "backward-data " + what)
                XCTAssertTrue(
                    DNNLTrainingConvolution.backwardWeights(
                        outputGradient: gradient, input: input, weightShape: weight.shape, stride: shape.stride,
                        padding: shape.padding, weightGradient: &fastWeights, biasGradient: &fastBias),
                    "backward-weights fell back: \(what)")
                assertClose(
                    Tensor(shape: weight.shape, scalars: fastWeights),
                    Tensor(shape: weight.shape, scalars: referenceWeights), "backward-weights " + what)
                assertClose(
                    Tensor(shape: [shape.outputChannels], scalars: fastBias),
                    Tensor(shape: [shape.outputChannels], scalars: referenceBias), "bias gradient " + what)
            }
        }
    }

    /// On AVX-512 CPUs every pass of a 3×3 stride-1 convolution of 16+ channels runs oneDNN's Winograd
    /// code, and no other shape does; `UPSCALE_WINOGRAD=0` (read at start-up) would turn it off.
    func testWinogradRunsWhereItPays() throws {
        let winogradCPU = CPUFeatures.current.isSuperset(of: .avx512)
        for shape in shapes {
            let kinds = DNNLTrainingConvolution.implementations(
                inputShape: [2, shape.channels, 24, 24],
                weightShape: [shape.outputChannels, shape.channels, shape.kernel, shape.kernel], stride: shape.stride,
                padding: shape.padding)
            let suits =
                shape.kernel == 3 && shape.stride == 1 && min(shape.channels, shape.outputChannels) >= 16
            for (pass, name) in [
                ("forward", kinds.forward), ("data", kinds.backwardData), ("weights", kinds.backwardWeights),
            ] {
                let implementation = try XCTUnwrap(name, "\(pass) of \(shape) fell back")
                XCTAssertEqual(
                    implementation.contains("wino"), winogradCPU && suits, "\(pass) of \(shape): \(implementation)")
            }
        }
    }

    /// Geometry oneDNN cannot express (a right padding below zero) falls back instead of failing.
    func testUnexpressibleGeometryFallsBack() {
        let input = Tensor(repeating: 1, shape: [1, 8, 7, 7])
        let weight = Tensor(repeating: 1, shape: [8, 8, 4, 4])
        XCTAssertNil(DNNLTrainingConvolution.forward(input: input, weight: weight, bias: nil, stride: 2, padding: 0))
        XCTAssertNotNil(DNNLTrainingConvolution.forward(input: input, weight: weight, bias: nil, stride: 1, padding: 0))
    }
}
