/*
 * UTF-8 helpers.  The seed counts message limits in "characters"; vcp counts
 * Unicode code points (docs/API.md §1), so a limit means the same thing whatever
 * script the text is written in.  Pure code, no allocation.
 */
#ifndef VCP_CORE_UTF8_H
#define VCP_CORE_UTF8_H

#include <stddef.h>

/*
 * Number of code points in the len bytes at s, or -1 when they are not
 * well-formed UTF-8 (overlong forms, surrogates, code points past U+10FFFF,
 * truncated sequences and stray continuation bytes are all rejected).
 */
long utf8_count(const char *s, size_t len);

/*
 * Length in bytes (1..4) of the one well-formed UTF-8 sequence that starts
 * at s, of which avail >= 1 bytes are readable; 0 when none starts there
 * (same rules as utf8_count).
 */
size_t utf8_seq_len(const char *s, size_t avail);

#endif
