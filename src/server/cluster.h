/*
 * Several vcpd on one PostgreSQL database (issue 10): what one instance
 * hears of the others.  A thread of its own keeps the store's watch (store.h,
 * store_watch_*: LISTEN/NOTIFY) and so moves the configuration version of
 * the HTTP thread's store connection whenever any instance, the offline CLI
 * or an operator's SQL changes a channel: its caches never serve a change
 * made elsewhere for longer than the notification takes to arrive.  The
 * same thread publishes every committed post, of any instance, to this
 * instance's live streams (cluster.c says why all of them, in which order).
 *
 * On SQLite there is nothing to hear (one file, one server; config_version
 * reads the database itself): cluster_start then does nothing.
 */
#ifndef VCP_SERVER_CLUSTER_H
#define VCP_SERVER_CLUSTER_H

struct cluster;
struct server;

/*
 * Opens the watch on srv->cfg.db, attaches it to srv->store and starts the
 * thread.  0 with *out set (NULL when the backend needs no watch), or -1
 * after logging why.
 */
int cluster_start(struct cluster **out, struct server *srv);

/*
 * This instance just committed a change of configuration (an admin API job, a webhook):
 * moves the version at once, so the change is in force here for the next request,
 * before the notification comes back.  Any thread; NULL is a no-op.
 */
void cluster_changed(struct cluster *c);

/* Detaches the watch from srv->store, stops the thread, closes.  NULL is a no-op. */
void cluster_stop(struct cluster *c);

#endif
