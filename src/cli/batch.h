/*
 * The parsing half of `vcp post --batch` (batch.c): the JSONL file split
 * into lines and validated, and the state file's records applied to those
 * lines.  Both work on buffers the caller read, do no I/O but report
 * problems on b->err, so the fuzz target tests/fuzz/fuzz_cli_jsonl.c runs
 * them as vcp does.  The state file's format is described in batch.c.
 */
#ifndef VCP_CLI_BATCH_H
#define VCP_CLI_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"

enum line_state { TODO, DONE, OPEN };

struct line {
    long no;    /* 1-based line number in the file */
    char *text; /* the line, NUL-terminated, in the file buffer */
    size_t len;
    uint64_t hash; /* FNV-1a of text */
    vcp_msg *msg;  /* owned; NULL when the line is not a JSON message */
    enum line_state state;
};

struct batch {
    struct cli *cli;
    const char *path, *state_path; /* named in messages */
    FILE *err;                     /* where the parsers report problems (stderr in vcp) */
    char *buf;                     /* the whole file (the caller's) */
    struct line *lines;            /* non-blank lines in file order (owned) */
    size_t n;
    int state_fd;
    /* progress */
    bool bar;       /* draw a bar on stderr (a terminal) */
    bool lines_out; /* print a result line per post on stdout */
    size_t total, done_before, posted;
    double t0, last_draw;
    char note[96]; /* shown after the bar (rate limited, ...) */
    long current;  /* line being posted */
};

/*
 * Splits buf (len bytes, plus one more at buf[len] that may be overwritten)
 * into non-blank lines, cutting it in place (lines end in NUL, trailing
 * "\r", spaces and tabs dropped), and makes a message of each line with
 * vcp_msg_from_json; a line without "from" gets the default sender
 * (cli_default_from: --from, else one get_account_info call), then every
 * message is checked with vcp_msg_validate.  b->cli, b->path and b->err must
 * be set.  Returns 0 when every line is a valid message; EXIT_INVALID after
 * naming each bad line on b->err; EXIT_IO when out of memory; or the exit
 * code of a failed default-sender lookup.  b->lines points into buf either
 * way and is freed (with the messages) by batch_clear.
 */
int batch_parse_lines(struct batch *b, char *buf, size_t len);

/*
 * Applies the state file's contents (len bytes of buf, not necessarily
 * NUL-terminated) to the states of b's lines: the first record is the
 * header, damaged records and a torn last one (no newline) are ignored.
 * Returns 0; or EXIT_IO when a record names a line that is not there or
 * whose hash differs (said on b->err) or when out of memory.  buf is not
 * changed and not kept.
 */
int batch_parse_state(struct batch *b, const char *buf, size_t len);

/* Frees b's lines and their messages (not b->buf); b->n becomes 0. */
void batch_clear(struct batch *b);

#endif
