/* sim_rand.c: xoshiro256** seeded through splitmix64, plus distributions. */
#include "sim_rand.h"

#include <math.h>

/* splitmix64: spreads one seed over the four words of the state. */
static uint64_t sim_rand_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t sim_rand_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void sim_rand_seed(struct sim_rand *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = sim_rand_splitmix(&seed);
}

uint64_t sim_rand_u64(struct sim_rand *r)
{
    uint64_t *s = r->s;
    uint64_t result = sim_rand_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rand_rotl(s[3], 45);
    return result;
}

double sim_rand_unit(struct sim_rand *r)
{
    return (double)(sim_rand_u64(r) >> 11) * 0x1.0p-53; /* 53 random bits */
}

uint32_t sim_rand_below(struct sim_rand *r, uint32_t n)
{
    return (uint32_t)(sim_rand_unit(r) * n);
}

int sim_rand_chance(struct sim_rand *r, double p)
{
    return sim_rand_unit(r) < p;
}

/* A standard normal value (Box-Muller). */
static double sim_rand_normal(struct sim_rand *r)
{
    double u = 1.0 - sim_rand_unit(r); /* (0, 1]: log(u) is finite */
    double v = sim_rand_unit(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

double sim_rand_lognormal(struct sim_rand *r, double mean, double sigma)
{
    /* exp(N(mu, sigma)) has mean exp(mu + sigma^2 / 2). */
    double mu = log(mean) - sigma * sigma / 2.0;
    return exp(mu + sigma * sim_rand_normal(r));
}

double sim_rand_exponential(struct sim_rand *r, double mean)
{
    return -mean * log(1.0 - sim_rand_unit(r));
}

/* The weight of entry i of a strided table. */
static unsigned sim_rand_weight(const unsigned *weight0, int i, size_t stride)
{
    return *(const unsigned *)((const char *)weight0 + (size_t)i * stride);
}

int sim_rand_weighted(struct sim_rand *r, const unsigned *weight0, int n, size_t stride)
{
    unsigned total = 0;
    for (int i = 0; i < n; i++)
        total += sim_rand_weight(weight0, i, stride);
    uint32_t pick = sim_rand_below(r, total);
    for (int i = 0; i < n; i++) {
        unsigned w = sim_rand_weight(weight0, i, stride);
        if (pick < w)
            return i;
        pick -= w;
    }
    return n - 1;
}
