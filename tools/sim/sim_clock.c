/* sim_clock.c: clocks and sleeping for the simulator. */
#include "sim_clock.h"

#include "wsgate/timefmt.h"

#include <time.h>

int64_t sim_clock_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void sim_clock_sleep_us(int64_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

void sim_clock_ts(char out[SIM_CLOCK_TS_LEN])
{
    timefmt_now(out);
}
