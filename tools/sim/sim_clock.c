/* sim_clock.c: clocks and sleeping for the simulator. */
#include "sim_clock.h"

#include <stdio.h>
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
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, SIM_CLOCK_TS_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, SIM_CLOCK_TS_LEN - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}
