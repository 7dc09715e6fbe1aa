// sr_codec: the only code that calls libpng and libjpeg.
//
// Both libraries report errors with longjmp, which Swift cannot catch, so every call that can fail
// runs here behind setjmp and returns a status (0 = success, non-zero = failure) plus a one-line
// message written into the caller's buffer. Images stream in bands of rows in both directions.
#ifndef SR_CODEC_H
#define SR_CODEC_H

#include <stddef.h>
#include <stdint.h>

enum { SR_FORMAT_PNG = 0, SR_FORMAT_JPEG = 1 };

/// What an opened file delivers. Samples come interleaved, `channels` per pixel
/// (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA), 8-bit or 16-bit (host byte order).
typedef struct {
    int32_t format;
    int32_t width;
    int32_t height;
    int32_t channels;
    int32_t bit_depth;         /* delivered: 8 or 16 */
    int32_t source_bit_depth;  /* as stored in the file (1, 2, 4, 8 or 16) */
    int32_t interlaced;        /* PNG Adam7: the whole image is decoded at open */
    const uint8_t *icc;        /* ICC profile bytes or NULL; owned by the reader */
    size_t icc_length;
    const uint8_t *exif;       /* EXIF TIFF block (JPEG APP1 after "Exif\0\0", PNG eXIf) or NULL; owned by the reader */
    size_t exif_length;
    const uint8_t *xmp;        /* XMP packet (JPEG APP1, PNG iTXt XML:com.adobe.xmp) or NULL; owned by the reader */
    size_t xmp_length;
    double x_pixels_per_inch;  /* resolution from JPEG's JFIF density or PNG's pHYs; 0 when not stated */
    double y_pixels_per_inch;
} sr_image_info;

/// What an encoder embeds besides the pixels; any pointer may be NULL and any resolution 0.
typedef struct {
    const uint8_t *icc;
    size_t icc_length;
    const uint8_t *exif;       /* TIFF block: PNG eXIf, JPEG APP1 (left out over its 65527-byte limit) */
    size_t exif_length;
    const uint8_t *xmp;        /* packet: PNG iTXt, JPEG APP1 (left out over its 65504-byte limit) */
    size_t xmp_length;
    double x_pixels_per_inch;  /* PNG pHYs, JPEG JFIF density */
    double y_pixels_per_inch;
} sr_metadata;

typedef struct sr_reader sr_reader;
typedef struct sr_writer sr_writer;

/// Opens `path`, sniffs the format from its magic bytes and reads the header. Images of more than
/// `max_pixels` pixels (0: no limit) are refused before any pixel is decoded, and so are interlaced
/// PNGs (decoded whole at open) needing more than `max_whole_bytes` (0: no limit).
int sr_reader_open(const char *path, int64_t max_pixels, int64_t max_whole_bytes, sr_reader **out_reader, sr_image_info *out_info,
                   char *message, size_t message_capacity);
/// Reads the next `rows` rows into `buffer` (rows * width * channels * bit_depth/8 bytes).
int sr_reader_read_rows(sr_reader *reader, uint8_t *buffer, int32_t rows,
                        char *message, size_t message_capacity);
/// Frees the reader (safe at any point, also after an error).
void sr_reader_close(sr_reader *reader);

/// Creates an encoder writing to `path` (an already-opened temporary file of the caller's choice).
/// PNG: channels 1-4, bit_depth 8 or 16, zlib level `png_compression` 0-9. JPEG: channels 1 or 3,
/// bit_depth 8, quality 1-100. `metadata` is embedded as its fields say.
int sr_writer_open(const char *path, int32_t format, int32_t width, int32_t height, int32_t channels,
                   int32_t bit_depth, int32_t quality, int32_t png_compression, const sr_metadata *metadata,
                   sr_writer **out_writer, char *message, size_t message_capacity);
/// Encodes the next `rows` rows from `buffer`, laid out as for sr_reader_read_rows.
int sr_writer_write_rows(sr_writer *writer, const uint8_t *buffer, int32_t rows,
                         char *message, size_t message_capacity);
/// Packs pixels [first, first + count) of `channels` float planes (`plane` pixels apart) into
/// interleaved samples: each value clamped to [0, 1] (NaN to 0), scaled to 255 or 65535 and rounded
/// half away from zero, exactly as Float.rounded() does. 16-bit samples are stored big-endian when
/// `big_endian` is 1, else in the machine's order. A `bit_depth` of 32 copies the floats unchanged (in the
/// machine's order).
void sr_pack_samples(const float *planes, size_t plane, int32_t channels, size_t first, size_t count,
                     int32_t bit_depth, int32_t big_endian, void *out);

/// A piece of a PNG's image data, filtered and compressed on its own (see sr_png_encode_piece).
typedef struct {
    uint8_t *data;          /* raw deflate blocks ending in a sync flush; free with sr_png_piece_free */
    size_t length;
    uint32_t adler;         /* Adler-32 of the filtered bytes */
    size_t filtered_length; /* how many filtered bytes the piece holds */
    int32_t rows;
} sr_png_piece;

/// 1 when the writer takes its PNG rows as pieces (the fast level 1: the Paeth filter and run-length
/// deflate, whose matches never reach back into an earlier piece, so pieces compress in parallel
/// with no loss); then rows go through sr_png_encode_piece and sr_writer_write_piece, never
/// sr_writer_write_rows.
int sr_writer_takes_pieces(const sr_writer *writer);
/// Filters `rows` rows of `row_bytes` bytes (big-endian samples, `pixel_bytes` per pixel) with Paeth
/// and compresses them. `previous` is the unfiltered row above the first (NULL at the image's top).
/// Thread-safe: touches no writer. Returns 0, or 1 when memory runs out.
int sr_png_encode_piece(const uint8_t *rows_data, const uint8_t *previous, size_t row_bytes, int32_t pixel_bytes,
                        int32_t rows, sr_png_piece *out);
void sr_png_piece_free(sr_png_piece *piece);
/// Appends a piece (in image order) as an IDAT chunk.
int sr_writer_write_piece(sr_writer *writer, const sr_png_piece *piece, char *message, size_t message_capacity);
/// Finishes the stream, closes the file and frees the writer (also on failure).
int sr_writer_finish(sr_writer *writer, char *message, size_t message_capacity);
/// Frees the writer and closes its file without finishing the stream.
void sr_writer_abort(sr_writer *writer);

/// JPEG compression artifacts in memory: encodes `pixels` (interleaved 8-bit, 1 gray or 3 RGB
/// channels, width × height) at `quality` (1-100, libjpeg's defaults incl. 4:2:0 chroma subsampling
/// for RGB) and decodes the result into `out` (same size). No file is touched.
int sr_jpeg_roundtrip(const uint8_t *pixels, int32_t width, int32_t height, int32_t channels, int32_t quality,
                      uint8_t *out, char *message, size_t message_capacity);

/* ---------------------------------------------------------------- zlib streams (TIFF Deflate strips) */

typedef struct sr_inflater sr_inflater;
/// A zlib-format (RFC 1950) decompressor; NULL when out of memory.
sr_inflater *sr_inflater_create(void);
/// Decompresses from `input` into `output`, reporting the bytes consumed and produced. Returns 0 while the
/// stream goes on, 1 at its end, -1 when the data is corrupt (never longjmps).
int sr_inflater_run(sr_inflater *inflater, const uint8_t *input, size_t input_length, size_t *consumed,
                    uint8_t *output, size_t output_length, size_t *produced);
void sr_inflater_free(sr_inflater *inflater);
/// The largest zlib-format stream `length` bytes can compress into.
size_t sr_deflate_bound(size_t length);
/// Compresses `input` as one zlib-format stream at `level` (0-9) into `output` (at least
/// `sr_deflate_bound(input_length)` bytes); returns its length, or 0 when out of memory.
size_t sr_deflate(const uint8_t *input, size_t input_length, int32_t level, uint8_t *output, size_t output_capacity);

#endif
