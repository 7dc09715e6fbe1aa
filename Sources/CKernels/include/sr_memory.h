// sr_memory: the allocator policy (glibc's mallopt, which Swift's Glibc module does not export) and
// large buffers backed by transparent huge pages.
#ifndef SR_MEMORY_H
#define SR_MEMORY_H

#include <stddef.h>

/// Keeps freed blocks in the process: no mmap for large blocks and no trimming of the heap.
/// Returns 1 when the allocator took the settings (glibc), else 0.
int sr_keep_freed_blocks(void);

/// `bytes` of memory aligned to 2 MiB and, where the kernel offers it (Linux `madvise`), backed by
/// transparent huge pages: a first touch then faults in 2 MiB at a time instead of 4 KiB.
/// Returns NULL when the allocation fails. Release with `sr_free_large`.
void *sr_allocate_large(size_t bytes);
void sr_free_large(void *pointer);

#endif
