import SRTensor
import SRTestSupport
import XCTest

/// Winograd F(2×2, 3×3) on nChw8c against the reference im2col + sgemm convolution, on the channel
/// counts the models use (8-64, equal and unequal), odd and tiny sizes (partial and single tiles, sizes
/// that are not a multiple of the work chunk), every fused output, and 1 to 3 workers on oneDNN's OpenMP
/// threads (where loaded) and on Dispatch's.
final class WinogradConvolutionTests: XCTestCase {
    /// [1, C, H, W] plain → nChw8c (C a multiple of 8).
    func blocked(_ x: Tensor) -> [Float] {
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        var out = [Float](repeating: 0, count: x.count)
        for channel in 0..<c {
            for y in 0..<h {
                for column in 0..<w {
                    out[(((channel / 8) * h + y) * w + column) * 8 + channel % 8] =
                        x.scalars[(channel * h + y) * w + column]
                }
            }
        }
        return out
    }

    func plain(_ data: [Float], channels c: Int, height h: Int, width w: Int) -> Tensor {
        var out = Tensor(zeros: [1, c, h, w])
        for channel in 0..<c {
            for y in 0..<h {
                for column in 0..<w {
                    out.scalars[(channel * h + y) * w + column] =
                        data[(((channel / 8) * h + y) * w + column) * 8 + channel % 8]
                }
            }
        }
        return out
    }

    func testMatchesTheReferenceOnEveryModelShape() throws {
        try XCTSkipUnless(WinogradConvolution.isAvailable, "this CPU has no AVX2 with FMA")
        let channelPairs = [(48, 48), (64, 64), (32, 32), (16, 48), (48, 16), (8, 24), (56, 56)]
        let sizes = [(1, 1), (2, 3), (7, 5), (33, 17), (40, 41)]
        var seed: UInt64 = 1
        for (inputs, outputs) in channelPairs {
            for (height, width) in sizes {
                seed += 1
                let x = randomTensor([1, inputs, height, width], seed: seed)
                let weight = randomTensor([outputs, inputs, 3, 3], seed: seed + 100, low: -0.2, high: 0.2)
                let bias = randomTensor([outputs], seed: seed + 200)
                let start = randomTensor([1, outputs, height, width], seed: seed + 300)
                let convolution = Convolution.forward(input: x, weight: weight, bias: bias, stride: 1, padding: 1)
                let outputs: [(WinogradConvolution.Output, Tensor)] = [
                    (.store, convolution),
                    (
                        .leakyReLU(slope: 0.1),
                        Tensor(shape: convolution.shape, scalars: convolution.scalars.map { max($0, 0.1 * $0) })
                    ),
                    (.addToDestination, convolution + start),
                ]
                for (output, expected) in outputs {
                    let kernel = WinogradConvolution(weight: weight, bias: bias, output: output)
                    let source = blocked(x)
                    var destination = blocked(start)
                    let runs: [(Int, WinogradConvolution.Threading)] = [
                        (1, .automatic), (3, .automatic), (1, .dispatch), (3, .dispatch),
                    ]
                    for (workers, threading) in runs {
                        destination = blocked(start)
                        var scratch = [Float](repeating: 0, count: kernel.scratchCount(workers: workers))
                        source.withUnsafeBufferPointer { source in
                            destination.withUnsafeMutableBufferPointer { destination in
                                kernel.run(
                                    source: source.baseAddress!, destination: destination.baseAddress!,
                                    height: height, width: width, workers: workers, scratch: &scratch,
                                    threading: threading)
                            }
                        }
                        let got = plain(destination, channels: kernel.outputs, height: height, width: width)
                        let scale = expected.scalars.reduce(1) { max($0, abs($1)) }
                        let error = zip(got.scalars, expected.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
                        XCTAssertLessThanOrEqual(
                            error, 2e-5 * scale,
                            "\(inputs)→\(kernel.outputs) at \(height)×\(width), \(output), \(workers) \(threading) workers"
                        )
                    }
                }
            }
        }
    }
}
