#include "sr_cpu.h"

#include <dlfcn.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t read_xcr0(void) {
    uint32_t low, high;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    return ((uint64_t)high << 32) | low;
}

uint32_t sr_cpu_features(void) {
    uint32_t a, b, c, d, features = 0;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    uint32_t max_leaf = a;
    if (b == 0x756e6547 && d == 0x49656e69 && c == 0x6c65746e) features |= SR_CPU_INTEL; /* GenuineIntel */
    if (b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163) features |= SR_CPU_AMD;   /* AuthenticAMD */
    __get_cpuid(1, &a, &b, &c, &d);
    if (c & (1u << 0)) features |= SR_CPU_SSE3;
    int osxsave = (c >> 27) & 1;
    uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    int ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xE6) == 0xE6, tiles = (xcr0 & 0x60000) == 0x60000;
    if ((c & (1u << 28)) && ymm) features |= SR_CPU_AVX;
    if ((c & (1u << 12)) && ymm) features |= SR_CPU_FMA;
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        uint32_t leaf7_max = a;
        if ((b & (1u << 5)) && ymm) features |= SR_CPU_AVX2;
        if (zmm) {
            if (b & (1u << 16)) features |= SR_CPU_AVX512F;
            if (b & (1u << 17)) features |= SR_CPU_AVX512DQ;
            if (b & (1u << 30)) features |= SR_CPU_AVX512BW;
            if (b & (1u << 31)) features |= SR_CPU_AVX512VL;
        }
        if ((d & (1u << 24)) && tiles) features |= SR_CPU_AMX;
        if (leaf7_max >= 1 && zmm) {
            __cpuid_count(7, 1, a, b, c, d);
            if (a & (1u << 5)) features |= SR_CPU_AVX512BF16;
        }
    }
    return features;
}

void sr_cpu_family_model(int32_t *family, int32_t *model) {
    uint32_t a, b, c, d;
    *family = 0;
    *model = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    uint32_t base_family = (a >> 8) & 0xF, base_model = (a >> 4) & 0xF;
    *family = (int32_t)(base_family == 0xF ? base_family + ((a >> 20) & 0xFF) : base_family);
    *model = (int32_t)((base_family == 0x6 || base_family == 0xF) ? base_model + (((a >> 16) & 0xF) << 4) : base_model);
}
#else
uint32_t sr_cpu_features(void) { return 0; }
void sr_cpu_family_model(int32_t *family, int32_t *model) { *family = 0; *model = 0; }
#endif

int32_t sr_openmp_set_threads(int32_t count) {
    static void (*set_threads)(int);
    static int looked_up;
    if (!__atomic_load_n(&looked_up, __ATOMIC_ACQUIRE)) {
        set_threads = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
        __atomic_store_n(&looked_up, 1, __ATOMIC_RELEASE);
    }
    if (!set_threads) return 0;
    set_threads(count);
    return 1;
}
