/*
 * Fuzz target "cli_jsonl": what `vcp post --batch` reads, the JSONL file
 * (batch_parse_lines: line splitting, vcp_msg_from_json, the default sender,
 * vcp_msg_validate) and its state file (batch_parse_state), src/cli/batch.c.
 *
 * Input: a JSONL file, optionally followed by "\n#state\n" and a state
 * file's contents (without the separator the whole input is read as both).
 * Messages go to an in-memory stream; --from is set, so no lookup is made.
 *   - the lines are exactly the non-blank lines of the input, in order, with
 *     the right 1-based numbers, cut at "\n" with trailing "\r", spaces and
 *     tabs dropped, NUL-terminated inside the buffer, hashed with FNV-1a;
 *   - the answer is 0 (every line a valid message that has a sender) or
 *     EXIT_INVALID (at least one line is not, and something was said);
 *     a valid line's JSON reads back to a valid message with the same JSON;
 *   - the state part gives 0 or EXIT_IO (said), and leaves states in range;
 *   - a state file written as batch.c writes it (header, then S/A/F/K
 *     records for the lines, chosen by the input, maybe a torn last record)
 *     gives the states the format promises: S alone is OPEN, A or K is DONE
 *     for good, F makes it TODO again unless DONE; a torn record changes
 *     nothing; a record with a wrong hash is refused with EXIT_IO.
 */
#define _GNU_SOURCE /* memmem */
#include <string.h>

#include "cli/batch.h"
#include "cli/cli.h"
#include "fuzz.h"

#define SEP "\n#state\n"

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* The lines against a reference split of the original bytes. */
static void check_lines(const struct batch *b, const char *orig, const char *buf, size_t len)
{
    size_t k = 0, p = 0;
    long no = 0;

    while (p < len) {
        const char *nl = memchr(orig + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - orig) : len, l = e - p, lead = 0;
        no++;
        while (l > 0 && blank(orig[p + l - 1]))
            l--;
        while (lead < l && (orig[p + lead] == ' ' || orig[p + lead] == '\t'))
            lead++;
        /* batch.c measures the leading blanks with strspn: a NUL stops it */
        if (l > lead) {
            CHECK(k < b->n);
            const struct line *ln = &b->lines[k++];
            CHECK(ln->no == no);
            CHECK(ln->text == buf + p && ln->len == l);
            CHECK(memcmp(ln->text, orig + p, l) == 0 && ln->text[l] == '\0');
            CHECK(ln->hash == fnv1a(orig + p, l));
            CHECK(ln->state == TODO);
        }
        p = e + 1;
    }
    CHECK(k == b->n);
}

/* A valid message's JSON is a fixed point: it reads back valid, to the same JSON. */
static void check_msg(const vcp_msg *m)
{
    struct vcp_result res;
    vcp_msg *again = NULL;
    char *json = vcp_msg_to_json(m), *json2;

    CHECK(json != NULL);
    CHECK(vcp_msg_from_json(json, strlen(json), &again, &res) == VCP_E_OK);
    CHECK(vcp_msg_validate(again, &res) == VCP_E_OK);
    json2 = vcp_msg_to_json(again);
    CHECK(json2 != NULL && strcmp(json, json2) == 0);
    vcp_free(json);
    vcp_free(json2);
    vcp_msg_free(again);
}

static long said(FILE *err)
{
    CHECK(fflush(err) == 0);
    return ftell(err);
}

/* Writes a state file for b's lines as batch.c would, choices from sel; checks the outcome. */
static void check_model(struct batch *b, FILE *err, const uint8_t *sel, size_t nsel)
{
    size_t cap = 64 + (b->n * 4 + 2) * 64, off = 0;
    char *st = malloc(cap);
    enum line_state *want = calloc(b->n ? b->n : 1, sizeof *want);
    size_t r = 0;
    bool bad = false;

    CHECK(st != NULL && want != NULL);
    off += (size_t)snprintf(st + off, cap - off, "vcp-batch-state 1\n");
    for (size_t i = 0; i < b->n; i++) {
        b->lines[i].state = TODO;
        /* up to four records per line, in batch.c's formats */
        uint8_t c = nsel ? sel[r++ % nsel] : 0;
        for (int j = 0; j < 4; j++, c >>= 2) {
            const struct line *ln = &b->lines[i];
            unsigned long long h = (unsigned long long)ln->hash;
            int kind = c & 3;
            if (j > 0 && kind == 0)
                break;
            if (kind == 0) {
                off += (size_t)snprintf(st + off, cap - off, "S %ld %016llx\n", ln->no, h);
                want[i] = want[i] == DONE ? DONE : OPEN;
            } else if (kind == 1) {
                off += (size_t)snprintf(st + off, cap - off, "A %ld %016llx %llu\n", ln->no, h,
                                        (unsigned long long)(i + 1) * 1000003u);
                want[i] = DONE;
            } else if (kind == 2) {
                off += (size_t)snprintf(st + off, cap - off, "F %ld %016llx %d\n", ln->no, h, 3);
                if (want[i] != DONE)
                    want[i] = TODO;
            } else {
                off += (size_t)snprintf(st + off, cap - off, "K %ld %016llx\n", ln->no, h);
                want[i] = DONE;
            }
        }
    }
    uint8_t last = nsel ? sel[nsel - 1] : 0;
    if (b->n > 0 && (last & 0x30) == 0x10) /* torn: no newline, so never applied */
        off += (size_t)snprintf(st + off, cap - off, "A %ld %016llx", b->lines[0].no,
                                (unsigned long long)b->lines[0].hash);
    else if (b->n > 0 && (last & 0x30) == 0x20) { /* a line changed since it was recorded */
        off += (size_t)snprintf(st + off, cap - off, "A %ld %016llx 1\n", b->lines[0].no,
                                (unsigned long long)(b->lines[0].hash + 1));
        bad = true;
    }
    CHECK(off < cap);
    long before = said(err);
    int rc = batch_parse_state(b, st, off);
    if (bad) {
        CHECK(rc == EXIT_IO && said(err) > before);
    } else {
        CHECK(rc == 0 && said(err) == before);
        for (size_t i = 0; i < b->n; i++)
            CHECK(b->lines[i].state == want[i]);
    }
    free(want);
    free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char errbuf[1 << 16];
    struct cli cli;
    struct batch b;
    const uint8_t *sep = memmem(data, size, SEP, sizeof SEP - 1);
    size_t jlen = sep ? (size_t)(sep - data) : size;
    const uint8_t *state = sep ? sep + sizeof SEP - 1 : data;
    size_t slen = sep ? size - jlen - (sizeof SEP - 1) : size;

    memset(&cli, 0, sizeof cli);
    cli.from = "01234567890A=";
    memset(&b, 0, sizeof b);
    b.cli = &cli;
    b.path = "fuzz.jsonl";
    b.state_path = "fuzz.jsonl.state";
    b.state_fd = -1;
    b.err = fmemopen(errbuf, sizeof errbuf, "w");
    CHECK(b.err != NULL);

    /* the file as slurp() leaves it: len bytes and a writable one after */
    char *orig = malloc(jlen ? jlen : 1), *buf = malloc(jlen + 1);
    CHECK(orig != NULL && buf != NULL);
    memcpy(orig, data, jlen);
    memcpy(buf, data, jlen);
    buf[jlen] = '\0';
    b.buf = buf;

    int rc = batch_parse_lines(&b, buf, jlen);
    check_lines(&b, orig, buf, jlen);
    CHECK(rc == 0 || rc == EXIT_INVALID);
    CHECK((rc != 0) == (said(b.err) > 0));
    size_t valid = 0;
    for (size_t i = 0; i < b.n; i++) {
        struct vcp_result res;
        const vcp_msg *m = b.lines[i].msg;
        if (m == NULL || vcp_msg_validate(m, &res) != VCP_E_OK)
            continue;
        CHECK(vcp_msg_has_field(m, "from"));
        check_msg(m);
        valid++;
    }
    CHECK((rc == 0) == (valid == b.n));

    /* the fuzzed state file */
    char *sbuf = malloc(slen ? slen : 1); /* exact size: not NUL-terminated */
    CHECK(sbuf != NULL);
    memcpy(sbuf, state, slen);
    long before = said(b.err);
    rc = batch_parse_state(&b, sbuf, slen);
    CHECK(rc == 0 || rc == EXIT_IO);
    CHECK((rc != 0) == (said(b.err) > before));
    CHECK(memcmp(sbuf, state, slen) == 0);
    for (size_t i = 0; i < b.n; i++)
        CHECK(b.lines[i].state == TODO || b.lines[i].state == DONE || b.lines[i].state == OPEN);
    free(sbuf);

    /* a well-formed state file against the model */
    check_model(&b, b.err, state, slen);

    batch_clear(&b);
    CHECK(b.n == 0 && b.lines == NULL);
    fclose(b.err);
    free(buf);
    free(orig);
    return 0;
}
