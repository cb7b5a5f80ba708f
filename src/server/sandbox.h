/*
 * Sandbox mode's built-in webhook receiver (sandbox.c), POST
 * /sandbox/webhook: it checks the signature of set_webhook's callbacks
 * with the token set_webhook remembered for each check in flight.
 */
#ifndef VCP_SERVER_SANDBOX_H
#define VCP_SERVER_SANDBOX_H

#include <stdint.h>

#include <microhttpd.h>

#include "server/server.h"

struct sandbox;

int sandbox_new(struct sandbox **out);
void sandbox_free(struct sandbox *sb);
/* Remembers token as the key of the self-check with this message_token. */
int sandbox_expect(struct sandbox *sb, uint64_t message_token, const char *token);
void sandbox_forget(struct sandbox *sb, uint64_t message_token);
enum MHD_Result sandbox_webhook(struct req *r);

#endif
