/*
 * The wire status table of the Viber Channels Post API: the one place where
 * codes and names live.  Every layer (src/core validation, vcpd responses,
 * libvcp results, docs) derives from VCP_STATUS_TABLE, so a code can never
 * have two spellings.  Included by <vcp/vcp.h>; users need not include it.
 *
 * The seed's table says "other: General error" without a number; vcp uses
 * 99 (generalError) for every internal failure, a value Viber's REST APIs
 * leave unused.
 */
#ifndef VCP_STATUS_H
#define VCP_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(ENUM_SUFFIX, code, "wireName") */
#define VCP_STATUS_TABLE(X)                                                                        \
    X(OK, 0, "ok")                                                                                 \
    X(INVALID_URL, 1, "invalidUrl")                                                                \
    X(INVALID_AUTH_TOKEN, 2, "invalidAuthToken")                                                   \
    X(BAD_DATA, 3, "badData")                                                                      \
    X(MISSING_DATA, 4, "missingData")                                                              \
    X(PUBLIC_ACCOUNT_BLOCKED, 7, "publicAccountBlocked")                                           \
    X(PUBLIC_ACCOUNT_NOT_FOUND, 8, "publicAccountNotFound")                                        \
    X(PUBLIC_ACCOUNT_SUSPENDED, 9, "publicAccountSuspended")                                       \
    X(WEBHOOK_NOT_SET, 10, "webhookNotSet")                                                        \
    X(TOO_MANY_REQUESTS, 12, "tooManyRequests")                                                    \
    X(GENERAL_ERROR, 99, "generalError")

enum vcp_status {
#define VCP_X_ENUM(e, code, name) VCP_STATUS_##e = code,
    VCP_STATUS_TABLE(VCP_X_ENUM)
#undef VCP_X_ENUM
};

/*
 * The wire name of a status code ("ok", "badData", ...).  Codes outside the
 * table give "generalError", as the seed's "other" row says.  The returned
 * string is static.
 */
const char *vcp_status_name(int status);

#ifdef __cplusplus
}
#endif
#endif /* VCP_STATUS_H */
