/* `vcpd serve`: the server's options, start-up and shutdown (serve.c). */
#ifndef VCP_SERVER_SERVE_H
#define VCP_SERVER_SERVE_H

/*
 * Runs the server with argv's options (argv[0] is the command's name) until
 * SIGTERM or SIGINT.  Returns the exit status: 0 after a clean shutdown or
 * --help, 1 when start-up fails, 2 on a bad option.
 */
int serve_main(int argc, char **argv);

#endif
