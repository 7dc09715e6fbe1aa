#include "sr_memory.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int sr_keep_freed_blocks(void) {
#if defined(__GLIBC__)
    return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, 0x7fffffff) == 1;
#else
    return 0;
#endif
}
