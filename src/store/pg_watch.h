/*
 * What pg.c and pg_watch.c share (the PostgreSQL backend's watch, store.h's
 * store_watch_*): one way to connect, and the number a watch gives as the
 * config_version of the connections it is attached to.
 */
#ifndef VCP_STORE_PG_WATCH_H
#define VCP_STORE_PG_WATCH_H

#include <stdint.h>

#include <libpq-fe.h>

#include "store/store.h"

/* The channel every configuration change notifies (schema step 3's triggers). */
#define PG_CONFIG_CHANNEL "vcp_config"
/* The channel every committed batch of posts notifies with its tokens ("t1,t2,...", each
 * payload under PostgreSQL's 8000 bytes: pg.c splits a batch's into several). */
#define PG_POSTS_CHANNEL "vcp_posts"
/* A writer's marker behind its configuration change, on PG_CONFIG_CHANNEL: "sync NONCE". */
#define PG_SYNC_PREFIX "sync "
/* The watches' answers to a marker: "NONCE NODE". */
#define PG_ACK_CHANNEL "vcp_config_ack"

/*
 * A new connection to dsn with vcpd's defaults before the DSN's own settings
 * (connect_timeout, keepalives, tcp_user_timeout, application_name): the
 * caller checks PQstatus and PQfinish()es it.  NULL only without memory.
 */
PGconn *pg_connect(const char *dsn);

/* The watch's configuration version (store.h's config_version): 0 while its connection is
 * lost.  Any thread, lock-free. */
uint64_t pg_watch_version(const struct store_watch *w);

int pg_watch_open(const char *dsn, int node, struct store_watch **out, char *err, size_t err_len);

#endif
