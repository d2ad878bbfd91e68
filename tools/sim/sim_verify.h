/* sim_verify.h: a steady stream of HCP verification events from many countries. */
#ifndef SIM_VERIFY_H
#define SIM_VERIFY_H

#include <stdint.h>

#include "sim_data.h"
#include "sim_env.h"
#include "sim_rate.h"

struct sim_verify {
    double rate;                           /* events per second of wall-clock time */
    uint64_t count;                        /* published so far */
    uint64_t by_status[SIM_DATA_STATUSES]; /* published so far, per status */
    struct sim_rate meter;                 /* published per second, recently */
};

void sim_verify_init(struct sim_verify *v, double rate);

/* Schedule the first verification after now_us (nothing when the rate is 0). */
void sim_verify_start(struct sim_verify *v, struct sim_env *env, int64_t now_us);

/* Publish the verification due at due_us and schedule the next one (gaps of
 * a Poisson process: random, `rate` per second on average).
 * Returns 0, or -EINTR if publishing was interrupted. */
int sim_verify_fire(struct sim_verify *v, struct sim_env *env, int64_t due_us);

#endif
