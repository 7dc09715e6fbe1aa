// sr_cpu: what the processor (and the operating system) can run, read with cpuid and xgetbv.
#ifndef SR_CPU_H
#define SR_CPU_H

#include <stdint.h>

#define SR_CPU_SSE3 0x1u
#define SR_CPU_AVX 0x2u /* with OS support for the YMM state */
#define SR_CPU_FMA 0x4u
#define SR_CPU_AVX2 0x8u
#define SR_CPU_AVX512F 0x10u /* with OS support for the ZMM and mask state */
#define SR_CPU_AVX512DQ 0x20u
#define SR_CPU_AVX512BW 0x40u
#define SR_CPU_AVX512VL 0x80u
#define SR_CPU_AVX512BF16 0x100u
#define SR_CPU_AMX 0x200u /* AMX-TILE with OS support for the tile state */
#define SR_CPU_INTEL 0x10000u
#define SR_CPU_AMD 0x20000u

/// The SR_CPU_* bits of this processor (0 on non-x86 machines).
uint32_t sr_cpu_features(void);

/// Family and model as the OS reports them in /proc/cpuinfo (display family, display model).
void sr_cpu_family_model(int32_t *family, int32_t *model);

/// Sets how many OpenMP threads the calling thread's next parallel regions use (oneDNN's runtime,
/// found with dlsym so that nothing links OpenMP directly). Returns 0 when none is loaded.
int32_t sr_openmp_set_threads(int32_t count);

#endif
