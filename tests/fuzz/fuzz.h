/*
 * Shared bits of the fuzz targets: the libFuzzer entry point's prototype and
 * CHECK(), an assertion that stays on in release builds (the replay drivers
 * of the normal build have NDEBUG set) and says which property broke.
 */
#ifndef VCP_FUZZ_H
#define VCP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

#endif
