/* ratelimit.h: at most N of something per window, and a count of what was held back.
 *
 * For log lines that a publisher can cause at any rate (a bad event per
 * message): the first `per_window` of each window go out, the rest are only
 * counted, and the caller reports that count once in a while
 * (ratelimit_suppressed), so the log says how much it left out. */
#ifndef WSGATE_RATELIMIT_H
#define WSGATE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ratelimit {
    int64_t window_ms;    /* length of a window */
    uint32_t per_window;  /* allowed per window */
    int64_t window_start; /* start of the current window; INT64_MIN before the first */
    uint32_t used;        /* allowed in the current window */
    uint64_t suppressed;  /* refused since the last ratelimit_suppressed */
} ratelimit;

/* Allow per_window (0: none) per window_ms (at least 1) of any clock that
 * only moves forward. */
void ratelimit_init(ratelimit *rl, uint32_t per_window, int64_t window_ms);

/* Whether one more may go out at now_ms: true within the window's budget
 * (a window starts at the first call past the previous one's end), else
 * false and counted as suppressed. */
bool ratelimit_allow(ratelimit *rl, int64_t now_ms);

/* How many were refused since the last call (and reset to 0). 0 while the
 * window that refused them is still open at now_ms, so that one report
 * covers a whole burst: call it about once a window. */
uint64_t ratelimit_suppressed(ratelimit *rl, int64_t now_ms);

#endif
