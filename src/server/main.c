/*
 * vcpd's entry point: only dispatches.  `vcpd [serve] [options]` runs the
 * server (serve.c); `vcpd channel …`, `vcpd member …` and `vcpd sandbox …`
 * administer the database offline (admin_cli.c).
 */
#include <stdio.h>
#include <string.h>

#include "server/admin_cli.h"
#include "server/serve.h"
#include "server/version.h"

static const char usage_main[] =
    "usage: vcpd [serve] [options]        run the server\n"
    "       vcpd channel ACTION [options] administer channels (offline, on --db)\n"
    "       vcpd member ACTION [options]  administer channel members (offline)\n"
    "       vcpd sandbox reset --yes      empty the whole database (offline)\n"
    "       vcpd --version                release and git commit of this build\n"
    "\n"
    "Run 'vcpd serve --help', 'vcpd channel --help' or 'vcpd member --help' for details.\n";

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
        printf("vcpd %s (git %s)\n", vcpd_version, vcpd_git_hash);
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return serve_main(argc - 1, argv + 1);
    if (argc >= 3 && strcmp(argv[1], "channel") == 0 && strcmp(argv[2], "fault") == 0)
        return admin_cli_main("channel fault", argc - 2, argv + 2);
    if (argc >= 2 && (strcmp(argv[1], "channel") == 0 || strcmp(argv[1], "member") == 0 ||
                      strcmp(argv[1], "sandbox") == 0))
        return admin_cli_main(argv[1], argc - 1, argv + 1);
    if (argc >= 2 && argv[1][0] != '-') {
        fprintf(stderr, "vcpd: unknown command '%s'\n%s", argv[1], usage_main);
        return 2;
    }
    return serve_main(argc, argv);
}
