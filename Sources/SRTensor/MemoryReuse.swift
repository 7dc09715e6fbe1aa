import CKernels

/// Process-wide allocator policy for training.
public enum MemoryReuse {
    /// Keeps freed blocks in the process instead of returning them to the system. glibc serves
    /// blocks over 32 MB with fresh `mmap`s, so every training step would page-fault and clear a
    /// few GB of activations anew (about a quarter of a GAN step on 2 cores); training allocates the
    /// same sizes every step, so reusing them is safe and its peak memory stays the same.
    /// Not for streaming inference, whose point is to give memory back.
    public static func keepFreedBlocks() { _ = sr_keep_freed_blocks() }
}

/// Float buffers for large feature maps, aligned to 2 MiB and backed by transparent huge pages where
/// Linux offers them (`madvise`): the first touch of a 100 MB map then takes about 50 page faults
/// instead of 25 000.
public enum LargeBuffer {
    public struct AllocationFailure: Error, CustomStringConvertible {
        public let bytes: Int
        public var description: String { "out of memory allocating \(bytes / 1_000_000) MB for feature maps" }
    }

    /// - Throws: `AllocationFailure` when the system has no memory for `count` floats.
    public static func allocate(floats count: Int) throws -> UnsafeMutablePointer<Float> {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard let raw = sr_allocate_large(bytes) else { throw AllocationFailure(bytes: bytes) }
        return raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    public static func free(_ pointer: UnsafeMutablePointer<Float>) { sr_free_large(pointer) }
}
