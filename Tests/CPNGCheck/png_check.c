#include "png_check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint32_t big_endian(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int fail(char *message, size_t capacity, const char *reason) {
    snprintf(message, capacity, "%s", reason);
    return 1;
}

int png_check_file(const char *path, char *message, size_t capacity) {
    FILE *file = fopen(path, "rb");
    if (!file) return fail(message, capacity, "cannot open");
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *bytes = malloc(size > 0 ? (size_t)size : 1);
    size_t length = bytes ? fread(bytes, 1, (size_t)size, file) : 0;
    fclose(file);
    if (!bytes || (long)length != size) { free(bytes); return fail(message, capacity, "cannot read"); }
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    int status = 0;
    uint8_t *stream = NULL;
    size_t stream_length = 0, offset = 8, chunks = 0;
    uint32_t width = 0, height = 0;
    unsigned bits = 0, color = 0;
    int ended = 0;
    if (length < 8 || memcmp(bytes, signature, 8) != 0) { status = fail(message, capacity, "no PNG signature"); goto done; }
    while (offset + 12 <= length && !ended) {
        uint32_t chunk_length = big_endian(bytes + offset);
        const uint8_t *type = bytes + offset + 4;
        if (chunk_length > length - offset - 12) { status = fail(message, capacity, "chunk runs past the end"); goto done; }
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), type, chunk_length + 4);
        if (crc != big_endian(bytes + offset + 8 + chunk_length)) { status = fail(message, capacity, "bad chunk CRC"); goto done; }
        const uint8_t *data = bytes + offset + 8;
        if (chunks == 0 && (memcmp(type, "IHDR", 4) != 0 || chunk_length != 13)) {
            status = fail(message, capacity, "IHDR is not first");
            goto done;
        }
        if (memcmp(type, "IHDR", 4) == 0) {
            width = big_endian(data);
            height = big_endian(data + 4);
            bits = data[8];
            color = data[9];
        } else if (memcmp(type, "IDAT", 4) == 0) {
            uint8_t *grown = realloc(stream, stream_length + chunk_length + 1);
            if (!grown) { status = fail(message, capacity, "out of memory"); goto done; }
            stream = grown;
            memcpy(stream + stream_length, data, chunk_length);
            stream_length += chunk_length;
        } else if (memcmp(type, "IEND", 4) == 0) {
            ended = 1;
        }
        offset += 12 + chunk_length;
        chunks += 1;
    }
    if (!ended || offset != length) { status = fail(message, capacity, "IEND is not last"); goto done; }
    static const unsigned samples_per_pixel[7] = {1, 0, 3, 0, 2, 0, 4};
    if (color > 6 || samples_per_pixel[color] == 0 || (bits != 8 && bits != 16)) {
        status = fail(message, capacity, "unexpected colour type or depth");
        goto done;
    }
    size_t row_bytes = (size_t)width * samples_per_pixel[color] * (bits / 8);
    size_t expected = (row_bytes + 1) * height;
    uint8_t *raw = malloc(expected + 1);
    if (!raw) { status = fail(message, capacity, "out of memory"); goto done; }
    z_stream z;
    memset(&z, 0, sizeof z);
    inflateInit(&z);
    z.next_in = stream;
    z.avail_in = (uInt)stream_length;
    z.next_out = raw;
    z.avail_out = (uInt)(expected + 1);
    int result = inflate(&z, Z_FINISH);
    size_t produced = expected + 1 - z.avail_out;
    int trailing = z.avail_in != 0;
    inflateEnd(&z);
    if (result != Z_STREAM_END) status = fail(message, capacity, "image data is not one complete zlib stream (or its Adler-32 is wrong)");
    else if (produced != expected) status = fail(message, capacity, "image data has the wrong length");
    else if (trailing) status = fail(message, capacity, "bytes after the end of the zlib stream");
    for (size_t y = 0; status == 0 && y < height; y++) {
        if (raw[y * (row_bytes + 1)] > 4) status = fail(message, capacity, "unknown filter type");
    }
    free(raw);
done:
    free(stream);
    free(bytes);
    return status;
}
