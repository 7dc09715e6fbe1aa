#include "sr_kernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Weights re-laid as [C][3][3][4] (output channel innermost, zero-padded to 4) so a kernel tap's
   weights for all output channels sit side by side. */
static float *pack_weights(const float *weight, int channels, int output_channels) {
    float *packed = calloc((size_t)channels * 9 * 4, sizeof(float));
    if (!packed) return NULL;
    for (int o = 0; o < output_channels; o++)
        for (int c = 0; c < channels; c++)
            for (int t = 0; t < 9; t++) packed[((size_t)c * 9 + t) * 4 + o] = weight[((size_t)o * channels + c) * 9 + t];
    return packed;
}

/* Reference path: one output pixel at a time, any column range. */
static void narrow_columns(const float *input, int channels, int height, int width, const float *packed,
                           const float *bias, int output_channels, float *output, int y, int x_begin, int x_end) {
    for (int x = x_begin; x < x_end; x++) {
        float sum[4] = {0, 0, 0, 0};
        for (int c = 0; c < channels; c++) {
            for (int ky = 0; ky < 3; ky++) {
                int iy = y + ky - 1;
                if (iy < 0 || iy >= height) continue;
                const float *row = input + ((size_t)c * height + iy) * width;
                for (int kx = 0; kx < 3; kx++) {
                    int ix = x + kx - 1;
                    if (ix < 0 || ix >= width) continue;
                    const float *w = packed + ((size_t)c * 9 + ky * 3 + kx) * 4;
                    for (int o = 0; o < 4; o++) sum[o] += w[o] * row[ix];
                }
            }
        }
        for (int o = 0; o < output_channels; o++)
            output[((size_t)o * height + y) * width + x] = sum[o] + (bias ? bias[o] : 0.0f);
    }
}

#if defined(__x86_64__)
/* One output row at a time, accumulated in an L1-resident buffer [4][W]: for every input channel and
   kernel row, the nine weights (3 taps × 3 outputs) stay in registers while the input row streams
   through in vectors of 8 pixels — 3 loads, 3 accumulator loads and stores, 9 FMAs per vector.
   (Looping over channels innermost instead makes every load miss L1: the 64 planes lie a power of two
   apart and alias to the same cache sets.) */
__attribute__((target("avx2,fma")))
static void narrow_avx2(const float *input, int channels, int height, int width, const float *packed,
                        const float *bias, int output_channels, float *output, float *accumulator, int row_begin,
                        int row_end) {
    for (int y = row_begin; y < row_end; y++) {
        memset(accumulator, 0, sizeof(float) * 4 * (size_t)width);
        for (int c = 0; c < channels; c++) {
            for (int ky = 0; ky < 3; ky++) {
                int iy = y + ky - 1;
                if (iy < 0 || iy >= height) continue;
                const float *r = input + ((size_t)c * height + iy) * width;
                const float *t = packed + ((size_t)c * 9 + ky * 3) * 4;
                for (int o = 0; o < output_channels; o++) {
                    float *acc = accumulator + (size_t)o * width;
                    const __m256 w0 = _mm256_set1_ps(t[o]), w1 = _mm256_set1_ps(t[4 + o]), w2 = _mm256_set1_ps(t[8 + o]);
                    int x = 1;
                    for (; x + 8 <= width - 1; x += 8) {
                        __m256 a = _mm256_loadu_ps(acc + x);
                        a = _mm256_fmadd_ps(w0, _mm256_loadu_ps(r + x - 1), a);
                        a = _mm256_fmadd_ps(w1, _mm256_loadu_ps(r + x), a);
                        a = _mm256_fmadd_ps(w2, _mm256_loadu_ps(r + x + 1), a);
                        _mm256_storeu_ps(acc + x, a);
                    }
                    for (; x < width; x++) {
                        float v = t[4 + o] * r[x];
                        if (x + 1 < width) v += t[8 + o] * r[x + 1];
                        v += t[o] * r[x - 1];
                        acc[x] += v;
                    }
                    if (width > 0) acc[0] += t[4 + o] * r[0] + (width > 1 ? t[8 + o] * r[1] : 0.0f);
                }
            }
        }
        for (int o = 0; o < output_channels; o++) {
            float b = bias ? bias[o] : 0.0f;
            float *out = output + ((size_t)o * height + y) * width;
            const float *acc = accumulator + (size_t)o * width;
            for (int x = 0; x < width; x++) out[x] = acc[x] + b;
        }
    }
}
#endif

void sr_conv3x3_narrow(const float *input, int channels, int height, int width, const float *weight,
                       const float *bias, int output_channels, float *output, int row_begin, int row_end) {
    float *packed = pack_weights(weight, channels, output_channels);
    if (!packed) return;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        float *accumulator = malloc(sizeof(float) * 4 * (size_t)width);
        if (accumulator) {
            narrow_avx2(input, channels, height, width, packed, bias, output_channels, output, accumulator, row_begin, row_end);
            free(accumulator);
            free(packed);
            return;
        }
    }
#endif
    for (int y = row_begin; y < row_end; y++)
        narrow_columns(input, channels, height, width, packed, bias, output_channels, output, y, 0, width);
    free(packed);
}
