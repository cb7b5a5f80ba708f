/*
 * Byte-to-text encodings that vcpd and libvcp both write: the inside of a
 * JSON string, lowercase hex and decimal digits.  One definition each, so an answer, a
 * webhook body and a signature escape and spell bytes the same way.  Pure:
 * the caller owns every buffer.
 */
#ifndef VCP_CORE_ENCODE_H
#define VCP_CORE_ENCODE_H

#include <stddef.h>
#include <stdint.h>

/* The most encode_json_chars() writes for one input byte ("\u00XX"). */
#define ENCODE_JSON_MAX_PER_BYTE 6

/*
 * Writes s (n bytes) as the inside of a JSON string (RFC 8259 §7) to out,
 * which must hold ENCODE_JSON_MAX_PER_BYTE * n bytes: quote and backslash
 * escaped, \b \f \n \r \t by name, the other C0 controls as \u00XX;
 * everything else (UTF-8 included) copied through.  No quotes, no NUL.
 * Returns the bytes written.
 */
size_t encode_json_chars(char *out, const char *s, size_t n);

/* Writes the n bytes of in as 2n lowercase hex digits and a NUL to out. */
void encode_hex(const void *in, size_t n, char *out);

/* The most encode_dec() writes: the 20 digits of UINT64_MAX. */
#define ENCODE_DEC_MAX 20

/*
 * Writes v in decimal at the END of out (ENCODE_DEC_MAX bytes), no sign, no
 * NUL, and returns where its digits start (they run to out + ENCODE_DEC_MAX).
 */
char *encode_dec(char out[ENCODE_DEC_MAX], uint64_t v);

#endif
