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
