/* ratelimit.c: a fixed-window limit with a count of what it held back (see ratelimit.h). */
#include "wsgate/ratelimit.h"

void ratelimit_init(ratelimit *rl, uint32_t per_window, int64_t window_ms)
{
    *rl = (ratelimit){.window_ms = window_ms > 0 ? window_ms : 1,
                      .per_window = per_window,
                      .window_start = INT64_MIN};
}

/* Is the current window over at now_ms (or is there none yet)? */
static bool ratelimit_window_over(const ratelimit *rl, int64_t now_ms)
{
    return rl->window_start == INT64_MIN || now_ms - rl->window_start >= rl->window_ms;
}

bool ratelimit_allow(ratelimit *rl, int64_t now_ms)
{
    if (ratelimit_window_over(rl, now_ms)) {
        rl->window_start = now_ms;
        rl->used = 0;
    }
    if (rl->used < rl->per_window) {
        rl->used++;
        return true;
    }
    rl->suppressed++;
    return false;
}

uint64_t ratelimit_suppressed(ratelimit *rl, int64_t now_ms)
{
    if (!rl->suppressed || !ratelimit_window_over(rl, now_ms))
        return 0;
    uint64_t n = rl->suppressed;
    rl->suppressed = 0;
    return n;
}
