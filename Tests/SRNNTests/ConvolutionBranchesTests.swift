import SRNN
import SRTensor
import SRTestSupport
import XCTest

/// Training-time branches folded into a convolution: the folded kernel against the branches run as
/// separate convolutions, and the folded training pass's gradients by finite differences.
final class ConvolutionBranchesTests: XCTestCase {
    /// (input channels, output channels, expanded channels, kernel, stride, height, width): the generator's
    /// 3×3 shapes in small, a 3-channel input as conv_first's, a 5×5 and a strided one.
    let cases = [
        (c: 4, oc: 4, e: 8, k: 3, stride: 1, h: 6, w: 7), (c: 3, oc: 6, e: 12, k: 3, stride: 1, h: 5, w: 5),
        (c: 2, oc: 3, e: 4, k: 5, stride: 1, h: 7, w: 6), (c: 3, oc: 2, e: 4, k: 3, stride: 2, h: 7, w: 8),
    ]

    /// A convolution with random main weights and random branches (non-zero, so every part is exercised).
    func makeBranchedConv(
        _ t: (c: Int, oc: Int, e: Int, k: Int, stride: Int, h: Int, w: Int), seed: UInt64
    ) -> Conv2d {
        let conv = Conv2d(inputChannels: t.c, outputChannels: t.oc, kernelSize: t.k, stride: t.stride)
        let branches = ConvolutionBranches(
            inputChannels: t.c, outputChannels: t.oc, kernelSize: t.k, expandedChannels: t.e)
        conv.branches = branches
        for (offset, (_, parameter)) in conv.namedParameters.enumerated() {
            parameter.value = randomTensor(parameter.value.shape, seed: seed &+ UInt64(offset), low: -0.5, high: 0.5)
        }
        return conv
    }

    /// The folded convolution equals the sum of the three paths run separately with plain convolutions: the
    /// K×K main kernel, the 1×1 at the centre tap, and the 1×1 expansion on the zero-padded input (its bias
    /// filling the padding) followed by the K×K squeeze without padding.
    func testFoldedKernelEqualsTheBranchesRunSeparately() throws {
        for (i, t) in cases.enumerated() {
            let conv = makeBranchedConv(t, seed: UInt64(10 * i))
            let branches = try XCTUnwrap(conv.branches)
            let x = randomTensor([2, t.c, t.h, t.w], seed: UInt64(100 + i))
            let main = Convolution.forward(
                input: x, weight: conv.weight.value, bias: conv.bias!.value, stride: t.stride, padding: t.k / 2)
            let pointwise = Convolution.forward(
                input: x, weight: branches.pointwise.value, bias: branches.pointwiseBias.value, stride: t.stride,
                padding: 0)
            let expanded = Convolution.forward(
                input: x, weight: branches.expand.value, bias: branches.expandBias.value, stride: 1, padding: t.k / 2)
            let squeezed = Convolution.forward(
                input: expanded, weight: branches.squeeze.value, bias: branches.squeezeBias.value, stride: t.stride,
                padding: 0)
            let reference = main + pointwise + squeezed
            assertClose(conv.inference(x), reference, rtol: 1e-4, atol: 1e-5, "inference \(t)")
            assertClose(conv.forward(x).output, reference, rtol: 1e-4, atol: 1e-5, "forward \(t)")
        }
    }

    func testFiniteDifferencesThroughTheFoldedKernel() {
        for (i, t) in cases.enumerated() {
            let conv = makeBranchedConv(t, seed: UInt64(40 * i))
            checkGradients(conv, input: randomTensor([2, t.c, t.h, t.w], seed: UInt64(400 + i)))
        }
    }

    /// Initialised branches add nothing: attaching them keeps what a trained convolution computes.
    func testInitialisedBranchesKeepTheKernel() {
        let conv = Conv2d(inputChannels: 4, outputChannels: 5, kernelSize: 3)
        var generator = SeededGenerator(seed: 3)
        conv.initialize(generator: &generator)
        conv.bias!.value = randomTensor([5], seed: 4)
        let branches = ConvolutionBranches(inputChannels: 4, outputChannels: 5, kernelSize: 3, expandedChannels: 10)
        branches.initialize(generator: &generator)
        conv.branches = branches
        XCTAssertEqual(conv.effectiveWeights.weight, conv.weight.value)
        XCTAssertEqual(conv.effectiveWeights.bias, conv.bias!.value)
        XCTAssertGreaterThan(branches.expand.value.scalars.map(abs).max()!, 0, "the expansion starts random")
        XCTAssertEqual(conv.namedParameters.count, 8, "weight, bias and six branch tensors")
    }
}
