// sr_winograd: 3×3 stride-1 "same" convolutions by Winograd F(2×2, 3×3) on oneDNN's nChw8c layout
// (8 channels per block, one image), with AVX2 and FMA. Each 2×2 output tile costs 16 multiplies per
// input-output channel pair instead of 36: input tiles go through Bᵀ·d·B, one 6×16 register-blocked
// product per transformed position, and Aᵀ·m·A with bias, activation or residual add on the way out.
#ifndef SR_WINOGRAD_H
#define SR_WINOGRAD_H

#include <stddef.h>
#include <stdint.h>

/// What happens to bias + convolution before it is stored.
enum sr_winograd_output {
    SR_WINOGRAD_STORE = 0,          /* y = conv + bias */
    SR_WINOGRAD_LEAKY_RELU = 1,     /* y = max(v, slope·v) with v = conv + bias (slope < 1) */
    SR_WINOGRAD_ADD = 2,            /* y += conv + bias (a residual connection, in place) */
};

/// Floats of transformed weights for `outputs` × `inputs` channels (16 · inputs · outputs).
size_t sr_winograd_weight_count(int32_t inputs, int32_t outputs);

/// Transforms PyTorch-layout weights [outputs][inputs][3][3] into G·g·Gᵀ, laid out [16][inputs][outputs].
void sr_winograd_transform_weights(const float *weights, int32_t inputs, int32_t outputs, float *transformed);

/// Tiles in a height × width image (2×2 outputs each).
int64_t sr_winograd_tile_count(int32_t height, int32_t width);

/// Floats of scratch one call of sr_winograd_run needs (for at most sr_winograd_chunk tiles).
size_t sr_winograd_scratch_count(int32_t inputs, int32_t outputs);

/// Tiles per chunk of work (a unit of parallelism).
int32_t sr_winograd_chunk(void);

/// 1 when this CPU runs the kernel (AVX2 and FMA with OS support).
int sr_winograd_available(void);

/// Computes tiles [first_tile, first_tile + tile_count) (tile_count at most sr_winograd_chunk) of the
/// convolution of `source` (nChw8c, inputs channels, a multiple of 8) into `destination` (nChw8c,
/// outputs channels, a multiple of 8), zero padding 1. Tiles never overlap, so calls on disjoint
/// ranges may run in parallel, each with its own `scratch`.
void sr_winograd_run(const float *source, float *destination, int32_t inputs, int32_t outputs, int32_t height,
                     int32_t width, const float *transformed, const float *bias, int32_t output_kind, float slope,
                     int64_t first_tile, int32_t tile_count, float *scratch);

/// All tiles of the convolution, in an OpenMP parallel region of `workers` threads on the pool oneDNN uses
/// (libgomp, found at run time). `scratch` holds `workers` × sr_winograd_scratch_count floats. Returns 0,
/// having done nothing, when libgomp is not loaded in this process.
int sr_winograd_run_openmp(const float *source, float *destination, int32_t inputs, int32_t outputs, int32_t height,
                           int32_t width, const float *transformed, const float *bias, int32_t output_kind,
                           float slope, int32_t workers, float *scratch);

#endif
