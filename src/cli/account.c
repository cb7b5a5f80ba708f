/*
 * `vcp account`, `vcp webhook set URL`, `vcp webhook remove`: the channel's
 * settings, one library call each, printed for people or (--json) as the
 * server's answer verbatim.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void field(const char *name, const char *value)
{
    if (value && value[0])
        printf("%-18s %s\n", name, value);
}

int cmd_account(struct cli *cli)
{
    struct vcp_account *a = NULL;
    struct vcp_result res;
    size_t i;
    int rc;

    if ((rc = cli_client(cli, NULL, NULL)) != 0)
        return rc;
    rc = vcp_get_account_info(cli->client, &a, &res);
    if (rc != VCP_E_OK)
        return cli_fail(cli, rc, &res, NULL);
    if (cli->json) {
        printf("%s\n", vcp_client_last_body(cli->client));
        vcp_account_free(a);
        return EXIT_OK;
    }
    field("id", a->id);
    field("name", a->name);
    field("uri", a->uri);
    field("chat_hostname", a->chat_hostname);
    field("category", a->category);
    field("subcategory", a->subcategory);
    field("country", a->country);
    field("location", a->location);
    field("icon", a->icon);
    field("background", a->background);
    printf("%-18s %s\n", "webhook", a->webhook[0] ? a->webhook : "(not set)");
    if (a->subscribers_count >= 0)
        printf("%-18s %lld\n", "subscribers", (long long)a->subscribers_count);
    if (a->event_types_count > 0) {
        printf("%-18s", "event_types");
        for (i = 0; i < a->event_types_count; i++)
            printf(" %s", a->event_types[i]);
        printf("\n");
    }
    printf("members (%zu):\n", a->members_count);
    for (i = 0; i < a->members_count; i++)
        printf("  %-11s %-26s %s\n", a->members[i].role, a->members[i].id, a->members[i].name);
    vcp_account_free(a);
    return EXIT_OK;
}

static int webhook_call(struct cli *cli, const char *url)
{
    struct vcp_result res;
    int rc;

    if ((rc = cli_client(cli, NULL, NULL)) != 0)
        return rc;
    rc = url[0] ? vcp_set_webhook(cli->client, url, &res) : vcp_remove_webhook(cli->client, &res);
    if (rc != VCP_E_OK)
        return cli_fail(cli, rc, &res, url[0] ? "set_webhook" : "remove webhook");
    if (cli->json)
        printf("%s\n", vcp_client_last_body(cli->client));
    else if (!cli->quiet)
        printf(url[0] ? "webhook set to %s\n" : "webhook removed%s\n", url);
    return EXIT_OK;
}

int cmd_webhook_set(struct cli *cli)
{
    if (cli->pos[0][0] == '\0') {
        fprintf(stderr, "vcp: empty URL (use 'vcp webhook remove')\n");
        return EXIT_USAGE;
    }
    return webhook_call(cli, cli->pos[0]);
}

int cmd_webhook_remove(struct cli *cli)
{
    return webhook_call(cli, "");
}
