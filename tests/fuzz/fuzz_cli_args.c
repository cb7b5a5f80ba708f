/*
 * Fuzz target "cli_args": the command line of the vcp tool, cli_parse_args
 * (src/cli/args.c) with its command and option tables, as main() calls it.
 *
 * Input: argv words separated by NUL bytes (argv[0] is "vcp"; at most 32
 * words, each in its own exact-size allocation so ASan sees reads past a
 * word).  Messages go to an in-memory stream, never to stdout.
 *   - the answer is 0 or EXIT_USAGE, and something was written to the error
 *     stream exactly when it is EXIT_USAGE;
 *   - with 0: CLI_RUN and CLI_HELP name a command of the table; CLI_RUN has
 *     the command's words in cli->cmd, between min_pos and max_pos (and at
 *     most CLI_MAX_POS) positional arguments, each an argv word, --batch
 *     exactly with plain "post", --timeout 0 or 1..86400 and --retries -1 or
 *     0..1000;
 *   - every string the parser stored points into argv (it copies nothing),
 *     argv is left unchanged, and parsing again gives the same struct cli;
 *   - CLI_GROUP_HELP exactly when cli->group is set;
 *   - the usage and the command and group help (what main() prints) can be
 *     written.
 */
#include <stdbool.h>
#include <string.h>

#include "cli/cli.h"
#include "fuzz.h"

#define MAX_WORDS 32

/* Whether p is NULL or points into one of the argv words (or at its NUL). */
static bool in_argv(const char *p, int argc, char **argv, const size_t *lens)
{
    if (p == NULL)
        return true;
    for (int i = 0; i < argc; i++)
        if (p >= argv[i] && p <= argv[i] + lens[i])
            return true;
    return false;
}

static void check_strings(const struct cli *c, int argc, char **argv, const size_t *lens)
{
    const char *const fields[] = {
        c->token,         c->api_url, c->cacert, c->from,  c->thumbnail, c->size,
        c->duration,      c->name,    c->batch,  c->state, c->unknown,   c->sender_name,
        c->sender_avatar, c->listen,  c->cert,   c->key,   c->port_file, c->group,
    };

    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        CHECK(in_argv(fields[i], argc, argv, lens));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *argv[MAX_WORDS + 2];
    size_t lens[MAX_WORDS + 1];
    char *copies[MAX_WORDS + 1];
    int argc = 0;
    static char errbuf[1 << 16];
    struct cli cli, again;
    enum cli_action action, action2;

    argv[argc] = strdup("vcp");
    CHECK(argv[argc] != NULL);
    lens[argc++] = 3;
    for (size_t off = 0; off < size && argc <= MAX_WORDS;) {
        const uint8_t *nul = memchr(data + off, '\0', size - off);
        size_t n = nul ? (size_t)(nul - (data + off)) : size - off;
        char *w = malloc(n + 1);
        CHECK(w != NULL);
        memcpy(w, data + off, n);
        w[n] = '\0';
        lens[argc] = n;
        argv[argc++] = w;
        off += n + 1;
    }
    argv[argc] = NULL;
    for (int i = 0; i < argc; i++) {
        copies[i] = malloc(lens[i] + 1);
        CHECK(copies[i] != NULL);
        memcpy(copies[i], argv[i], lens[i] + 1);
    }

    FILE *err = fmemopen(errbuf, sizeof errbuf, "w");
    CHECK(err != NULL);
    memset(&cli, 0, sizeof cli);
    int rc = cli_parse_args(&cli, argc, argv, err, &action);
    CHECK(fflush(err) == 0);
    long said = ftell(err);
    CHECK(rc == 0 || rc == EXIT_USAGE);
    CHECK((rc != 0) == (said > 0));
    check_strings(&cli, argc, argv, lens);
    if (rc == 0) {
        CHECK(action == CLI_RUN || action == CLI_USAGE || action == CLI_HELP ||
              action == CLI_GROUP_HELP || action == CLI_VERSION);
        CHECK((action == CLI_GROUP_HELP) == (cli.group != NULL));
        if (action == CLI_RUN || action == CLI_HELP)
            CHECK(cli.command != NULL && cli.command->run != NULL);
        if (action == CLI_RUN) {
            const struct cli_command *c = cli.command;
            CHECK(cli.cmd == c->words);
            CHECK(cli.npos >= c->min_pos && cli.npos <= c->max_pos && cli.npos <= CLI_MAX_POS);
            for (int i = 0; i < cli.npos; i++) {
                bool found = false;
                for (int j = 1; j < argc; j++)
                    found = found || cli.pos[i] == argv[j];
                CHECK(found);
            }
            CHECK((cli.batch != NULL) == (strcmp(c->words, "post") == 0));
            CHECK(cli.timeout_s == 0 || (cli.timeout_s >= 1 && cli.timeout_s <= 86400));
            CHECK(cli.retries == -1 || (cli.retries >= 0 && cli.retries <= 1000));
            CHECK(cli.client == NULL && cli.looked_up_from == NULL);
        }
        /* what main() would print, into the sink */
        if (action == CLI_USAGE)
            cli_usage(err);
        else if (action == CLI_HELP)
            cli_command_help(err, cli.command);
        else if (action == CLI_GROUP_HELP)
            cli_group_help(err, cli.group);
    }
    fclose(err);

    /* deterministic, and argv is only read */
    err = fmemopen(errbuf, sizeof errbuf, "w");
    CHECK(err != NULL);
    memset(&again, 0, sizeof again);
    CHECK(cli_parse_args(&again, argc, argv, err, &action2) == rc);
    fclose(err);
    if (rc == 0)
        CHECK(action2 == action);
    CHECK(memcmp(&cli, &again, sizeof cli) == 0);
    for (int i = 0; i < argc; i++) {
        CHECK(memcmp(copies[i], argv[i], lens[i] + 1) == 0);
        free(copies[i]);
        free(argv[i]);
    }
    return 0;
}
