/* sim_rand.h: a seeded random generator (xoshiro256**) and the distributions the sim needs. */
#ifndef SIM_RAND_H
#define SIM_RAND_H

#include <stddef.h>
#include <stdint.h>

struct sim_rand {
    uint64_t s[4];
};

/* Seed the generator; the same seed gives the same sequence. */
void sim_rand_seed(struct sim_rand *r, uint64_t seed);
/* Uniform 64-bit value. */
uint64_t sim_rand_u64(struct sim_rand *r);
/* Uniform in [0, 1). */
double sim_rand_unit(struct sim_rand *r);
/* Uniform integer in [0, n); n > 0. */
uint32_t sim_rand_below(struct sim_rand *r, uint32_t n);
/* True with probability p. */
int sim_rand_chance(struct sim_rand *r, double p);
/* Log-normal with the given mean and sigma (spread of the underlying normal):
 * most values near the mean, a long tail of slow ones. */
double sim_rand_lognormal(struct sim_rand *r, double mean, double sigma);
/* Exponential with the given mean: the gap between events of a Poisson process. */
double sim_rand_exponential(struct sim_rand *r, double mean);
/* Index of one of n table entries, picked in proportion to their weights. The
 * weight of entry i is the unsigned at (char *)weight0 + i * stride, so a
 * table of structs is passed as (&table[0].weight, n, sizeof table[0]). */
int sim_rand_weighted(struct sim_rand *r, const unsigned *weight0, int n, size_t stride);

#endif
