// sr_kernels: hand-vectorised compute kernels that BLAS does not cover well.
#ifndef SR_KERNELS_H
#define SR_KERNELS_H

/// Direct 3×3 convolution, stride 1, zero padding 1, for few output channels (1-4), where im2col +
/// GEMM wastes its time writing columns: the generator's last layer (64 → 3 at full resolution).
/// input [C, H, W], weight [OC, C, 3, 3], bias [OC] or NULL, output [OC, H, W] (overwritten).
/// Uses AVX2 + FMA when the CPU has them (checked at run time), portable C otherwise.
/// Computes output rows [row_begin, row_end) only, so callers can split an image across threads.
void sr_conv3x3_narrow(const float *input, int channels, int height, int width, const float *weight,
                       const float *bias, int output_channels, float *output, int row_begin, int row_end);

#endif
