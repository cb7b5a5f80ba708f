/*
 * libvcp internals shared by the files of src/client: the message object,
 * the pieces of a call that are pure (answer parsing, account parsing, the
 * backoff schedule) and so can be unit-tested without a network, and result
 * helpers.  Nothing here is part of the public API; the shared library
 * exports only vcp_* symbols (see libvcp.map).
 */
#ifndef VCP_CLIENT_INTERNAL_H
#define VCP_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "vcp/vcp.h"

/* A message is a json-c object, exactly what is validated and sent. */
struct vcp_msg {
    struct json_object *obj; /* owned; type json_type_object */
};

/* Answers are small; a longer one is a protocol error, not a reason to grow forever. */
#define CLIENT_ANSWER_MAX (4 * 1024 * 1024)

/* Resets r to "no answer yet". */
void result_reset(struct vcp_result *r);

/* Sets r->status, r->status_name and r->detail (printf-style). */
void result_set(struct vcp_result *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes printf-style text to r->detail only. */
void result_detail(struct vcp_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Parses an API answer (HTTP 200 body).  Fills status, status name, message,
 * detail, and for posts message_token, chat_hostname, billing_status.
 * Returns VCP_E_OK (status 0), VCP_E_STATUS (non-zero status), or
 * VCP_E_PROTOCOL (not JSON, not an object, status missing or not an integer,
 * message_token not a positive 64-bit integer when want_token).  If root is
 * not NULL and the body parsed, *root receives a reference the caller puts.
 */
int response_parse(const char *body, size_t len, bool want_token, struct vcp_result *r,
                   struct json_object **root);

/* Builds an account from a parsed get_account_info answer; NULL when out of memory. */
struct vcp_account *account_from_json(struct json_object *root);

/*
 * The delay before retry number `attempt` (1-based): exponential from
 * initial_ms, capped at max_ms, with "equal jitter": half the delay fixed,
 * half drawn from rnd, so many clients spread out but none retries at once.
 * Pure, for tests.
 */
long backoff_delay_ms(long initial_ms, long max_ms, int attempt, uint32_t rnd);

/* A small xorshift step for jitter; never returns 0 for a non-zero state. */
uint32_t backoff_rand(uint32_t *state);

/*
 * Parses a Retry-After header value given in seconds ("3"); returns
 * milliseconds, or -1 when it is absent or not a plain number (HTTP dates are
 * ignored).
 */
long retry_after_ms(const char *value);

#endif
