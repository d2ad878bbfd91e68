/* sublist_bench.c: throughput of the subscription index on two workloads.
 *
 * Build: `cmake --build build --target sublist_bench` (an optional target, not
 * built by default), or from the repository root:
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iinclude bench/sublist_bench.c \
 *       src/sublist.c src/subject.c src/hash.c src/hmap.c src/xmalloc.c -o /tmp/sublist_bench
 * Run: `sublist_bench [gateway|mix]` (both by default).
 *
 * It prints figures and asserts nothing about time. Times are the process's
 * CPU time (one thread), which a busy shared machine disturbs less than the clock.
 *
 * gateway: the index looks like a real gateway's: 100k connections, each
 * following one license and one batch (license.bN.>, batch.bN.>), one in ten
 * also a country's verifications (verification.FR.*), and 100 dashboards on
 * wide wildcards (batch.*.progress, license.>, verification.>).
 *
 * mix: 10,000 distinct patterns, literal ones and ones with "*" and ">", the
 * shapes of tests/unit/test_sublist.c over a larger vocabulary; nanoseconds
 * per match (all hits, all misses, 90/10), per insert and per remove (with a
 * full cache), and the heap the index and the cache take.
 */
#include "wsgate/hash.h"
#include "wsgate/sublist.h"
#include "wsgate/xmalloc.h"

#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
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

/* The gateway-shaped workload (rates per second). */
static void bench_gateway(void)
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
}

/* ---- mix: 10,000 patterns of every shape, nanoseconds per operation ---- */

#define MIX_PATTERNS 10000
#define MIX_FIRST    8      /* first tokens */
#define MIX_IDS      400    /* second tokens */
#define MIX_LAST     8      /* third and fourth tokens */
#define MIX_COLD     262144 /* distinct subjects matched in turn: always misses */

static const char *const mix_first[MIX_FIRST] = {"batch", "license", "user", "verification",
                                                 "a",     "b",       "org",  "device"};
static const char *const mix_last[MIX_LAST] = {"progress", "done", "failed", "created",
                                               "x",        "y",    "z",      "w"};

/* The i-th token of a mix pattern or subject: a first word, an id, or a last word. */
static void mix_word(char *tok, size_t size, size_t i)
{
    if (i == 0)
        snprintf(tok, size, "%s", mix_first[rng(MIX_FIRST)]);
    else if (i == 1)
        snprintf(tok, size, "i%zu", rng(MIX_IDS));
    else
        snprintf(tok, size, "%s", mix_last[rng(MIX_LAST)]);
}
/* A random pattern of 2..4 tokens: about 60% literal, the rest with a "*"
 * (in any position) or a final ">". */
static void mix_pattern(char *buf, size_t size)
{
    size_t ntok = 2 + rng(3), kind = rng(20);
    size_t star = kind < 5 ? rng(ntok) : ntok; /* 25%: one "*" */
    bool gt = kind >= 5 && kind < 8;           /* 15%: a final ">" */
    size_t n = 0;
    for (size_t i = 0; i < ntok; i++) {
        char tok[16];
        if (i == star)
            snprintf(tok, sizeof tok, "*");
        else if (gt && i == ntok - 1)
            snprintf(tok, sizeof tok, ">");
        else
            mix_word(tok, sizeof tok, i);
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? "." : "", tok);
    }
}

/* A random subject of 2..4 tokens over the same words; with unique != 0 the
 * last token is made unique (no pattern names it, so only wildcards match). */
static void mix_subject(char *buf, size_t size, size_t unique)
{
    size_t ntok = 2 + rng(3), n = 0;
    for (size_t i = 0; i < ntok; i++) {
        char tok[24];
        if (unique && i == ntok - 1)
            snprintf(tok, sizeof tok, "u%zu", unique);
        else
            mix_word(tok, sizeof tok, i);
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? "." : "", tok);
    }
}

static int mix_cmp(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static size_t mix_heap(void)
{
    return mallinfo2().uordblks;
}

/* Time n matches of subjects[pick(i)]; returns ns per match. */
static double mix_match_ns(sublist *sl, char (*hot)[64], size_t nhot, char (*cold)[64],
                           size_t *cold_next, size_t n, size_t cold_every, size_t *owners)
{
    size_t total = 0;
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        const char *s =
            cold_every && i % cold_every == 0 ? cold[(*cold_next)++ % MIX_COLD] : hot[i % nhot];
        total += sublist_match(sl, s)->count;
    }
    double dt = now() - t0;
    *owners += total;
    return dt * 1e9 / (double)n;
}

static void bench_mix(void)
{
    enum { DRAW = 3 * MIX_PATTERNS, HOT = 1000, MATCHES = 1000000, ROUNDS = 200, BATCH = 500 };
    /* 10,000 distinct patterns: draw more, sort, deduplicate, shuffle, keep 10,000. */
    char(*pat)[64] = xmalloc(DRAW * sizeof *pat);
    for (size_t i = 0; i < DRAW; i++)
        mix_pattern(pat[i], sizeof *pat);
    qsort(pat, DRAW, sizeof *pat, mix_cmp);
    size_t np = 0;
    for (size_t i = 0; i < DRAW; i++)
        if (np == 0 || strcmp(pat[np - 1], pat[i]) != 0)
            memmove(pat[np++], pat[i], sizeof *pat);
    for (size_t i = np - 1; i > 0; i--) {
        char t[64];
        size_t j = rng(i + 1);
        memcpy(t, pat[i], sizeof t);
        memcpy(pat[i], pat[j], sizeof t);
        memcpy(pat[j], t, sizeof t);
    }
    if (np > MIX_PATTERNS)
        np = MIX_PATTERNS;

    sublist_entry **e = xmalloc(np * sizeof *e);
    size_t heap0 = mix_heap();
    sublist *sl = sublist_create();
    double t0 = now();
    for (size_t i = 0; i < np; i++)
        e[i] = sublist_insert(sl, pat[i], (void *)(uintptr_t)(i + 1));
    double ins = (now() - t0) * 1e9 / (double)np;
    size_t heap1 = mix_heap();
    printf("mix: %zu patterns, %zu trie nodes, index heap %zu B (%.0f B/node)\n", np,
           sublist_node_count(sl), heap1 - heap0,
           (double)(heap1 - heap0) / (double)sublist_node_count(sl));
    printf("insert, empty cache:     %8.0f ns\n", ins);

    char(*hot)[64] = xmalloc(HOT * sizeof *hot);
    for (size_t i = 0; i < HOT; i++)
        mix_subject(hot[i], sizeof *hot, 0);
    size_t ncold = MIX_COLD, cold_next = 0, owners = 0;
    char(*cold)[64] = xmalloc(ncold * sizeof *cold);
    for (size_t i = 0; i < ncold; i++)
        mix_subject(cold[i], sizeof *cold, i + 1);

    size_t h0, m0, h1, m1;
    mix_match_ns(sl, hot, HOT, cold, &cold_next, HOT, 0, &owners); /* warm up */
    size_t heap2 = mix_heap();
    printf("cache heap, %d subjects: %zu B\n", HOT, heap2 - heap1);
    sublist_cache_stats(sl, &h0, &m0);
    double hit = mix_match_ns(sl, hot, HOT, cold, &cold_next, MATCHES, 0, &owners);
    double miss = mix_match_ns(sl, hot, HOT, cold, &cold_next, MATCHES, 1, &owners);
    mix_match_ns(sl, hot, HOT, cold, &cold_next, HOT, 0, &owners); /* warm up again */
    double mixed = mix_match_ns(sl, hot, HOT, cold, &cold_next, MATCHES, 10, &owners);
    sublist_cache_stats(sl, &h1, &m1);
    printf("match, all hits:         %8.1f ns\n", hit);
    printf("match, all misses:       %8.1f ns\n", miss);
    printf(
        "match, 90%% hits:         %8.1f ns (hit ratio %.2f over the three, %.1f owners/match)\n",
        mixed, (double)(h1 - h0) / (3.0 * MATCHES), (double)owners / (3.0 * MATCHES + 2 * HOT));

    /* Churn with a full cache: remove BATCH random entries, then insert them
     * back, ROUNDS times; every operation pays for its exact invalidation. */
    double trm = 0, tin = 0;
    size_t *pick = xmalloc(BATCH * sizeof *pick);
    for (size_t r = 0; r < ROUNDS; r++) {
        mix_match_ns(sl, cold, 4096, cold, &cold_next, 4096, 1, &owners); /* refill the cache */
        for (size_t k = 0; k < BATCH; k++) {
            size_t j = rng(np - k) + k; /* distinct: a partial shuffle */
            sublist_entry *te = e[k];
            e[k] = e[j];
            e[j] = te;
            char t[64];
            memcpy(t, pat[k], sizeof t);
            memcpy(pat[k], pat[j], sizeof t);
            memcpy(pat[j], t, sizeof t);
            pick[k] = k;
        }
        t0 = now();
        for (size_t k = 0; k < BATCH; k++)
            sublist_remove(sl, e[pick[k]]);
        double t1 = now();
        for (size_t k = 0; k < BATCH; k++)
            e[pick[k]] = sublist_insert(sl, pat[pick[k]], (void *)(uintptr_t)(k + 1));
        double t2 = now();
        trm += t1 - t0;
        tin += t2 - t1;
    }
    printf("remove, full cache:      %8.0f ns\n", trm * 1e9 / (ROUNDS * BATCH));
    printf("insert, full cache:      %8.0f ns\n", tin * 1e9 / (ROUNDS * BATCH));

    t0 = now();
    for (size_t i = 0; i < np; i++)
        sublist_remove(sl, e[i]);
    printf("remove all:              %8.0f ns (left: %zu nodes)\n", (now() - t0) * 1e9 / (double)np,
           sublist_node_count(sl));
    free(pick);
    free(cold);
    free(hot);
    free(e);
    free(pat);
    sublist_destroy(sl);
}

int main(int argc, char **argv)
{
    static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    hash_set_key(key); /* the same table layout in every run */
    const char *which = argc > 1 ? argv[1] : "";
    if (strcmp(which, "mix") != 0)
        bench_gateway();
    if (strcmp(which, "gateway") != 0)
        bench_mix();
    return 0;
}
