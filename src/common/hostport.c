/* Listen addresses (see hostport.h). */
#include "common/hostport.h"

#include <string.h>

int hostport_parse(const char *s, char *host, size_t len, int *port)
{
    const char *colon;
    long p = 0;
    size_t n;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        n = (size_t)(close - s - 1);
        s++;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        n = (size_t)(colon - s);
    }
    if (n == 0 || n >= len || colon[1] == '\0')
        return -1;
    /* digits only (no sign, no spaces), at most 65535 */
    for (const char *d = colon + 1; *d; d++) {
        if (*d < '0' || *d > '9' || (p = p * 10 + (*d - '0')) > 65535)
            return -1;
    }
    memcpy(host, s, n);
    host[n] = '\0';
    *port = (int)p;
    return 0;
}
