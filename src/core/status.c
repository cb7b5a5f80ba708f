/*
 * vcp_status_name(): the names half of the wire status table.  The switch is
 * generated from VCP_STATUS_TABLE (include/vcp/status.h), so a code and its
 * name are written in exactly one place and the compiler turns the lookup
 * into a jump table.
 */
#include "vcp/status.h"

const char *vcp_status_name(int status)
{
    switch (status) {
#define X(e, code, name) \
    case code:           \
        return name;
        VCP_STATUS_TABLE(X)
#undef X
    default:
        return "generalError";
    }
}
