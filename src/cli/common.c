/*
 * What every command of vcp shares: making the client from the options,
 * finding the default sender, and reporting a failed library call with the
 * documented exit codes (stderr for people, the JSON answer on stdout with
 * --json).  Apart from main() so the fuzz targets can link the commands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/encode.h"

int cli_exit_code(int rc)
{
    switch (rc) {
    case VCP_E_OK:
        return EXIT_OK;
    case VCP_E_STATUS:
        return EXIT_STATUS;
    case VCP_E_INVALID:
        return EXIT_INVALID;
    case VCP_E_TRANSPORT:
        return EXIT_TRANSPORT;
    case VCP_E_PROTOCOL:
        return EXIT_PROTOCOL;
    case VCP_E_IO:
        return EXIT_IO;
    case VCP_E_ARG:
        return EXIT_USAGE;
    }
    return EXIT_IO; /* out of memory */
}

void cli_json_str(FILE *f, const char *s)
{
    char esc[ENCODE_JSON_MAX_PER_BYTE];

    fputc('"', f);
    for (; s && *s; s++)
        fwrite(esc, 1, encode_json_chars(esc, s, 1), f);
    fputc('"', f);
}

int cli_fail(struct cli *cli, int rc, const struct vcp_result *res, const char *what)
{
    const char *body = cli->client ? vcp_client_last_body(cli->client) : NULL;

    if (rc == VCP_E_STATUS || rc == VCP_E_INVALID) {
        fprintf(stderr, "vcp: %s%s%s (%d)%s%s\n", what ? what : "", what ? ": " : "",
                res->status_name, res->status, res->detail[0] ? ": " : "", res->detail);
        if (rc == VCP_E_INVALID)
            fprintf(stderr, "vcp: not sent\n");
    } else {
        /* No answer (or not the API's): say which endpoint, so that a forgotten
         * VIBER_API_URL shows at once (the default is the real Viber). */
        const char *url = cli->client ? vcp_client_last_url(cli->client) : NULL;
        char where[600] = "";
        if (url && res && strstr(res->detail, url) == NULL)
            snprintf(where, sizeof(where), " (%s, %d attempt%s)", url, res->attempts,
                     res->attempts == 1 ? "" : "s");
        fprintf(stderr, "vcp: %s%s%s%s%s%s\n", what ? what : "", what ? ": " : "",
                vcp_error_name(rc), res && res->detail[0] ? ": " : "", res ? res->detail : "",
                where);
        if (url && cli->api_url == NULL)
            fprintf(stderr, "vcp: that is Viber's own API, the default; for a vcpd use --api-url "
                            "or VIBER_API_URL\n");
        if (res && res->maybe_sent)
            fprintf(stderr, "vcp: the request may have reached the server\n");
    }
    if (cli->json) {
        if (rc == VCP_E_STATUS && body) {
            printf("%s\n", body);
        } else if (rc == VCP_E_INVALID) {
            printf("{\"status\":%d,\"status_message\":", res->status);
            cli_json_str(stdout, res->status_name);
            printf(",\"detail\":");
            cli_json_str(stdout, res->detail);
            printf(",\"sent\":false}\n");
        } else {
            printf("{\"error\":");
            cli_json_str(stdout, vcp_error_name(rc));
            printf(",\"detail\":");
            cli_json_str(stdout, res ? res->detail : "");
            printf(",\"maybe_sent\":%s}\n", res && res->maybe_sent ? "true" : "false");
        }
    }
    return cli_exit_code(rc);
}

/*
 * The retry notice of commands without a progress display of their own: what
 * is retried, why and when, on stderr (not with --quiet), so that waiting is
 * never silent.  arg is the struct cli.
 */
static void report_retry(void *arg, int attempt, long delay_ms, const char *reason)
{
    struct cli *cli = arg;
    const char *url = vcp_client_last_url(cli->client);

    if (cli->quiet)
        return;
    fprintf(stderr, "vcp: %s: %s; retry %d of %d in %.1f s\n", url ? url : "request", reason,
            attempt, cli->max_retries, (double)delay_ms / 1000.0);
}

int cli_client(struct cli *cli, vcp_retry_fn on_retry, void *arg)
{
    struct vcp_options o;
    int rc;

    if (cli->client)
        return 0;
    if (cli->token == NULL || cli->token[0] == '\0') {
        fprintf(stderr, "vcp: no token: use --token or set VIBER_AUTH_TOKEN\n");
        return EXIT_USAGE;
    }
    vcp_options_init(&o);
    if (cli->api_url)
        o.base_url = cli->api_url;
    if (cli->cacert)
        o.ca_file = cli->cacert;
    if (cli->timeout_s > 0)
        o.timeout_ms = cli->timeout_s * 1000;
    if (cli->retries >= 0)
        o.max_retries = (int)cli->retries;
    o.user_agent = "vcp/" VCP_VERSION;
    o.on_retry = on_retry ? on_retry : report_retry;
    o.on_retry_arg = on_retry ? arg : cli;
    cli->max_retries = o.max_retries;
    rc = vcp_client_new(&cli->client, cli->token, &o);
    if (rc == VCP_E_ARG) {
        fprintf(stderr, "vcp: bad token or API URL (want http:// or https://)\n");
        return EXIT_USAGE;
    }
    if (rc != VCP_E_OK) {
        fprintf(stderr, "vcp: %s\n", vcp_error_name(rc));
        return cli_exit_code(rc);
    }
    return 0;
}

int cli_default_from(struct cli *cli, const char **out)
{
    struct vcp_account *a = NULL;
    struct vcp_result res;
    int rc;

    if (cli->from) {
        *out = cli->from;
        return 0;
    }
    if (cli->looked_up_from) {
        *out = cli->looked_up_from;
        return 0;
    }
    if ((rc = cli_client(cli, NULL, NULL)) != 0)
        return rc;
    rc = vcp_get_account_info(cli->client, &a, &res);
    if (rc != VCP_E_OK)
        return cli_fail(cli, rc, &res, "looking up the sender (get_account_info)");
    const char *id = vcp_account_first_superadmin(a);
    if (id == NULL || (cli->looked_up_from = strdup(id)) == NULL) {
        fprintf(stderr, "vcp: %s; use --from\n",
                id ? "out of memory" : "the channel has no superadmin to post as");
        vcp_account_free(a);
        return EXIT_STATUS;
    }
    vcp_account_free(a);
    *out = cli->looked_up_from;
    return 0;
}
