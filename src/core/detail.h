/*
 * The human-readable detail that goes with a failure status: the message
 * checks (msg.c) and the admin operations (src/server/admin.c) write theirs
 * the same way, into a caller-owned buffer, and return the status in the
 * same statement.
 */
#ifndef VCP_CORE_DETAIL_H
#define VCP_CORE_DETAIL_H

#include <stddef.h>

/*
 * Formats the detail into buf (len bytes, truncated, always terminated;
 * nothing when buf is NULL or len 0) and returns rc, so a check can end
 * with `return detail_set(buf, len, STATUS, "...", ...)`.
 */
__attribute__((format(printf, 4, 5))) int detail_set(char *buf, size_t len, int rc, const char *fmt,
                                                     ...);

#endif
