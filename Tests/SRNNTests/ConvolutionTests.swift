import SRNN
import SRTensor
import SRTestSupport
import XCTest

/// Naive six-loop convolution: the independent reference for Conv2d.
func naiveConvolution(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: Int, padding: Int) -> Tensor {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (oc, k) = (w.shape[0], w.shape[2])
    let oh = (h + 2 * padding - k) / stride + 1, ow = (wd + 2 * padding - k) / stride + 1
    var out = Tensor(zeros: [n, oc, oh, ow])
    for b0 in 0..<n {
        for o in 0..<oc {
            for y in 0..<oh {
                for xx in 0..<ow {
                    var s = Double(b?.scalars[o] ?? 0)
                    for ch in 0..<c {
                        for ky in 0..<k {
                            for kx in 0..<k {
                                let iy = y * stride - padding + ky, ix = xx * stride - padding + kx
                                if iy < 0 || iy >= h || ix < 0 || ix >= wd { continue }
                                s +=
                                    Double(x.scalars[((b0 * c + ch) * h + iy) * wd + ix])
                                    * Double(w.scalars[((o * c + ch) * k + ky) * k + kx])
                            }
                        }
                    }
                    out.scalars[((b0 * oc + o) * oh + y) * ow + xx] = Float(s)
                }
            }
        }
    }
    return out
}

final class ConvolutionTests: XCTestCase {
    let cases: [(c: Int, oc: Int, k: Int, stride: Int, padding: Int, h: Int, w: Int)] = [
        (3, 4, 3, 1, 1, 7, 5), (2, 3, 3, 2, 1, 9, 8), (4, 2, 1, 1, 0, 5, 6), (3, 5, 4, 2, 1, 8, 11),
        (2, 3, 3, 1, 0, 6, 7), (1, 2, 9, 1, 4, 10, 9), (5, 3, 3, 2, 0, 7, 7),
    ]

    func makeConv(_ t: (c: Int, oc: Int, k: Int, stride: Int, padding: Int, h: Int, w: Int), seed: UInt64) -> Conv2d {
        let conv = Conv2d(
            inputChannels: t.c, outputChannels: t.oc, kernelSize: t.k, stride: t.stride, padding: t.padding)
        conv.weight.value = randomTensor(conv.weight.value.shape, seed: seed)
        conv.bias?.value = randomTensor([t.oc], seed: seed + 1)
        return conv
    }

    func testForwardMatchesNaiveLoops() {
        for (i, t) in cases.enumerated() {
            let conv = makeConv(t, seed: UInt64(10 * i))
            let x = randomTensor([2, t.c, t.h, t.w], seed: UInt64(100 + i))
            let expected = naiveConvolution(
                x, conv.weight.value, conv.bias?.value, stride: t.stride, padding: t.padding)
            assertClose(conv.inference(x), expected, rtol: 1e-4, atol: 1e-4, "case \(t)")
        }
    }

    /// Backward against the naive reference: the adjoint identities ⟨dy, conv(x)⟩ give dx and dW exactly
    /// through the naive forward (linear in x and in W).
    func testBackwardMatchesNaiveReference() {
        for (i, t) in cases.enumerated() {
            let conv = makeConv(t, seed: UInt64(20 * i))
            let x = randomTensor([2, t.c, t.h, t.w], seed: UInt64(200 + i))
            let (y, pullback) = conv.forward(x)
            let dy = randomTensor(y.shape, seed: UInt64(300 + i))
            conv.zeroGradients()
            let dx = pullback(dy)
            // Reference dx: for each input coordinate e_j, ⟨dy, naive(e_j)⟩ without bias.
            var referenceDx = Tensor(zeros: x.shape)
            for j in 0..<x.count {
                var e = Tensor(zeros: x.shape)
                e.scalars[j] = 1
                let response = naiveConvolution(e, conv.weight.value, nil, stride: t.stride, padding: t.padding)
                referenceDx.scalars[j] = zip(response.scalars, dy.scalars).reduce(0) { $0 + $1.0 * $1.1 }
            }
            assertClose(dx, referenceDx, rtol: 1e-4, atol: 1e-4, "dx \(t)")
            var referenceDw = Tensor(zeros: conv.weight.value.shape)
            for j in 0..<referenceDw.count {
                var e = Tensor(zeros: referenceDw.shape)
                e.scalars[j] = 1
                let response = naiveConvolution(x, e, nil, stride: t.stride, padding: t.padding)
                referenceDw.scalars[j] = zip(response.scalars, dy.scalars).reduce(0) { $0 + $1.0 * $1.1 }
            }
            assertClose(conv.weight.gradient, referenceDw, rtol: 1e-4, atol: 1e-4, "dW \(t)")
            var referenceDb = Tensor(zeros: [t.oc])
            let plane = y.shape[2] * y.shape[3]
            for b in 0..<2 {
                for o in 0..<t.oc {
                    for p in 0..<plane { referenceDb.scalars[o] += dy.scalars[(b * t.oc + o) * plane + p] }
                }
            }
            assertClose(conv.bias!.gradient, referenceDb, rtol: 1e-4, atol: 1e-4, "db \(t)")
        }
    }

    func testFiniteDifferences() {
        for (i, t) in cases.enumerated() {
            let conv = makeConv(t, seed: UInt64(30 * i))
            checkGradients(conv, input: randomTensor([2, t.c, t.h, t.w], seed: UInt64(400 + i)))
        }
    }

    /// The direct narrow kernel (≤ 4 outputs, 3×3) against the naive loops, on widths around its vector
    /// length and edge cases, and against the GEMM path.
    func testDirectNarrowKernelMatchesNaiveLoops() {
        for oc in 1...4 {
            for (h, w) in [(1, 1), (3, 2), (5, 7), (4, 8), (6, 9), (3, 10), (7, 17), (2, 33)] {
                let x = randomTensor([2, 5, h, w], seed: UInt64(oc * 100 + w))
                let weight = randomTensor([oc, 5, 3, 3], seed: UInt64(oc + h))
                let bias = randomTensor([oc], seed: 3)
                let expected = naiveConvolution(x, weight, bias, stride: 1, padding: 1)
                let direct = Convolution.forward(
                    input: x, weight: weight, bias: bias, stride: 1, padding: 1, method: .directNarrow)
                assertClose(direct, expected, rtol: 1e-4, atol: 1e-4, "oc \(oc) \(h)x\(w)")
                let gemm = Convolution.forward(
                    input: x, weight: weight, bias: nil, stride: 1, padding: 1, method: .gemm)
                assertClose(
                    Convolution.forward(
                        input: x, weight: weight, bias: nil, stride: 1, padding: 1, method: .directNarrow), gemm,
                    rtol: 1e-4, atol: 1e-4, "no bias")
            }
        }
        XCTAssertEqual(Convolution.preferredMethod(outputChannels: 3, kernel: 3, stride: 1, padding: 1), .directNarrow)
        XCTAssertEqual(Convolution.preferredMethod(outputChannels: 8, kernel: 3, stride: 1, padding: 1), .gemm)
    }

    func testLargeImageUsesSeveralBandsAndStaysExact() {
        // 3·3·3 = 27 rows of columns × 400 × 400 output exceeds the 1M-float band budget, forcing bands.
        let conv = Conv2d(inputChannels: 12, outputChannels: 2, kernelSize: 3)
        conv.weight.value = randomTensor(conv.weight.value.shape, seed: 1)
        let x = randomTensor([1, 12, 300, 301], seed: 2)
        let expected = naiveConvolution(x, conv.weight.value, conv.bias?.value, stride: 1, padding: 1)
        assertClose(conv.inference(x), expected, rtol: 1e-4, atol: 1e-4)
    }

    func testFrozenConvolutionPassesInputGradientButKeepsWeightsGradientZero() {
        let conv = makeConv(cases[0], seed: 5)
        conv.setFrozen(true)
        let x = randomTensor([1, 3, 7, 5], seed: 6)
        let (y, pullback) = conv.forward(x)
        let dx = pullback(Tensor(repeating: 1, shape: y.shape))
        XCTAssertGreaterThan(dx.squaredNorm(), 0)
        XCTAssertEqual(conv.weight.gradient.squaredNorm(), 0)
        XCTAssertEqual(conv.bias!.gradient.squaredNorm(), 0)
    }
}
