/*
 * `vcp webhook serve`: runs the library's webhook responder until SIGINT or
 * SIGTERM and logs one line per callback (JSON lines with --json), so a
 * throwaway webhook is one command.  The port actually bound is printed and,
 * with --port-file, written to a file for scripts that asked for port 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/hostport.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    stop = sig;
}

static void log_event(void *arg, const struct vcp_webhook_event *ev)
{
    struct cli *cli = arg;
    char when[32];
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    flockfile(stdout);
    if (cli->json) {
        printf("{\"time\":\"%s\",\"peer\":", when);
        cli_json_str(stdout, ev->peer);
        printf(",\"method\":");
        cli_json_str(stdout, ev->method);
        printf(",\"path\":");
        cli_json_str(stdout, ev->path);
        printf(",\"signature_ok\":%s,\"answer\":%d,\"event\":", ev->signature_ok ? "true" : "false",
               ev->http_status);
        if (ev->event)
            cli_json_str(stdout, ev->event);
        else
            printf("null");
        printf(",\"message_token\":%llu,\"body\":", (unsigned long long)ev->message_token);
        cli_json_str(stdout, ev->body);
        printf("}\n");
    } else {
        printf("%s %s %s %s from %s: event=%s message_token=%llu signature=%s -> %d\n", when,
               ev->method, ev->path, ev->body_len ? "" : "(empty)", ev->peer,
               ev->event ? ev->event : "-", (unsigned long long)ev->message_token,
               ev->signature == NULL ? "missing"
               : ev->signature_ok    ? "ok"
                                     : "BAD",
               ev->http_status);
        if (!cli->quiet && ev->body_len)
            printf("  %s\n", ev->body);
    }
    fflush(stdout);
    funlockfile(stdout);
}

int cmd_webhook_serve(struct cli *cli)
{
    struct vcp_webhook_server_options o;
    vcp_webhook_server *s = NULL;
    char host[64], err[256];
    struct sigaction sa;
    int port = 0, rc;

    if (cli->token == NULL || cli->token[0] == '\0') {
        fprintf(stderr, "vcp: webhook serve needs the token (--token or VIBER_AUTH_TOKEN) to "
                        "verify signatures\n");
        return EXIT_USAGE;
    }
    snprintf(host, sizeof(host), "127.0.0.1");
    if (cli->listen && hostport_parse(cli->listen, host, sizeof(host), &port) != 0) {
        fprintf(stderr, "vcp: --listen: want HOST:PORT, e.g. 127.0.0.1:8443\n");
        return EXIT_USAGE;
    }
    if ((cli->cert == NULL) != (cli->key == NULL)) {
        fprintf(stderr, "vcp: --cert and --key go together\n");
        return EXIT_USAGE;
    }
    memset(&o, 0, sizeof(o));
    o.token = cli->token;
    o.host = host;
    o.port = port;
    o.cert_file = cli->cert;
    o.key_file = cli->key;
    o.accept_unsigned = cli->accept_unsigned;
    o.on_event = log_event;
    o.arg = cli;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* Blocked here (and so in the server's thread, which inherits the mask); delivered only
     * inside sigsuspend below, so a signal cannot slip in between the test and the wait. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old);

    rc = vcp_webhook_server_new(&s, &o, err, sizeof(err));
    if (rc != VCP_E_OK) {
        fprintf(stderr, "vcp: webhook serve: %s\n", err);
        return rc == VCP_E_ARG ? EXIT_USAGE : rc == VCP_E_IO ? EXIT_IO : EXIT_TRANSPORT;
    }
    port = vcp_webhook_server_port(s);
    if (cli->port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", cli->port_file);
        FILE *f = fopen(tmp, "w");
        if (f == NULL || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 ||
            rename(tmp, cli->port_file) != 0) {
            fprintf(stderr, "vcp: cannot write %s\n", cli->port_file);
            vcp_webhook_server_free(s);
            return EXIT_IO;
        }
    }
    if (!cli->json) {
        printf("listening on %s://%s%s%s:%d/ (Ctrl-C to stop)\n", cli->cert ? "https" : "http",
               strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port);
        fflush(stdout);
    }
    while (!stop)
        sigsuspend(&old);
    vcp_webhook_server_free(s);
    return EXIT_OK;
}
