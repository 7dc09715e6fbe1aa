/* zlib streams for TIFF's Deflate strips: status codes, never longjmp. */
#include <stdlib.h>
#include <zlib.h>

#include "sr_codec.h"

struct sr_inflater {
    z_stream stream;
};

sr_inflater *sr_inflater_create(void) {
    sr_inflater *inflater = calloc(1, sizeof *inflater);
    if (!inflater) return NULL;
    if (inflateInit(&inflater->stream) != Z_OK) {
        free(inflater);
        return NULL;
    }
    return inflater;
}

int sr_inflater_run(sr_inflater *inflater, const uint8_t *input, size_t input_length, size_t *consumed,
                    uint8_t *output, size_t output_length, size_t *produced) {
    z_stream *stream = &inflater->stream;
    /* zlib counts in uInt; callers pass chunks well below 4 GB, but clamp so nothing wraps. */
    uInt in = input_length > 0x40000000u ? 0x40000000u : (uInt)input_length;
    uInt out = output_length > 0x40000000u ? 0x40000000u : (uInt)output_length;
    stream->next_in = (Bytef *)input;
    stream->avail_in = in;
    stream->next_out = output;
    stream->avail_out = out;
    int status = inflate(stream, Z_NO_FLUSH);
    *consumed = in - stream->avail_in;
    *produced = out - stream->avail_out;
    if (status == Z_STREAM_END) return 1;
    if (status == Z_OK || status == Z_BUF_ERROR) return 0;
    return -1;
}

void sr_inflater_free(sr_inflater *inflater) {
    if (!inflater) return;
    inflateEnd(&inflater->stream);
    free(inflater);
}

size_t sr_deflate_bound(size_t length) { return compressBound((uLong)length); }

size_t sr_deflate(const uint8_t *input, size_t input_length, int32_t level, uint8_t *output, size_t output_capacity) {
    uLongf length = (uLongf)output_capacity;
    if (compress2(output, &length, input, (uLong)input_length, level) != Z_OK) return 0;
    return (size_t)length;
}
