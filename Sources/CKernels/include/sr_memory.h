// sr_memory: the allocator policy (glibc's mallopt, which Swift's Glibc module does not export).
#ifndef SR_MEMORY_H
#define SR_MEMORY_H

/// Keeps freed blocks in the process: no mmap for large blocks and no trimming of the heap.
/// Returns 1 when the allocator took the settings (glibc), else 0.
int sr_keep_freed_blocks(void);

#endif
