import CKernels
import Dispatch
import Foundation

/// A 3×3, stride-1, zero-padded convolution by Winograd F(2×2, 3×3) on oneDNN's nChw8c layout (one
/// image, channel counts multiples of 8), with its bias and a LeakyReLU or residual add fused into the
/// output pass: 16 multiplies per 2×2 outputs and channel pair instead of 36. Runs where the CPU has
/// AVX2 and FMA (`isAvailable`); the weights are transformed once, at init.
/// Source [1, inputs, H, W] → destination [1, outputs, H, W], both nChw8c.
public final class WinogradConvolution: @unchecked Sendable {
    public enum Output {
        case store
        /// max(x, slope·x), slope < 1.
        case leakyReLU(slope: Float)
        /// destination += convolution (a residual connection, in place).
        case addToDestination
    }

    /// Which threads run the chunks of tiles.
    public enum Threading: Sendable {
        /// oneDNN's OpenMP team where its runtime is loaded (its idle threads spin and would compete with
        /// ours), else Dispatch's.
        case automatic
        /// Dispatch's always (the fallback; tests run both).
        case dispatch
    }

    public let inputs: Int
    public let outputs: Int
    private let transformed: [Float]
    private let bias: [Float]
    private let output: Output

    public static var isAvailable: Bool { sr_winograd_available() != 0 }

    /// Whether Winograd convolutions may run at all: yes unless `UPSCALE_WINOGRAD=0` (for comparisons
    /// with direct convolutions in `make bench`). Covers this kernel and oneDNN's training one.
    public static let isAllowed = ProcessInfo.processInfo.environment["UPSCALE_WINOGRAD"] != "0"

    /// Whether inference plans use it: where the CPU runs it, unless `isAllowed` is false.
    public static let isEnabled = isAvailable && isAllowed

    /// Whether this kernel takes the shape: 3×3 weights [outputs, inputs, 3, 3], both counts multiples of 8.
    public static func supports(weight shape: [Int]) -> Bool {
        shape.count == 4 && shape[2] == 3 && shape[3] == 3 && shape[0] % 8 == 0 && shape[1] % 8 == 0
    }

    /// - Parameters:
    ///   - weight: [outputs, inputs, 3, 3] (PyTorch's layout).
    ///   - bias: [outputs], or nil.
    public init(weight: Tensor, bias: Tensor?, output: Output) {
        precondition(WinogradConvolution.supports(weight: weight.shape), "Winograd takes 3×3 weights, 8k channels")
        if case .leakyReLU(let slope) = output { precondition(slope < 1, "the fused activation assumes slope < 1") }
        outputs = weight.shape[0]
        inputs = weight.shape[1]
        var transformed = [Float](repeating: 0, count: sr_winograd_weight_count(Int32(inputs), Int32(outputs)))
        sr_winograd_transform_weights(weight.scalars, Int32(inputs), Int32(outputs), &transformed)
        self.transformed = transformed
        self.bias = bias?.scalars ?? [Float](repeating: 0, count: weight.shape[0])
        self.output = output
    }

    /// Runs on `workers` threads, each on its own chunks of tiles.
    /// - Parameters:
    ///   - threading: whose threads (`.automatic` outside tests).
    ///   - source: nChw8c floats of [1, inputs, height, width].
    ///   - destination: nChw8c floats of [1, outputs, height, width]; read too for `.addToDestination`.
    ///   - scratch: at least `scratchCount(workers:)` floats.
    public func run(
        source: UnsafePointer<Float>, destination: UnsafeMutablePointer<Float>, height: Int, width: Int,
        workers: Int, scratch: UnsafeMutablePointer<Float>, threading: Threading = .automatic
    ) {
        let tiles = Int(sr_winograd_tile_count(Int32(height), Int32(width)))
        let chunk = Int(sr_winograd_chunk())
        let chunks = (tiles + chunk - 1) / chunk
        let perWorker = sr_winograd_scratch_count(Int32(inputs), Int32(outputs))
        let (kind, slope): (Int32, Float) =
            switch output {
            case .store: (Int32(SR_WINOGRAD_STORE.rawValue), 0)
            case .leakyReLU(let slope): (Int32(SR_WINOGRAD_LEAKY_RELU.rawValue), slope)
            case .addToDestination: (Int32(SR_WINOGRAD_ADD.rawValue), 0)
            }
        let workers = max(1, min(workers, chunks))
        transformed.withUnsafeBufferPointer { transformed in
            bias.withUnsafeBufferPointer { bias in
                if threading == .automatic,
                    sr_winograd_run_openmp(
                        source, destination, Int32(inputs), Int32(outputs), Int32(height), Int32(width),
                        transformed.baseAddress, bias.baseAddress, kind, slope, Int32(workers), scratch) != 0
                {
                    return
                }
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    let mine = scratch + worker * perWorker
                    var index = worker
                    while index < chunks {
                        let first = index * chunk
                        sr_winograd_run(
                            source, destination, Int32(inputs), Int32(outputs), Int32(height), Int32(width),
                            transformed.baseAddress, bias.baseAddress, kind, slope, Int64(first),
                            Int32(min(chunk, tiles - first)),
                            mine)
                        index += workers
                    }
                }
            }
        }
    }

    /// Floats of scratch `run` needs with `workers` workers.
    public func scratchCount(workers: Int) -> Int {
        max(1, workers) * sr_winograd_scratch_count(Int32(inputs), Int32(outputs))
    }
}
