/* Failure details (see detail.h). */
#include "core/detail.h"

#include <stdarg.h>
#include <stdio.h>

int detail_set(char *buf, size_t len, int rc, const char *fmt, ...)
{
    va_list ap;

    if (buf == NULL || len == 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return rc;
}
