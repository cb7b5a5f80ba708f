/*
 * The Viber Channels Post API endpoints (api.c): /pa/set_webhook,
 * /pa/get_account_info and /pa/post, and the status answer they share.
 */
#ifndef VCP_SERVER_API_H
#define VCP_SERVER_API_H

#include <microhttpd.h>

#include "server/server.h"

struct strbuf;

enum MHD_Result api_set_webhook(struct req *r);
enum MHD_Result api_get_account_info(struct req *r);
enum MHD_Result api_post(struct req *r);
/* Appends {"status":N,"status_message":NAME,"detail":...} (no detail when
 * detail is NULL or "") to w: the body of every non-success API answer. */
void api_status_json(struct strbuf *w, int status, const char *detail);
/* Writes the {"status":N,"status_message":...,"detail":...} answer. */
enum MHD_Result api_reply_status(struct req *r, int status, const char *detail);

#endif
