/*
 * Posts a picture to a Viber channel with libvcp.
 *   cc post_picture.c $(pkg-config --cflags --libs vcp)
 *   VIBER_AUTH_TOKEN=... ./post_picture SENDER_ID https://example.com/cat.jpg "A cat"
 * VIBER_API_URL points it at a vcpd instead of the real Viber.
 */
#include <stdio.h>
#include <stdlib.h>

#include <vcp/vcp.h>

int main(int argc, char **argv)
{
    struct vcp_options opts;
    struct vcp_result res = {0};
    vcp_client *c = NULL;

    if (argc < 3 || getenv("VIBER_AUTH_TOKEN") == NULL) {
        fprintf(stderr, "usage: VIBER_AUTH_TOKEN=... %s FROM JPEG_URL [TEXT]\n", argv[0]);
        return 2;
    }
    vcp_options_init(&opts);
    if (getenv("VIBER_API_URL"))
        opts.base_url = getenv("VIBER_API_URL");
    vcp_msg *m = vcp_msg_picture(argv[1], argc > 3 ? argv[3] : "", argv[2], NULL);
    int rc = m ? vcp_client_new(&c, getenv("VIBER_AUTH_TOKEN"), &opts) : VCP_E_NOMEM;
    if (rc == VCP_E_OK)
        rc = vcp_post(c, m, &res);
    if (rc == VCP_E_OK)
        printf("posted, message_token %llu\n", (unsigned long long)res.message_token);
    else if (rc == VCP_E_STATUS || rc == VCP_E_INVALID)
        fprintf(stderr, "%s: %s\n", res.status_name, res.detail);
    else
        fprintf(stderr, "%s: %s\n", vcp_error_name(rc), res.detail);
    vcp_msg_free(m);
    vcp_client_free(c);
    return rc == VCP_E_OK ? 0 : 1;
}
