/* test_ring.c: unit tests for the recent-frame ring used by resume. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/frame.h"
#include "wsgate/ring.h"

#include <stdlib.h>
#include <string.h>

/* A frame of len payload bytes with the given seq. */
static wsg_frame *mkframe(uint64_t seq, size_t len)
{
    char buf[4096] = {0}; /* len may be 0: GCC -O3 then sees buf unread but unset */
    memset(buf, 'x', len);
    wsg_frame *f = frame_create(buf, len);
    f->seq = seq;
    return f;
}

/* Check the ring holds exactly seqs[0..n) in order. */
static void expect_seqs(const ring *r, const uint64_t *seqs, size_t n)
{
    assert_int_equal(ring_count(r), n);
    for (size_t i = 0; i < n; i++)
        if (ring_at(r, i)->seq != seqs[i])
            fail_msg("ring_at(%zu): seq %llu, want %llu", i, (unsigned long long)ring_at(r, i)->seq,
                     (unsigned long long)seqs[i]);
    assert_int_equal(ring_first_seq(r), n ? seqs[0] : 0);
}

static void test_empty(void **state)
{
    ring *r = ring_create(10, 1000);
    assert_int_equal(ring_count(r), 0);
    assert_int_equal(ring_first_seq(r), 0);
    assert_int_equal(ring_find_after(r, 0), 0);
    assert_int_equal(ring_find_after(r, 100), 0);
    ring_clear(r);
    assert_int_equal(ring_count(r), 0);
    ring_destroy(r);
    ring_destroy(NULL);
}

static void test_push_and_refs(void **state)
{
    ring *r = ring_create(10, 1 << 20);
    wsg_frame *f[3];
    for (int i = 0; i < 3; i++) {
        f[i] = mkframe((uint64_t)i + 1, 10);
        ring_push(r, f[i]);
        assert_int_equal(f[i]->refs, 2); /* the ring's and ours */
    }
    uint64_t want[] = {1, 2, 3};
    expect_seqs(r, want, 3);
    for (int i = 0; i < 3; i++)
        assert_ptr_equal(ring_at(r, (size_t)i), f[i]); /* shared, not copied */

    /* Dropping ours leaves the ring's reference alive. */
    frame_unref(f[1]);
    assert_int_equal(ring_at(r, 1)->refs, 1);
    assert_int_equal(ring_at(r, 1)->len, 10);

    ring_clear(r);
    assert_int_equal(ring_count(r), 0);
    assert_int_equal(ring_first_seq(r), 0);
    assert_int_equal(f[0]->refs, 1);
    assert_int_equal(f[2]->refs, 1);

    /* Usable after clear. */
    ring_push(r, f[2]);
    assert_int_equal(ring_first_seq(r), 3);
    assert_int_equal(f[2]->refs, 2);
    ring_destroy(r); /* releases its reference */
    assert_int_equal(f[2]->refs, 1);
    frame_unref(f[0]);
    frame_unref(f[2]);
}

static void test_evict_by_count(void **state)
{
    ring *r = ring_create(4, 1 << 20);
    wsg_frame *f[10];
    for (int i = 0; i < 10; i++) {
        f[i] = mkframe((uint64_t)i + 1, 5);
        ring_push(r, f[i]);
        assert_true(ring_count(r) <= 4);
    }
    uint64_t want[] = {7, 8, 9, 10};
    expect_seqs(r, want, 4);
    for (int i = 0; i < 6; i++)
        assert_int_equal(f[i]->refs, 1); /* evicted: the ring let go */
    for (int i = 6; i < 10; i++)
        assert_int_equal(f[i]->refs, 2);
    /* find_after works across the wrap-around. */
    assert_int_equal(ring_find_after(r, 0), 0);
    assert_int_equal(ring_find_after(r, 7), 1);
    assert_int_equal(ring_find_after(r, 9), 3);
    assert_int_equal(ring_find_after(r, 10), 4);
    ring_destroy(r);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(f[i]->refs, 1);
        frame_unref(f[i]);
    }

    /* max_frames 1: only the newest. */
    r = ring_create(1, 1 << 20);
    for (uint64_t s = 1; s <= 5; s++) {
        wsg_frame *g = mkframe(s, 1);
        ring_push(r, g);
        frame_unref(g);
    }
    uint64_t one[] = {5};
    expect_seqs(r, one, 1);
    ring_destroy(r);
}

static void test_evict_by_bytes(void **state)
{
    ring *r = ring_create(100, 25);
    wsg_frame *f[6];
    for (int i = 0; i < 3; i++) {
        f[i] = mkframe((uint64_t)i + 1, 10);
        ring_push(r, f[i]);
    }
    /* 10 + 10 fit in 25, a third 10 does not: the oldest leaves. */
    uint64_t want[] = {2, 3};
    expect_seqs(r, want, 2);
    assert_int_equal(f[0]->refs, 1);

    /* A 20-byte frame pushes out both 10-byte ones (10 + 20 > 25). */
    f[3] = mkframe(4, 20);
    ring_push(r, f[3]);
    uint64_t want2[] = {4};
    expect_seqs(r, want2, 1);
    assert_int_equal(f[1]->refs, 1);
    assert_int_equal(f[2]->refs, 1);

    /* Exactly at the bound is fine: 20 + 5 == 25. */
    f[4] = mkframe(5, 5);
    ring_push(r, f[4]);
    uint64_t want3[] = {4, 5};
    expect_seqs(r, want3, 2);

    /* Empty payloads cost nothing. */
    f[5] = mkframe(6, 0);
    ring_push(r, f[5]);
    uint64_t want4[] = {4, 5, 6};
    expect_seqs(r, want4, 3);

    ring_destroy(r);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(f[i]->refs, 1);
        frame_unref(f[i]);
    }
}

static void test_find_after_gaps(void **state)
{
    ring *r = ring_create(1000, 1 << 20);
    uint64_t seqs[] = {10, 20, 30, 40, 41, 42, 100};
    size_t n = sizeof(seqs) / sizeof(seqs[0]);
    for (size_t i = 0; i < n; i++) {
        wsg_frame *f = mkframe(seqs[i], 1);
        ring_push(r, f);
        frame_unref(f);
    }
    expect_seqs(r, seqs, n);
    /* For every since, the position of the first seq > since (checked by a linear scan). */
    for (uint64_t since = 0; since <= 110; since++) {
        size_t want = 0;
        while (want < n && seqs[want] <= since)
            want++;
        if (ring_find_after(r, since) != want)
            fail_msg("find_after(%llu) = %zu, want %zu", (unsigned long long)since,
                     ring_find_after(r, since), want);
    }
    assert_int_equal(ring_find_after(r, UINT64_MAX), n);
    ring_destroy(r);

    /* Every ring size from 1 to 40, full of gaps, checked exhaustively. */
    for (size_t size = 1; size <= 40; size++) {
        r = ring_create(size, 1 << 20);
        uint64_t all[200];
        size_t total = 0;
        uint64_t s = 3;
        for (size_t i = 0; i < size + 7; i++) { /* wraps around */
            s += 1 + (i * 7) % 5;
            all[total++] = s;
            wsg_frame *f = mkframe(s, 1);
            ring_push(r, f);
            frame_unref(f);
        }
        const uint64_t *held = all + (total - size);
        expect_seqs(r, held, size);
        for (uint64_t since = 0; since <= s + 1; since++) {
            size_t want = 0;
            while (want < size && held[want] <= since)
                want++;
            assert_int_equal(ring_find_after(r, since), want);
        }
        ring_destroy(r);
    }
}

/* The slot array grows while the content wraps around: order must survive the unrolling. */
static void test_grow_while_wrapped(void **state)
{
    ring *r = ring_create(100000, 1100);
    uint64_t seq = 0;
    for (int i = 0; i < 1000; i++) { /* 1000 bytes, slot array of 1024 */
        wsg_frame *f = mkframe(++seq, 1);
        ring_push(r, f);
        frame_unref(f);
    }
    wsg_frame *big = mkframe(++seq, 600); /* evicts 500 by bytes: head moves to 500 */
    ring_push(r, big);
    frame_unref(big);
    assert_int_equal(ring_count(r), 501);
    assert_int_equal(ring_first_seq(r), 501);
    for (int i = 0; i < 2000; i++) { /* empty frames: wrap, then grow beyond 1024 slots */
        wsg_frame *f = mkframe(++seq, 0);
        ring_push(r, f);
        frame_unref(f);
    }
    assert_int_equal(ring_count(r), 2501);
    for (size_t i = 0; i < ring_count(r); i++)
        if (ring_at(r, i)->seq != 501 + i)
            fail_msg("ring_at(%zu) = %llu after growth", i, (unsigned long long)ring_at(r, i)->seq);
    assert_int_equal(ring_at(r, 500)->len, 600);
    assert_int_equal(ring_find_after(r, 1000), 500);
    assert_int_equal(ring_find_after(r, 1001), 501);
    ring_destroy(r);

    /* Beyond max_frames, again and again: always the newest max_frames, in order. */
    r = ring_create(3000, (size_t)1 << 30);
    for (uint64_t s = 1; s <= 10000; s++) {
        wsg_frame *f = mkframe(s, 1);
        ring_push(r, f);
        frame_unref(f);
    }
    assert_int_equal(ring_count(r), 3000);
    for (size_t i = 0; i < 3000; i++)
        assert_int_equal(ring_at(r, i)->seq, 7001 + i);
    assert_int_equal(ring_find_after(r, 9000), 2000);
    ring_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),           cmocka_unit_test(test_push_and_refs),
        cmocka_unit_test(test_evict_by_count),  cmocka_unit_test(test_evict_by_bytes),
        cmocka_unit_test(test_find_after_gaps), cmocka_unit_test(test_grow_while_wrapped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
