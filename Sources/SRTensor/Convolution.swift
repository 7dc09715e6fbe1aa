import CKernels
import Dispatch

/// 2-D convolution kernels (cross-correlation, as PyTorch's `conv2d`) on NCHW tensors:
/// im2col + sgemm, processed in bands of output rows so the column buffer stays a few MB
/// whatever the image size.
///
/// Shapes: input [N, C, H, W], weight [OC, C, K, K], bias [OC], output [N, OC, OH, OW] with
/// OH = (H + 2·padding − K) / stride + 1 (likewise OW).
public enum Convolution {
    /// Column-buffer budget in floats per band (4 MB).
    static let bandBudget = 1 << 20

    /// Output size for an input size.
    public static func outputSize(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        (size + 2 * padding - kernel) / stride + 1
    }

    /// Output rows per band for a given column height (C·K·K) and output width.
    static func bandRows(columnHeight: Int, outputWidth: Int, outputHeight: Int) -> Int {
        max(1, min(outputHeight, bandBudget / max(1, columnHeight * outputWidth)))
    }

    /// Unfolds output rows [rowStart, rowStart + rows) of one image into columns:
    /// cols[(c·K + ky)·K + kx][r·OW + ox] = x[c][oy·stride − padding + ky][ox·stride − padding + kx]
    /// (0 outside).
    @inlinable
    static func im2col(
        _ x: UnsafePointer<Float>, channels: Int, height: Int, width: Int, kernel: Int, stride: Int,
        padding: Int, outputWidth: Int, rowStart: Int, rows: Int, into cols: UnsafeMutablePointer<Float>
    ) {
        let span = rows * outputWidth
        for c in 0..<channels {
            let plane = x + c * height * width
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let row = cols + ((c * kernel + ky) * kernel + kx) * span
                    // ox range whose input column lies inside the image.
                    let first = max(0, (padding - kx + stride - 1) / stride)
                    let last = min(outputWidth, (width + padding - kx + stride - 1) / stride)
                    for r in 0..<rows {
                        let iy = (rowStart + r) * stride - padding + ky
                        let out = row + r * outputWidth
                        if iy < 0 || iy >= height || first >= last {
                            out.update(repeating: 0, count: outputWidth)
                            continue
                        }
                        let source = plane + iy * width - padding + kx
                        if first > 0 { out.update(repeating: 0, count: first) }
                        if stride == 1 {
                            (out + first).update(from: source + first, count: last - first)
                        } else {
                            for ox in first..<last { out[ox] = source[ox * stride] }
                        }
                        if last < outputWidth { (out + last).update(repeating: 0, count: outputWidth - last) }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds every column entry back into the input position it was read from.
    @inlinable
    static func col2im(
        _ cols: UnsafePointer<Float>, channels: Int, height: Int, width: Int, kernel: Int, stride: Int,
        padding: Int, outputWidth: Int, rowStart: Int, rows: Int, into dx: UnsafeMutablePointer<Float>
    ) {
        let span = rows * outputWidth
        for c in 0..<channels {
            let plane = dx + c * height * width
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let row = cols + ((c * kernel + ky) * kernel + kx) * span
                    let first = max(0, (padding - kx + stride - 1) / stride)
                    let last = min(outputWidth, (width + padding - kx + stride - 1) / stride)
                    if first >= last { continue }
                    for r in 0..<rows {
                        let iy = (rowStart + r) * stride - padding + ky
                        if iy < 0 || iy >= height { continue }
                        let target = plane + iy * width - padding + kx
                        let source = row + r * outputWidth
                        if stride == 1 {
                            for ox in first..<last { target[ox] += source[ox] }
                        } else {
                            for ox in first..<last { target[ox * stride] += source[ox] }
                        }
                    }
                }
            }
        }
    }

    /// The direct 3×3 kernel for at most 4 output channels (stride 1, padding 1) on one image:
    /// input [C, H, W] → output [OC, H, W], rows split across as many threads as BLAS may use.
    public static func narrow(
        _ input: UnsafePointer<Float>, channels c: Int, height h: Int, width w: Int, weight: Tensor,
        bias: Tensor?, into output: UnsafeMutablePointer<Float>
    ) {
        let oc = weight.shape[0]
        precondition(oc <= 4 && weight.shape == [oc, c, 3, 3], "direct kernel needs 3×3 weights and ≤ 4 outputs")
        weight.scalars.withUnsafeBufferPointer { wt in
            (bias?.scalars ?? []).withUnsafeBufferPointer { b in
                let parts = min(GEMM.threadCount, h)
                let (wp, bp) = (wt.baseAddress!, bias == nil ? nil : b.baseAddress)
                DispatchQueue.concurrentPerform(iterations: parts) { part in
                    sr_conv3x3_narrow(
                        input, Int32(c), Int32(h), Int32(w), wp, bp, Int32(oc), output,
                        Int32(part * h / parts), Int32((part + 1) * h / parts))
                }
            }
        }
    }

    /// How a forward convolution is computed.
    public enum Method: Sendable {
        /// im2col + sgemm, in bands of output rows.
        case gemm
        /// The direct kernel for 3×3, stride 1, padding 1 and at most 4 output channels (`sr_conv3x3_narrow`).
        case directNarrow
    }

    /// The method `forward` picks: with few output channels (the generator's 64→3 last layer) the
    /// product W[OC, CKK] · cols[CKK, P] has M = OC = 3, so writing the columns costs more than the
    /// multiply-adds and BLAS runs far below peak; a direct kernel avoids the columns entirely.
    public static func preferredMethod(outputChannels: Int, kernel: Int, stride: Int, padding: Int) -> Method {
        outputChannels <= 4 && kernel == 3 && stride == 1 && padding == 1 ? .directNarrow : .gemm
    }

    /// Forward convolution. Returns [N, OC, OH, OW].
    /// - Parameter method: force a method (for benchmarks and tests); nil picks `preferredMethod`.
    public static func forward(
        input: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int,
        method: Method? = nil
    ) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (oc, k) = (weight.shape[0], weight.shape[2])
        precondition(
            weight.shape[1] == c && weight.shape[3] == k,
            "conv weight \(weight.shape) does not fit input \(input.shape)")
        let oh = outputSize(h, kernel: k, stride: stride, padding: padding)
        let ow = outputSize(w, kernel: k, stride: stride, padding: padding)
        precondition(oh > 0 && ow > 0, "input \(input.shape) too small for kernel \(k)")
        var output = Tensor(zeros: [n, oc, oh, ow])
        let ckk = c * k * k
        let direct = k == 1 && stride == 1 && padding == 0
        let band = direct ? oh : bandRows(columnHeight: ckk, outputWidth: ow, outputHeight: oh)
        if (method ?? preferredMethod(outputChannels: oc, kernel: k, stride: stride, padding: padding)) == .directNarrow
        {
            precondition(
                oc <= 4 && k == 3 && stride == 1 && padding == 1, "direct kernel needs 3×3/1/1 and ≤ 4 outputs")
            input.scalars.withUnsafeBufferPointer { x in
                output.scalars.withUnsafeMutableBufferPointer { out in
                    for image in 0..<n {
                        narrow(
                            x.baseAddress! + image * c * h * w, channels: c, height: h, width: w, weight: weight,
                            bias: bias, into: out.baseAddress! + image * oc * oh * ow)
                    }
                }
            }
            return output
        }
        var cols = [Float](repeating: 0, count: direct ? 0 : ckk * band * ow)
        input.scalars.withUnsafeBufferPointer { x in
            weight.scalars.withUnsafeBufferPointer { wt in
                output.scalars.withUnsafeMutableBufferPointer { out in
                    cols.withUnsafeMutableBufferPointer { col in
                        for image in 0..<n {
                            let xImage = x.baseAddress! + image * c * h * w
                            let outImage = out.baseAddress! + image * oc * oh * ow
                            if let bias {
                                for o in 0..<oc {
                                    (outImage + o * oh * ow).update(repeating: bias.scalars[o], count: oh * ow)
                                }
                            }
                            var rowStart = 0
                            while rowStart < oh {
                                let rows = min(band, oh - rowStart)
                                let source: UnsafePointer<Float>
                                if direct {
                                    source = xImage
                                } else {
                                    im2col(
                                        xImage, channels: c, height: h, width: w, kernel: k, stride: stride,
                                        padding: padding,
                                        outputWidth: ow, rowStart: rowStart, rows: rows, into: col.baseAddress!)
                                    source = UnsafePointer(col.baseAddress!)
                                }
                                // out[OC, rows·OW] (+)= W[OC, CKK] · cols[CKK, rows·OW]
                                GEMM.multiply(
                                    m: oc, n: rows * ow, k: ckk, a: wt.baseAddress!, lda: ckk, b: source,
                                    ldb: rows * ow, beta: bias == nil ? 0 : 1,
                                    c: outImage + rowStart * ow, ldc: oh * ow)
                                rowStart += rows
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// Backward convolution: returns dInput [N, C, H, W] and adds dWeight, dBias into the given
    /// accumulators (when non-nil).
    public static func backward(
        outputGradient: Tensor, input: Tensor, weight: Tensor, stride: Int, padding: Int,
        weightGradient: UnsafeMutablePointer<Float>?, biasGradient: UnsafeMutablePointer<Float>?,
        needInputGradient: Bool = true
    ) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (oc, k) = (weight.shape[0], weight.shape[2])
        let (oh, ow) = (outputGradient.shape[2], outputGradient.shape[3])
        let ckk = c * k * k
        let direct = k == 1 && stride == 1 && padding == 0
        let band = direct ? oh : bandRows(columnHeight: ckk, outputWidth: ow, outputHeight: oh)
        var cols = [Float](repeating: 0, count: direct ? 0 : ckk * band * ow)
        var dcols = [Float](repeating: 0, count: needInputGradient && !direct ? ckk * band * ow : 0)
        var dx = Tensor(zeros: needInputGradient ? input.shape : [0])
        if let biasGradient {
            outputGradient.scalars.withUnsafeBufferPointer { g in
                for image in 0..<n {
                    for o in 0..<oc {
                        let plane = g.baseAddress! + (image * oc + o) * oh * ow
                        var s: Float = 0
                        for i in 0..<(oh * ow) { s += plane[i] }
                        biasGradient[o] += s
                    }
                }
            }
        }
        input.scalars.withUnsafeBufferPointer { x in
            weight.scalars.withUnsafeBufferPointer { wt in
                outputGradient.scalars.withUnsafeBufferPointer { g in
                    dx.scalars.withUnsafeMutableBufferPointer { dxp in
                        cols.withUnsafeMutableBufferPointer { col in
                            dcols.withUnsafeMutableBufferPointer { dcol in
                                for image in 0..<n {
                                    let xImage = x.baseAddress! + image * c * h * w
                                    let gImage = g.baseAddress! + image * oc * oh * ow
                                    var rowStart = 0
                                    while rowStart < oh {
                                        let rows = min(band, oh - rowStart)
                                        let gBand = gImage + rowStart * ow
                                        if let weightGradient {
                                            let source: UnsafePointer<Float>
                                            if direct {
                                                source = xImage
                                            } else {
                                                im2col(
                                                    xImage, channels: c, height: h, width: w, kernel: k, stride: stride,
                                                    padding: padding, outputWidth: ow, rowStart: rowStart, rows: rows,
                                                    into: col.baseAddress!)
                                                source = UnsafePointer(col.baseAddress!)
                                            }
                                            // dW[OC, CKK] += dOut[OC, rows·OW] · cols[CKK, rows·OW]ᵀ
                                            GEMM.multiply(
                                                transposeB: true, m: oc, n: ckk, k: rows * ow, a: gBand, lda: oh * ow,
                                                b: source, ldb: rows * ow, beta: 1, c: weightGradient, ldc: ckk)
                                        }
                                        if needInputGradient {
                                            let dxImage = dxp.baseAddress! + image * c * h * w
                                            // dcols[CKK, rows·OW] = W[OC, CKK]ᵀ · dOut[OC, rows·OW]
                                            if direct {
                                                GEMM.multiply(
                                                    transposeA: true, m: ckk, n: rows * ow, k: oc, a: wt.baseAddress!,
                                                    lda: ckk, b: gBand, ldb: oh * ow, beta: 0, c: dxImage,
                                                    ldc: rows * ow)
                                            } else {
                                                GEMM.multiply(
                                                    transposeA: true, m: ckk, n: rows * ow, k: oc, a: wt.baseAddress!,
                                                    lda: ckk, b: gBand, ldb: oh * ow, beta: 0, c: dcol.baseAddress!,
                                                    ldc: rows * ow)
                                                col2im(
                                                    dcol.baseAddress!, channels: c, height: h, width: w, kernel: k,
                                                    stride: stride,
                                                    padding: padding, outputWidth: ow, rowStart: rowStart, rows: rows,
                                                    into: dxImage)
                                            }
                                        }
                                        rowStart += rows
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
