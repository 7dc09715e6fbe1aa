import Dispatch
import SRNN
import SRTensor

/// The end of a generator whose last convolution feeds one pixel shuffle onto a global bilinear skip:
/// output = bilinear×r(input) + shuffle(residual), in one pass over the output and in parallel over
/// (channel, row band) pieces. The sums are the same as upsampling, shuffling and adding separately.
enum ShuffleTail {
    /// Input rows per piece: enough pieces to keep every core busy on tiles of 16 rows or more.
    static let rowsPerPiece = 8

    /// - Parameters:
    ///   - input: [1, C, H, W], the generator's input.
    ///   - residual: C·r² plain planes of H × W (PyTorch's pixel-shuffle order).
    /// - Returns: [1, C, H·r, W·r].
    static func run(input: Tensor, residual: UnsafePointer<Float>, base: Upsample) -> Tensor {
        let (channels, height, width, r) = (input.shape[1], input.shape[2], input.shape[3], base.factor)
        let (outHeight, outWidth) = (height * r, width * r)
        let bands = (height + rowsPerPiece - 1) / rowsPerPiece
        let scalars = [Float](unsafeUninitializedCapacity: channels * outHeight * outWidth) { buffer, count in
            input.scalars.withUnsafeBufferPointer { source in
                let (source, target) = (source.baseAddress!, buffer.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: channels * bands) { piece in
                    let (c, band) = piece.quotientAndRemainder(dividingBy: bands)
                    let rows = (band * rowsPerPiece)..<min(height, (band + 1) * rowsPerPiece)
                    let plane = target + c * outHeight * outWidth
                    base.upsample(
                        plane: source + c * height * width, into: plane, height: height, width: width,
                        outputRows: (rows.lowerBound * r)..<(rows.upperBound * r))
                    for i in 0..<r {
                        for j in 0..<r {
                            let shuffled = residual + ((c * r + i) * r + j) * height * width
                            for y in rows {
                                let row = plane + (y * r + i) * outWidth + j
                                let values = shuffled + y * width
                                for x in 0..<width { row[x * r] += values[x] }
                            }
                        }
                    }
                }
            }
            count = channels * outHeight * outWidth
        }
        return Tensor(shape: [1, channels, outHeight, outWidth], scalars: scalars)
    }
}
