/*
 * Reading a request body as JSON, the first step of every endpoint
 * (docs/API.md §1): at most BODY_MAX bytes, one JSON object, strict RFC 8259
 * syntax, valid UTF-8 throughout (ignored fields and keys too), strings that
 * hold no U+0000 and no unpaired surrogate, a bounded nesting depth.  vcpd judges what arrives
 * with it and libvcp judges raw JSON messages with it before sending, so both
 * answer a bad body with the same status and detail.
 */
#ifndef VCP_CORE_BODY_H
#define VCP_CORE_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#define BODY_MAX       30720 /* Viber's documented maximum (30 KiB); more is badData */
#define BODY_DEPTH_MAX 16    /* nested objects/arrays; deeper is badData */

/* A tokener set up as bodies are parsed: strict, UTF-8 checked, depth-limited.
 * NULL on out-of-memory; free with json_tokener_free. Reuse it: reset is cheap. */
struct json_tokener *body_tokener_new(void);

/*
 * Parses body (len bytes; body[len] must be readable and NUL) with tok.
 * Returns a new object (the caller puts it), or NULL with *status set to
 * VCP_STATUS_BAD_DATA and the reason in detail (MSG_DETAIL_MAX bytes always
 * suffice): "body: N bytes, max 30720", "body: empty, expected a JSON
 * object", "body: invalid JSON (...)" (a raw control character in a string
 * is one), "body: invalid UTF-8 at byte N", "body: escaped NUL (U+0000) in a
 * string at byte N", "body: unpaired surrogate U+D800 in a string at byte
 * N", "body: nested deeper than 16 levels", "body: must be a JSON object".
 * Integer literals past int64..uint64 keep their text for
 * json_object_to_json_string (json-c's value saturates).  An empty body
 * gives {} when empty_ok.  Only out-of-memory can make it return NULL with
 * *status VCP_STATUS_GENERAL_ERROR.
 */
struct json_object *body_parse(struct json_tokener *tok, const char *body, size_t len,
                               bool empty_ok, int *status, char *detail, size_t detail_len);

#endif
