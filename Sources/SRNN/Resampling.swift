import SRTensor

/// Sub-pixel convolution's rearrangement (PyTorch `nn.PixelShuffle(r)`):
/// [N, C·r², H, W] → [N, C, H·r, W·r], out[n, c, h·r + i, w·r + j] = in[n, c·r² + i·r + j, h, w].
public final class PixelShuffle: Layer {
    public let factor: Int
    public init(factor: Int) { self.factor = factor }

    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        (inference(input), { [factor] in PixelShuffle.unshuffle($0, factor: factor) })
    }

    public func inference(_ input: Tensor) -> Tensor { PixelShuffle.shuffle(input, factor: factor) }

    /// [N, C·r², H, W] → [N, C, H·r, W·r].
    public static func shuffle(_ x: Tensor, factor r: Int) -> Tensor {
        let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(cin % (r * r) == 0, "pixel shuffle: \(cin) channels not divisible by \(r * r)")
        let c = cin / (r * r)
        var out = Tensor(zeros: [n, c, h * r, w * r])
        let (oh, ow) = (h * r, w * r)
        x.scalars.withUnsafeBufferPointer { src in
            out.scalars.withUnsafeMutableBufferPointer { dst in
                for b in 0..<n {
                    for ch in 0..<c {
                        for i in 0..<r {
                            for j in 0..<r {
                                let plane = src.baseAddress! + ((b * cin) + ch * r * r + i * r + j) * h * w
                                let target = dst.baseAddress! + (b * c + ch) * oh * ow
                                for y in 0..<h {
                                    let row = target + (y * r + i) * ow + j
                                    let source = plane + y * w
                                    for xx in 0..<w { row[xx * r] = source[xx] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// The inverse (PyTorch `nn.PixelUnshuffle(r)`): [N, C, H·r, W·r] → [N, C·r², H, W].
    public static func unshuffle(_ x: Tensor, factor r: Int) -> Tensor {
        let (n, c, oh, ow) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (h, w) = (oh / r, ow / r)
        var out = Tensor(zeros: [n, c * r * r, h, w])
        x.scalars.withUnsafeBufferPointer { src in
            out.scalars.withUnsafeMutableBufferPointer { dst in
                for b in 0..<n {
                    for ch in 0..<c {
                        for i in 0..<r {
                            for j in 0..<r {
                                let plane = dst.baseAddress! + ((b * c + ch) * r * r + i * r + j) * h * w
                                let source = src.baseAddress! + (b * c + ch) * oh * ow
                                for y in 0..<h {
                                    let row = source + (y * r + i) * ow + j
                                    for xx in 0..<w { plane[y * w + xx] = row[xx * r] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// Inverse pixel shuffle as a layer: [N, C, H·r, W·r] → [N, C·r², H, W].
public final class PixelUnshuffle: Layer {
    public let factor: Int
    public init(factor: Int) { self.factor = factor }
    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        (PixelShuffle.unshuffle(input, factor: factor), { [factor] in PixelShuffle.shuffle($0, factor: factor) })
    }
}

/// Upsampling by an integer factor (PyTorch `F.interpolate(scale_factor:)`), [N, C, H, W] → [N, C, H·s, W·s].
/// Bilinear uses align_corners = false: source = (dst + 0.5)/s − 0.5, clamped at 0, edge-replicated.
public final class Upsample: Layer {
    public enum Mode: Sendable { case nearest, bilinear }
    public let factor: Int
    public let mode: Mode
    public init(factor: Int, mode: Mode) {
        self.factor = factor
        self.mode = mode
    }

    /// Per output coordinate: the two source indices and the weight of the second.
    static func taps(inputLength: Int, factor: Int) -> [(Int, Int, Float)] {
        (0..<(inputLength * factor)).map { d in
            var source = (Float(d) + 0.5) / Float(factor) - 0.5
            if source < 0 { source = 0 }
            let i0 = min(Int(source), inputLength - 1)
            let i1 = i0 < inputLength - 1 ? i0 + 1 : i0
            return (i0, i1, source - Float(i0))
        }
    }

    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        (inference(input), { [self] gradient in backward(gradient, inputShape: input.shape) })
    }

    public func inference(_ input: Tensor) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        var out = Tensor(zeros: [n, c, h * factor, w * factor])
        input.scalars.withUnsafeBufferPointer { source in
            out.scalars.withUnsafeMutableBufferPointer { target in
                upsample(source.baseAddress!, into: target.baseAddress!, planes: n * c, height: h, width: w)
            }
        }
        return out
    }

    /// The same on raw buffers: `planes` planes of H×W → H·s×W·s.
    /// - Parameter vector: floats per pixel (nearest only): 1 for plain planes; 8 for oneDNN's nChw8c,
    ///   whose planes are ⌈C/8⌉ blocks of H×W pixels of 8 channels each.
    public func upsample(
        _ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, planes: Int, height h: Int,
        width w: Int, vector: Int = 1
    ) {
        let s = factor
        let (oh, ow) = (h * s, w * s)
        if mode == .nearest {
            for p in 0..<planes {
                for y in 0..<oh {
                    let row = target + (p * oh + y) * ow * vector, input = source + (p * h + y / s) * w * vector
                    if vector == 1 {
                        for x in 0..<ow { row[x] = input[x / s] }
                    } else {
                        for x in 0..<ow { (row + x * vector).update(from: input + (x / s) * vector, count: vector) }
                    }
                }
            }
            return
        }
        precondition(vector == 1, "bilinear upsampling takes plain planes")
        for p in 0..<planes {
            upsample(plane: source + p * h * w, into: target + p * oh * ow, height: h, width: w, outputRows: 0..<oh)
        }
    }

    /// Rows `outputRows` of one bilinear plane: `source` H×W → rows of `target`, the H·s×W·s plane's start.
    public func upsample(
        plane source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, height h: Int, width w: Int,
        outputRows: Range<Int>
    ) {
        precondition(mode == .bilinear, "row ranges are for bilinear upsampling")
        let ow = w * factor
        let ty = Upsample.taps(inputLength: h, factor: factor), tx = Upsample.taps(inputLength: w, factor: factor)
        for y in outputRows {
            let (y0, y1, ly) = ty[y]
            let row = target + y * ow
            for x in 0..<ow {
                let (x0, x1, lx) = tx[x]
                let top = source[y0 * w + x0] * (1 - lx) + source[y0 * w + x1] * lx
                let bottom = source[y1 * w + x0] * (1 - lx) + source[y1 * w + x1] * lx
                row[x] = top * (1 - ly) + bottom * ly
            }
        }
    }

    func backward(_ gradient: Tensor, inputShape: [Int]) -> Tensor {
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let s = factor
        let (oh, ow) = (h * s, w * s)
        var dx = Tensor(zeros: inputShape)
        if mode == .nearest {
            for p in 0..<(n * c) {
                for y in 0..<oh {
                    for x in 0..<ow {
                        dx.scalars[(p * h + y / s) * w + x / s] += gradient.scalars[(p * oh + y) * ow + x]
                    }
                }
            }
            return dx
        }
        // Separable: each output row's gradient is first gathered onto the input columns, then split
        // between the two input rows it came from.
        let ty = Upsample.taps(inputLength: h, factor: s), tx = Upsample.taps(inputLength: w, factor: s)
        var columns = [Float](repeating: 0, count: w)
        gradient.scalars.withUnsafeBufferPointer { g in
            dx.scalars.withUnsafeMutableBufferPointer { d in
                columns.withUnsafeMutableBufferPointer { row in
                    for p in 0..<(n * c) {
                        let plane = d.baseAddress! + p * h * w
                        for y in 0..<oh {
                            let source = g.baseAddress! + (p * oh + y) * ow
                            row.update(repeating: 0)
                            for x in 0..<ow {
                                let (x0, x1, lx) = tx[x]
                                row[x0] += source[x] * (1 - lx)
                                row[x1] += source[x] * lx
                            }
                            let (y0, y1, ly) = ty[y]
                            let (top, bottom) = (plane + y0 * w, plane + y1 * w)
                            for x in 0..<w {
                                top[x] += row[x] * (1 - ly)
                                bottom[x] += row[x] * ly
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
