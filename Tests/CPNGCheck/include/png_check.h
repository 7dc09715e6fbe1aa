// png_check: an independent check of a PNG file's container and compressed stream, for tests.
#ifndef PNG_CHECK_H
#define PNG_CHECK_H

#include <stddef.h>

/// Checks the signature, every chunk's CRC, that IHDR comes first and IEND last, and that the
/// concatenated IDAT data is one complete zlib stream (zlib verifies its Adler-32) holding exactly
/// height rows of a filter byte (0-4) and the row's bytes. Returns 0, or 1 with a reason in `message`.
int png_check_file(const char *path, char *message, size_t message_capacity);

#endif
