/* Whole-file reads (see readall.h). */
#include "common/readall.h"

#include <errno.h>
#include <stdlib.h>

#define FIRST_CAP 65536 /* most inputs fit at once; bigger ones double from here */

char *readall_stream(FILE *f, size_t max, size_t *len)
{
    char *buf = NULL;
    size_t cap = 0, n = 0, got;

    *len = 0;
    for (;;) {
        if (cap - n < 4096) {
            size_t ncap = cap ? cap * 2 : FIRST_CAP;
            char *b;

            if (cap > max) {
                errno = EFBIG;
                goto fail;
            }
            if (!(b = realloc(buf, ncap + 1))) {
                errno = ENOMEM;
                goto fail;
            }
            buf = b;
            cap = ncap;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        errno = EIO;
        goto fail;
    }
    if (n > max) {
        errno = EFBIG;
        goto fail;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
fail:
    free(buf);
    return NULL;
}

char *readall_path(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    int saved;

    *len = 0;
    if (!f)
        return NULL;
    buf = readall_stream(f, max, len);
    saved = errno;
    fclose(f);
    errno = saved;
    return buf;
}
