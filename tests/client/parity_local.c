/*
 * The library's half of the validation parity test: reads request bodies,
 * one per line, and prints for each "<status>\t<detail>" as libvcp judges it
 * locally (vcp_msg_from_json, then vcp_msg_validate) -- e2e.py sends the very
 * same bytes to vcpd and compares.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vcp/vcp.h>

int main(int argc, char **argv)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    FILE *f = argc > 1 ? fopen(argv[1], "r") : stdin;

    if (f == NULL) {
        perror(argv[1]);
        return 2;
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        struct vcp_result r;
        vcp_msg *m = NULL;
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        int rc = vcp_msg_from_json(line, (size_t)n, &m, &r);
        if (rc == VCP_E_OK)
            rc = vcp_msg_validate(m, &r);
        if (rc != VCP_E_OK && rc != VCP_E_INVALID)
            return 3;
        printf("%d\t%s\n", rc == VCP_E_OK ? 0 : r.status, rc == VCP_E_OK ? "" : r.detail);
        vcp_msg_free(m);
    }
    free(line);
    return 0;
}
