/*
 * Shared state of the vcp tool: the parsed command line, the client made
 * from it, the command table's row type, and the documented exit codes.
 * The tool uses the public libvcp API (<vcp/vcp.h>), like any other
 * program would, and nothing of libvcp's insides; a few small helpers it
 * compiles in itself, as curl's tool does curlx: src/common's whole-file
 * reader and --listen grammar, and src/core's JSON string escaper.
 */
#ifndef VCP_CLI_H
#define VCP_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <vcp/vcp.h>

/* Exit codes; vcp(1) documents them.  0 only when the server answered status 0. */
enum {
    EXIT_OK = 0,
    EXIT_STATUS = 1,      /* the server answered a non-zero status */
    EXIT_USAGE = 2,       /* bad command line */
    EXIT_INVALID = 3,     /* a message failed local validation; nothing was sent */
    EXIT_TRANSPORT = 4,   /* no answer from the server */
    EXIT_PROTOCOL = 5,    /* an answer that is not the API's */
    EXIT_UNKNOWN = 6,     /* batch: a post's outcome is unknown (see --unknown) */
    EXIT_IO = 7,          /* a local file could not be read or written */
    EXIT_INTERRUPTED = 8, /* batch: stopped by a signal; re-run to resume */
};

#define CLI_MAX_POS 8

struct cli;

/* One row of the command table (args.c). */
struct cli_command {
    const char *words; /* "post text" */
    int (*run)(struct cli *);
    int min_pos, max_pos; /* positional arguments it takes */
    const char *usage;    /* after "vcp <words> " */
    const char *help;
};

/* What the command line asks for, when it is not refused (cli_parse_args). */
enum cli_action {
    CLI_RUN,        /* run cli->command */
    CLI_USAGE,      /* print the general usage (cli_usage) on stdout, exit 0 */
    CLI_HELP,       /* print cli->command's help (cli_command_help) on stdout, exit 0 */
    CLI_GROUP_HELP, /* print the help of the commands starting with cli->group ("post",
                       "webhook"; cli_group_help) on stdout, exit 0 */
    CLI_VERSION,    /* print the version on stdout, exit 0 */
};

/* Everything the command line said. */
struct cli {
    const char *cmd;              /* "post text", "webhook set", ... */
    const char *group;            /* CLI_GROUP_HELP: the group's word ("post", "webhook") */
    const char *pos[CLI_MAX_POS]; /* positional arguments after the command words */
    int npos;
    /* global */
    const char *token;   /* --token or VIBER_AUTH_TOKEN */
    const char *api_url; /* --api-url or VIBER_API_URL */
    const char *cacert;  /* --cacert */
    const char *from;    /* --from */
    bool json, quiet, help;
    long timeout_s;  /* --timeout, 0 = library default */
    long retries;    /* --retries, -1 = default */
    int max_retries; /* the retries the client was made with (for notices) */
    /* post */
    const char *thumbnail, *size, *duration, *name, *batch, *state, *unknown;
    const char *sender_name, *sender_avatar;
    /* webhook serve */
    const char *listen, *cert, *key, *port_file;
    bool accept_unsigned;

    const struct cli_command *command; /* the command given (points into the table) */
    vcp_client *client;                /* made on first use */
    char *looked_up_from;              /* first superadmin, looked up once */
};

/*
 * Parses argv[1..argc-1] into *cli (zeroed by the caller), which then points
 * into argv.  Returns 0 with *action saying what to do (for CLI_RUN and
 * CLI_HELP cli->command is set, for CLI_GROUP_HELP cli->group; for CLI_RUN
 * the positional arguments are in cli->pos and fit the command), or
 * EXIT_USAGE after writing the reason (or the usage) to err.  Reads no
 * environment and writes nowhere but err; the caller fills in the token and
 * API URL from the environment.
 */
int cli_parse_args(struct cli *cli, int argc, char **argv, FILE *err, enum cli_action *action);

/* Writes the general usage (every command, the global options, exit codes) to f. */
void cli_usage(FILE *f);

/* Writes command c's usage, help and options to f. */
void cli_command_help(FILE *f, const struct cli_command *c);

/* Writes the usage of every command starting with the word group, with the options they share. */
void cli_group_help(FILE *f, const char *group);

/*
 * Makes cli->client from the options (once); prints and returns an exit code
 * on failure.  on_retry (with arg) is told about each retry; NULL gives the
 * default notice on stderr (silenced by --quiet).
 */
int cli_client(struct cli *cli, vcp_retry_fn on_retry, void *arg);

/* The sender id: --from, else the channel's first superadmin (one get_account_info). */
int cli_default_from(struct cli *cli, const char **out);

/*
 * Reports a failed library call: status name and detail (or the library error)
 * on stderr, the JSON answer on stdout with --json.  Returns the exit code.
 */
int cli_fail(struct cli *cli, int rc, const struct vcp_result *res, const char *what);

/* Maps a library result to the exit code (0 only for VCP_E_OK). */
int cli_exit_code(int rc);

/* Writes s as a JSON string literal (with quotes) to f. */
void cli_json_str(FILE *f, const char *s);

/* Strict integer parsing for option values; false on junk or overflow. */
bool cli_parse_i64(const char *s, long long *out);

/* Commands. */
int cmd_post(struct cli *cli);
int cmd_batch(struct cli *cli);
int cmd_webhook_set(struct cli *cli);
int cmd_webhook_remove(struct cli *cli);
int cmd_webhook_serve(struct cli *cli);
int cmd_account(struct cli *cli);

#endif
