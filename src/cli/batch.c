/*
 * `vcp post --batch FILE.jsonl`: many posts, in order, resumable.
 *
 * Every line is parsed and validated before the first is sent, so a typo on
 * line 900 does not leave a half-posted batch.  Progress goes to a state file
 * (default FILE.jsonl.state), appended and fsync'd record by record:
 *
 *   S <line> <hash>            about to send line
 *   A <line> <hash> <token>    the server stored it (status 0, message_token)
 *   F <line> <hash> <status>   it was certainly not stored (refused, not sent)
 *   K <line> <hash>            the user said it was stored (--unknown skip)
 *
 * <hash> (FNV-1a of the line) ties records to the line's text, so an edited
 * file is noticed instead of silently skipping the wrong lines.
 *
 * The honest limit: the server can store a post and answer, and vcp can die
 * (SIGKILL, power loss) before the A record reaches the disk.  The API has no
 * idempotency key, so nothing on the client can close that window; what vcp
 * guarantees is that it never *silently* resends: such a line has an S
 * without A/F, and the next run stops (exit 6) and names it until the user
 * says --unknown skip or --unknown resend.  SIGINT/SIGTERM do not open the
 * window: they take effect between posts (a second signal kills at once).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "cli.h"
#include "common/readall.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ---------------------------------------------------------------- reading */

/* Splits buf into non-blank lines. */
static int split_lines(struct batch *b, char *buf, size_t len)
{
    size_t cap = 0;
    long no = 0;
    char *p = buf, *end = buf + len;

    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        no++;
        *e = '\0';
        size_t l = (size_t)(e - p);
        while (l > 0 && (p[l - 1] == '\r' || p[l - 1] == ' ' || p[l - 1] == '\t'))
            p[--l] = '\0';
        size_t lead = strspn(p, " \t");
        if (l > lead) {
            if (b->n == cap) {
                cap = cap ? cap * 2 : 256;
                struct line *nl2 = realloc(b->lines, cap * sizeof(*nl2));
                if (nl2 == NULL)
                    return -1;
                b->lines = nl2;
            }
            struct line *ln = &b->lines[b->n++];
            memset(ln, 0, sizeof(*ln));
            ln->no = no;
            ln->text = p;
            ln->len = l;
            ln->hash = fnv1a(p, l);
        }
        p = e + 1;
    }
    return 0;
}

static struct line *find_line(struct batch *b, long no)
{
    size_t lo = 0, hi = b->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (b->lines[mid].no < no)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < b->n && b->lines[lo].no == no ? &b->lines[lo] : NULL;
}

/* ---------------------------------------------------------------- state file */

/* Appends one record and makes it durable before returning. */
static int record(struct batch *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int record(struct batch *b, const char *fmt, ...)
{
    char rec[128];
    va_list ap;
    size_t off = 0;

    va_start(ap, fmt);
    int n = vsnprintf(rec, sizeof(rec), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(rec))
        return -1;
    while (off < (size_t)n) {
        ssize_t w = write(b->state_fd, rec + off, (size_t)n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    while (fsync(b->state_fd) != 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

/* fsync of the directory holding path, so a new state file's name survives a crash. */
static void sync_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    int fd;

    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path + (slash == path)), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int batch_parse_state(struct batch *b, const char *buf, size_t len)
{
    char *copy = malloc(len + 1), *p, *end;
    long recno = 0;

    if (copy == NULL) {
        fprintf(b->err, "vcp: out of memory\n");
        return EXIT_IO;
    }
    memcpy(copy, buf, len);
    copy[len] = '\0';
    p = copy;
    end = copy + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            break; /* a torn last record was never complete: ignore it */
        *nl = '\0';
        recno++;
        char kind = 0;
        long no = 0;
        unsigned long long h = 0, extra = 0;
        int got = sscanf(p, "%c %ld %llx %llu", &kind, &no, &h, &extra);
        p = nl + 1;
        if (recno == 1 || got < 3)
            continue; /* header, or a damaged record */
        struct line *ln = find_line(b, no);
        if (ln == NULL || ln->hash != h) {
            fprintf(b->err,
                    "vcp: %s does not match %s (line %ld changed since it was recorded);\n"
                    "vcp: remove the state file only if you mean to post the file again\n",
                    b->state_path, b->path, no);
            free(copy);
            return EXIT_IO;
        }
        if (kind == 'S')
            ln->state = ln->state == DONE ? DONE : OPEN;
        else if (kind == 'A' || kind == 'K')
            ln->state = DONE;
        else if (kind == 'F' && ln->state != DONE)
            ln->state = TODO;
    }
    free(copy);
    return 0;
}

/* Loads the state file (if any) into the lines' states; opens it for appending. */
static int load_state(struct batch *b)
{
    size_t len = 0;
    char *buf = readall_path(b->state_path, SIZE_MAX, &len);
    bool existed = buf != NULL;

    if (buf == NULL && errno != ENOENT) {
        fprintf(stderr, "vcp: %s: %s\n", b->state_path, strerror(errno));
        return EXIT_IO;
    }
    if (buf) {
        int rc = batch_parse_state(b, buf, len);
        if (rc != 0) {
            free(buf);
            return rc;
        }
        bool torn = len > 0 && buf[len - 1] != '\n';
        free(buf);
        b->state_fd = open(b->state_path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (b->state_fd >= 0 && torn && record(b, "\n") != 0)
            goto io;
    } else {
        b->state_fd = open(b->state_path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (b->state_fd < 0)
        goto io;
    if (!existed) {
        if (record(b, "vcp-batch-state 1\n") != 0)
            goto io;
        sync_dir(b->state_path);
    }
    return 0;
io:
    fprintf(stderr, "vcp: %s: %s\n", b->state_path, strerror(errno));
    return EXIT_IO;
}

/* ---------------------------------------------------------------- progress */

static void fmt_dur(char *out, size_t len, double s)
{
    long t = s < 0 ? 0 : (long)(s + 0.5);

    if (t >= 3600)
        snprintf(out, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, len, "%ld:%02ld", t / 60, t % 60);
}

static void draw(struct batch *b, bool force)
{
    double t = now_s();
    size_t done = b->done_before + b->posted, width = 30, fill;
    char bar[64], eta[32] = "--:--";
    double rate;

    if (!b->bar || (!force && t - b->last_draw < 0.1))
        return;
    b->last_draw = t;
    fill = b->total ? done * width / b->total : width;
    for (size_t i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    rate = t > b->t0 && b->posted > 0 ? (double)b->posted / (t - b->t0) : 0.0;
    if (rate > 0)
        fmt_dur(eta, sizeof(eta), (double)(b->total - done) / rate);
    fprintf(stderr, "\r\033[K[%s] %zu/%zu %3zu%% %6.1f msg/s ETA %s%s%s", bar, done, b->total,
            b->total ? done * 100 / b->total : 100, rate, eta, b->note[0] ? "  " : "", b->note);
    fflush(stderr);
}

static void on_retry(void *arg, int attempt, long delay_ms, const char *reason)
{
    struct batch *b = arg;

    snprintf(b->note, sizeof(b->note), "%s, retry %d in %.1fs", reason, attempt,
             (double)delay_ms / 1000.0);
    if (b->bar)
        draw(b, true);
    else if (!b->cli->quiet)
        fprintf(stderr, "vcp: line %ld: %s, retry %d in %.1f s\n", b->current, reason, attempt,
                (double)delay_ms / 1000.0);
}

/* ---------------------------------------------------------------- run */

int batch_parse_lines(struct batch *b, char *buf, size_t len)
{
    struct vcp_result res;
    const char *from = NULL;
    size_t bad = 0, i;
    int rc;

    if (split_lines(b, buf, len) != 0) {
        fprintf(b->err, "vcp: out of memory\n");
        return EXIT_IO;
    }
    for (i = 0; i < b->n; i++) {
        struct line *ln = &b->lines[i];
        rc = vcp_msg_from_json(ln->text, ln->len, &ln->msg, &res);
        if (rc == VCP_E_NOMEM) {
            fprintf(b->err, "vcp: out of memory\n");
            return EXIT_IO;
        }
        if (rc != VCP_E_OK) {
            fprintf(b->err, "%s:%ld: %s (%d): %s\n", b->path, ln->no, res.status_name, res.status,
                    res.detail);
            bad++;
            continue;
        }
        if (!vcp_msg_has_field(ln->msg, "from")) {
            if (from == NULL && (rc = cli_default_from(b->cli, &from)) != 0)
                return rc;
            if (vcp_msg_set_from(ln->msg, from) != VCP_E_OK)
                return EXIT_IO;
        }
        if (vcp_msg_validate(ln->msg, &res) != VCP_E_OK) {
            fprintf(b->err, "%s:%ld: %s (%d): %s\n", b->path, ln->no, res.status_name, res.status,
                    res.detail);
            bad++;
        }
    }
    if (bad) {
        fprintf(b->err, "vcp: %zu of %zu lines invalid; nothing sent\n", bad, b->n);
        return EXIT_INVALID;
    }
    return 0;
}

void batch_clear(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        vcp_msg_free(b->lines[i].msg);
    free(b->lines);
    b->lines = NULL;
    b->n = 0;
}

static void line_out(struct batch *b, const struct line *ln, const struct vcp_result *res, int rc)
{
    if (!b->lines_out)
        return;
    if (b->cli->json) {
        printf("{\"line\":%ld,\"status\":%d,\"status_message\":", ln->no, res->status);
        cli_json_str(stdout,
                     rc == VCP_E_OK || res->status >= 0 ? res->status_name : vcp_error_name(rc));
        if (rc == VCP_E_OK)
            printf(",\"message_token\":%llu}\n", (unsigned long long)res->message_token);
        else {
            printf(",\"detail\":");
            cli_json_str(stdout, res->detail);
            printf("}\n");
        }
    } else if (rc == VCP_E_OK) {
        printf("line %ld: posted %s, message_token %llu\n", ln->no, vcp_msg_type(ln->msg),
               (unsigned long long)res->message_token);
    }
    fflush(stdout);
}

static int send_all(struct batch *b)
{
    struct vcp_result res;
    size_t i;
    int rc;

    b->t0 = now_s();
    draw(b, true);
    for (i = 0; i < b->n; i++) {
        struct line *ln = &b->lines[i];
        if (ln->state == DONE)
            continue;
        if (interrupted) {
            if (b->bar)
                fprintf(stderr, "\n");
            fprintf(stderr, "vcp: interrupted before line %ld; run the same command to resume\n",
                    ln->no);
            return EXIT_INTERRUPTED;
        }
        b->current = ln->no;
        if (record(b, "S %ld %016llx\n", ln->no, (unsigned long long)ln->hash) != 0)
            goto io;
        rc = vcp_post(b->cli->client, ln->msg, &res);
        b->note[0] = '\0';
        if (rc == VCP_E_OK) {
            if (record(b, "A %ld %016llx %llu\n", ln->no, (unsigned long long)ln->hash,
                       (unsigned long long)res.message_token) != 0) {
                fprintf(stderr,
                        "\nvcp: line %ld was posted (message_token %llu) but %s could "
                        "not record it: %s\n",
                        ln->no, (unsigned long long)res.message_token, b->state_path,
                        strerror(errno));
                return EXIT_IO;
            }
            ln->state = DONE;
            b->posted++;
            line_out(b, ln, &res, rc);
            draw(b, false);
            continue;
        }
        if (b->bar)
            fprintf(stderr, "\n");
        line_out(b, ln, &res, rc);
        bool certain = rc == VCP_E_STATUS || rc == VCP_E_INVALID || !res.maybe_sent;
        if (certain) {
            record(b, "F %ld %016llx %d\n", ln->no, (unsigned long long)ln->hash, res.status);
            char what[64];
            snprintf(what, sizeof(what), "%s:%ld", b->path, ln->no);
            b->cli->json = false; /* the line result was printed already */
            rc = cli_fail(b->cli, rc, &res, what);
            fprintf(stderr, "vcp: stopped; %zu posted this run; fix the cause and re-run\n",
                    b->posted);
            return rc;
        }
        fprintf(stderr,
                "vcp: %s:%ld: %s: %s\n"
                "vcp: line %ld may or may not have been posted; check the channel, then re-run\n"
                "vcp: with --unknown skip (it was posted) or --unknown resend (it was not)\n",
                b->path, ln->no, vcp_error_name(rc), res.detail, ln->no);
        return EXIT_UNKNOWN;
    }
    draw(b, true);
    if (b->bar)
        fprintf(stderr, "\n");
    return EXIT_OK;
io:
    fprintf(stderr, "\nvcp: %s: %s\n", b->state_path, strerror(errno));
    return EXIT_IO;
}

int cmd_batch(struct cli *cli)
{
    struct batch b;
    struct sigaction sa;
    char *state = NULL;
    size_t len = 0, i, open_n = 0;
    int rc;

    memset(&b, 0, sizeof(b));
    b.cli = cli;
    b.path = cli->batch;
    b.err = stderr;
    b.state_fd = -1;
    if (cli->unknown && strcmp(cli->unknown, "skip") != 0 && strcmp(cli->unknown, "resend") != 0) {
        fprintf(stderr, "vcp: --unknown: want skip or resend\n");
        return EXIT_USAGE;
    }
    if (cli->state == NULL) {
        size_t n = strlen(b.path) + sizeof(".state");
        if ((state = malloc(n)) == NULL)
            return EXIT_IO;
        snprintf(state, n, "%s.state", b.path);
    }
    b.state_path = cli->state ? cli->state : state;
    if ((b.buf = readall_path(b.path, SIZE_MAX, &len)) == NULL) {
        fprintf(stderr, "vcp: %s: %s\n", b.path, strerror(errno));
        rc = EXIT_IO;
        goto out;
    }
    b.bar = !cli->quiet && isatty(STDERR_FILENO);
    /* One result line per post where no bar shows progress; --quiet asks for none
     * (its failures still go to stderr), --json for them whatever the output is. */
    b.lines_out = cli->json || (!cli->quiet && !isatty(STDOUT_FILENO));
    /* A batch outlives short rate limits: wait longer than a single command would. */
    if (cli->retries < 0)
        cli->retries = 30;
    if ((rc = cli_client(cli, on_retry, &b)) != 0)
        goto out;
    if ((rc = batch_parse_lines(&b, b.buf, len)) != 0)
        goto out;
    if ((rc = load_state(&b)) != 0)
        goto out;
    for (i = 0; i < b.n; i++) {
        struct line *ln = &b.lines[i];
        if (ln->state != OPEN)
            continue;
        if (cli->unknown == NULL) {
            fprintf(stderr, "vcp: %s:%ld: sent before an interruption, outcome unknown\n", b.path,
                    ln->no);
            open_n++;
        } else if (strcmp(cli->unknown, "skip") == 0) {
            if (record(&b, "K %ld %016llx\n", ln->no, (unsigned long long)ln->hash) != 0) {
                fprintf(stderr, "vcp: %s: %s\n", b.state_path, strerror(errno));
                rc = EXIT_IO;
                goto out;
            }
            ln->state = DONE;
        } else {
            ln->state = TODO;
        }
    }
    if (open_n) {
        fprintf(stderr,
                "vcp: check the channel for %s, then re-run with --unknown skip (they\n"
                "vcp: were posted) or --unknown resend (they were not)\n",
                open_n == 1 ? "that line" : "those lines");
        rc = EXIT_UNKNOWN;
        goto out;
    }
    b.total = b.n;
    for (i = 0; i < b.n; i++)
        if (b.lines[i].state == DONE)
            b.done_before++;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second signal ends vcp at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    rc = send_all(&b);
    if (!cli->quiet)
        fprintf(stderr, "vcp: %s: %zu posted, %zu already posted before, %zu left\n", b.path,
                b.posted, b.done_before, b.total - b.done_before - b.posted);
out:
    if (b.state_fd >= 0)
        close(b.state_fd);
    batch_clear(&b);
    free(b.buf);
    free(state);
    return rc;
}
