/*
 * Channel administration, one implementation for both ways in: the offline
 * command line (`vcpd channel …`, `vcpd member …` on the database file) and
 * the admin HTTP API (/admin/v1/…).  Each operation is a row of a table:
 * a name, whether it needs a channel, and a function that takes its
 * arguments as a JSON object and answers with a JSON object, so the two
 * front ends only translate flags or HTTP into that object.
 */
#ifndef VCP_SERVER_ADMIN_H
#define VCP_SERVER_ADMIN_H

#include <stddef.h>

#include <json-c/json.h>

#include "store/store.h"

enum admin_rc {
    ADMIN_OK = 0,
    ADMIN_BAD_REQUEST, /* arguments missing or invalid: detail says which */
    ADMIN_NOT_FOUND,   /* no such channel or member */
    ADMIN_CONFLICT,    /* member id already in the channel, ... */
    ADMIN_ERROR        /* store failure (logged by the caller) */
};

#define ADMIN_DEFAULT_RATE_COUNT  500 /* Viber's documented broadcast limit: */
#define ADMIN_DEFAULT_RATE_WINDOW 10  /* 500 requests per 10 s */

/*
 * Runs operation op ("channel.create", "channel.list", "channel.show",
 * "channel.block", "channel.suspend", "channel.activate", "channel.delete",
 * "channel.rotate-token", "channel.set-rate", "channel.set-webhook",
 * "channel.edit", "channel.reset", "sandbox.reset", "fault.add", "fault.list",
 * "fault.clear", "member.add", "member.remove", "member.list") with args (an object; may be
 * NULL for none).  Operations on a channel read its public id from
 * args "channel".  On ADMIN_OK *out is a new object owned by the caller;
 * otherwise *out is NULL and detail says why.
 */
int admin_exec(struct store *s, const char *op, struct json_object *args, struct json_object **out,
               char *detail, size_t detail_len);

/* True when op names an operation. */
int admin_op_known(const char *op);

/*
 * True when op changes the database (and may so wait for SQLite's write
 * lock): the server runs those on its writer thread, never on the HTTP one.
 */
int admin_op_writes(const char *op);

/* The admin JSON form of a channel (no secrets). Caller owns the result. */
struct json_object *admin_channel_json(const struct channel *c);
struct json_object *admin_member_json(const struct member *m);

/* "active", "blocked", "suspended", "deleted"; "unknown" for any other state. */
const char *admin_state_name(int state);

#endif
