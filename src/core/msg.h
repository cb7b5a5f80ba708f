/*
 * The message model and its rules (docs/API.md §3-§4): one source of truth,
 * used by vcpd to judge requests and by libvcp to judge messages before they
 * are sent, so both give the same status and the same detail text.
 *
 * Messages are json-c objects (what arrives on the wire, or what libvcp's
 * typed constructors build).  Nothing here does I/O or keeps state.
 *
 * Detail strings name the field and the rule, e.g.
 *   "text: required"                       (missingData)
 *   "text: 7001 characters, max 7000"      (badData)
 *   "size: must be an integer"             (badData)
 *   "duration: 181 out of range 0..180"    (badData)
 *   "media: not an absolute http(s) URL"   (badData)
 * docs/API.md lists them all.
 *
 * Values: strings must be JSON strings of valid UTF-8 without U+0000; ""
 * counts as absent for string fields (so an optional "" is fine and dropped
 * by msg_normalize); so does null for picture and video "thumbnail" and
 * video "duration" (Viber's Node SDK sends them so), while null anywhere
 * else is the wrong type.
 * Numbers may be JSON numbers or numeric strings, i.e. a
 * string holding exactly a JSON number ("10000", "-122.3942", "1e3"; not
 * " 1", "+1", "01", "1.", "0x10", "inf"); an integral real (1e4, "10.0") is
 * an integer, a fractional one never is; booleans are never numbers.
 */
#ifndef VCP_CORE_MSG_H
#define VCP_CORE_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "vcp/status.h"

/* Limits from the seed; characters are Unicode code points. */
#define MSG_TEXT_MAX           7000
#define MSG_PICTURE_TEXT_MAX   768
#define MSG_URL_TEXT_MAX       120
#define MSG_URL_MEDIA_MAX      2000
#define MSG_FILE_NAME_MAX      256
#define MSG_CONTACT_NAME_MAX   28
#define MSG_CONTACT_PHONE_MAX  18
#define MSG_SENDER_NAME_MAX    28
#define MSG_MEDIA_SIZE_MAX     52428800 /* 50 MB */
#define MSG_VIDEO_DURATION_MAX 180
#define MSG_STICKER_ID_MAX     9007199254740992LL /* 2^53: exact in every JSON reader, JS too */
#define MSG_DETAIL_MAX         256                /* a detail buffer of this size never truncates */

#define MSG_TYPE_TABLE(X)   \
    X(TEXT, "text")         \
    X(PICTURE, "picture")   \
    X(VIDEO, "video")       \
    X(FILE, "file")         \
    X(CONTACT, "contact")   \
    X(LOCATION, "location") \
    X(URL, "url")           \
    X(STICKER, "sticker")

enum msg_type {
    MSG_TYPE_NONE = -1,
#define MSG_X_ENUM(e, name) MSG_TYPE_##e,
    MSG_TYPE_TABLE(MSG_X_ENUM)
#undef MSG_X_ENUM
        MSG_TYPE_COUNT
};

/* The type named by s ("text", ...; exact, case-sensitive), or MSG_TYPE_NONE. */
enum msg_type msg_type_parse(const char *s);

/* The wire name of t; static string, NULL for MSG_TYPE_NONE. */
const char *msg_type_name(enum msg_type t);

/*
 * Step "from and type present" of §1.3: both keys exist and are not null-free
 * empty strings.  A present value of the wrong JSON type passes here (it fails
 * in a later step with badData).  Returns VCP_STATUS_OK or
 * VCP_STATUS_MISSING_DATA with detail "from: required" / "type: required".
 */
int msg_check_present(const struct json_object *msg, char *detail, size_t detail_len);

/*
 * The steps after the server's superadmin check: "type" names a known type
 * (else badData), then the type's own rules in field order (required field
 * absent or empty: missingData; wrong JSON type, out of range, over a limit,
 * bad URL, forbidden extension: badData), then the optional sender.name.
 * Returns a VCP_STATUS_* and writes the reason to detail ("" on success).
 */
int msg_check_content(const struct json_object *msg, char *detail, size_t detail_len);

/*
 * Client-side validation: msg_check_present, then "from" must be a string,
 * then msg_check_content.  (Whether "from" is a superadmin only the server
 * can tell.)
 */
int msg_validate(const struct json_object *msg, char *detail, size_t detail_len);

/*
 * The stored form of a valid message: a new object with "type" and the type's
 * own fields only, numbers normalised to JSON numbers (numeric strings parsed;
 * integers as int64, lat/lon as double), unknown fields and auth_token
 * dropped.  "from" is not included (it is stored beside).  Call only after
 * msg_check_content returned OK.  Returns NULL only on out-of-memory; the
 * caller owns the result (json_object_put).
 */
struct json_object *msg_normalize(const struct json_object *msg);

/*
 * Reads an integer given as a JSON number or a numeric string ("42").
 * Returns 0 and sets *out; -1 when v is not a number or numeric string, or is
 * fractional ("1.5", 1.5), or is out of int64 range.  Integral reals (1e4,
 * "10.0") count when within +-2^53, where doubles are exact.  out may be NULL.
 * Locale-independent (a decimal point is always '.').
 */
int msg_json_int64(const struct json_object *v, int64_t *out);

/* Same for a finite real number (JSON number or numeric string), converted
 * exactly as strtod would in the C locale; NaN and infinities give -1. */
int msg_json_double(const struct json_object *v, double *out);

/*
 * The post path's one pass (issue 11): reads a /pa/post body, checks it and
 * writes its stored form without building a json-c tree.  It decides only
 * bodies it is sure about, and leaves every other one to the json-c path
 * (body_parse, the body's auth_token, msg_check_present, "from" a string,
 * msg_check_content, msg_normalize), whose answer it would have to repeat:
 * bodies with any escape sequence, a number with an exponent, more than 15
 * digits or written "-0...", a key it reads (from, type, auth_token, sender,
 * the type's fields and their members) given twice, more than 32 members in
 * an object, nesting deeper than 8, and every body body_parse refuses.
 *
 * For a body it decides, the verdict is what the json-c path's steps give,
 * in their order, with the same status and detail byte for byte:
 *   MSG_FAST_ABSENT   msg_check_present refuses it (missingData, "from:
 *                     required" or "type: required");
 *   MSG_FAST_FROM     "from" is given but not a string (the server's
 *                     superadmin step refuses it; from is NULL);
 *   MSG_FAST_REFUSED  msg_check_content refuses it (status, detail); from
 *                     is the sender's id, to be checked first;
 *   MSG_FAST_TAKEN    every check passes: json is exactly the stored form
 *                     msg_normalize gives.
 * The server still runs its own steps (token, channel, webhook, rate,
 * superadmin) around them in docs/API.md's order.
 * tests/fuzz/fuzz_post_fast.c holds the reader to all of this.
 *
 * Returns 0 and fills out, or -1: the json-c path must answer (out holds
 * no token, from or json; also on out-of-memory).  body[len] need not be
 * readable.
 */
enum msg_fast_verdict {
    MSG_FAST_TAKEN,
    MSG_FAST_ABSENT,
    MSG_FAST_FROM,
    MSG_FAST_REFUSED,
};

struct msg_fast {
    enum msg_fast_verdict verdict;
    int status;                  /* VCP_STATUS_OK when taken, else the refusal's */
    char detail[MSG_DETAIL_MAX]; /* the refusal's detail; "" when taken */
    enum msg_type type;          /* taken: the message's type */
    const char *from;            /* "from", a slice of the body (no escapes: its bytes) */
    size_t from_len;
    const char *auth_token; /* the body's auth_token if a non-empty string (a slice), else NULL */
    size_t auth_token_len;
    char *json; /* taken: the stored form, NUL-terminated, malloc'd (the caller frees it); else NULL
                 */
    size_t json_len;
};
int msg_fast_post(const char *body, size_t len, struct msg_fast *out);

#endif
