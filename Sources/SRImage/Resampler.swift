import Foundation

/// One-dimensional resampling weights with MATLAB `imresize` semantics: the cubic kernel with
/// a = −0.5, widened by 1/scale when shrinking (antialiasing), symmetric (mirror) padding at the edges, or,
/// for a repeating texture, wrapping around (the sample before the first is the last).
///
/// Output sample j (0-based) is Σₜ `weights[j·taps + t]` · input[`indices[j·taps + t]`].
public struct ResampleKernel: Sendable {
    public let inputLength: Int
    public let outputLength: Int
    public let taps: Int
    public let indices: [Int]
    public let weights: [Float]
    /// Smallest and largest input index with a non-zero weight, per output sample.
    public let firstIndex: [Int]
    public let lastIndex: [Int]

    /// Cubic convolution kernel, a = −0.5 (Keys), as MATLAB's `cubic`.
    public static func cubic(_ x: Double) -> Double {
        let a = abs(x), a2 = a * a, a3 = a2 * a
        if a <= 1 { return 1.5 * a3 - 2.5 * a2 + 1 }
        if a <= 2 { return -0.5 * a3 + 2.5 * a2 - 4 * a + 2 }
        return 0
    }

    /// - Parameters:
    ///   - scale: output/input ratio; defaults to `outputLength / inputLength` (MATLAB's choice when
    ///     given an output size).
    ///   - antialias: widen the kernel when shrinking (MATLAB's default).
    ///   - wrapping: treat the input as one period of a repeating signal instead of mirroring it at the ends.
    public init(
        inputLength: Int, outputLength: Int, scale: Double? = nil, antialias: Bool = true, wrapping: Bool = false
    ) {
        precondition(inputLength > 0 && outputLength > 0, "resampling needs non-empty sizes")
        let scale = scale ?? Double(outputLength) / Double(inputLength)
        let shrink = scale < 1 && antialias
        let kernelWidth = shrink ? 4 / scale : 4
        let taps = Int(kernelWidth.rounded(.up)) + 2
        var indices = [Int](repeating: 0, count: outputLength * taps)
        var weights = [Float](repeating: 0, count: outputLength * taps)
        var firstIndex = [Int](repeating: 0, count: outputLength)
        var lastIndex = [Int](repeating: 0, count: outputLength)
        let period = 2 * inputLength
        var raw = [Double](repeating: 0, count: taps)
        for j in 0..<outputLength {
            // 1-based coordinates, exactly as imresize's contributions().
            let u = Double(j + 1) / scale + 0.5 * (1 - 1 / scale)
            let left = Int((u - kernelWidth / 2).rounded(.down))
            var sum = 0.0
            for t in 0..<taps {
                let distance = u - Double(left + t)
                raw[t] = shrink ? scale * ResampleKernel.cubic(scale * distance) : ResampleKernel.cubic(distance)
                sum += raw[t]
            }
            var lowest = Int.max, highest = Int.min
            for t in 0..<taps {
                let cycle = wrapping ? inputLength : period
                var k = (left + t - 1) % cycle
                if k < 0 { k += cycle }
                let index = k < inputLength ? k : period - 1 - k
                indices[j * taps + t] = index
                weights[j * taps + t] = Float(raw[t] / sum)
                if raw[t] != 0 {
                    lowest = min(lowest, index)
                    highest = max(highest, index)
                }
            }
            firstIndex[j] = lowest
            lastIndex[j] = highest
        }
        self.inputLength = inputLength
        self.outputLength = outputLength
        self.taps = taps
        self.indices = indices
        self.weights = weights
        self.firstIndex = firstIndex
        self.lastIndex = lastIndex
    }

    /// Resamples one strided line: `output[j * outputStride] = Σ w · input[i * inputStride]`.
    @inlinable
    public func apply(
        _ input: UnsafePointer<Float>, inputStride: Int, _ output: UnsafeMutablePointer<Float>,
        outputStride: Int
    ) {
        indices.withUnsafeBufferPointer { index in
            weights.withUnsafeBufferPointer { weight in
                for j in 0..<outputLength {
                    var sum: Float = 0
                    let base = j * taps
                    for t in 0..<taps { sum += weight[base + t] * input[index[base + t] * inputStride] }
                    output[j * outputStride] = sum
                }
            }
        }
    }
}

/// Resizes an image that arrives as bands of rows, emitting output rows as soon as the input rows they
/// depend on have arrived. Memory holds only the input rows still needed (about the vertical kernel
/// height), so images of any height stream through. Horizontal pass first, then vertical. A wrapping
/// resizer's first output rows need the last input rows, so it emits once the whole image has arrived.
public final class StreamingResizer {
    public let inputWidth, inputHeight, outputWidth, outputHeight, channels: Int
    private let horizontal: ResampleKernel
    private let vertical: ResampleKernel
    /// For output row j: the smallest input row any output row ≥ j still needs.
    private let stillNeeded: [Int]
    /// Horizontally resized rows [bufferStart, received): row r, channel c at (r − bufferStart)·channels + c.
    private var buffer: [[Float]] = []
    private var bufferStart = 0
    private var received = 0
    private var emitted = 0

    /// - Parameter wrapping: the image is one tile of a repeating texture (`ResampleKernel`'s `wrapping`).
    public init(
        inputWidth: Int, inputHeight: Int, outputWidth: Int, outputHeight: Int, channels: Int, wrapping: Bool = false
    ) {
        self.inputWidth = inputWidth
        self.inputHeight = inputHeight
        self.outputWidth = outputWidth
        self.outputHeight = outputHeight
        self.channels = channels
        horizontal = ResampleKernel(inputLength: inputWidth, outputLength: outputWidth, wrapping: wrapping)
        vertical = ResampleKernel(inputLength: inputHeight, outputLength: outputHeight, wrapping: wrapping)
        var needed = vertical.firstIndex
        for j in stride(from: outputHeight - 2, through: 0, by: -1) { needed[j] = min(needed[j], needed[j + 1]) }
        stillNeeded = needed
    }

    /// Output rows still to come.
    public var isFinished: Bool { emitted == outputHeight }

    /// Feeds the next input rows; returns the output rows that became ready (possibly none).
    public func push(_ band: PlanarImage) -> PlanarImage {
        precondition(band.width == inputWidth && band.channels == channels, "band does not match the resizer")
        precondition(received + band.height <= inputHeight, "more rows than the image has")
        band.pixels.withUnsafeBufferPointer { input in
            for y in 0..<band.height {
                for c in 0..<channels {
                    var row = [Float](repeating: 0, count: outputWidth)
                    row.withUnsafeMutableBufferPointer { out in
                        horizontal.apply(
                            input.baseAddress! + (c * band.height + y) * inputWidth, inputStride: 1,
                            out.baseAddress!, outputStride: 1)
                    }
                    buffer.append(row)
                }
            }
        }
        received += band.height
        var ready = emitted
        while ready < outputHeight && vertical.lastIndex[ready] < received { ready += 1 }
        var out = PlanarImage(width: outputWidth, height: ready - emitted, channels: channels)
        let taps = vertical.taps
        for j in emitted..<ready {
            for c in 0..<channels {
                let target = (c * out.height + (j - emitted)) * outputWidth
                out.pixels.withUnsafeMutableBufferPointer { output in
                    for t in 0..<taps {
                        let w = vertical.weights[j * taps + t]
                        if w == 0 { continue }
                        let source = buffer[(vertical.indices[j * taps + t] - bufferStart) * channels + c]
                        source.withUnsafeBufferPointer { row in
                            for x in 0..<outputWidth { output[target + x] += w * row[x] }
                        }
                    }
                }
            }
        }
        emitted = ready
        if emitted < outputHeight {
            let drop = min(stillNeeded[emitted], received) - bufferStart
            if drop > 0 {
                buffer.removeFirst(drop * channels)
                bufferStart += drop
            }
        } else {
            buffer.removeAll()
        }
        return out
    }
}

/// Whole-image resizing with MATLAB `imresize` (bicubic, antialiased) semantics.
public enum Resampler {
    /// Resizes every plane of `image` to `width` × `height`; `wrapping` for one tile of a repeating texture.
    public static func resize(_ image: PlanarImage, width: Int, height: Int, wrapping: Bool = false) -> PlanarImage {
        if width == image.width && height == image.height { return image }
        let resizer = StreamingResizer(
            inputWidth: image.width, inputHeight: image.height, outputWidth: width,
            outputHeight: height, channels: image.channels, wrapping: wrapping)
        return resizer.push(image)
    }
}
