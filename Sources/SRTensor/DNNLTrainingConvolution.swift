import CDNNL
import Foundation

/// oneDNN convolutions for training on plain NCHW tensors: forward, backward-data and
/// backward-weights, each in oneDNN's fastest (blocked) layout with reorders at its edges.
///
/// Shapes: input [N, C, H, W], weight [OC, C, K, K], bias [OC], output [N, OC, OH, OW] with
/// OH = (H + 2·padding − K) / stride + 1 (likewise OW). Each shape gets a `Plan` (three primitives
/// and their reorders) made on first use and kept; blocked buffers come from one arena shared by
/// all plans, so memory is a few times the largest activation, not one copy per layer.
/// Every entry point returns nil (or false) when oneDNN has only its slow reference code for a
/// shape; callers then use `Convolution`'s im2col + sgemm path, which is also the reference the
/// tests compare this with.
public enum DNNLTrainingConvolution {
    /// Whether training convolutions use oneDNN: when it is available and `UPSCALE_BACKEND` is not
    /// `reference`.
    public static let isEnabled =
        DNNL.isAvailable && ProcessInfo.processInfo.environment["UPSCALE_BACKEND"] != "reference"

    /// Output = input ⋆ weight + bias. Returns nil when oneDNN cannot run this shape fast.
    public static func forward(input: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) -> Tensor? {
        guard let plan = Cache.shared.plan(input: input.shape, weight: weight.shape, stride: stride, padding: padding),
            let forward = plan.forward
        else { return nil }
        return Cache.shared.withLock { arena in
            forward.run(input: input, weight: weight, bias: bias, arena: arena)
        }
    }

    /// The gradient with respect to the input, [N, C, H, W]. Returns nil when oneDNN cannot run it fast.
    public static func backwardData(
        outputGradient: Tensor, weight: Tensor, inputShape: [Int], stride: Int, padding: Int
    )
        -> Tensor?
    {
        guard
            let plan = Cache.shared.plan(input: inputShape, weight: weight.shape, stride: stride, padding: padding),
            let backward = plan.backwardData
        else { return nil }
        return Cache.shared.withLock { arena in
            backward.run(outputGradient: outputGradient, weight: weight, inputShape: inputShape, arena: arena)
        }
    }

    /// Adds the weight gradient [OC, C, K, K] and the bias gradient [OC] into the accumulators
    /// (either may be nil). Returns false, touching nothing, when oneDNN cannot run it fast.
    public static func backwardWeights(
        outputGradient: Tensor, input: Tensor, weightShape: [Int], stride: Int, padding: Int,
        weightGradient: UnsafeMutablePointer<Float>?, biasGradient: UnsafeMutablePointer<Float>?
    ) -> Bool {
        guard let plan = Cache.shared.plan(input: input.shape, weight: weightShape, stride: stride, padding: padding),
            let backward = plan.backwardWeights
        else { return false }
        return Cache.shared.withLock { arena in
            // Accumulation happens only after oneDNN has run, so a failure leaves the accumulators untouched.
            (try? backward.run(
                outputGradient: outputGradient, input: input, weightGradient: weightGradient,
                biasGradient: biasGradient, arena: arena)) != nil
        }
    }

    /// oneDNN's names for the code each pass of a shape runs (nil where it falls back), for
    /// benchmarks and `--version`-style reports.
    public static func implementations(
        inputShape: [Int], weightShape: [Int], stride: Int, padding: Int
    )
        -> (forward: String?, backwardData: String?, backwardWeights: String?)
    {
        let plan = Cache.shared.plan(input: inputShape, weight: weightShape, stride: stride, padding: padding)
        return (
            plan?.forward?.implementation, plan?.backwardData?.implementation,
            plan?.backwardWeights?.implementation
        )
    }
}

extension DNNLTrainingConvolution {
    /// Plans by shape, and the arena their blocked buffers live in. One lock serialises the
    /// convolutions (oneDNN threads each one over all cores itself).
    final class Cache: @unchecked Sendable {
        static let shared = Cache()
        private let lock = NSLock()
        private var plans: [[Int]: Plan?] = [:]
        private let arena = Arena()

        func plan(input: [Int], weight: [Int], stride: Int, padding: Int) -> Plan? {
            guard DNNLTrainingConvolution.isEnabled, input.count == 4, weight.count == 4, input[1] == weight[1],
                weight[2] == weight[3]
            else { return nil }
            let key = input + weight + [stride, padding]
            lock.lock()
            defer { lock.unlock() }
            if let known = plans[key] { return known }
            let made = try? Plan(input: input, weight: weight, stride: stride, padding: padding)
            plans[key] = .some(made)
            return made
        }

        func withLock<Result>(_ body: (Arena) -> Result) -> Result {
            lock.lock()
            defer { lock.unlock() }
            return body(arena)
        }
    }

    /// Reusable 64-byte-aligned buffers by slot, grown to the largest request seen.
    final class Arena {
        private var buffers: [UnsafeMutableRawPointer?] = Array(repeating: nil, count: 3)
        private var sizes = [Int](repeating: 0, count: 3)

        /// A buffer of at least `floats` floats in `slot` (0..<3); valid until the next call for that slot.
        func buffer(_ slot: Int, floats: Int) -> UnsafeMutablePointer<Float> {
            if sizes[slot] < floats {
                free(buffers[slot])
                var pointer: UnsafeMutableRawPointer?
                guard posix_memalign(&pointer, 64, max(floats, 16) * MemoryLayout<Float>.size) == 0, let pointer else {
                    fatalError("out of memory for a \(floats)-float convolution buffer")
                }
                buffers[slot] = pointer
                sizes[slot] = floats
            }
            return buffers[slot]!.assumingMemoryBound(to: Float.self)
        }

        deinit { buffers.forEach { free($0) } }
    }

    /// One tensor's way into or out of a primitive: a view of the plain tensor when the primitive
    /// takes the plain layout, else a reorder through an arena slot.
    struct Port {
        let plain: dnnl_memory_desc_t
        let wanted: dnnl_memory_desc_t
        let reorderIn: DNNLReorder?
        let reorderOut: DNNLReorder?

        init(plain: dnnl_memory_desc_t, wanted: dnnl_memory_desc_t, direction: Direction) throws {
            self.plain = plain
            self.wanted = wanted
            var (a, b) = (plain, wanted)
            let same = dnnl_memory_desc_equal(&a, &b) != 0
            reorderIn = same || direction == .output ? nil : try DNNLReorder(from: plain, to: wanted)
            reorderOut = same || direction == .input ? nil : try DNNLReorder(from: wanted, to: plain)
        }

        enum Direction { case input, output }

        /// The primitive's memory holding `storage`'s values (reordered into `slot` when needed).
        func input(_ storage: UnsafePointer<Float>, arena: Arena, slot: Int) throws -> DNNLMemory {
            let view = try DNNLMemory(descriptor: plain, storage: UnsafeMutablePointer(mutating: storage))
            guard let reorderIn else { return view }
            let memory = try DNNLMemory(
                descriptor: wanted, storage: arena.buffer(slot, floats: DNNLMemory.floats(in: wanted)))
            reorderIn.run(from: view, to: memory)
            return memory
        }

        /// Memory for the primitive to write, and a finish step that lands it in `storage`.
        func output(
            _ storage: UnsafeMutablePointer<Float>, arena: Arena, slot: Int
        ) throws -> (
            memory: DNNLMemory, finish: () -> Void
        ) {
            let view = try DNNLMemory(descriptor: plain, storage: storage)
            guard let reorderOut else { return (view, {}) }
            let memory = try DNNLMemory(
                descriptor: wanted, storage: arena.buffer(slot, floats: DNNLMemory.floats(in: wanted)))
            return (memory, { reorderOut.run(from: memory, to: view) })
        }
    }
}
