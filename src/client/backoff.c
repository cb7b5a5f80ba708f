/*
 * The retry schedule: exponential backoff with "equal jitter" (half the delay
 * fixed, half random), capped.  The fixed half keeps a client from hammering a
 * rate-limited channel; the random half keeps many clients that were limited
 * at the same moment from coming back at the same moment.  Pure functions so
 * the schedule is unit-tested; the client supplies the random state.
 */
#include <stdlib.h>

#include "client/internal.h"

long backoff_delay_ms(long initial_ms, long max_ms, int attempt, uint32_t rnd)
{
    long d = initial_ms > 0 ? initial_ms : 1;
    int i;

    if (max_ms < d)
        max_ms = d;
    for (i = 1; i < attempt && d < max_ms; i++)
        d = d > max_ms / 2 ? max_ms : d * 2;
    if (d > max_ms)
        d = max_ms;
    long half = d / 2;
    return (d - half) + (half > 0 ? (long)(rnd % (uint32_t)(half + 1)) : 0);
}

uint32_t backoff_rand(uint32_t *state)
{
    uint32_t x = *state ? *state : 0x9e3779b9u;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

long retry_after_ms(const char *value)
{
    char *end;
    long s;

    if (value == NULL)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (*value < '0' || *value > '9')
        return -1;
    s = strtol(value, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
        end++;
    if (*end != '\0' || s < 0 || s > 3600)
        return -1;
    return s * 1000;
}
