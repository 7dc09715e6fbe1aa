#include "sr_winograd.h"

#include "sr_cpu.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum { chunk_tiles = 66 }; /* a multiple of the 6-tile register block; V and M fit in L2 for 48-64 channels */

size_t sr_winograd_weight_count(int32_t inputs, int32_t outputs) { return (size_t)16 * inputs * outputs; }

int32_t sr_winograd_chunk(void) { return chunk_tiles; }

int64_t sr_winograd_tile_count(int32_t height, int32_t width) {
    return (int64_t)((height + 1) / 2) * (int64_t)((width + 1) / 2);
}

size_t sr_winograd_scratch_count(int32_t inputs, int32_t outputs) {
    return (size_t)16 * chunk_tiles * ((size_t)inputs + (size_t)outputs);
}

int sr_winograd_available(void) {
    uint32_t need = SR_CPU_AVX2 | SR_CPU_FMA;
    return (sr_cpu_features() & need) == need;
}

void sr_winograd_transform_weights(const float *weights, int32_t inputs, int32_t outputs, float *transformed) {
    /* G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1] */
    static const float g_matrix[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
    for (int32_t k = 0; k < outputs; k++) {
        for (int32_t c = 0; c < inputs; c++) {
            const float *g = weights + ((size_t)k * inputs + c) * 9;
            float temp[4][3];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 3; j++)
                    temp[i][j] = g_matrix[i][0] * g[0 * 3 + j] + g_matrix[i][1] * g[1 * 3 + j] + g_matrix[i][2] * g[2 * 3 + j];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) {
                    float u = temp[i][0] * g_matrix[j][0] + temp[i][1] * g_matrix[j][1] + temp[i][2] * g_matrix[j][2];
                    transformed[((size_t)(i * 4 + j) * inputs + c) * outputs + k] = u;
                }
        }
    }
}

#if defined(__x86_64__)

/* V[ξ][t][c] for the chunk's tiles: Bᵀ·d·B with Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]. */
__attribute__((target("avx2,fma"))) static void transform_input(const float *source, int32_t inputs, int32_t height,
                                                                 int32_t width, int64_t first_tile, int32_t tiles,
                                                                 float *v) {
    int32_t tiles_across = (width + 1) / 2;
    const __m256 zero = _mm256_setzero_ps();
    for (int32_t t = 0; t < tiles; t++) {
        int64_t tile = first_tile + t;
        int32_t y0 = (int32_t)(tile / tiles_across) * 2 - 1, x0 = (int32_t)(tile % tiles_across) * 2 - 1;
        for (int32_t block = 0; block < inputs / 8; block++) {
            const float *plane = source + (size_t)block * height * width * 8;
            __m256 d[4][4];
            for (int i = 0; i < 4; i++) {
                int32_t y = y0 + i;
                for (int j = 0; j < 4; j++) {
                    int32_t x = x0 + j;
                    d[i][j] = y >= 0 && y < height && x >= 0 && x < width
                        ? _mm256_loadu_ps(plane + ((size_t)y * width + x) * 8)
                        : zero;
                }
            }
            __m256 r[4][4];
            for (int j = 0; j < 4; j++) {
                r[0][j] = _mm256_sub_ps(d[0][j], d[2][j]);
                r[1][j] = _mm256_add_ps(d[1][j], d[2][j]);
                r[2][j] = _mm256_sub_ps(d[2][j], d[1][j]);
                r[3][j] = _mm256_sub_ps(d[1][j], d[3][j]);
            }
            for (int i = 0; i < 4; i++) {
                __m256 out[4] = {_mm256_sub_ps(r[i][0], r[i][2]), _mm256_add_ps(r[i][1], r[i][2]),
                                 _mm256_sub_ps(r[i][2], r[i][1]), _mm256_sub_ps(r[i][1], r[i][3])};
                for (int j = 0; j < 4; j++)
                    _mm256_storeu_ps(v + ((size_t)(i * 4 + j) * chunk_tiles + t) * inputs + block * 8, out[j]);
            }
        }
    }
}

/* M[ξ][t][k] = Σ_c V[ξ][t][c] · U[ξ][c][k], six tiles × sixteen outputs at a time. */
__attribute__((target("avx2,fma"))) static void multiply(const float *v, const float *u, int32_t inputs,
                                                         int32_t outputs, int32_t tiles, float *m) {
    for (int xi = 0; xi < 16; xi++) {
        const float *vx = v + (size_t)xi * chunk_tiles * inputs;
        const float *ux = u + (size_t)xi * inputs * outputs;
        float *mx = m + (size_t)xi * chunk_tiles * outputs;
        int32_t t = 0;
        for (; t + 6 <= tiles; t += 6) {
            int32_t k = 0;
            for (; k + 16 <= outputs; k += 16) {
                __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
                __m256 a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
                const float *row = vx + (size_t)t * inputs;
                for (int32_t c = 0; c < inputs; c++) {
                    __m256 w0 = _mm256_loadu_ps(ux + (size_t)c * outputs + k);
                    __m256 w1 = _mm256_loadu_ps(ux + (size_t)c * outputs + k + 8);
                    __m256 b;
                    b = _mm256_broadcast_ss(row + c);
                    a00 = _mm256_fmadd_ps(b, w0, a00), a01 = _mm256_fmadd_ps(b, w1, a01);
                    b = _mm256_broadcast_ss(row + inputs + c);
                    a10 = _mm256_fmadd_ps(b, w0, a10), a11 = _mm256_fmadd_ps(b, w1, a11);
                    b = _mm256_broadcast_ss(row + 2 * inputs + c);
                    a20 = _mm256_fmadd_ps(b, w0, a20), a21 = _mm256_fmadd_ps(b, w1, a21);
                    b = _mm256_broadcast_ss(row + 3 * inputs + c);
                    a30 = _mm256_fmadd_ps(b, w0, a30), a31 = _mm256_fmadd_ps(b, w1, a31);
                    b = _mm256_broadcast_ss(row + 4 * inputs + c);
                    a40 = _mm256_fmadd_ps(b, w0, a40), a41 = _mm256_fmadd_ps(b, w1, a41);
                    b = _mm256_broadcast_ss(row + 5 * inputs + c);
                    a50 = _mm256_fmadd_ps(b, w0, a50), a51 = _mm256_fmadd_ps(b, w1, a51);
                }
                float *out = mx + (size_t)t * outputs + k;
                _mm256_storeu_ps(out, a00), _mm256_storeu_ps(out + 8, a01);
                _mm256_storeu_ps(out + outputs, a10), _mm256_storeu_ps(out + outputs + 8, a11);
                _mm256_storeu_ps(out + 2 * outputs, a20), _mm256_storeu_ps(out + 2 * outputs + 8, a21);
                _mm256_storeu_ps(out + 3 * outputs, a30), _mm256_storeu_ps(out + 3 * outputs + 8, a31);
                _mm256_storeu_ps(out + 4 * outputs, a40), _mm256_storeu_ps(out + 4 * outputs + 8, a41);
                _mm256_storeu_ps(out + 5 * outputs, a50), _mm256_storeu_ps(out + 5 * outputs + 8, a51);
            }
            for (; k < outputs; k += 8) {
                for (int i = 0; i < 6; i++) {
                    __m256 a = _mm256_setzero_ps();
                    const float *row = vx + (size_t)(t + i) * inputs;
                    for (int32_t c = 0; c < inputs; c++)
                        a = _mm256_fmadd_ps(_mm256_broadcast_ss(row + c), _mm256_loadu_ps(ux + (size_t)c * outputs + k), a);
                    _mm256_storeu_ps(mx + (size_t)(t + i) * outputs + k, a);
                }
            }
        }
        for (; t < tiles; t++) {
            const float *row = vx + (size_t)t * inputs;
            for (int32_t k = 0; k < outputs; k += 8) {
                __m256 a = _mm256_setzero_ps();
                for (int32_t c = 0; c < inputs; c++)
                    a = _mm256_fmadd_ps(_mm256_broadcast_ss(row + c), _mm256_loadu_ps(ux + (size_t)c * outputs + k), a);
                _mm256_storeu_ps(mx + (size_t)t * outputs + k, a);
            }
        }
    }
}

/* Aᵀ·m·A with Aᵀ = [1 1 1 0; 0 1 −1 −1], then bias and the output kind. */
__attribute__((target("avx2,fma"))) static void transform_output(const float *m, float *destination, int32_t outputs,
                                                                  int32_t height, int32_t width, const float *bias,
                                                                  int32_t kind, float slope, int64_t first_tile,
                                                                  int32_t tiles) {
    int32_t tiles_across = (width + 1) / 2;
    const __m256 slopes = _mm256_set1_ps(slope);
    for (int32_t t = 0; t < tiles; t++) {
        int64_t tile = first_tile + t;
        int32_t y0 = (int32_t)(tile / tiles_across) * 2, x0 = (int32_t)(tile % tiles_across) * 2;
        for (int32_t block = 0; block < outputs / 8; block++) {
            __m256 v[16];
            for (int xi = 0; xi < 16; xi++)
                v[xi] = _mm256_loadu_ps(m + ((size_t)xi * chunk_tiles + t) * outputs + block * 8);
            __m256 r[2][4];
            for (int j = 0; j < 4; j++) {
                r[0][j] = _mm256_add_ps(_mm256_add_ps(v[j], v[4 + j]), v[8 + j]);
                r[1][j] = _mm256_sub_ps(_mm256_sub_ps(v[4 + j], v[8 + j]), v[12 + j]);
            }
            __m256 b = bias ? _mm256_loadu_ps(bias + block * 8) : _mm256_setzero_ps();
            float *plane = destination + (size_t)block * height * width * 8;
            for (int i = 0; i < 2; i++) {
                if (y0 + i >= height) break;
                __m256 y[2] = {_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(r[i][0], r[i][1]), r[i][2]), b),
                               _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(r[i][1], r[i][2]), r[i][3]), b)};
                for (int j = 0; j < 2; j++) {
                    if (x0 + j >= width) break;
                    float *target = plane + ((size_t)(y0 + i) * width + x0 + j) * 8;
                    __m256 value = y[j];
                    if (kind == SR_WINOGRAD_LEAKY_RELU) value = _mm256_max_ps(value, _mm256_mul_ps(value, slopes));
                    else if (kind == SR_WINOGRAD_ADD) value = _mm256_add_ps(_mm256_loadu_ps(target), value);
                    _mm256_storeu_ps(target, value);
                }
            }
        }
    }
}

void sr_winograd_run(const float *source, float *destination, int32_t inputs, int32_t outputs, int32_t height,
                     int32_t width, const float *transformed, const float *bias, int32_t output_kind, float slope,
                     int64_t first_tile, int32_t tile_count, float *scratch) {
    if (tile_count <= 0) return;
    if (tile_count > chunk_tiles) tile_count = chunk_tiles;
    float *v = scratch, *m = scratch + (size_t)16 * chunk_tiles * inputs;
    transform_input(source, inputs, height, width, first_tile, tile_count, v);
    multiply(v, transformed, inputs, outputs, tile_count, m);
    transform_output(m, destination, outputs, height, width, bias, output_kind, slope, first_tile, tile_count);
}

#else

void sr_winograd_run(const float *source, float *destination, int32_t inputs, int32_t outputs, int32_t height,
                     int32_t width, const float *transformed, const float *bias, int32_t output_kind, float slope,
                     int64_t first_tile, int32_t tile_count, float *scratch) {
    (void)source, (void)destination, (void)inputs, (void)outputs, (void)height, (void)width, (void)transformed;
    (void)bias, (void)output_kind, (void)slope, (void)first_tile, (void)tile_count, (void)scratch;
}

#endif

/* ---- Running every chunk on OpenMP's threads ----
 * oneDNN (Debian's build) threads with libgomp, whose idle workers spin for a while after each parallel
 * region. Chunks run on other threads right after a oneDNN primitive compete with those spinning threads
 * (RRDBNet x4plus ran 30 % slower with Winograd that way). Running them in an OpenMP region of the same
 * pool avoids that. libgomp is found at run time (it is loaded with oneDNN), so nothing links it here. */

typedef void (*gomp_parallel_function)(void (*)(void *), void *, unsigned, unsigned);
typedef int (*omp_query_function)(void);

static gomp_parallel_function gomp_parallel;
static omp_query_function omp_thread_number, omp_thread_count;
static pthread_once_t openmp_once = PTHREAD_ONCE_INIT;

static void resolve_openmp(void) {
    gomp_parallel_function parallel = (gomp_parallel_function)dlsym(RTLD_DEFAULT, "GOMP_parallel");
    omp_query_function number = (omp_query_function)dlsym(RTLD_DEFAULT, "omp_get_thread_num");
    omp_query_function count = (omp_query_function)dlsym(RTLD_DEFAULT, "omp_get_num_threads");
    if (parallel && number && count) gomp_parallel = parallel, omp_thread_number = number, omp_thread_count = count;
}

typedef struct {
    const float *source;
    float *destination;
    int32_t inputs, outputs, height, width;
    const float *transformed, *bias;
    int32_t output_kind;
    float slope;
    int64_t tiles;
    float *scratch;
} winograd_job;

static void run_share(void *argument) {
    const winograd_job *job = argument;
    int thread = omp_thread_number(), threads = omp_thread_count();
    float *mine = job->scratch + (size_t)thread * sr_winograd_scratch_count(job->inputs, job->outputs);
    int64_t chunks = (job->tiles + chunk_tiles - 1) / chunk_tiles;
    for (int64_t chunk = thread; chunk < chunks; chunk += threads) {
        int64_t first = chunk * chunk_tiles;
        int64_t count = job->tiles - first < chunk_tiles ? job->tiles - first : chunk_tiles;
        sr_winograd_run(job->source, job->destination, job->inputs, job->outputs, job->height, job->width,
                        job->transformed, job->bias, job->output_kind, job->slope, first, (int32_t)count, mine);
    }
}

int sr_winograd_run_openmp(const float *source, float *destination, int32_t inputs, int32_t outputs, int32_t height,
                           int32_t width, const float *transformed, const float *bias, int32_t output_kind,
                           float slope, int32_t workers, float *scratch) {
    pthread_once(&openmp_once, resolve_openmp);
    if (!gomp_parallel || workers < 1) return 0;
    winograd_job job = {source, destination, inputs, outputs, height, width, transformed, bias, output_kind, slope,
                        sr_winograd_tile_count(height, width), scratch};
    gomp_parallel(run_share, &job, (unsigned)workers, 0);
    return 1;
}
