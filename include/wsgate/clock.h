/* clock.h: the gateway's two clocks: wall time in ms (timestamps, expiry), monotonic ns (latency).
 */
#ifndef WSGATE_CLOCK_H
#define WSGATE_CLOCK_H

#include <stdint.h>

/* CLOCK_REALTIME in ms since the epoch. */
int64_t clock_now_ms(void);
/* CLOCK_MONOTONIC in ns (only differences mean anything). */
int64_t clock_mono_ns(void);

#endif
