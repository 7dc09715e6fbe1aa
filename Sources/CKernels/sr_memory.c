#include "sr_memory.h"

#include <stdlib.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

int sr_keep_freed_blocks(void) {
#if defined(__GLIBC__)
    return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, 0x7fffffff) == 1;
#else
    return 0;
#endif
}

enum { huge_page = 2 * 1024 * 1024 };

void *sr_allocate_large(size_t bytes) {
    size_t rounded = (bytes + huge_page - 1) / huge_page * huge_page;
    if (rounded < bytes) return NULL;
    void *pointer = NULL;
    if (posix_memalign(&pointer, huge_page, rounded ? rounded : huge_page) != 0) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(pointer, rounded, MADV_HUGEPAGE);  // advice only: without huge pages the memory still works
#endif
    return pointer;
}

void sr_free_large(void *pointer) { free(pointer); }
