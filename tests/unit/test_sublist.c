/* test_sublist.c: unit tests for the subscription index and its match cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/subject.h"
#include "wsgate/sublist.h"
#include "wsgate/xmalloc.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Owners are opaque: small integers make readable fakes. */
#define OWNER(i) ((void *)(uintptr_t)(i))

/* xorshift64 with a fixed seed: every run draws the same numbers. */
static uint64_t rng_state;
static void rng_seed(uint64_t seed)
{
    rng_state = seed ? seed : 1;
}
static size_t rng(size_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (size_t)(rng_state % n);
}

/* Put order[0..n) in a random order (Fisher-Yates), from seed. */
static void shuffle(size_t *order, size_t n, uint64_t seed)
{
    rng_seed(seed);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = rng(i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* How many times owner appears in r. */
static size_t occurrences(const sublist_result *r, void *owner)
{
    size_t n = 0;
    for (size_t i = 0; i < r->count; i++)
        n += r->owners[i] == owner;
    return n;
}

static size_t match_count(sublist *sl, const char *subject)
{
    return sublist_match(sl, subject)->count;
}

static void test_literal(void **state)
{
    sublist *sl = sublist_create();
    sublist_entry *e = sublist_insert(sl, "a.b", OWNER(1));
    assert_string_equal(sublist_entry_pattern(e), "a.b");
    assert_ptr_equal(sublist_entry_owner(e), OWNER(1));
    assert_int_equal(sublist_count(sl), 1);

    const sublist_result *r = sublist_match(sl, "a.b");
    assert_int_equal(r->count, 1);
    assert_ptr_equal(r->owners[0], OWNER(1));
    assert_int_equal(match_count(sl, "a"), 0);
    assert_int_equal(match_count(sl, "a.b.c"), 0);
    assert_int_equal(match_count(sl, "a.c"), 0);
    assert_int_equal(match_count(sl, "b.b"), 0);
    assert_int_equal(match_count(sl, "ab"), 0);
    sublist_destroy(sl);
}

/* The pattern is copied: the caller's buffer may change. */
static void test_pattern_is_copied(void **state)
{
    sublist *sl = sublist_create();
    char buf[16] = "a.b";
    sublist_entry *e = sublist_insert(sl, buf, OWNER(1));
    strcpy(buf, "x.y");
    assert_string_equal(sublist_entry_pattern(e), "a.b");
    assert_int_equal(match_count(sl, "a.b"), 1);
    sublist_destroy(sl);
}

static void test_star(void **state)
{
    sublist *sl = sublist_create();
    sublist_insert(sl, "a.*.c", OWNER(1));
    assert_int_equal(match_count(sl, "a.b.c"), 1);
    assert_int_equal(match_count(sl, "a.x.c"), 1);
    assert_int_equal(match_count(sl, "a.c"), 0);
    assert_int_equal(match_count(sl, "a.b.c.d"), 0);
    assert_int_equal(match_count(sl, "a.b"), 0);
    assert_int_equal(match_count(sl, "a.b.d"), 0);
    sublist_insert(sl, "*", OWNER(2));
    assert_int_equal(match_count(sl, "z"), 1);
    assert_int_equal(match_count(sl, "z.y"), 0);
    sublist_destroy(sl);
}

static void test_gt(void **state)
{
    sublist *sl = sublist_create();
    sublist_insert(sl, "a.>", OWNER(1));
    assert_int_equal(match_count(sl, "a"), 0);
    assert_int_equal(match_count(sl, "a.b"), 1);
    assert_int_equal(match_count(sl, "a.b.c.d.e"), 1);
    assert_int_equal(match_count(sl, "b.a"), 0);
    sublist_insert(sl, ">", OWNER(2));
    const sublist_result *r = sublist_match(sl, "a.b");
    assert_int_equal(r->count, 2);
    assert_int_equal(occurrences(r, OWNER(1)), 1);
    assert_int_equal(occurrences(r, OWNER(2)), 1);
    assert_int_equal(match_count(sl, "a"), 1);
    assert_int_equal(match_count(sl, "q.r.s"), 1);
    sublist_destroy(sl);
}

static void test_mixed(void **state)
{
    sublist *sl = sublist_create();
    const char *patterns[] = {"a.b.c", "a.*.c", "a.>",     "*.b.*", ">",       "*.*.c",
                              "a.b",   "a.*.>", "a.b.c.d", "x.>",   "*.*.*.*", "a.b.*"};
    for (size_t i = 0; i < sizeof patterns / sizeof *patterns; i++)
        sublist_insert(sl, patterns[i], OWNER(i + 1));
    /* a.b.c: a.b.c a.*.c a.> *.b.* > *.*.c a.*.> a.b.* */
    const sublist_result *r = sublist_match(sl, "a.b.c");
    assert_int_equal(r->count, 8);
    for (size_t i = 0; i < sizeof patterns / sizeof *patterns; i++)
        assert_int_equal(occurrences(r, OWNER(i + 1)), subject_matches(patterns[i], "a.b.c"));
    assert_int_equal(match_count(sl, "a.b"), 3);     /* a.> > a.b */
    assert_int_equal(match_count(sl, "x.y"), 2);     /* x.> > */
    assert_int_equal(match_count(sl, "q.b.c.d"), 2); /* > *.*.*.* */
    assert_int_equal(match_count(sl, "a.b.c.d"), 5); /* a.> > a.*.> a.b.c.d *.*.*.* */
    sublist_destroy(sl);
}

/* An owner with several matching patterns appears once per entry. */
static void test_owner_once_per_entry(void **state)
{
    sublist *sl = sublist_create();
    sublist_insert(sl, "a.b", OWNER(7));
    sublist_insert(sl, "a.*", OWNER(7));
    sublist_insert(sl, "a.>", OWNER(7));
    sublist_insert(sl, "x.*", OWNER(7));
    assert_int_equal(occurrences(sublist_match(sl, "a.b"), OWNER(7)), 3);
    assert_int_equal(occurrences(sublist_match(sl, "a.c"), OWNER(7)), 2);
    sublist_destroy(sl);
}

static void test_many_owners(void **state)
{
    sublist *sl = sublist_create();
    for (size_t i = 1; i <= 1000; i++)
        sublist_insert(sl, "news.sport", OWNER(i));
    for (size_t i = 1001; i <= 1500; i++)
        sublist_insert(sl, "news.*", OWNER(i));
    assert_int_equal(sublist_count(sl), 1500);
    const sublist_result *r = sublist_match(sl, "news.sport");
    assert_int_equal(r->count, 1500);
    for (size_t i = 1; i <= 1500; i += 37)
        assert_int_equal(occurrences(r, OWNER(i)), 1);
    assert_int_equal(match_count(sl, "news.weather"), 500);
    sublist_destroy(sl);
}

/* Thousands of literal children of one node, like batch.<id>.progress. */
static void test_wide_node(void **state)
{
    sublist *sl = sublist_create();
    enum { N = 20000 };
    sublist_entry **e = xmalloc(N * sizeof *e);
    char s[64];
    for (size_t i = 0; i < N; i++) {
        snprintf(s, sizeof s, "batch.b%zu.progress", i);
        e[i] = sublist_insert(sl, s, OWNER(i + 1));
    }
    assert_int_equal(sublist_node_count(sl), 1 + 2 * N);
    for (size_t i = 0; i < N; i += 101) {
        snprintf(s, sizeof s, "batch.b%zu.progress", i);
        const sublist_result *r = sublist_match(sl, s);
        assert_int_equal(r->count, 1);
        assert_ptr_equal(r->owners[0], OWNER(i + 1));
    }
    assert_int_equal(match_count(sl, "batch.b20000.progress"), 0);
    for (size_t i = 0; i < N; i++)
        sublist_remove(sl, e[i]);
    assert_int_equal(sublist_node_count(sl), 0);
    free(e);
    sublist_destroy(sl);
}

static void test_remove(void **state)
{
    sublist *sl = sublist_create();
    sublist_entry *a = sublist_insert(sl, "a.b", OWNER(1));
    sublist_entry *b = sublist_insert(sl, "a.b", OWNER(2));
    sublist_entry *c = sublist_insert(sl, "a.*", OWNER(3));
    assert_int_equal(match_count(sl, "a.b"), 3);
    sublist_remove(sl, a);
    assert_int_equal(sublist_count(sl), 2);
    const sublist_result *r = sublist_match(sl, "a.b");
    assert_int_equal(r->count, 2);
    assert_int_equal(occurrences(r, OWNER(1)), 0);
    assert_int_equal(occurrences(r, OWNER(2)), 1);
    sublist_remove(sl, c);
    r = sublist_match(sl, "a.b");
    assert_int_equal(r->count, 1);
    assert_ptr_equal(r->owners[0], OWNER(2));
    assert_int_equal(match_count(sl, "a.c"), 0);
    sublist_remove(sl, b);
    assert_int_equal(sublist_count(sl), 0);
    assert_int_equal(match_count(sl, "a.b"), 0);
    sublist_destroy(sl);
}

/* 10k entries on one pattern removed in random order: the stored indexes
 * must follow every swap, or a later removal takes out the wrong entry. */
static void test_swap_remove(void **state)
{
    enum { N = 10000 };
    sublist *sl = sublist_create();
    sublist_entry **e = xmalloc(N * sizeof *e);
    size_t *order = xmalloc(N * sizeof *order);
    unsigned char *alive = xcalloc(N + 1, 1), *seen = xmalloc(N + 1);
    for (size_t i = 0; i < N; i++) {
        e[i] = sublist_insert(sl, "license.b42.assigned", OWNER(i + 1));
        alive[i + 1] = 1;
        order[i] = i;
    }
    shuffle(order, N, 42);
    for (size_t k = 0; k < N; k++) {
        size_t victim = order[k];
        assert_ptr_equal(sublist_entry_owner(e[victim]), OWNER(victim + 1));
        sublist_remove(sl, e[victim]);
        alive[victim + 1] = 0;
        assert_int_equal(sublist_count(sl), N - k - 1);
        if (k % 97 != 0 && k < N - 20)
            continue;
        /* Sampled step: the result is exactly the live owners, each once. */
        const sublist_result *r = sublist_match(sl, "license.b42.assigned");
        assert_int_equal(r->count, N - k - 1);
        memset(seen, 0, N + 1);
        for (size_t i = 0; i < r->count; i++) {
            uintptr_t o = (uintptr_t)r->owners[i];
            assert_true(o >= 1 && o <= N);
            assert_true(alive[o]);
            assert_false(seen[o]);
            seen[o] = 1;
        }
    }
    assert_int_equal(sublist_node_count(sl), 0);
    free(e);
    free(order);
    free(alive);
    free(seen);
    sublist_destroy(sl);
}

static void test_cache_hit(void **state)
{
    sublist *sl = sublist_create();
    sublist_insert(sl, "a.*", OWNER(1));
    size_t hits, misses;
    const sublist_result *r1 = sublist_match(sl, "a.b");
    sublist_cache_stats(sl, &hits, &misses);
    assert_int_equal(hits, 0);
    assert_int_equal(misses, 1);
    const sublist_result *r2 = sublist_match(sl, "a.b");
    sublist_cache_stats(sl, &hits, &misses);
    assert_int_equal(hits, 1);
    assert_int_equal(misses, 1);
    assert_ptr_equal(r1, r2);
    assert_int_equal(r2->count, 1);
    /* Empty results are cached too. */
    assert_int_equal(match_count(sl, "nobody.here"), 0);
    assert_int_equal(match_count(sl, "nobody.here"), 0);
    sublist_cache_stats(sl, &hits, &misses);
    assert_int_equal(hits, 2);
    assert_int_equal(misses, 2);
    sublist_cache_stats(sl, NULL, NULL); /* allowed */
    sublist_destroy(sl);
}

/* Hits and misses since the last check. */
static void stats_delta(sublist *sl, size_t *hits, size_t *misses)
{
    static size_t last_h, last_m;
    size_t h, m;
    sublist_cache_stats(sl, &h, &m);
    *hits = h - last_h;
    *misses = m - last_m;
    last_h = h;
    last_m = m;
}

static void test_cache_invalidation_insert(void **state)
{
    sublist *sl = sublist_create();
    size_t h, m;
    assert_int_equal(match_count(sl, "a.b"), 0);
    assert_int_equal(match_count(sl, "x.y"), 0);
    assert_int_equal(match_count(sl, "a.b.c"), 0);
    stats_delta(sl, &h, &m);

    /* Each new subscriber is seen right away, by every subject it matches. */
    sublist_insert(sl, "a.b", OWNER(1));
    assert_int_equal(match_count(sl, "a.b"), 1);
    sublist_insert(sl, "a.*", OWNER(2));
    assert_int_equal(match_count(sl, "a.b"), 2);
    sublist_insert(sl, "*.b", OWNER(3));
    assert_int_equal(match_count(sl, "a.b"), 3);
    sublist_insert(sl, "a.>", OWNER(4));
    assert_int_equal(match_count(sl, "a.b"), 4);
    assert_int_equal(match_count(sl, "a.b.c"), 1);
    sublist_insert(sl, ">", OWNER(5));
    assert_int_equal(match_count(sl, "a.b"), 5);
    assert_int_equal(match_count(sl, "a.b.c"), 2);
    assert_int_equal(match_count(sl, "x.y"), 1);
    stats_delta(sl, &h, &m);

    /* Precise: patterns that do not match a cached subject leave it cached. */
    assert_int_equal(match_count(sl, "x.y"), 1);
    assert_int_equal(match_count(sl, "a.b"), 5);
    stats_delta(sl, &h, &m);
    assert_int_equal(h, 2);
    sublist_insert(sl, "q.r", OWNER(6));   /* literal */
    sublist_insert(sl, "a.*.c", OWNER(7)); /* literal first token */
    sublist_insert(sl, "*.z", OWNER(8));   /* wildcard first token */
    sublist_insert(sl, "a.b.>", OWNER(9));
    assert_int_equal(match_count(sl, "x.y"), 1);
    assert_int_equal(match_count(sl, "a.b"), 5);
    stats_delta(sl, &h, &m);
    assert_int_equal(h, 2);
    assert_int_equal(m, 0);
    assert_int_equal(match_count(sl, "a.b.c"), 4); /* a.> > a.*.c a.b.> */
    sublist_destroy(sl);
}

static void test_cache_invalidation_remove(void **state)
{
    sublist *sl = sublist_create();
    sublist_entry *lit = sublist_insert(sl, "a.b", OWNER(1));
    sublist_entry *star = sublist_insert(sl, "*.b", OWNER(2));
    sublist_entry *gt = sublist_insert(sl, "a.>", OWNER(3));
    sublist_entry *all = sublist_insert(sl, ">", OWNER(4));
    sublist_insert(sl, "x.y", OWNER(5));
    assert_int_equal(match_count(sl, "a.b"), 4);
    assert_int_equal(match_count(sl, "x.y"), 2);

    sublist_remove(sl, lit);
    assert_int_equal(occurrences(sublist_match(sl, "a.b"), OWNER(1)), 0);
    sublist_remove(sl, star);
    assert_int_equal(occurrences(sublist_match(sl, "a.b"), OWNER(2)), 0);
    sublist_remove(sl, gt);
    assert_int_equal(occurrences(sublist_match(sl, "a.b"), OWNER(3)), 0);
    size_t h, m;
    stats_delta(sl, &h, &m);
    assert_int_equal(match_count(sl, "x.y"), 2); /* untouched by those removals */
    stats_delta(sl, &h, &m);
    assert_int_equal(h, 1);
    sublist_remove(sl, all);
    const sublist_result *r = sublist_match(sl, "a.b");
    assert_int_equal(r->count, 0);
    r = sublist_match(sl, "x.y");
    assert_int_equal(r->count, 1);
    assert_ptr_equal(r->owners[0], OWNER(5));
    sublist_destroy(sl);
}

/* A node with thousands of literal children in both tries: 4,000 cached
 * subjects under w. "w.*" visits every child of w in the cache trie and
 * drops them all; a literal or a pattern elsewhere drops only its own
 * subjects; removing the children one by one in random order drops one
 * subject each and prunes both tries back to nothing. */
static void test_wide_node_cache(void **state)
{
    enum { N = 5000, CACHED = 4000 };
    sublist *sl = sublist_create();
    sublist_entry **e = xmalloc(N * sizeof *e);
    size_t *order = xmalloc(N * sizeof *order);
    char s[64];
    size_t h, m;
    for (size_t i = 0; i < N; i++) {
        snprintf(s, sizeof s, "w.c%zu", i);
        e[i] = sublist_insert(sl, s, OWNER(i + 1));
        order[i] = i;
    }
    assert_int_equal(sublist_node_count(sl), 1 + N);
    for (size_t i = 0; i < CACHED; i++) {
        snprintf(s, sizeof s, "w.c%zu", i);
        assert_int_equal(match_count(sl, s), 1);
    }
    assert_int_equal(match_count(sl, "v.c1"), 0);
    stats_delta(sl, &h, &m);

    /* A pattern elsewhere leaves w's subjects cached. */
    sublist_entry *v = sublist_insert(sl, "v.*", OWNER(N + 1));
    for (size_t i = 0; i < CACHED; i++) {
        snprintf(s, sizeof s, "w.c%zu", i);
        assert_int_equal(match_count(sl, s), 1);
    }
    assert_int_equal(match_count(sl, "v.c1"), 1);
    stats_delta(sl, &h, &m);
    assert_int_equal(h, CACHED);
    assert_int_equal(m, 1);

    /* "w.*" drops every subject under w, and only those. */
    sublist_entry *star = sublist_insert(sl, "w.*", OWNER(N + 2));
    for (size_t i = 0; i < CACHED; i++) {
        snprintf(s, sizeof s, "w.c%zu", i);
        assert_int_equal(match_count(sl, s), 2);
    }
    assert_int_equal(match_count(sl, "v.c1"), 1);
    stats_delta(sl, &h, &m);
    assert_int_equal(h, 1);
    assert_int_equal(m, CACHED);

    /* "*.c17" visits every child of the cache root, then one child of w. */
    sublist_entry *c17 = sublist_insert(sl, "*.c17", OWNER(N + 3));
    assert_int_equal(match_count(sl, "w.c17"), 3);
    assert_int_equal(match_count(sl, "w.c18"), 2);
    assert_int_equal(match_count(sl, "v.c1"), 1);
    stats_delta(sl, &h, &m);
    assert_int_equal(h, 2);
    assert_int_equal(m, 1);

    /* Remove the literals in random order: each drops its own subject only. */
    shuffle(order, N, 7);
    for (size_t k = 0; k < N; k++) {
        size_t i = order[k];
        sublist_remove(sl, e[i]);
        if (k % 7 != 0 || i >= CACHED || k + 1 == N || order[k + 1] >= CACHED)
            continue; /* check now and then, subjects in the cache only */
        stats_delta(sl, &h, &m);
        snprintf(s, sizeof s, "w.c%zu", i);
        const sublist_result *r = sublist_match(sl, s);
        assert_int_equal(r->count, i == 17 ? 2 : 1);
        assert_int_equal(occurrences(r, OWNER(i + 1)), 0);
        snprintf(s, sizeof s, "w.c%zu", order[k + 1]);
        assert_int_equal(match_count(sl, s), order[k + 1] == 17 ? 3 : 2);
        stats_delta(sl, &h, &m);
        assert_int_equal(h, 1);
        assert_int_equal(m, 1);
    }
    /* Left: v, v.*, w, w.*, *, *.c17. */
    assert_int_equal(sublist_node_count(sl), 6);
    assert_int_equal(match_count(sl, "w.c1"), 1);
    sublist_remove(sl, star);
    sublist_remove(sl, v);
    sublist_remove(sl, c17);
    assert_int_equal(sublist_node_count(sl), 0);
    assert_int_equal(match_count(sl, "w.c1"), 0);
    assert_int_equal(match_count(sl, "w.c17"), 0);
    free(order);
    free(e);
    sublist_destroy(sl);
}

/* More distinct subjects than the cache holds: results stay right. */
static void test_cache_overflow(void **state)
{
    sublist *sl = sublist_create();
    sublist_insert(sl, "s.*", OWNER(1));
    sublist_insert(sl, "s.>", OWNER(2));
    char s[32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 10000; i++) {
            snprintf(s, sizeof s, "s.%d", i);
            const sublist_result *r = sublist_match(sl, s);
            assert_int_equal(r->count, 2);
            assert_int_equal(occurrences(r, OWNER(1)) + occurrences(r, OWNER(2)), 2);
        }
    }
    size_t hits, misses;
    sublist_cache_stats(sl, &hits, &misses);
    assert_int_equal(hits + misses, 20000);
    /* Invalidation still works on the cache refilled after a clear. */
    assert_int_equal(match_count(sl, "s.9999"), 2);
    sublist_insert(sl, "s.9999", OWNER(3));
    sublist_insert(sl, "*.9998", OWNER(4));
    assert_int_equal(match_count(sl, "s.9999"), 3);
    assert_int_equal(match_count(sl, "s.9998"), 3);
    assert_int_equal(match_count(sl, "s.9997"), 2);
    sublist_destroy(sl);
}

static void test_invalid_subject(void **state)
{
    sublist *sl = sublist_create();
    sublist_insert(sl, ">", OWNER(1));
    assert_int_equal(match_count(sl, ""), 0);
    assert_int_equal(match_count(sl, "a..b"), 0);
    assert_int_equal(match_count(sl, "a.*"), 0);
    assert_int_equal(match_count(sl, "a.>"), 0);
    assert_int_equal(match_count(sl, "a b"), 0);
    assert_int_equal(match_count(sl, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q"), 0); /* 17 tokens */
    assert_int_equal(match_count(sl, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p"), 1);
    sublist_destroy(sl);
}

/* Removing every entry prunes every node; destroy frees what is left. */
static void test_prune(void **state)
{
    sublist *sl = sublist_create();
    const char *patterns[] = {"a.b.c", "a.b", "a.*.c", "a.>", ">", "*", "x.y.z.w", "a.b.c.d"};
    enum { NP = sizeof patterns / sizeof *patterns };
    sublist_entry *e[NP];
    for (size_t i = 0; i < NP; i++)
        e[i] = sublist_insert(sl, patterns[i], OWNER(i + 1));
    /* a, a.b, a.b.c, a.*, a.*.c, a.>, >, *, x, x.y, x.y.z, x.y.z.w, a.b.c.d */
    assert_int_equal(sublist_node_count(sl), 13);
    sublist_remove(sl, e[7]); /* a.b.c.d: its leaf goes */
    assert_int_equal(sublist_node_count(sl), 12);
    sublist_remove(sl, e[6]); /* x.y.z.w: the whole branch goes */
    assert_int_equal(sublist_node_count(sl), 8);
    sublist_remove(sl, e[0]); /* a.b.c: a.b still holds an entry */
    assert_int_equal(sublist_node_count(sl), 7);
    sublist_remove(sl, e[2]); /* a.*.c */
    assert_int_equal(sublist_node_count(sl), 5);
    for (size_t i = 0; i < NP; i++)
        if (i != 7 && i != 6 && i != 0 && i != 2)
            sublist_remove(sl, e[i]);
    assert_int_equal(sublist_count(sl), 0);
    assert_int_equal(sublist_node_count(sl), 0);
    assert_int_equal(match_count(sl, "a.b.c"), 0);

    /* The index is usable again, and destroy frees live entries. */
    sublist_insert(sl, "a.b", OWNER(1));
    sublist_insert(sl, "a.*.>", OWNER(2));
    assert_int_equal(match_count(sl, "a.b"), 1);
    sublist_destroy(sl);
    sublist_destroy(NULL);
}

/* ---- randomised comparison against a brute-force matcher ---- */

typedef struct {
    char pattern[64];
    void *owner;
    sublist_entry *e; /* NULL once removed */
} ref_entry;

static const char *const words[] = {"a", "b", "c", "d", "e", "f", "g", "h"};

/* A random pattern of 1..4 tokens over words, with "*" and a final ">". */
static void random_pattern(char *buf)
{
    size_t n = 1 + rng(4);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(buf, ".");
        size_t k = rng(10);
        if (i == n - 1 && k == 9)
            strcat(buf, ">");
        else
            strcat(buf, k >= 8 ? "*" : words[k]);
    }
}

/* A random subject of 1..5 tokens, now and then with a token no pattern uses. */
static void random_subject(char *buf)
{
    size_t n = 1 + rng(5);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(buf, ".");
        strcat(buf, rng(20) == 0 ? "zz" : words[rng(8)]);
    }
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* The index's result for subject equals the brute-force one, as multisets. */
static void check_against_brute_force(sublist *sl, const ref_entry *ref, size_t nref,
                                      const char *subject, void **buf)
{
    size_t n = 0;
    for (size_t i = 0; i < nref; i++)
        if (ref[i].e && subject_matches(ref[i].pattern, subject))
            buf[n++] = ref[i].owner;
    const sublist_result *r = sublist_match(sl, subject);
    if (r->count != n)
        fail_msg("%s: %zu owners, expected %zu", subject, r->count, n);
    void **got = xmalloc((n ? n : 1) * sizeof *got);
    memcpy(got, r->owners, n * sizeof *got);
    qsort(got, n, sizeof *got, cmp_ptr);
    qsort(buf, n, sizeof *buf, cmp_ptr);
    assert_memory_equal(got, buf, n * sizeof *got);
    free(got);
}

static void test_random_vs_brute_force(void **state)
{
    enum { NPAT = 5000, NENT = 100000, NSUBJ = 150 };
    rng_seed(20240601);

    /* 5000 distinct patterns (draw more, sort, deduplicate, keep 5000). */
    size_t ndraw = 40000;
    char(*pats)[64] = xmalloc(ndraw * sizeof *pats);
    for (size_t i = 0; i < ndraw; i++)
        random_pattern(pats[i]);
    qsort(pats, ndraw, sizeof *pats, cmp_str);
    size_t npat = 0;
    for (size_t i = 0; i < ndraw; i++)
        if (npat == 0 || strcmp(pats[npat - 1], pats[i]) != 0)
            memmove(pats[npat++], pats[i], sizeof *pats);
    assert_true(npat >= NPAT);
    npat = NPAT;

    /* 100k entries over them; owners repeat (a connection has several). */
    sublist *sl = sublist_create();
    ref_entry *ref = xcalloc(NENT + NPAT, sizeof *ref);
    size_t nref = 0;
    for (size_t i = 0; i < NENT; i++) {
        ref_entry *r = &ref[nref++];
        strcpy(r->pattern, pats[i < NPAT ? i : rng(npat)]); /* every pattern used */
        assert_true(subject_pattern_valid(r->pattern));
        r->owner = OWNER(1 + rng(30000));
        r->e = sublist_insert(sl, r->pattern, r->owner);
    }
    assert_int_equal(sublist_count(sl), NENT);

    void **buf = xmalloc((NENT + NPAT) * sizeof *buf);
    char subjects[NSUBJ][64];
    for (size_t i = 0; i < NSUBJ; i++) {
        random_subject(subjects[i]);
        check_against_brute_force(sl, ref, nref, subjects[i], buf);
    }
    /* Again, now from the cache. */
    size_t hits0, hits1;
    sublist_cache_stats(sl, &hits0, NULL);
    for (size_t i = 0; i < NSUBJ; i++)
        check_against_brute_force(sl, ref, nref, subjects[i], buf);
    sublist_cache_stats(sl, &hits1, NULL);
    assert_int_equal(hits1 - hits0, NSUBJ);

    /* Churn: remove a random half, insert some new, re-check the cached subjects. */
    for (int round = 0; round < 4; round++) {
        for (size_t k = 0; k < NENT / 8; k++) {
            ref_entry *r = &ref[rng(nref)];
            if (r->e) {
                sublist_remove(sl, r->e);
                r->e = NULL;
            }
        }
        for (size_t k = 0; k < NPAT / 4 && nref < NENT + NPAT; k++) {
            ref_entry *r = &ref[nref++];
            strcpy(r->pattern, pats[rng(npat)]);
            r->owner = OWNER(1 + rng(30000));
            r->e = sublist_insert(sl, r->pattern, r->owner);
        }
        size_t live = 0;
        for (size_t i = 0; i < nref; i++)
            live += ref[i].e != NULL;
        assert_int_equal(sublist_count(sl), live);
        for (size_t i = 0; i < NSUBJ; i++) /* cached before: invalidation must be exact */
            check_against_brute_force(sl, ref, nref, subjects[i], buf);
    }

    /* Remove everything: nothing matches and the trie is empty. */
    for (size_t i = 0; i < nref; i++)
        if (ref[i].e)
            sublist_remove(sl, ref[i].e);
    assert_int_equal(sublist_count(sl), 0);
    assert_int_equal(sublist_node_count(sl), 0);
    for (size_t i = 0; i < NSUBJ; i += 7)
        assert_int_equal(match_count(sl, subjects[i]), 0);

    free(buf);
    free(ref);
    free(pats);
    sublist_destroy(sl);
}

/* Bytes the allocator has handed out and not taken back. */
static size_t heap_in_use(void)
{
    return mallinfo2().uordblks;
}

/* With many wildcard subscribers every cached result holds all of them: the
 * cache must stay bounded in bytes, not only in subjects. 2,000 owners of ">"
 * and 4,096 distinct subjects were 64 MiB of cached results. */
static void test_cache_bytes_bounded(void **state)
{
    sublist *sl = sublist_create();
    enum { OWNERS = 2000, SUBJECTS = 4096 };
    for (int i = 1; i <= OWNERS; i++)
        sublist_insert(sl, i % 2 ? ">" : "s.*", OWNER(i));
    size_t before = heap_in_use();
    char subject[32];
    for (int i = 0; i < SUBJECTS; i++) {
        snprintf(subject, sizeof subject, "s.%d", i);
        assert_int_equal(sublist_match(sl, subject)->count, OWNERS);
    }
    size_t grown = heap_in_use() - before;
    if (grown > 16u << 20)
        fail_msg("the match cache grew by %zu bytes", grown);
    /* Still a cache: a subject matched again is a hit. */
    size_t hits, hits2;
    sublist_cache_stats(sl, &hits, NULL);
    assert_int_equal(sublist_match(sl, subject)->count, OWNERS);
    sublist_cache_stats(sl, &hits2, NULL);
    assert_int_equal(hits2, hits + 1);
    sublist_destroy(sl);
}

/* A result too big for the cache is still right, and stays valid until the next match. */
static void test_cache_big_result(void **state)
{
    sublist *sl = sublist_create();
    enum { OWNERS = 140000 }; /* 1.1 MB of owners: above the per-result limit */
    for (int i = 1; i <= OWNERS; i++)
        sublist_insert(sl, "big.>", OWNER(i));
    const sublist_result *r = sublist_match(sl, "big.one");
    assert_int_equal(r->count, OWNERS);
    size_t sum = 0;
    for (size_t i = 0; i < r->count; i++)
        sum += (size_t)(uintptr_t)r->owners[i];
    assert_int_equal(sum, (size_t)OWNERS * (OWNERS + 1) / 2);
    assert_int_equal(sublist_match(sl, "big.one")->count, OWNERS);
    assert_int_equal(sublist_match(sl, "other")->count, 0);
    sublist_destroy(sl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal),
        cmocka_unit_test(test_pattern_is_copied),
        cmocka_unit_test(test_star),
        cmocka_unit_test(test_gt),
        cmocka_unit_test(test_mixed),
        cmocka_unit_test(test_owner_once_per_entry),
        cmocka_unit_test(test_many_owners),
        cmocka_unit_test(test_wide_node),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_swap_remove),
        cmocka_unit_test(test_cache_hit),
        cmocka_unit_test(test_cache_invalidation_insert),
        cmocka_unit_test(test_cache_invalidation_remove),
        cmocka_unit_test(test_cache_overflow),
        cmocka_unit_test(test_wide_node_cache),
        cmocka_unit_test(test_invalid_subject),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_random_vs_brute_force),
        cmocka_unit_test(test_cache_bytes_bounded),
        cmocka_unit_test(test_cache_big_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
