/*
 * The message_token node id of this vcpd, leased in the database (issue 10).
 *
 * At start vcpd takes a lease on its node id: the one --node-id names, refused
 * while another live vcpd holds it, or else the lowest free one.  A thread
 * renews it every NODE_LEASE_TTL_MS / 3; a clean shutdown releases it; the
 * lease of a process that died expires NODE_LEASE_TTL_MS after its last
 * renewal.  The token generator starts above the highest token stored for
 * that node, so tokens keep increasing after a restart with the clock set
 * back.
 */
#ifndef VCP_SERVER_NODE_H
#define VCP_SERVER_NODE_H

#include <stdint.h>

#include "core/tokgen.h"
#include "store/store.h"

#define NODE_LEASE_TTL_MS 15000 /* VCPD_NODE_LEASE_MS changes it (tests) */

struct node;

/*
 * Takes the lease through s (a connection no other thread uses yet) on want
 * (0..1023) or, with want -1, on the lowest free id, and sets g up for it,
 * resumed above the node's highest stored token; then starts the renewing
 * thread on a connection of its own to dsn.  Also applies
 * VCPD_TEST_CLOCK_OFFSET_MS to now_ms(), so call it before any other thread
 * starts.  0 with *out set, or -1 after logging why (a refusal names the
 * holder).
 */
int node_start(struct node **out, struct store *s, const char *dsn, int want, struct tokgen *g);

/* Stops the renewing thread and releases the lease.  NULL is a no-op. */
void node_stop(struct node *n);

#endif
