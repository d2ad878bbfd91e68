/* wsb_hist.c: the latency histogram of wsbench (log-linear buckets, ~1.5% resolution) and clock. */
#include "wsb.h"

#include <time.h>

/* Values under 128 µs have a bucket each; above, each power of two has 64 buckets. */
int wsb_hist_bucket(uint64_t us)
{
    if (us < 128)
        return (int)us;
    int e = 63 - __builtin_clzll(us) - 6;
    int b = (e + 1) * 64 + (int)((us >> e) - 64);
    return b < WSB_HIST ? b : WSB_HIST - 1;
}

double wsb_hist_value(int b)
{
    if (b < 128)
        return b;
    int e = b / 64 - 1;
    double lo = (double)((uint64_t)(64 + b % 64) << e);
    return lo + (double)((uint64_t)1 << e) / 2;
}

double wsb_hist_quantile(const uint64_t *h, uint64_t n, double q)
{
    if (n == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)n);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int b = 0; b < WSB_HIST; b++) {
        seen += h[b];
        if (seen >= rank)
            return wsb_hist_value(b);
    }
    return wsb_hist_value(WSB_HIST - 1);
}

uint64_t wsb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
