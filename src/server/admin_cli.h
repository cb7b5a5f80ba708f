/* `vcpd channel|member|sandbox ...`: the offline admin commands (admin_cli.c). */
#ifndef VCP_SERVER_ADMIN_CLI_H
#define VCP_SERVER_ADMIN_CLI_H

/*
 * Runs one offline command of group ("channel", "channel fault", "member"
 * or "sandbox"); argv[0] is the group's word, argv[1] the action.  Returns
 * the exit status: 0 done, 1 database or operation error, 2 usage, 3 the
 * operation refused its arguments.
 */
int admin_cli_main(const char *group, int argc, char **argv);

#endif
