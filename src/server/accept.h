/*
 * vcpd's listener: accepts every connection itself and hands it either to
 * the libmicrohttpd daemon (MHD_add_connection) or, for event streams, to
 * stream.c, which serves them on its own thread.
 *
 * Why not let libmicrohttpd listen: event streams must not live in the
 * daemon that answers the API.  libmicrohttpd 0.9.75 walks its whole list
 * of suspended connections whenever any connection is resumed, and every
 * post resumes one (the group commit answers it), so thousands of idle
 * viewers suspended there would cost every post; and each of its
 * connections keeps a memory pool that an idle viewer does not need
 * (measured: 6.4 KiB of RSS per idle viewer at the smallest pool that still
 * takes a browser's request head, against 0.3 KiB served by stream.c).  The
 * acceptor reads (MSG_PEEK, nothing consumed) the request line of each new
 * connection and gives `GET /api/v1/channels/{id}/events` to stream.c and
 * everything else to libmicrohttpd.  A stream asked for later on a
 * kept-alive connection is still served, by libmicrohttpd (stream.c).
 *
 * It also keeps the connection limits for the daemon and stream.c, so that streams and
 * API connections count alike: at most conn_limit in all and per_ip_limit
 * per client address (0 = no limit), and, of those, at most
 * per_ip_streams event streams per address.  Connections that send nothing
 * are closed after the connection timeout, before anything else sees them.
 *
 * Threads: one thread of its own (accept, peek, hand over).  The counting
 * functions below are called from the daemon's and the streams' threads and
 * take a mutex.
 */
#ifndef VCP_SERVER_ACCEPT_H
#define VCP_SERVER_ACCEPT_H

#include <stdbool.h>

#include <sys/socket.h>

#include <microhttpd.h>

struct acceptor;

struct acceptor_cfg {
    const char *host;        /* numeric IPv4 or IPv6 address */
    int port;                /* 0 = ephemeral */
    unsigned conn_limit;     /* connections at once, streams included */
    unsigned per_ip_limit;   /* per client address; 0 = none */
    unsigned per_ip_streams; /* event streams per client address; 0 = none */
    unsigned timeout_s;      /* a new connection's first request line must arrive by then */
    /* Takes an event stream's connection (ownership of fd passes; it is
     * counted until acceptor_conn_closed).  Called on the acceptor's thread. */
    void (*adopt)(void *arg, int fd, const struct sockaddr *sa, socklen_t len);
    void *adopt_arg;
};

/* Binds and listens on cfg's address.  Returns 0, or -1 with the reason logged. */
int acceptor_new(struct acceptor **out, const struct acceptor_cfg *cfg);

/* Starts handing connections to the daemon d and to cfg.adopt.  0, or -1 (logged). */
int acceptor_start(struct acceptor *a, struct MHD_Daemon *d);

/* The bound port. */
int acceptor_port(const struct acceptor *a);

/*
 * Stops accepting: closes the listening socket and the connections not yet
 * handed over, and joins the thread.  Connections already handed over stay
 * where they are.  Idempotent.
 */
void acceptor_stop(struct acceptor *a);

/* Frees the acceptor (after acceptor_stop, the daemon and the streams).  NULL: no-op. */
void acceptor_free(struct acceptor *a);

/* A connection from addr was closed (the daemon's or a stream's). */
void acceptor_conn_closed(struct acceptor *a, const struct sockaddr *addr);

/*
 * Takes one of addr's event-stream places: false when addr holds
 * per_ip_streams already.  Give it back with acceptor_stream_put.
 */
bool acceptor_stream_take(struct acceptor *a, const struct sockaddr *addr);
void acceptor_stream_put(struct acceptor *a, const struct sockaddr *addr);

/*
 * Whether a request line (the first n bytes a connection sent) asks for an
 * event stream: 1 yes, 0 no, -1 cannot tell yet (more bytes needed).
 * Exposed for the tests.
 */
int acceptor_classify(const char *buf, size_t n);

#endif
