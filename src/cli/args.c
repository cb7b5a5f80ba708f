/*
 * The command line of vcp: the command table (words, handler, help), the
 * option table and the parser that turns argv into a struct cli.  Kept apart
 * from main() and free of side effects (it only reads argv and writes the
 * reasons for a refusal to the stream it is given), so the fuzz target
 * tests/fuzz/fuzz_cli_args.c drives exactly what vcp runs.  The parser is
 * hand-written rather than getopt_long so that negative numbers ("vcp post
 * location -33.9 18.4") are arguments, not options, and options may come
 * before or after the command words.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---------------------------------------------------------------- options */

enum kind { FLAG, VALUE };

struct opt {
    const char *name; /* without "--" */
    enum kind kind;
    size_t off;       /* offsetof the field in struct cli */
    const char *cmds; /* commands it applies to (prefix match, "|"-separated); NULL = all */
    const char *arg;  /* value name for help */
    const char *help;
};

#define F(field) offsetof(struct cli, field)

static const struct opt opts[] = {
    {"token", VALUE, F(token), NULL, "TOKEN", "channel auth token (default: $VIBER_AUTH_TOKEN)"},
    {"api-url", VALUE, F(api_url), NULL, "URL",
     "API root (default: $VIBER_API_URL, else " VCP_DEFAULT_BASE_URL ")"},
    {"cacert", VALUE, F(cacert), NULL, "PEM", "extra CA certificates for an https API URL"},
    {"timeout", VALUE, 0, NULL, "SECONDS", "per-request timeout (default 30)"},
    {"retries", VALUE, 0, NULL, "N", "retries when safe (status 12, no connection; default 5)"},
    {"json", FLAG, F(json), NULL, NULL, "print the server's JSON answers (one per line)"},
    {"quiet", FLAG, F(quiet), NULL, NULL, "no progress, retry notices or results (errors only)"},
    {"help", FLAG, F(help), NULL, NULL, "show help for the command"},
    {"from", VALUE, F(from), "post", "ID", "sender id (default: the channel's first superadmin)"},
    {"sender-name", VALUE, F(sender_name), "post", "NAME", "optional sender.name (max 28)"},
    {"sender-avatar", VALUE, F(sender_avatar), "post", "URL", "optional sender.avatar"},
    {"thumbnail", VALUE, F(thumbnail), "post picture|post video", "URL", "thumbnail JPEG URL"},
    {"size", VALUE, F(size), "post video|post file", "BYTES", "media size in bytes (required)"},
    {"duration", VALUE, F(duration), "post video", "SECONDS", "video duration, 0..180"},
    {"name", VALUE, F(name), "post file", "FILE_NAME",
     "file name shown to readers (default: last part of the URL)"},
    {"batch", VALUE, F(batch), "post batch", "FILE.jsonl", "post every line of a JSONL file"},
    {"state", VALUE, F(state), "post batch", "FILE",
     "batch state file (default: FILE.jsonl.state)"},
    {"unknown", VALUE, F(unknown), "post batch", "skip|resend",
     "batch: decide posts whose outcome is unknown"},
    {"listen", VALUE, F(listen), "webhook serve", "HOST:PORT",
     "address to listen on (default 127.0.0.1:0)"},
    {"cert", VALUE, F(cert), "webhook serve", "PEM", "certificate (chain) for HTTPS"},
    {"key", VALUE, F(key), "webhook serve", "PEM", "private key for HTTPS"},
    {"port-file", VALUE, F(port_file), "webhook serve", "FILE", "write the port here"},
    {"accept-unsigned", FLAG, F(accept_unsigned), "webhook serve", NULL,
     "answer 200 even when the signature does not verify"},
};

/* ---------------------------------------------------------------- commands */

static const struct cli_command commands[] = {
    {"post text", cmd_post, 1, 1, "[--from ID] TEXT",
     "Post a text message (max 7000 characters).  TEXT \"-\" reads it from standard input."},
    {"post picture", cmd_post, 1, 2, "[--from ID] [--thumbnail URL] JPEG_URL [DESCRIPTION]",
     "Post a picture: a JPEG URL ending .jpg/.jpeg and an optional description (max 768)."},
    {"post video", cmd_post, 1, 1,
     "[--from ID] --size BYTES [--duration S] [--thumbnail URL] MP4_URL",
     "Post a video (MP4/H264, at most 50 MB, duration at most 180 s)."},
    {"post file", cmd_post, 1, 1, "[--from ID] --size BYTES [--name FILE_NAME] URL",
     "Post a file (at most 50 MB; the name needs an allowed extension)."},
    {"post contact", cmd_post, 2, 2, "[--from ID] NAME PHONE_NUMBER",
     "Post a contact (name max 28, phone number max 18 characters)."},
    {"post location", cmd_post, 2, 2, "[--from ID] LAT LON",
     "Post a location (latitude -90..90, longitude -180..180)."},
    {"post url", cmd_post, 1, 2, "[--from ID] URL [DESCRIPTION]",
     "Post a link (max 2000 characters) with an optional description (max 120)."},
    {"post sticker", cmd_post, 1, 1, "[--from ID] STICKER_ID", "Post a Viber sticker by id."},
    {"post json", cmd_post, 1, 1, "[--from ID] JSON",
     "Post a message given as a JSON object (\"-\" reads it from standard input)."},
    {"post", cmd_batch, 0, 0, "--batch FILE.jsonl [--state FILE] [--unknown skip|resend]",
     "Post every line of a JSONL file, in order, each a JSON message object (\"from\" may be\n"
     "left out).  All lines are validated before the first is sent.  Acknowledged lines are\n"
     "recorded (fsync'd) in the state file, so re-running after an interruption skips them.\n"
     "If vcp died between the server's answer and recording it, the line's outcome is\n"
     "unknown: vcp stops (exit 6) until you say --unknown skip (it was posted) or\n"
     "--unknown resend (it was not).  Rate limits (status 12) are waited out with backoff."},
    {"webhook set", cmd_webhook_set, 1, 1, "URL",
     "Set the channel's webhook.  The server calls URL and expects 200 before answering."},
    {"webhook remove", cmd_webhook_remove, 0, 0, "", "Remove the channel's webhook."},
    {"webhook serve", cmd_webhook_serve, 0, 0,
     "[--listen HOST:PORT] [--cert PEM --key PEM] [--port-file FILE]",
     "Run a webhook responder: answers correctly signed callbacks (HMAC-SHA256 with the\n"
     "token) with 200, others with 403, and logs each one.  HTTPS with --cert/--key, else\n"
     "plain HTTP (put it behind a TLS proxy; Viber only calls https URLs).  Runs until\n"
     "interrupted."},
    {"account", cmd_account, 0, 0, "", "Show the channel's account info and members."},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Whether option o may be given to command words (global options: always). */
static bool applies(const struct opt *o, const char *words)
{
    if (o->cmds == NULL)
        return true;
    if (strcmp(o->cmds, "post") == 0)
        return strncmp(words, "post", 4) == 0;
    if (strcmp(words, "post") == 0) /* the batch form */
        return strcmp(o->cmds, "post batch") == 0;
    return strstr(o->cmds, words) != NULL;
}

static void print_opt(FILE *f, const struct opt *o)
{
    char left[64];

    snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    fprintf(f, "  %-28s %s\n", left, o->help);
}

/* Lists the options of cmd (its own only), or the global ones when cmd is NULL. */
static void print_opts(FILE *f, const char *cmd)
{
    size_t i;

    for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        const struct opt *o = &opts[i];
        if (cmd == NULL ? o->cmds != NULL : (o->cmds == NULL || !applies(o, cmd)))
            continue;
        print_opt(f, o);
    }
}

void cli_usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: vcp [OPTIONS] COMMAND [ARGS]\n\n"
               "A client for the Viber Channels Post API (Viber, or a self-hosted vcpd).\n\n"
               "Commands:\n");
    for (i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  vcp %s %s\n", commands[i].words, commands[i].usage);
    fprintf(f, "\nOptions for every command:\n");
    print_opts(f, NULL);
    fprintf(f, "\nExit status: 0 ok (status 0); 1 the server answered an error status; 2 usage;\n"
               "3 invalid message (not sent); 4 no answer from the server; 5 unreadable\n"
               "answer; 6 batch post with unknown outcome; 7 local file error; 8 batch\n"
               "interrupted (re-run to resume).  'vcp COMMAND --help' for more.\n");
}

/*
 * Writes to buf, comma-separated, the words that may follow prefix ("webhook"
 * -> "set, remove, serve"), or for a NULL prefix the commands' first words,
 * each once ("post, webhook, account").  Empty when prefix starts no command.
 */
static void next_words(char *buf, size_t len, const char *prefix)
{
    size_t n = prefix ? strlen(prefix) : 0, off = 0, k, j;

    buf[0] = '\0';
    for (k = 0; k < NCOMMANDS && off < len; k++) {
        const char *w = commands[k].words;
        if (prefix && (strncmp(w, prefix, n) != 0 || w[n] != ' '))
            continue;
        w += prefix ? n + 1 : 0;
        size_t wl = strcspn(w, " ");
        for (j = 0; j < k; j++) /* a first word shared by several commands: once */
            if (strncmp(commands[j].words, w, wl) == 0 && commands[j].words[wl] <= ' ')
                break;
        if (prefix || j == k)
            off += (size_t)snprintf(buf + off, len - off, "%s%.*s", off ? ", " : "", (int)wl, w);
    }
}

void cli_group_help(FILE *f, const char *group)
{
    size_t n = strlen(group), k;
    bool post = strcmp(group, "post") == 0;

    fprintf(f, "usage: vcp %s %s ...\n\nCommands:\n", group, post ? "TYPE|--batch" : "COMMAND");
    for (k = 0; k < NCOMMANDS; k++) {
        const char *w = commands[k].words, *h = commands[k].help;
        if (strncmp(w, group, n) != 0 || (w[n] != ' ' && w[n] != '\0'))
            continue;
        /* The usage, then the help's first sentence (they end in ".  " or at the
         * end), indented, with its line breaks as written. */
        fprintf(f, "  vcp %s%s%s\n      ", w, commands[k].usage[0] ? " " : "", commands[k].usage);
        for (; *h && !(h[0] == '.' && (h[1] == '\0' || (h[1] == ' ' && h[2] == ' '))); h++) {
            if (*h == '\n')
                fputs("\n      ", f);
            else
                fputc(*h, f);
        }
        fputs(".\n", f);
    }
    fprintf(f, "\nOptions for every 'vcp %s' command:\n", group);
    for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
        if (opts[k].cmds && strcmp(opts[k].cmds, group) == 0)
            print_opt(f, &opts[k]);
    print_opts(f, NULL);
    fprintf(f, "\n'vcp %s %s --help' shows a command's own options.\n", group,
            post ? "TYPE" : "COMMAND");
}

void cli_command_help(FILE *f, const struct cli_command *c)
{
    char prefix[32];

    fprintf(f, "usage: vcp %s %s\n\n%s\n", c->words, c->usage, c->help);
    snprintf(prefix, sizeof(prefix), "%s", c->words);
    fprintf(f, "\nOptions:\n");
    print_opts(f, prefix);
    print_opts(f, NULL);
}

/* ---------------------------------------------------------------- parsing */

static const struct opt *find_opt(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

bool cli_parse_i64(const char *s, long long *out)
{
    char *end;

    if (s == NULL || *s == '\0')
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

/*
 * Reads the options of argv into cli; words[] receives the non-option
 * arguments.  Returns 0 (*version set when --version came before any
 * error) or EXIT_USAGE after saying why on err.
 */
static int parse_opts(struct cli *cli, int argc, char **argv, FILE *err, const char **words,
                      int *nwords, const struct opt **given, int *ngiven, bool *version)
{
    const char *timeout = NULL, *retries = NULL;
    bool only_pos = false;
    int i;

    *nwords = 0;
    *ngiven = 0;
    *version = false;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0' || (a[1] != '-' && a[1] != 'h')) {
            /* Arguments, including "-" (stdin) and negative numbers. */
            if (*nwords >= CLI_MAX_POS + 2) {
                fprintf(err, "vcp: too many arguments\n");
                return EXIT_USAGE;
            }
            words[(*nwords)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strcmp(a, "-h") == 0) {
            cli->help = true;
            continue;
        }
        if (a[1] != '-') {
            fprintf(err, "vcp: unknown option %s\n", a);
            return EXIT_USAGE;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (len == 7 && strncmp(name, "version", 7) == 0) {
            *version = true; /* main() prints it and exits at once, as before */
            return 0;
        }
        const struct opt *o = find_opt(name, len);
        if (o == NULL) {
            fprintf(err, "vcp: unknown option --%.*s (see vcp --help)\n", (int)len, name);
            return EXIT_USAGE;
        }
        const char *val = NULL;
        if (o->kind == VALUE) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc && !only_pos &&
                     (strcmp(argv[i + 1], "--help") == 0 || strcmp(argv[i + 1], "-h") == 0)) {
                /* "vcp post --batch --help" asks for help, not to post a file named
                 * "--help" (--batch=--help or ./--help does that).  The option counts
                 * as given (so the batch form's help is shown), its value is the
                 * help word itself: never used, since help is all that happens. */
                val = argv[++i];
                cli->help = true;
            } else if (i + 1 < argc)
                val = argv[++i];
            else {
                fprintf(err, "vcp: --%s needs a value\n", o->name);
                return EXIT_USAGE;
            }
        } else if (eq) {
            fprintf(err, "vcp: --%s takes no value\n", o->name);
            return EXIT_USAGE;
        }
        if (strcmp(o->name, "timeout") == 0)
            timeout = val;
        else if (strcmp(o->name, "retries") == 0)
            retries = val;
        else if (o->kind == VALUE)
            *(const char **)((char *)cli + o->off) = val;
        else
            *(bool *)((char *)cli + o->off) = true;
        if ((size_t)*ngiven < sizeof(opts) / sizeof(opts[0]) * 4)
            given[(*ngiven)++] = o;
    }
    long long v;
    if (timeout && (!cli_parse_i64(timeout, &v) || v < 1 || v > 86400)) {
        fprintf(err, "vcp: --timeout: want seconds 1..86400\n");
        return EXIT_USAGE;
    }
    cli->timeout_s = timeout ? (long)v : 0;
    if (retries && (!cli_parse_i64(retries, &v) || v < 0 || v > 1000)) {
        fprintf(err, "vcp: --retries: want 0..1000\n");
        return EXIT_USAGE;
    }
    cli->retries = retries ? (long)v : -1;
    return 0;
}

int cli_parse_args(struct cli *cli, int argc, char **argv, FILE *err, enum cli_action *action)
{
    const char *words[CLI_MAX_POS + 2];
    const struct opt *given[sizeof(opts) / sizeof(opts[0]) * 4];
    const struct cli_command *cmd = NULL;
    char names[160];
    int nwords, ngiven, rc, i;
    size_t k, best = 0;
    bool version;

    *action = CLI_RUN;
    if ((rc = parse_opts(cli, argc, argv, err, words, &nwords, given, &ngiven, &version)) != 0)
        return rc;
    if (version) {
        *action = CLI_VERSION;
        return 0;
    }
    if (nwords == 0 || strcmp(words[0], "help") == 0) {
        if (nwords == 0 && !cli->help) {
            cli_usage(err);
            return EXIT_USAGE;
        }
        if (nwords <= 1) {
            *action = CLI_USAGE;
            return 0;
        }
        /* "vcp help webhook set" is "vcp webhook set --help". */
        memmove(words, words + 1, (size_t)(nwords - 1) * sizeof(words[0]));
        nwords--;
        cli->help = true;
    }
    /* The longest command whose words start the arguments ("post text" over "post"). */
    for (k = 0; k < NCOMMANDS; k++) {
        char buf[64];
        size_t n = 0;
        int used = 0;
        buf[0] = '\0';
        for (i = 0; i < nwords && n < strlen(commands[k].words); i++) {
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? " " : "", words[i]);
            used++;
            if (n >= sizeof(buf))
                break;
        }
        if (strcmp(buf, commands[k].words) == 0 && strlen(buf) > best) {
            best = strlen(buf);
            cmd = &commands[k];
            cli->npos = nwords - used;
        }
    }
    next_words(names, sizeof(names), cmd ? cmd->words : words[0]);
    if (cmd == NULL && names[0] != '\0') { /* a group without (a known) subcommand */
        if (cli->help) {
            cli->group = words[0];
            *action = CLI_GROUP_HELP;
            return 0;
        }
        if (nwords == 1)
            fprintf(err, "vcp: %s what? (%s; see vcp %s --help)\n", words[0], names, words[0]);
        else
            fprintf(err, "vcp: unknown %s command '%s' (one of %s; see vcp %s --help)\n", words[0],
                    words[1], names, words[0]);
        return EXIT_USAGE;
    }
    if (cmd == NULL) {
        next_words(names, sizeof(names), NULL);
        fprintf(err, "vcp: unknown command '%s' (one of %s; see vcp --help)\n", words[0], names);
        return EXIT_USAGE;
    }
    /* Plain "post" is the batch form; without --batch it is the group of post types. */
    if (strcmp(cmd->words, "post") == 0 && cli->batch == NULL) {
        if (cli->help) {
            cli->group = words[0];
            *action = CLI_GROUP_HELP;
            return 0;
        }
        if (cli->npos == 0)
            fprintf(err,
                    "vcp: post what? (vcp post TYPE ..., TYPE one of %s; or vcp post --batch "
                    "FILE.jsonl; see vcp post --help)\n",
                    names);
        else
            fprintf(err, "vcp: unknown post type '%s' (one of %s; or --batch FILE.jsonl)\n",
                    words[1], names);
        return EXIT_USAGE;
    }
    cli->command = cmd;
    if (cli->help) {
        *action = CLI_HELP;
        return 0;
    }
    /* Up to CLI_MAX_POS + 1 may be left over ("post" + 9 words): the count is
     * refused below, after the option checks, but must not overrun pos[]. */
    for (i = 0; i < cli->npos && i < CLI_MAX_POS; i++)
        cli->pos[i] = words[nwords - cli->npos + i];
    for (i = 0; i < ngiven; i++) {
        if (!applies(given[i], cmd->words)) {
            fprintf(err, "vcp: --%s does not apply to '%s'\n", given[i]->name, cmd->words);
            return EXIT_USAGE;
        }
    }
    if (cli->batch && strcmp(cmd->words, "post") != 0) {
        fprintf(err, "vcp: --batch goes with plain 'vcp post --batch FILE'\n");
        return EXIT_USAGE;
    }
    if (cli->npos < cmd->min_pos || cli->npos > cmd->max_pos) {
        fprintf(err, "usage: vcp %s %s\n", cmd->words, cmd->usage);
        return EXIT_USAGE;
    }
    cli->cmd = cmd->words;
    return 0;
}
