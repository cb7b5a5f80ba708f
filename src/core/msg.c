/*
 * The message rules of docs/API.md §3-§4, written once as data.  Each message
 * type is a table of fields (key, kind, required?, limits); one walker checks
 * a message against its table in table order, and another builds the stored
 * form from the same table, so the rules and the normalised shape can never
 * drift apart.  Adding a rule is a table edit, not new code.
 *
 * What the walker enforces for every field:
 *   - absent (or, for a required string, "") -> missingData "F: required";
 *   - present with the wrong JSON type (null included) -> badData, but
 *     for the three optional fields where null counts as absent
 *     (F_NULL_ABSENT: picture and video thumbnail, video duration), which
 *     Viber's Node SDK (viber-bot) sends as null when it was not given
 *     them -- a departure from DESIGN.md §1.4, docs/API.md §1;
 *   - strings: no U+0000 (stored and shown through C strings, where it would
 *     silently cut the value), valid UTF-8, limits counted in code points;
 *   - numbers: JSON numbers or numeric strings (a string holding exactly a
 *     JSON number: "10000", "37.7898"; not " 1", "0x10", "inf", "+1", ".5");
 *     an integer field also takes an integral real (1e4, "10.0") up to 2^53,
 *     but never a fractional one; booleans are never numbers; a number out
 *     of range is quoted in the detail as it was sent (shortened).
 *
 * Numeric strings are converted without strtod (whose decimal point follows
 * the host program's locale, which a library must not assume): the common
 * case (<= 19 significant digits, small exponent) is Clinger's exact fast
 * path, anything else goes through json-c's own locale-safe number parser.
 */
#include "core/msg.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/detail.h"
#include "core/url.h"
#include "core/utf8.h"

/* ---- details ------------------------------------------------------------ */

/* Where a check writes its reason; buf may be NULL. */
struct det {
    char *buf;
    size_t len;
};

/* Writes the reason into d and returns status (see detail.h). */
#define say(d, status, ...) detail_set((d)->buf, (d)->len, (status), __VA_ARGS__)

static void det_clear(struct det *d)
{
    if (d->buf != NULL && d->len > 0)
        d->buf[0] = '\0';
}

#define ECHO_MAX 32 /* user text quoted in a detail: at most this many bytes */

/*
 * Copies user text for quoting in a detail: printable ASCII only (others,
 * and '"' and '\\', become '?', so the result is valid UTF-8 and reads well
 * inside quotes), cut at ECHO_MAX bytes with "..." appended.  out must hold
 * ECHO_MAX + 4 bytes.
 */
static void echo(char *out, const char *s, size_t len)
{
    size_t n = len < ECHO_MAX ? len : ECHO_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
    }
    if (len > ECHO_MAX) {
        memcpy(out + n, "...", 4);
    } else {
        out[n] = '\0';
    }
}

/* ---- numbers ------------------------------------------------------------ */

#define EXACT_INT_MAX 9007199254740992.0 /* 2^53: doubles are exact integers up to here */
#define SLOW_NUM_MAX  400                /* longer numeric strings are converted from the heap */
#define REAL_REPR_MAX 32                 /* "%.17g" of any double fits */

enum num_kind {
    NUM_NONE, /* not a number (wrong type, bad numeric string) */
    NUM_INT,  /* an exact integer in i (d holds it too) */
    NUM_REAL, /* a finite real in d: fractional, or integral but outside int64/2^53 */
    NUM_HUGE, /* a number too large for a double (1e400, 5,000 digits) */
};

struct num {
    enum num_kind kind;
    int64_t i;
    double d;
};

static void num_from_double(double v, struct num *n)
{
    n->d = v;
    if (isnan(v)) {
        n->kind = NUM_NONE; /* json-c's NaN, never from a body (body.c refuses it) */
    } else if (isinf(v)) {
        n->kind = NUM_HUGE;
    } else if (v == trunc(v) && fabs(v) <= EXACT_INT_MAX) {
        n->kind = NUM_INT;
        n->i = (int64_t)v;
    } else {
        n->kind = NUM_REAL;
    }
}

/* The rare numeric strings the fast paths do not take: json-c converts. */
static void slow_num(const char *s, size_t len, bool is_int, struct num *n)
{
    char stack[SLOW_NUM_MAX + 3];
    char *buf = len <= SLOW_NUM_MAX ? stack : malloc(len + 3);

    n->kind = NUM_NONE;
    if (buf == NULL)
        return; /* out of memory: reported as "not a number", never crashes */
    memcpy(buf, s, len);
    /* An integer too big for int64: json-c would saturate it, ".0" makes it
     * a real that is rounded correctly instead. */
    memcpy(buf + len, is_int ? ".0" : "", is_int ? 3 : 1);
    struct json_object *o = json_tokener_parse(buf);
    if (buf != stack)
        free(buf);
    if (o == NULL)
        return; /* out of memory: reported as "not a number", never crashes */
    num_from_double(json_object_get_double(o), n);
    json_object_put(o);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * A numeric string: exactly the JSON number grammar
 *   -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
 * so "1.5" is a real, "abc", "", " 1", "01", "+1", "1.", "0x1A" are not numbers.
 */
static void parse_num(const char *s, size_t len, struct num *n)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0;
    bool neg = false, is_int = true;
    uint64_t m = 0;    /* significant digits, while they fit */
    int sig = 0;       /* how many significant digits went into m */
    bool lost = false; /* more significant digits than m can hold exactly */
    long frac = 0;     /* digits after the point */
    long exp = 0;

    n->kind = NUM_NONE;
    if (i < len && s[i] == '-') {
        neg = true;
        i++;
    }
    if (i >= len || !is_digit(s[i]))
        return;
    if (s[i] == '0' && i + 1 < len && is_digit(s[i + 1]))
        return; /* leading zero */
    for (; i < len && is_digit(s[i]); i++) {
        if (m == 0 && s[i] == '0')
            continue;
        if (sig < 19) {
            m = m * 10 + (uint64_t)(s[i] - '0');
            sig++;
        } else {
            lost = true; /* too many digits for the fast paths */
        }
    }
    if (i < len && s[i] == '.') {
        is_int = false;
        size_t start = ++i;
        for (; i < len && is_digit(s[i]); i++) {
            if (m == 0 && s[i] == '0') {
                frac++;
                continue;
            }
            if (sig < 19) {
                m = m * 10 + (uint64_t)(s[i] - '0');
                sig++;
                frac++;
            } else {
                lost = true;
            }
        }
        if (i == start)
            return;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        is_int = false;
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        size_t start = i;
        for (; i < len && is_digit(s[i]); i++) {
            if (exp < 100000 && exp > -100000)
                exp = exp * 10 + (eneg ? -(s[i] - '0') : (s[i] - '0'));
        }
        if (i == start)
            return;
    }
    if (i != len)
        return;

    if (is_int && !lost) {
        /* m holds all digits (at most 19, so < 10^19 < 2^64). */
        if (!neg && m <= (uint64_t)INT64_MAX) {
            n->kind = NUM_INT;
            n->i = (int64_t)m;
            n->d = (double)n->i;
            return;
        }
        if (neg && m <= (uint64_t)INT64_MAX + 1) {
            n->kind = NUM_INT;
            n->i = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
            n->d = m == 0 ? -0.0 : (double)n->i; /* "-0" reads as strtod reads it */
            return;
        }
    }
    if (!lost) {
        /* Clinger's fast path: m and 10^|e| are exact doubles, so a single
         * multiplication or division rounds correctly, like strtod. */
        long e = exp - frac;
        if (m == 0) {
            num_from_double(neg ? -0.0 : 0.0, n);
            return;
        }
        if (m <= (uint64_t)EXACT_INT_MAX && e >= -22 && e <= 22) {
            double v = e >= 0 ? (double)m * pow10[e] : (double)m / pow10[-e];
            num_from_double(neg ? -v : v, n);
            return;
        }
    }
    slow_num(s, len, is_int, n);
}

/* Reads a JSON number or numeric string; never fails, classifies. */
static void read_num(const struct json_object *v, struct num *n)
{
    n->kind = NUM_NONE;
    n->i = 0;
    n->d = 0;
    switch (json_object_get_type(v)) {
    case json_type_int: {
        int64_t i = json_object_get_int64(v);
        uint64_t u = json_object_get_uint64(v);
        if (i == INT64_MAX && u > (uint64_t)INT64_MAX) {
            num_from_double((double)u, n); /* json-c keeps big positives as uint64 */
        } else {
            n->kind = NUM_INT;
            n->i = i;
            n->d = (double)i;
        }
        break;
    }
    case json_type_double:
        num_from_double(json_object_get_double(v), n);
        break;
    case json_type_string:
        parse_num(json_object_get_string((struct json_object *)v),
                  (size_t)json_object_get_string_len(v), n);
        break;
    default: /* null, boolean, object, array */
        break;
    }
}

/*
 * The shortest of %.15g, %.16g, %.17g that reads back as exactly v, with '.'
 * whatever the locale says ("37.7898", not "37.789799999999998").  v must be
 * finite.  buf holds REAL_REPR_MAX bytes.
 */
static void real_repr(double v, char *buf)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, REAL_REPR_MAX, "%.*g", prec, v);
        for (char *p = buf; *p != '\0'; p++) {
            if (*p == ',')
                *p = '.'; /* a locale with a decimal comma */
        }
        struct num back;
        parse_num(buf, strlen(buf), &back);
        if (back.kind != NUM_NONE && back.d == v)
            return;
    }
}

int msg_json_int64(const struct json_object *v, int64_t *out)
{
    struct num n;
    read_num(v, &n);
    if (n.kind != NUM_INT)
        return -1;
    if (out != NULL)
        *out = n.i;
    return 0;
}

int msg_json_double(const struct json_object *v, double *out)
{
    struct num n;
    read_num(v, &n);
    if (n.kind != NUM_INT && n.kind != NUM_REAL)
        return -1;
    if (out != NULL)
        *out = n.d;
    return 0;
}

/* ---- the rules as data -------------------------------------------------- */

enum kind {
    K_TEXT,      /* string with a character limit */
    K_URL,       /* absolute http(s) URL (a string) */
    K_FILE_NAME, /* string with an extension that is not forbidden */
    K_INT,       /* integer in lo..hi */
    K_REAL,      /* real in lo..hi */
    K_OBJECT,    /* nested object with its own fields */
};

enum {
    F_REQ = 1,         /* required: absent -> missingData */
    F_EMPTY_OK = 2,    /* a required string that may be "" (picture text) */
    F_JPEG = 4,        /* URL path must end in .jpeg or .jpg */
    F_NULL_ABSENT = 8, /* null counts as absent: Viber's Node SDK sends it for this field */
};

struct field {
    const char *key;         /* JSON key; NULL ends a table */
    const char *path;        /* dotted name used in details */
    enum kind kind;          /* what the value must be */
    unsigned flags;          /* F_* */
    long max;                /* strings: max code points, 0 for no limit */
    int64_t lo, hi;          /* numbers: inclusive range */
    const struct field *sub; /* K_OBJECT: the nested fields */
};

static const struct field text_fields[] = {
    {.key = "text", .path = "text", .kind = K_TEXT, .flags = F_REQ, .max = MSG_TEXT_MAX},
    {.key = NULL},
};

static const struct field picture_fields[] = {
    {.key = "text",
     .path = "text",
     .kind = K_TEXT,
     .flags = F_REQ | F_EMPTY_OK,
     .max = MSG_PICTURE_TEXT_MAX},
    {.key = "media", .path = "media", .kind = K_URL, .flags = F_REQ | F_JPEG},
    {.key = "thumbnail", .path = "thumbnail", .kind = K_URL, .flags = F_NULL_ABSENT},
    {.key = NULL},
};

static const struct field video_fields[] = {
    {.key = "media", .path = "media", .kind = K_URL, .flags = F_REQ},
    {.key = "size",
     .path = "size",
     .kind = K_INT,
     .flags = F_REQ,
     .lo = 1,
     .hi = MSG_MEDIA_SIZE_MAX},
    {.key = "duration",
     .path = "duration",
     .kind = K_INT,
     .flags = F_NULL_ABSENT,
     .lo = 0,
     .hi = MSG_VIDEO_DURATION_MAX},
    {.key = "thumbnail", .path = "thumbnail", .kind = K_URL, .flags = F_NULL_ABSENT},
    {.key = NULL},
};

static const struct field file_fields[] = {
    {.key = "media", .path = "media", .kind = K_URL, .flags = F_REQ},
    {.key = "size",
     .path = "size",
     .kind = K_INT,
     .flags = F_REQ,
     .lo = 1,
     .hi = MSG_MEDIA_SIZE_MAX},
    {.key = "file_name",
     .path = "file_name",
     .kind = K_FILE_NAME,
     .flags = F_REQ,
     .max = MSG_FILE_NAME_MAX},
    {.key = NULL},
};

static const struct field contact_sub[] = {
    {.key = "name",
     .path = "contact.name",
     .kind = K_TEXT,
     .flags = F_REQ,
     .max = MSG_CONTACT_NAME_MAX},
    {.key = "phone_number",
     .path = "contact.phone_number",
     .kind = K_TEXT,
     .flags = F_REQ,
     .max = MSG_CONTACT_PHONE_MAX},
    {.key = NULL},
};

static const struct field contact_fields[] = {
    {.key = "contact", .path = "contact", .kind = K_OBJECT, .flags = F_REQ, .sub = contact_sub},
    {.key = NULL},
};

static const struct field location_sub[] = {
    {.key = "lat", .path = "location.lat", .kind = K_REAL, .flags = F_REQ, .lo = -90, .hi = 90},
    {.key = "lon", .path = "location.lon", .kind = K_REAL, .flags = F_REQ, .lo = -180, .hi = 180},
    {.key = NULL},
};

static const struct field location_fields[] = {
    {.key = "location", .path = "location", .kind = K_OBJECT, .flags = F_REQ, .sub = location_sub},
    {.key = NULL},
};

static const struct field url_fields[] = {
    {.key = "media", .path = "media", .kind = K_URL, .flags = F_REQ, .max = MSG_URL_MEDIA_MAX},
    {.key = "text", .path = "text", .kind = K_TEXT, .max = MSG_URL_TEXT_MAX},
    {.key = NULL},
};

static const struct field sticker_fields[] = {
    {.key = "sticker_id",
     .path = "sticker_id",
     .kind = K_INT,
     .flags = F_REQ,
     .lo = 1,
     .hi = MSG_STICKER_ID_MAX},
    {.key = NULL},
};

static const struct field *const type_fields[MSG_TYPE_COUNT] = {
    [MSG_TYPE_TEXT] = text_fields,       [MSG_TYPE_PICTURE] = picture_fields,
    [MSG_TYPE_VIDEO] = video_fields,     [MSG_TYPE_FILE] = file_fields,
    [MSG_TYPE_CONTACT] = contact_fields, [MSG_TYPE_LOCATION] = location_fields,
    [MSG_TYPE_URL] = url_fields,         [MSG_TYPE_STICKER] = sticker_fields,
};

/* Optional for every type, checked last.  sender.avatar is not a rule (the
 * seed has no sender at all); msg_normalize keeps it only when it is a URL. */
static const struct field sender_sub[] = {
    {.key = "name", .path = "sender.name", .kind = K_TEXT, .max = MSG_SENDER_NAME_MAX},
    {.key = NULL},
};

static const struct field sender_field = {
    .key = "sender", .path = "sender", .kind = K_OBJECT, .sub = sender_sub};

/* Viber's forbidden file extensions, sorted (bsearch), lowercase. */
static const char *const forbidden_ext[] = {
    "action", "apk", "app",    "bat",  "bin", "cmd",      "com",      "command", "cpl",
    "csh",    "exe", "gadget", "inf1", "ins", "inx",      "ipa",      "isu",     "job",
    "jse",    "ksh", "lnk",    "msc",  "msi", "msp",      "mst",      "osx",     "out",
    "paf",    "pif", "prg",    "ps1",  "reg", "rgs",      "run",      "sct",     "shb",
    "shs",    "u3p", "vb",     "vbe",  "vbs", "vbscript", "workflow", "ws",      "wsf",
};
#define FORBIDDEN_EXT_COUNT (sizeof forbidden_ext / sizeof forbidden_ext[0])
#define EXT_MAX             8 /* longest forbidden extension ("vbscript", "workflow") */

static const char *const type_names[MSG_TYPE_COUNT] = {
#define MSG_X_NAME(e, name) [MSG_TYPE_##e] = name,
    MSG_TYPE_TABLE(MSG_X_NAME)
#undef MSG_X_NAME
};

/* "text, picture, ..., sticker, ": the valid names, for the unknown-type detail
 * (which prints all but the last ", "). */
static const char type_list[] =
#define MSG_X_LIST(e, name) name ", "
    MSG_TYPE_TABLE(MSG_X_LIST)
#undef MSG_X_LIST
    ;

/* ---- types -------------------------------------------------------------- */

static enum msg_type type_of(const char *s, size_t len)
{
    for (int t = 0; t < MSG_TYPE_COUNT; t++) {
        if (strlen(type_names[t]) == len && memcmp(type_names[t], s, len) == 0)
            return (enum msg_type)t;
    }
    return MSG_TYPE_NONE;
}

enum msg_type msg_type_parse(const char *s)
{
    return s == NULL ? MSG_TYPE_NONE : type_of(s, strlen(s));
}

const char *msg_type_name(enum msg_type t)
{
    return (t > MSG_TYPE_NONE && t < MSG_TYPE_COUNT) ? type_names[t] : NULL;
}

/* ---- checks ------------------------------------------------------------- */

static int cmp_ext(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

/*
 * The extension is what follows the last '.', ignoring trailing spaces
 * (Windows drops them, so "a.exe " would run as a.exe).  No '.', a '.' only
 * at the start (".bashrc") or at the end ("a.") means no extension.
 */
static int check_ext(const char *s, size_t len, const struct field *f, struct det *d)
{
    size_t end = len;
    while (end > 0 && s[end - 1] == ' ')
        end--;
    size_t dot = end;
    while (dot > 0 && s[dot - 1] != '.')
        dot--;
    if (dot <= 1 || dot == end) /* no '.', leading '.' only, or trailing '.' */
        return say(d, VCP_STATUS_BAD_DATA, "%s: no extension", f->path);
    size_t n = end - dot;
    if (n > EXT_MAX)
        return VCP_STATUS_OK;
    char ext[EXT_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        char c = s[dot + i];
        ext[i] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
    }
    ext[n] = '\0';
    if (bsearch(ext, forbidden_ext, FORBIDDEN_EXT_COUNT, sizeof forbidden_ext[0], cmp_ext))
        return say(d, VCP_STATUS_BAD_DATA, "%s: forbidden extension .%s", f->path, ext);
    return VCP_STATUS_OK;
}

/* The rules of a string field for its len bytes at s (msg_fast_post's
 * values are not NUL-terminated: nothing here reads s[len]). */
static int check_str(const char *s, size_t len, const struct field *f, struct det *d)
{
    if (len == 0) {
        /* "" is absent: fine when optional, missing when required. */
        if ((f->flags & F_REQ) && !(f->flags & F_EMPTY_OK))
            return say(d, VCP_STATUS_MISSING_DATA, "%s: required", f->path);
        return VCP_STATUS_OK;
    }
    if (memchr(s, '\0', len) != NULL)
        return say(d, VCP_STATUS_BAD_DATA, "%s: contains a NUL character", f->path);
    long chars = utf8_count(s, len);
    if (chars < 0)
        return say(d, VCP_STATUS_BAD_DATA, "%s: not valid UTF-8", f->path);
    if (f->max > 0 && chars > f->max)
        return say(d, VCP_STATUS_BAD_DATA, "%s: %ld characters, max %ld", f->path, chars, f->max);
    if (f->kind == K_URL) {
        struct url_parts u;
        if (url_parse(s, len, &u) != 0)
            return say(d, VCP_STATUS_BAD_DATA, "%s: not an absolute http(s) URL", f->path);
        if ((f->flags & F_JPEG) && !url_path_has_ext(s, &u, ".jpeg") &&
            !url_path_has_ext(s, &u, ".jpg"))
            return say(d, VCP_STATUS_BAD_DATA, "%s: path must end in .jpeg or .jpg", f->path);
    } else if (f->kind == K_FILE_NAME) {
        return check_ext(s, len, f, d);
    }
    return VCP_STATUS_OK;
}

/* The refusal of a value of the wrong JSON type (null included) for f. */
static int wrong_type(const struct field *f, struct det *d)
{
    static const char *const what[] = {
        [K_TEXT] = "a string",  [K_URL] = "a string",  [K_FILE_NAME] = "a string",
        [K_INT] = "an integer", [K_REAL] = "a number", [K_OBJECT] = "an object",
    };
    return say(d, VCP_STATUS_BAD_DATA, "%s: must be %s", f->path, what[f->kind]);
}

/* The verdict on an absent field f. */
static int absent(const struct field *f, struct det *d)
{
    if (f->flags & F_REQ)
        return say(d, VCP_STATUS_MISSING_DATA, "%s: required", f->path);
    return VCP_STATUS_OK;
}

static int check_string(const struct json_object *v, const struct field *f, struct det *d)
{
    if (!json_object_is_type(v, json_type_string))
        return wrong_type(f, d);
    return check_str(json_object_get_string((struct json_object *)v),
                     (size_t)json_object_get_string_len(v), f, d);
}

#define SHOWN_MAX (ECHO_MAX + 4) /* a number as shown in a detail; >= REAL_REPR_MAX */

/*
 * A number as it was sent, for a detail, when that can be told without the
 * value's own text: a numeric string's text (str, len bytes; NULL for a JSON
 * number), or a JSON number that reads exactly, as it reads.  false for a
 * JSON number too large to be exact (show_num then prints the value's text).
 * Shortened as echo() does.
 */
static bool show_num_exact(const char *str, size_t len, const struct num *n, char *out)
{
    if (str) {
        echo(out, str, len);
    } else if (n->kind == NUM_INT) {
        detail_set(out, SHOWN_MAX, 0, "%" PRId64, n->i); /* detail.c: cheaper than snprintf */
    } else if (n->kind == NUM_REAL && fabs(n->d) <= EXACT_INT_MAX) {
        real_repr(n->d, out);
    } else {
        return false;
    }
    return true;
}

/*
 * show_num_exact for a json-c value; anything else (too large to be exact,
 * or for a double at all) as json-c prints it, which for a parsed body is
 * the text that was sent (json-c keeps a real's text, and the body reader
 * gives a saturated integer back its own) -- never the rounded value.
 */
static void show_num(const struct json_object *v, const struct num *n, char *out)
{
    const char *s;
    size_t len;

    if (json_object_is_type(v, json_type_string)) {
        s = json_object_get_string((struct json_object *)v);
        len = (size_t)json_object_get_string_len(v);
    } else {
        s = NULL;
        len = 0;
    }
    if (show_num_exact(s, len, n, out))
        return;
    s = json_object_to_json_string_length((struct json_object *)v, JSON_C_TO_STRING_PLAIN, &len);
    echo(out, s, len);
}

/* Where a number stands against its field's rule. */
enum num_verdict {
    NV_OK,    /* a number in range */
    NV_TYPE,  /* not a number, or a fractional one for an integer field */
    NV_RANGE, /* out of range (the detail quotes it: show_num) */
};

static enum num_verdict judge_num(const struct num *n, const struct field *f)
{
    if (n->kind == NUM_NONE)
        return NV_TYPE;
    if (n->kind == NUM_INT) {
        if (n->i >= f->lo && n->i <= f->hi)
            return NV_OK;
    } else if (n->kind == NUM_REAL) {
        if (f->kind == K_INT && n->d != trunc(n->d))
            return NV_TYPE;
        if (f->kind == K_REAL && n->d >= (double)f->lo && n->d <= (double)f->hi)
            return NV_OK;
        /* an integral real past 2^53 is out of every integer range we have */
    }
    /* NUM_HUGE is out of every range */
    return NV_RANGE;
}

static int out_of_range(const struct field *f, const char *shown, struct det *d)
{
    return say(d, VCP_STATUS_BAD_DATA, "%s: %s out of range %" PRId64 "..%" PRId64, f->path, shown,
               f->lo, f->hi);
}

static int check_number(const struct json_object *v, const struct field *f, struct det *d)
{
    struct num n;
    char shown[SHOWN_MAX];

    read_num(v, &n);
    switch (judge_num(&n, f)) {
    case NV_OK:
        return VCP_STATUS_OK;
    case NV_TYPE:
        return wrong_type(f, d);
    default:
        show_num(v, &n, shown);
        return out_of_range(f, shown, d);
    }
}

static int check_fields(const struct json_object *obj, const struct field *f, struct det *d);

static int check_field(const struct json_object *obj, const struct field *f, struct det *d)
{
    struct json_object *v;

    if (!json_object_object_get_ex(obj, f->key, &v))
        return absent(f, d);
    if (v == NULL && (f->flags & F_NULL_ABSENT)) /* json-c's JSON null */
        return absent(f, d);
    switch (f->kind) {
    case K_OBJECT:
        if (!json_object_is_type(v, json_type_object))
            return wrong_type(f, d);
        return check_fields(v, f->sub, d);
    case K_INT:
    case K_REAL:
        return check_number(v, f, d);
    default:
        return check_string(v, f, d);
    }
}

static int check_fields(const struct json_object *obj, const struct field *f, struct det *d)
{
    for (; f->key != NULL; f++) {
        int rc = check_field(obj, f, d);
        if (rc != VCP_STATUS_OK)
            return rc;
    }
    return VCP_STATUS_OK;
}

/* Absent, or the empty string: both are "not given" for from and type. */
static bool given(const struct json_object *msg, const char *key)
{
    struct json_object *v;
    if (!json_object_object_get_ex(msg, key, &v))
        return false;
    return !(json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0);
}

/* The refusal of a "type" (len bytes at s) that names no message type. */
static int unknown_type(const char *s, size_t len, struct det *d)
{
    char shown[ECHO_MAX + 4];

    echo(shown, s, len);
    return say(d, VCP_STATUS_BAD_DATA, "type: unknown message type \"%s\" (one of %.*s)", shown,
               (int)(sizeof type_list - 3), type_list);
}

int msg_check_present(const struct json_object *msg, char *detail, size_t detail_len)
{
    struct det d = {detail, detail_len};

    det_clear(&d);
    if (!given(msg, "from"))
        return say(&d, VCP_STATUS_MISSING_DATA, "from: required");
    if (!given(msg, "type"))
        return say(&d, VCP_STATUS_MISSING_DATA, "type: required");
    return VCP_STATUS_OK;
}

int msg_check_content(const struct json_object *msg, char *detail, size_t detail_len)
{
    struct det d = {detail, detail_len};
    struct json_object *t;

    det_clear(&d);
    if (!json_object_object_get_ex(msg, "type", &t))
        return say(&d, VCP_STATUS_MISSING_DATA, "type: required");
    if (!json_object_is_type(t, json_type_string))
        return say(&d, VCP_STATUS_BAD_DATA, "type: must be a string");
    const char *s = json_object_get_string(t);
    size_t len = (size_t)json_object_get_string_len(t);
    if (len == 0)
        return say(&d, VCP_STATUS_MISSING_DATA, "type: required");
    enum msg_type type = type_of(s, len);
    if (type == MSG_TYPE_NONE)
        return unknown_type(s, len, &d);
    int rc = check_fields(msg, type_fields[type], &d);
    if (rc != VCP_STATUS_OK)
        return rc;
    return check_field(msg, &sender_field, &d);
}

int msg_validate(const struct json_object *msg, char *detail, size_t detail_len)
{
    struct det d = {detail, detail_len};
    struct json_object *from;

    int rc = msg_check_present(msg, detail, detail_len);
    if (rc != VCP_STATUS_OK)
        return rc;
    json_object_object_get_ex(msg, "from", &from);
    if (!json_object_is_type(from, json_type_string))
        return say(&d, VCP_STATUS_BAD_DATA, "from: must be a string");
    return msg_check_content(msg, detail, detail_len);
}

/* ---- normalisation ------------------------------------------------------ */

/* Adds val under a static key; takes val (freed on failure). */
static int add(struct json_object *obj, const char *key, struct json_object *val)
{
    if (val == NULL)
        return -1;
    if (json_object_object_add_ex(
            obj, key, val, JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT) != 0) {
        json_object_put(val);
        return -1;
    }
    return 0;
}

/* A real that stays a JSON real when read back ("90.0", not "90"). */
static struct json_object *new_real(double v)
{
    char repr[REAL_REPR_MAX + 2];
    real_repr(v, repr);
    if (strpbrk(repr, ".eE") == NULL) {
        size_t n = strlen(repr);
        memcpy(repr + n, ".0", 3);
    }
    return json_object_new_double_s(v, repr);
}

/*
 * Copies the fields of table f from src to dst in table order, in their
 * stored form.  Values that would fail the checks are skipped (the caller
 * was to check first; this only keeps a misuse from storing junk).
 * Returns -1 on out-of-memory.
 */
static int norm_fields(const struct json_object *src, const struct field *f,
                       struct json_object *dst)
{
    for (; f->key != NULL; f++) {
        struct json_object *v, *out = NULL;
        struct num n;
        if (!json_object_object_get_ex(src, f->key, &v))
            continue;
        switch (f->kind) {
        case K_OBJECT:
            if (!json_object_is_type(v, json_type_object))
                continue;
            out = json_object_new_object();
            if (out == NULL)
                return -1;
            if (norm_fields(v, f->sub, out) != 0) {
                json_object_put(out);
                return -1;
            }
            break;
        case K_INT:
            read_num(v, &n);
            if (n.kind != NUM_INT)
                continue;
            out = json_object_new_int64(n.i);
            break;
        case K_REAL:
            read_num(v, &n);
            if (n.kind != NUM_INT && n.kind != NUM_REAL)
                continue;
            out = new_real(n.d);
            break;
        default: {
            if (!json_object_is_type(v, json_type_string))
                continue;
            int len = json_object_get_string_len(v);
            if (len == 0 && !(f->flags & F_EMPTY_OK))
                continue; /* "" is absent */
            out = json_object_new_string_len(json_object_get_string(v), len);
            break;
        }
        }
        if (add(dst, f->key, out) != 0)
            return -1;
    }
    return 0;
}

/* sender: name (checked) and avatar when it is a URL; omitted when empty. */
static int norm_sender(const struct json_object *msg, struct json_object *dst)
{
    struct json_object *sender, *avatar;

    if (!json_object_object_get_ex(msg, "sender", &sender) ||
        !json_object_is_type(sender, json_type_object))
        return 0;
    struct json_object *out = json_object_new_object();
    if (out == NULL)
        return -1;
    if (norm_fields(sender, sender_sub, out) != 0)
        goto fail;
    if (json_object_object_get_ex(sender, "avatar", &avatar) &&
        json_object_is_type(avatar, json_type_string)) {
        const char *s = json_object_get_string(avatar);
        int len = json_object_get_string_len(avatar);
        struct url_parts u;
        if (url_parse(s, (size_t)len, &u) == 0 &&
            add(out, "avatar", json_object_new_string_len(s, len)) != 0)
            goto fail;
    }
    if (json_object_object_length(out) == 0) {
        json_object_put(out);
        return 0;
    }
    return add(dst, "sender", out);
fail:
    json_object_put(out);
    return -1;
}

struct json_object *msg_normalize(const struct json_object *msg)
{
    struct json_object *t;

    if (!json_object_object_get_ex(msg, "type", &t) || !json_object_is_type(t, json_type_string))
        return NULL;
    enum msg_type type = type_of(json_object_get_string(t), (size_t)json_object_get_string_len(t));
    if (type == MSG_TYPE_NONE)
        return NULL;

    struct json_object *out = json_object_new_object();
    if (out == NULL)
        return NULL;
    if (add(out, "type", json_object_new_string(type_names[type])) != 0 ||
        norm_fields(msg, type_fields[type], out) != 0 || norm_sender(msg, out) != 0) {
        json_object_put(out);
        return NULL;
    }
    return out;
}

/* ---- the one-pass post reader (msg_fast_post) --------------------------- */

/*
 * What a value in the body is, as the reader saw it: a slice of the body.
 * Strings are the bytes between the quotes (the reader takes no escapes, so
 * they are the string itself); numbers, literals, objects and arrays their
 * whole text.
 */
enum fv_kind { FV_STR, FV_NUM, FV_LIT, FV_NULL, FV_OBJ, FV_ARR };

struct fv {
    enum fv_kind kind;
    const char *s;
    size_t len;
};

#define FAST_MEMBERS 32 /* members of one object; more: the json-c path */
#define FAST_DEPTH   8  /* nesting the reader follows; deeper: the json-c path */
#define FAST_DIGITS  15 /* digits of a JSON number; more: the json-c path */

struct fobj {
    size_t n;
    struct {
        const char *key;
        size_t klen;
        struct fv v;
    } m[FAST_MEMBERS];
};

static const char *fast_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* A string without escapes or raw control characters, of well-formed UTF-8
 * (the rules body.c's scan applies); p is at the opening quote. */
static const char *fast_str(const char *p, const char *end, struct fv *v)
{
    const char *q = ++p;

    while (q < end && *q != '"') {
        unsigned char c = (unsigned char)*q;
        if (c == '\\' || c < 0x20)
            return NULL;
        if (c >= 0x80) {
            size_t k = utf8_seq_len(q, (size_t)(end - q));
            if (k == 0)
                return NULL;
            q += k;
        } else {
            q++;
        }
    }
    if (q >= end)
        return NULL;
    v->kind = FV_STR;
    v->s = p;
    v->len = (size_t)(q - p);
    return q + 1;
}

/*
 * A number json-c and parse_num are sure to read alike:
 * -?(0|[1-9][0-9]*)(.[0-9]+)? with at most FAST_DIGITS digits, no exponent,
 * and no "-0..." (json-c reads "-0" as the integer 0, parse_num as -0.0).
 */
static const char *fast_num(const char *p, const char *end, struct fv *v)
{
    const char *q = p;
    int digits = 0;

    if (q < end && *q == '-') {
        q++;
        if (q < end && *q == '0')
            return NULL;
    }
    if (q >= end || !is_digit(*q))
        return NULL;
    if (*q == '0' && q + 1 < end && is_digit(q[1]))
        return NULL;
    for (; q < end && is_digit(*q); q++)
        digits++;
    if (q < end && *q == '.') {
        const char *f = ++q;
        for (; q < end && is_digit(*q); q++)
            digits++;
        if (q == f)
            return NULL;
    }
    if (digits > FAST_DIGITS || (q < end && (*q == 'e' || *q == 'E')))
        return NULL;
    v->kind = FV_NUM;
    v->s = p;
    v->len = (size_t)(q - p);
    return q;
}

static const char *fast_value(const char *p, const char *end, int depth, struct fv *v);

/* An object (p at '{'); its members go to o when o is not NULL. */
static const char *fast_obj(const char *p, const char *end, int depth, struct fobj *o)
{
    struct fv key, val;

    if (depth > FAST_DEPTH)
        return NULL;
    if (o)
        o->n = 0;
    p = fast_ws(p + 1, end);
    if (p < end && *p == '}')
        return p + 1;
    for (;;) {
        if (p >= end || *p != '"' || !(p = fast_str(p, end, &key)))
            return NULL;
        p = fast_ws(p, end);
        if (p >= end || *p != ':')
            return NULL;
        p = fast_ws(p + 1, end);
        if (!(p = fast_value(p, end, depth, &val)))
            return NULL;
        if (o) {
            if (o->n == FAST_MEMBERS)
                return NULL;
            o->m[o->n].key = key.s;
            o->m[o->n].klen = key.len;
            o->m[o->n].v = val;
            o->n++;
        }
        p = fast_ws(p, end);
        if (p < end && *p == ',') {
            p = fast_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}')
            break;
        return NULL;
    }
    return p + 1;
}

static const char *fast_arr(const char *p, const char *end, int depth)
{
    struct fv val;

    if (depth > FAST_DEPTH)
        return NULL;
    p = fast_ws(p + 1, end);
    if (p < end && *p == ']')
        return p + 1;
    for (;;) {
        if (!(p = fast_value(p, end, depth, &val)))
            return NULL;
        p = fast_ws(p, end);
        if (p < end && *p == ',') {
            p = fast_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == ']')
            return p + 1;
        return NULL;
    }
}

static bool fast_lit(const char *p, const char *end, const char *lit, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

/* Any value; nested objects and arrays are checked, not kept. */
static const char *fast_value(const char *p, const char *end, int depth, struct fv *v)
{
    const char *q;

    if (p >= end)
        return NULL;
    v->s = p;
    switch (*p) {
    case '"':
        return fast_str(p, end, v);
    case '{':
        v->kind = FV_OBJ;
        q = fast_obj(p, end, depth + 1, NULL);
        break;
    case '[':
        v->kind = FV_ARR;
        q = fast_arr(p, end, depth + 1);
        break;
    case 't':
        v->kind = FV_LIT;
        q = fast_lit(p, end, "true", 4) ? p + 4 : NULL;
        break;
    case 'f':
        v->kind = FV_LIT;
        q = fast_lit(p, end, "false", 5) ? p + 5 : NULL;
        break;
    case 'n':
        v->kind = FV_NULL;
        q = fast_lit(p, end, "null", 4) ? p + 4 : NULL;
        break;
    default:
        return fast_num(p, end, v);
    }
    if (q)
        v->len = (size_t)(q - p);
    return q;
}

/*
 * The value of key in o: 1 and *v when it is there once, 0 when absent,
 * -1 when it is there more than once (json-c would keep the last; the
 * reader leaves such bodies to it).
 */
static int fast_get(const struct fobj *o, const char *key, struct fv *v)
{
    size_t klen = strlen(key);
    int found = 0;

    for (size_t i = 0; i < o->n; i++) {
        if (o->m[i].klen == klen && memcmp(o->m[i].key, key, klen) == 0) {
            if (found)
                return -1;
            *v = o->m[i].v;
            found = 1;
        }
    }
    return found;
}

/* Parses a nested object value again, keeping its members this time. */
static bool fast_sub(const struct fv *v, struct fobj *o)
{
    return v->kind == FV_OBJ && fast_obj(v->s, v->s + v->len, 2, o) != NULL;
}

/* The output of the reader: a buffer sized for the body (see msg_fast_post). */
struct fout {
    char *buf;
    size_t len, cap;
    bool full;
};

static void put(struct fout *o, const char *s, size_t n)
{
    if (o->len + n >= o->cap) {
        o->full = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void put_key(struct fout *o, bool *first, const char *key)
{
    put(o, *first ? "\"" : ",\"", *first ? 1 : 2);
    put(o, key, strlen(key));
    put(o, "\":", 2);
    *first = false;
}

/*
 * fast_fields and fast_number: a verdict only json-c can give (a key of
 * interest given twice, a nested object past the reader's limits).
 */
#define FAST_DECLINE (-1)

/* check_number's verdict and detail for a value as the reader saw it; n
 * gets the number. */
static int fast_number(const struct fv *v, const struct field *f, struct num *n, struct det *d)
{
    char shown[SHOWN_MAX];

    if (v->kind == FV_NUM || v->kind == FV_STR)
        parse_num(v->s, v->len, n); /* as read_num reads the json-c value (fast_num) */
    else
        n->kind = NUM_NONE;
    switch (judge_num(n, f)) {
    case NV_OK:
        return VCP_STATUS_OK;
    case NV_TYPE:
        return wrong_type(f, d);
    default:
        /* a JSON number the reader takes has at most FAST_DIGITS digits,
         * so it is always exact: show_num would not need json-c's text */
        if (!show_num_exact(v->kind == FV_STR ? v->s : NULL, v->len, n, shown))
            return FAST_DECLINE;
        return out_of_range(f, shown, d);
    }
}

/*
 * Checks the fields of table f in o as check_fields does -- same order,
 * same verdict, same detail (into d) -- and writes their stored form as
 * norm_fields does.  Returns VCP_STATUS_OK, the refusal, or FAST_DECLINE.
 * *first: nothing written in the enclosing object yet (no comma before).
 */
static int fast_fields(const struct fobj *o, const struct field *f, struct fout *out, bool *first,
                       struct det *d)
{
    int rc;

    for (; f->key != NULL; f++) {
        struct fv v;
        struct num n;
        int got = fast_get(o, f->key, &v);

        if (got < 0)
            return FAST_DECLINE;
        if (got == 0) {
            if ((rc = absent(f, d)) != VCP_STATUS_OK)
                return rc;
            continue;
        }
        if (v.kind == FV_NULL && (f->flags & F_NULL_ABSENT)) {
            if ((rc = absent(f, d)) != VCP_STATUS_OK) /* as check_field says */
                return rc;
            continue;
        }
        switch (f->kind) {
        case K_OBJECT: {
            struct fobj sub;
            bool inner = true;
            if (v.kind != FV_OBJ)
                return wrong_type(f, d);
            if (!fast_sub(&v, &sub))
                return FAST_DECLINE;
            put_key(out, first, f->key);
            put(out, "{", 1);
            if ((rc = fast_fields(&sub, f->sub, out, &inner, d)) != VCP_STATUS_OK)
                return rc;
            put(out, "}", 1);
            break;
        }
        case K_INT:
        case K_REAL: {
            char repr[REAL_REPR_MAX + 2];
            if ((rc = fast_number(&v, f, &n, d)) != VCP_STATUS_OK)
                return rc;
            put_key(out, first, f->key);
            if (f->kind == K_INT) {
                detail_set(repr, sizeof repr, 0, "%" PRId64, n.i); /* cheaper than snprintf */
            } else {
                real_repr(n.d, repr);
                if (strpbrk(repr, ".eE") == NULL) {
                    size_t k = strlen(repr);
                    memcpy(repr + k, ".0", 3);
                }
            }
            put(out, repr, strlen(repr));
            break;
        }
        default:
            if (v.kind != FV_STR)
                return wrong_type(f, d);
            if ((rc = check_str(v.s, v.len, f, d)) != VCP_STATUS_OK)
                return rc;
            if (v.len == 0 && !(f->flags & F_EMPTY_OK))
                continue; /* "" is absent */
            /* no escapes or control characters came in, and json-c escapes
             * nothing else ('/' is written plainly): the bytes as they are */
            put_key(out, first, f->key);
            put(out, "\"", 1);
            put(out, v.s, v.len);
            put(out, "\"", 1);
            break;
        }
    }
    return VCP_STATUS_OK;
}

/* msg_check_present's "given" for a key of the top object: 1 given, 0 not
 * (absent or ""), -1 given twice (json-c's to judge). */
static int fast_given(const struct fobj *top, const char *key, struct fv *v)
{
    int got = fast_get(top, key, v);

    if (got == 1 && v->kind == FV_STR && v->len == 0)
        return 0;
    return got;
}

/* Ends msg_fast_post with a verdict other than MSG_FAST_TAKEN. */
static int fast_refuse(struct msg_fast *out, enum msg_fast_verdict verdict, int status)
{
    out->verdict = verdict;
    out->status = status;
    return 0;
}

int msg_fast_post(const char *body, size_t len, struct msg_fast *out)
{
    const char *end = body + len, *p;
    struct fobj top;
    struct fv from, type, tok, sender;
    struct fout o = {NULL, 0, 0, false};
    struct det d = {out->detail, sizeof out->detail};
    enum msg_type t;
    bool first;
    int got, rc;

    /* field by field: detail is only written when there is a refusal */
    out->verdict = MSG_FAST_TAKEN;
    out->status = VCP_STATUS_OK;
    out->detail[0] = '\0';
    out->type = MSG_TYPE_NONE;
    out->from = NULL;
    out->from_len = 0;
    out->auth_token = NULL;
    out->auth_token_len = 0;
    out->json = NULL;
    out->json_len = 0;
    if (len == 0 || len > 30720) /* BODY_MAX (core/body.h): longer is badData */
        return -1;
    p = fast_ws(body, end);
    if (p >= end || *p != '{' || !(p = fast_obj(p, end, 1, &top)) || fast_ws(p, end) != end)
        return -1;
    /* find_token's body field: a non-empty string, else none */
    if ((got = fast_get(&top, "auth_token", &tok)) < 0)
        return -1;
    if (got == 1 && tok.kind == FV_STR && tok.len > 0) {
        out->auth_token = tok.s;
        out->auth_token_len = tok.len;
    }
    /* msg_check_present: "from", then "type", given */
    rc = FAST_DECLINE;
    if ((got = fast_given(&top, "from", &from)) < 0)
        goto fail;
    if (got == 0)
        return fast_refuse(out, MSG_FAST_ABSENT,
                           say(&d, VCP_STATUS_MISSING_DATA, "from: required"));
    if ((got = fast_given(&top, "type", &type)) < 0)
        goto fail;
    if (got == 0)
        return fast_refuse(out, MSG_FAST_ABSENT,
                           say(&d, VCP_STATUS_MISSING_DATA, "type: required"));
    /* the server's superadmin step wants "from" a string */
    if (from.kind != FV_STR)
        return fast_refuse(out, MSG_FAST_FROM, VCP_STATUS_BAD_DATA);
    out->from = from.s;
    out->from_len = from.len;
    /* msg_check_content: the type, its fields, the sender */
    if (type.kind != FV_STR)
        return fast_refuse(out, MSG_FAST_REFUSED,
                           say(&d, VCP_STATUS_BAD_DATA, "type: must be a string"));
    if ((t = type_of(type.s, type.len)) == MSG_TYPE_NONE)
        return fast_refuse(out, MSG_FAST_REFUSED, unknown_type(type.s, type.len, &d));

    /* The stored form is never longer than the body plus a little: values
     * are copied or shortened, except reals that gain ".0" (at most two
     * fields) and the key "type" that is always there. */
    o.cap = len + 64;
    o.buf = malloc(o.cap);
    if (!o.buf)
        goto fail;
    put(&o, "{\"type\":\"", 9);
    put(&o, type_names[t], strlen(type_names[t]));
    put(&o, "\"", 1);
    first = false; /* "type" is written */
    if ((rc = fast_fields(&top, type_fields[t], &o, &first, &d)) != VCP_STATUS_OK)
        goto fail;
    rc = FAST_DECLINE;
    /* sender: must be an object when present; name checked; avatar kept
     * when it is a URL; omitted when nothing is kept */
    if ((got = fast_get(&top, "sender", &sender)) < 0)
        goto fail;
    if (got == 1) {
        struct fobj sub;
        struct fv av;
        struct url_parts u;
        size_t mark = o.len;
        bool inner = true;

        if (sender.kind != FV_OBJ) {
            rc = wrong_type(&sender_field, &d);
            goto fail;
        }
        if (!fast_sub(&sender, &sub))
            goto fail;
        put(&o, ",\"sender\":{", 11);
        if ((rc = fast_fields(&sub, sender_sub, &o, &inner, &d)) != VCP_STATUS_OK)
            goto fail;
        rc = FAST_DECLINE;
        if ((got = fast_get(&sub, "avatar", &av)) < 0)
            goto fail;
        if (got == 1 && av.kind == FV_STR && url_parse(av.s, av.len, &u) == 0) {
            put_key(&o, &inner, "avatar");
            put(&o, "\"", 1);
            put(&o, av.s, av.len);
            put(&o, "\"", 1);
        }
        if (inner)
            o.len = mark; /* nothing kept */
        else
            put(&o, "}", 1);
    }
    put(&o, "}", 1);
    if (o.full)
        goto fail;
    o.buf[o.len] = '\0';
    out->type = t;
    out->json = o.buf;
    out->json_len = o.len;
    return 0;
fail: /* rc: the refusal, or FAST_DECLINE */
    free(o.buf);
    if (rc != FAST_DECLINE)
        return fast_refuse(out, MSG_FAST_REFUSED, rc);
    out->detail[0] = '\0';
    out->from = NULL;
    out->from_len = 0;
    out->auth_token = NULL;
    out->auth_token_len = 0;
    return -1;
}
