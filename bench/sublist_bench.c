/* sublist_bench.c: throughput of the subscription index on a gateway-shaped workload.
 *
 * Build and run from the repository root:
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iinclude bench/sublist_bench.c \
 *       src/sublist.c src/subject.c src/hash.c src/xmalloc.c -o /tmp/sublist_bench && /tmp/sublist_bench
 *
 * It prints figures and asserts nothing about time. The index looks like a
 * real gateway's: 100k connections, each following one license and one
 * batch (license.bN.>, batch.bN.>), one in ten also a country's
 * verifications (verification.FR.*), and 100 dashboards on wide wildcards
 * (batch.*.progress, license.>, verification.>).
 */
#include "wsgate/sublist.h"
#include "wsgate/xmalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define OWNERS     100000
#define BATCHES    5000
#define LICENSES   20000
#define DASHBOARDS 100

static const char *const countries[] = {"FR", "DE", "ES", "IT", "NL", "BE", "PT", "PL",
                                        "SE", "NO", "DK", "FI", "IE", "AT", "CH", "CZ",
                                        "GR", "HU", "RO", "BG", "US", "CA", "GB", "JP"};
#define NCOUNTRIES (sizeof countries / sizeof *countries)

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static size_t rng(size_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (size_t)(rng_state % n);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The patterns of owner o (its connection's subscriptions); returns how many. */
static int owner_patterns(char (*buf)[64], size_t o)
{
    if (o < DASHBOARDS) { /* dashboards watch everything of a kind */
        snprintf(buf[0], sizeof *buf, "batch.*.progress");
        snprintf(buf[1], sizeof *buf, "license.>");
        snprintf(buf[2], sizeof *buf, "verification.>");
        return 3;
    }
    snprintf(buf[0], sizeof *buf, "license.b%zu.>", o % LICENSES);
    snprintf(buf[1], sizeof *buf, "batch.b%zu.>", o % BATCHES);
    if (o % 10 != 0)
        return 2;
    snprintf(buf[2], sizeof *buf, "verification.%s.*", countries[o % NCOUNTRIES]);
    return 3;
}

/* A random published subject. With unique != 0 its last token is made
 * unique, so that no two such subjects are the same. */
static void random_subject(char *buf, size_t size, size_t unique)
{
    static const char *const batch_ev[] = {"progress", "done", "failed"};
    static const char *const license_ev[] = {"assigned", "revoked", "renewed"};
    char tail[32];
    switch (rng(3)) {
    case 0:
        snprintf(tail, sizeof tail, "%s", batch_ev[rng(3)]);
        if (unique)
            snprintf(tail, sizeof tail, "t%zu", unique);
        snprintf(buf, size, "batch.b%zu.%s", rng(BATCHES), tail);
        break;
    case 1:
        snprintf(tail, sizeof tail, "%s", license_ev[rng(3)]);
        if (unique)
            snprintf(tail, sizeof tail, "t%zu", unique);
        snprintf(buf, size, "license.b%zu.%s", rng(LICENSES), tail);
        break;
    default:
        snprintf(tail, sizeof tail, "%s", unique ? "" : "done");
        if (unique)
            snprintf(tail, sizeof tail, "t%zu", unique);
        snprintf(buf, size, "verification.%s.%s", countries[rng(NCOUNTRIES)], tail);
        break;
    }
}

/* Run n matches over the subjects (cycling), return matches per second;
 * add the owners delivered to *owners. */
static double match_rate(sublist *sl, char (*subjects)[64], size_t nsubjects, size_t n,
                         size_t *owners)
{
    size_t total = 0;
    double t0 = now();
    for (size_t i = 0; i < n; i++)
        total += sublist_match(sl, subjects[i % nsubjects])->count;
    double dt = now() - t0;
    *owners = total;
    return (double)n / dt;
}

int main(void)
{
    enum { MAXN = OWNERS * 3 };
    sublist_entry **entries = xmalloc(MAXN * sizeof *entries);
    char(*patterns)[64] = xmalloc(MAXN * sizeof *patterns);
    void **owner_of = xmalloc(MAXN * sizeof *owner_of);
    size_t n = 0;
    for (size_t o = 0; o < OWNERS; o++) {
        int k = owner_patterns(&patterns[n], o);
        for (int i = 0; i < k; i++)
            owner_of[n + i] = (void *)(uintptr_t)(o + 1);
        n += k;
    }

    /* Insert, in connection order, with an empty cache. */
    sublist *sl = sublist_create();
    double t0 = now();
    for (size_t k = 0; k < n; k++)
        entries[k] = sublist_insert(sl, patterns[k], owner_of[k]);
    double dt = now() - t0;
    printf("index: %d owners, %zu entries, %zu trie nodes\n", OWNERS, sublist_count(sl),
           sublist_node_count(sl));
    printf("insert:             %10.0f entries/s\n", n / dt);

    /* Uncached: distinct subjects only, so every match misses. */
    enum { COLD = 200000, HOT = 1000, MATCHES = 1000000 };
    char(*cold)[64] = xmalloc(COLD * sizeof *cold);
    for (size_t i = 0; i < COLD; i++)
        random_subject(cold[i], sizeof *cold, i + 1);
    size_t h0, m0, h1, m1, owners;
    sublist_cache_stats(sl, &h0, &m0);
    double uncached = match_rate(sl, cold, COLD, COLD, &owners);
    sublist_cache_stats(sl, &h1, &m1);
    printf("match, uncached:    %10.0f subjects/s (hit ratio %.2f, %.1f owners/result)\n", uncached,
           (double)(h1 - h0) / COLD, (double)owners / COLD);

    /* Cached: a hot set of real subjects published over and over. */
    char(*hot)[64] = xmalloc(HOT * sizeof *hot);
    for (size_t i = 0; i < HOT; i++)
        random_subject(hot[i], sizeof *hot, 0);
    match_rate(sl, hot, HOT, HOT, &owners); /* warm up */
    sublist_cache_stats(sl, &h0, &m0);
    double cached = match_rate(sl, hot, HOT, MATCHES, &owners);
    sublist_cache_stats(sl, &h1, &m1);
    printf("match, cached:      %10.0f subjects/s (hit ratio %.2f, %.1f owners/result)\n", cached,
           (double)(h1 - h0) / MATCHES, (double)owners / MATCHES);
    printf("cached / uncached:  %10.1fx\n", cached / uncached);

    /* Churn against a full cache: a client's subscription goes and comes back
     * (dashboards stay) while 4096 subjects are cached. Each operation pays
     * for its invalidation, which drops only the subjects the pattern matches. */
    enum { CHURN = 100000 };
    match_rate(sl, cold, 4096, 4096, &owners); /* fill the cache */
    t0 = now();
    for (size_t i = 0; i < CHURN; i++) {
        size_t k = DASHBOARDS * 3 + rng(n - DASHBOARDS * 3); /* dashboards stay */
        sublist_remove(sl, entries[k]);
        entries[k] = sublist_insert(sl, patterns[k], owner_of[k]);
    }
    dt = now() - t0;
    printf("churn, full cache:  %10.0f remove+insert/s\n", CHURN / dt);
    sublist_cache_stats(sl, &h0, &m0);
    match_rate(sl, cold, 4096, 4096, &owners);
    sublist_cache_stats(sl, &h1, &m1);
    printf("  still cached:     %10.2f of the 4096 subjects\n", (double)(h1 - h0) / 4096);

    /* Remove, in random order. */
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = rng(i + 1);
        sublist_entry *t = entries[i];
        entries[i] = entries[j];
        entries[j] = t;
    }
    t0 = now();
    for (size_t k = 0; k < n; k++)
        sublist_remove(sl, entries[k]);
    dt = now() - t0;
    printf("remove:             %10.0f entries/s (left: %zu entries, %zu nodes)\n", n / dt,
           sublist_count(sl), sublist_node_count(sl));

    free(hot);
    free(cold);
    free(owner_of);
    free(patterns);
    free(entries);
    sublist_destroy(sl);
    return 0;
}
