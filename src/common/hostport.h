/*
 * The one grammar of a listen address, for `vcpd serve --listen` and
 * `vcp webhook serve --listen`: HOST:PORT, or [V6]:PORT for an IPv6
 * address, PORT 0..65535 in decimal (0: any free port); and the socket
 * address such a host and port name.  Pure; in
 * src/common because vcp, which sees only libvcp's public API, needs it
 * too.
 */
#ifndef VCP_COMMON_HOSTPORT_H
#define VCP_COMMON_HOSTPORT_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * Splits s into its host, copied without brackets into host (len bytes,
 * NUL-terminated), and *port.  Returns 0, or -1 (host and *port untouched
 * but for a partial copy) when s does not follow the grammar or the host
 * does not fit.
 */
int hostport_parse(const char *s, char *host, size_t len, int *port);

/*
 * The socket address of host, a numeric IPv4 or IPv6 address (no name is
 * resolved), with port (0..65535), in *ss (zeroed first) and its length in
 * *len.  Returns 0, or -1 when host is neither kind of address.
 */
int hostport_sockaddr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len);

#endif
