/*
 * Reading a whole file or stream into memory: CA bundles (the webhook
 * checker), certificates and keys (libvcp's webhook responder), JSONL
 * batches and state files, and standard input (vcp).  One reader for all of
 * them, so each gets the same bounds, the same errno on failure and a
 * terminating NUL.  Like curl's curlx files, src/common is compiled into
 * vcpd, libvcp (hidden by its version script) and vcp alike; unlike
 * src/core it does I/O.
 */
#ifndef VCP_COMMON_READALL_H
#define VCP_COMMON_READALL_H

#include <stddef.h>
#include <stdio.h>

/*
 * Reads f to its end into a new buffer, NUL-terminated (caller frees);
 * *len receives the bytes read, without the NUL.  Returns NULL with errno
 * ENOMEM, EFBIG (more than max bytes) or EIO (a read error); f stays open.
 */
char *readall_stream(FILE *f, size_t max, size_t *len);

/* readall_stream() of the file at path, which it opens and closes; NULL
 * with fopen's errno when the file cannot be opened. */
char *readall_path(const char *path, size_t max, size_t *len);

#endif
