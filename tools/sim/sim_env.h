/* sim_env.h: what the simulation modules share: options, publisher, randomness, schedule. */
#ifndef SIM_ENV_H
#define SIM_ENV_H

#include "sim_heap.h"
#include "sim_opts.h"
#include "sim_publish.h"
#include "sim_rand.h"

struct sim_env {
    const struct sim_opts *opts;
    struct sim_publish *pub;
    struct sim_rand rng;  /* every random choice, seeded by --seed */
    struct sim_heap heap; /* what happens next, by time */
};

#endif
