/*
 * vcp: the command-line client of the Viber Channels Post API.  main()
 * only glues the pieces: the command line is read by cli_parse_args
 * (args.c, with the command and option tables), the commands live in one
 * file each (post.c, batch.c, account.c, serve.c) and share common.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int main(int argc, char **argv)
{
    struct cli cli;
    enum cli_action action;
    int rc;

    memset(&cli, 0, sizeof(cli));
    if ((rc = cli_parse_args(&cli, argc, argv, stderr, &action)) != 0)
        return rc;
    switch (action) {
    case CLI_VERSION:
        printf("vcp %s (libvcp %s)\n", VCP_VERSION, vcp_version());
        return EXIT_OK;
    case CLI_USAGE:
        cli_usage(stdout);
        return EXIT_OK;
    case CLI_HELP:
        cli_command_help(stdout, cli.command);
        return EXIT_OK;
    case CLI_GROUP_HELP:
        cli_group_help(stdout, cli.group);
        return EXIT_OK;
    case CLI_RUN:
        break;
    }
    if (cli.token == NULL)
        cli.token = getenv("VIBER_AUTH_TOKEN");
    if (cli.api_url == NULL)
        cli.api_url = getenv("VIBER_API_URL");
    rc = cli.command->run(&cli);
    fflush(stdout);
    vcp_client_free(cli.client);
    free(cli.looked_up_from);
    return rc;
}
