/* sim_clock.h: monotonic time for schedules, wall-clock timestamps for events, sleeping. */
#ifndef SIM_CLOCK_H
#define SIM_CLOCK_H

#include "wsgate/timefmt.h"

#include <stddef.h>
#include <stdint.h>

#define SIM_CLOCK_TS_LEN TIMEFMT_MAX

/* Monotonic microseconds (for schedules and rates; never jumps). */
int64_t sim_clock_now_us(void);
/* Sleep for `us` microseconds (returns early if a signal arrives). */
void sim_clock_sleep_us(int64_t us);
/* The current UTC time as RFC 3339 with milliseconds: "2026-11-27T07:40:12.118Z". */
void sim_clock_ts(char out[SIM_CLOCK_TS_LEN]);

#endif
