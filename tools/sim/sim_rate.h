/* sim_rate.h: a sliding-window rate meter (events per second over the last 15 s). */
#ifndef SIM_RATE_H
#define SIM_RATE_H

#include <stdint.h>

#define SIM_RATE_SAMPLES 16

/* Samples of a growing count, at most one per second. */
struct sim_rate {
    int64_t at_us[SIM_RATE_SAMPLES];
    uint64_t count[SIM_RATE_SAMPLES];
    int len;  /* samples held */
    int next; /* where the next sample goes (ring) */
};

/* Start measuring at now_us from a count of 0. */
void sim_rate_init(struct sim_rate *r, int64_t now_us);
/* The count has reached `count` at now_us. */
void sim_rate_update(struct sim_rate *r, int64_t now_us, uint64_t count);
/* Events per second over about the last 15 s, given the count at now_us. */
double sim_rate_per_second(const struct sim_rate *r, int64_t now_us, uint64_t count);

#endif
