/*
 * `vcp post TYPE ...`: turns natural arguments into one of the library's
 * typed messages, fills in the sender, and posts it.  Argument syntax errors
 * (a size that is not a number) are usage errors; everything about the
 * message itself is left to the library's validation, so the tool reports
 * exactly what vcpd would.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/readall.h"

/* Reads all of standard input (for "-"), at most 64 MiB; NULL on error.  Caller frees. */
static char *read_stdin(void)
{
    size_t len;
    char *buf = readall_stream(stdin, (size_t)64 << 20, &len);

    /* "echo hi | vcp post text -" should post "hi", not "hi\n". */
    while (buf && len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        buf[--len] = '\0';
    return buf;
}

static bool parse_double(const char *s, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    return s[0] != '\0' && *end == '\0' && errno == 0;
}

/* The last path segment of a URL ("https://x/a/b.pdf?x=1" -> "b.pdf"); caller frees. */
static char *url_basename(const char *url)
{
    const char *p = strstr(url, "://");
    const char *end, *slash;

    p = p ? p + 3 : url;
    end = p + strcspn(p, "?#");
    slash = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '/')
            slash = q;
    if (slash == NULL || slash + 1 >= end)
        return strdup("");
    return strndup(slash + 1, (size_t)(end - slash - 1));
}

/* Builds the message the command line describes; returns an exit code, *out on success. */
static int build(struct cli *cli, const char *type, vcp_msg **out)
{
    long long size = 0, duration = -1, id = 0;
    char *owned = NULL;
    vcp_msg *m = NULL;

    if ((strcmp(type, "video") == 0 || strcmp(type, "file") == 0)) {
        if (cli->size == NULL) {
            fprintf(stderr, "vcp: post %s needs --size BYTES\n", type);
            return EXIT_USAGE;
        }
        if (!cli_parse_i64(cli->size, &size)) {
            fprintf(stderr, "vcp: --size: not an integer: %s\n", cli->size);
            return EXIT_USAGE;
        }
    }
    if (cli->duration && !cli_parse_i64(cli->duration, &duration)) {
        fprintf(stderr, "vcp: --duration: not an integer: %s\n", cli->duration);
        return EXIT_USAGE;
    }
    if (strcmp(type, "text") == 0) {
        const char *text = cli->pos[0];
        if (strcmp(text, "-") == 0 && (text = owned = read_stdin()) == NULL) {
            fprintf(stderr, "vcp: cannot read standard input\n");
            return EXIT_IO;
        }
        m = vcp_msg_text(NULL, text);
    } else if (strcmp(type, "picture") == 0) {
        m = vcp_msg_picture(NULL, cli->npos > 1 ? cli->pos[1] : "", cli->pos[0], cli->thumbnail);
    } else if (strcmp(type, "video") == 0) {
        m = vcp_msg_video(NULL, cli->pos[0], size, duration, cli->thumbnail);
    } else if (strcmp(type, "file") == 0) {
        const char *name = cli->name;
        if (name == NULL)
            name = owned = url_basename(cli->pos[0]);
        m = name ? vcp_msg_file(NULL, cli->pos[0], size, name) : NULL;
    } else if (strcmp(type, "contact") == 0) {
        m = vcp_msg_contact(NULL, cli->pos[0], cli->pos[1]);
    } else if (strcmp(type, "location") == 0) {
        double lat, lon;
        if (!parse_double(cli->pos[0], &lat) || !parse_double(cli->pos[1], &lon)) {
            fprintf(stderr, "vcp: LAT and LON must be decimal numbers\n");
            return EXIT_USAGE;
        }
        m = vcp_msg_location(NULL, lat, lon);
    } else if (strcmp(type, "url") == 0) {
        m = vcp_msg_url(NULL, cli->pos[0], cli->npos > 1 ? cli->pos[1] : NULL);
    } else if (strcmp(type, "sticker") == 0) {
        if (!cli_parse_i64(cli->pos[0], &id)) {
            fprintf(stderr, "vcp: STICKER_ID must be an integer\n");
            return EXIT_USAGE;
        }
        m = vcp_msg_sticker(NULL, id);
    } else { /* json */
        struct vcp_result res;
        const char *json = cli->pos[0];
        if (strcmp(json, "-") == 0 && (json = owned = read_stdin()) == NULL) {
            fprintf(stderr, "vcp: cannot read standard input\n");
            return EXIT_IO;
        }
        int rc = vcp_msg_from_json(json, strlen(json), &m, &res);
        free(owned);
        if (rc != VCP_E_OK)
            return cli_fail(cli, rc, &res, NULL);
        owned = NULL;
    }
    free(owned);
    if (m == NULL) {
        fprintf(stderr, "vcp: out of memory\n");
        return EXIT_IO;
    }
    if (cli->sender_name && vcp_msg_set_sender(m, cli->sender_name, cli->sender_avatar) != 0) {
        vcp_msg_free(m);
        fprintf(stderr, "vcp: out of memory\n");
        return EXIT_IO;
    }
    *out = m;
    return 0;
}

int cmd_post(struct cli *cli)
{
    const char *type = cli->cmd + strlen("post ");
    struct vcp_result res;
    vcp_msg *m = NULL;
    const char *from;
    int rc;

    if ((rc = build(cli, type, &m)) != 0)
        return rc;
    /* A JSON message may carry its own "from"; otherwise --from or the superadmin. */
    if (vcp_msg_from(m) == NULL || cli->from) {
        if ((rc = cli_default_from(cli, &from)) != 0)
            goto out;
        if (vcp_msg_set_from(m, from) != VCP_E_OK) {
            rc = EXIT_IO;
            goto out;
        }
    }
    if ((rc = cli_client(cli, NULL, NULL)) != 0)
        goto out;
    rc = vcp_post(cli->client, m, &res);
    if (rc != VCP_E_OK) {
        rc = cli_fail(cli, rc, &res, NULL);
        goto out;
    }
    if (cli->json)
        printf("%s\n", vcp_client_last_body(cli->client));
    else if (!cli->quiet)
        printf("posted %s, message_token %llu%s%s\n", vcp_msg_type(m),
               (unsigned long long)res.message_token, res.chat_hostname[0] ? " to " : "",
               res.chat_hostname);
    rc = EXIT_OK;
out:
    vcp_msg_free(m);
    return rc;
}
