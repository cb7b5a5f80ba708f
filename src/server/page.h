/*
 * The web pages' files (everything in web/), built into vcpd by web/embed.cmake.
 */
#ifndef VCP_SERVER_PAGE_H
#define VCP_SERVER_PAGE_H

#include <stddef.h>

struct web_asset {
    const char *name; /* file name in web/, e.g. "channel.js" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
};

/* Every file, ended by an entry whose name is NULL (generated). */
extern const struct web_asset web_assets[];

#endif
