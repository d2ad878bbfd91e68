/* test_lastvalue.c: unit tests for the latest-frame-per-subject map of last-value subjects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/frame.h"
#include "wsgate/lastvalue.h"
#include "wsgate/protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *const default_patterns[] = {"batch.*.progress"};

/* A msg frame (subject and seq set) with a small payload. */
static wsg_frame *msg(const char *subject, uint64_t seq)
{
    char data[64];
    int n = snprintf(data, sizeof(data), "{\"seq\":%llu}", (unsigned long long)seq);
    return protocol_msg(subject, seq, data, (size_t)n);
}

/* Collects what lastvalue_each_match reports. */
typedef struct seen {
    wsg_frame *frames[4096];
    size_t n;
} seen;

static void collect(wsg_frame *f, void *arg)
{
    seen *s = arg;
    assert_true(s->n < 4096);
    s->frames[s->n++] = f;
}

static void test_is(void **state)
{
    char *const pats[] = {"batch.*.progress", "x.>", "exact.subject"};
    lastvalue *lv = lastvalue_create(pats, 3);
    assert_true(lastvalue_is(lv, "batch.b1.progress"));
    assert_true(lastvalue_is(lv, "batch.B-42_x.progress"));
    assert_false(lastvalue_is(lv, "batch.b1.started"));
    assert_false(lastvalue_is(lv, "batch.progress"));
    assert_false(lastvalue_is(lv, "batch.b1.progress.more"));
    assert_false(lastvalue_is(lv, "license.b1.progress"));
    assert_true(lastvalue_is(lv, "x.a"));
    assert_true(lastvalue_is(lv, "x.a.b.c"));
    assert_false(lastvalue_is(lv, "x"));
    assert_true(lastvalue_is(lv, "exact.subject"));
    assert_false(lastvalue_is(lv, "exact.subject2"));
    assert_int_equal(lastvalue_count(lv), 0);
    lastvalue_destroy(lv);

    /* The patterns are copied. */
    char pat[] = "a.*";
    char *const one[] = {pat};
    lv = lastvalue_create(one, 1);
    strcpy(pat, "z.z");
    assert_true(lastvalue_is(lv, "a.b"));
    assert_false(lastvalue_is(lv, "z.z"));
    lastvalue_destroy(lv);

    /* No patterns: nothing is a last-value subject. */
    lv = lastvalue_create(NULL, 0);
    assert_false(lastvalue_is(lv, "batch.b1.progress"));
    seen s = {.n = 0};
    lastvalue_each_match(lv, ">", collect, &s);
    assert_int_equal(s.n, 0);
    lastvalue_destroy(lv);
    lastvalue_destroy(NULL);
}

static void test_put_replaces(void **state)
{
    lastvalue *lv = lastvalue_create(default_patterns, 1);
    wsg_frame *a1 = msg("batch.a.progress", 1);
    wsg_frame *b2 = msg("batch.b.progress", 2);
    wsg_frame *a3 = msg("batch.a.progress", 3);

    lastvalue_put(lv, a1);
    assert_int_equal(lastvalue_count(lv), 1);
    assert_int_equal(a1->refs, 2);
    lastvalue_put(lv, b2);
    assert_int_equal(lastvalue_count(lv), 2);
    lastvalue_put(lv, a3); /* same subject as a1: replaces it */
    assert_int_equal(lastvalue_count(lv), 2);
    assert_int_equal(a1->refs, 1); /* the map let go of the old one */
    assert_int_equal(a3->refs, 2);

    seen s = {.n = 0};
    lastvalue_each_match(lv, "batch.a.progress", collect, &s);
    assert_int_equal(s.n, 1);
    assert_ptr_equal(s.frames[0], a3);

    /* Putting the same frame again keeps one reference. */
    lastvalue_put(lv, a3);
    assert_int_equal(a3->refs, 2);
    assert_int_equal(lastvalue_count(lv), 2);

    lastvalue_destroy(lv);
    assert_int_equal(a3->refs, 1);
    assert_int_equal(b2->refs, 1);
    frame_unref(a1);
    frame_unref(b2);
    frame_unref(a3);
}

static void test_each_match_order_and_filter(void **state)
{
    char *const pats[] = {"batch.*.progress", "x.>"};
    lastvalue *lv = lastvalue_create(pats, 2);
    /* Put in an order unrelated to seq; then replace one with a newer seq. */
    static const struct {
        const char *subject;
        uint64_t seq;
    } puts_[] = {
        {"batch.c.progress", 30},
        {"batch.a.progress", 10},
        {"x.q", 25},
        {"batch.d.progress", 5},
        {"x.r.s", 12},
        {"batch.b.progress", 20},
        {"batch.a.progress", 40},
    };
    wsg_frame *f[7];
    for (size_t i = 0; i < 7; i++) {
        f[i] = msg(puts_[i].subject, puts_[i].seq);
        lastvalue_put(lv, f[i]);
    }
    assert_int_equal(lastvalue_count(lv), 6);

    seen s = {.n = 0};
    lastvalue_each_match(lv, "batch.*.progress", collect, &s);
    uint64_t want[] = {5, 20, 30, 40};
    assert_int_equal(s.n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(s.frames[i]->seq, want[i]);

    s.n = 0;
    lastvalue_each_match(lv, ">", collect, &s);
    uint64_t want_all[] = {5, 12, 20, 25, 30, 40};
    assert_int_equal(s.n, 6);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(s.frames[i]->seq, want_all[i]);

    s.n = 0;
    lastvalue_each_match(lv, "batch.b.*", collect, &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.frames[0]->subject, "batch.b.progress");

    s.n = 0;
    lastvalue_each_match(lv, "x.*", collect, &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.frames[0]->subject, "x.q");

    s.n = 0;
    lastvalue_each_match(lv, "license.>", collect, &s);
    assert_int_equal(s.n, 0);
    s.n = 0;
    lastvalue_each_match(lv, "batch.a.progress.extra", collect, &s);
    assert_int_equal(s.n, 0);

    lastvalue_destroy(lv);
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(f[i]->refs, 1);
        frame_unref(f[i]);
    }
}

static void test_many_subjects(void **state)
{
    lastvalue *lv = lastvalue_create(default_patterns, 1);
    enum { N = 3000 };
    wsg_frame **f = malloc(N * sizeof(*f));
    char subject[64];
    for (size_t i = 0; i < N; i++) {
        /* seq decreasing with i so hash order, put order and seq order all differ */
        snprintf(subject, sizeof(subject), "batch.b%zu.progress", i);
        f[i] = msg(subject, 10 * (N - i));
        lastvalue_put(lv, f[i]);
        assert_int_equal(lastvalue_count(lv), i + 1);
    }
    /* Every subject is still found after the growths, with its frame. */
    for (size_t i = 0; i < N; i += 97) {
        seen s = {.n = 0};
        lastvalue_each_match(lv, f[i]->subject, collect, &s);
        assert_int_equal(s.n, 1);
        assert_ptr_equal(s.frames[0], f[i]);
    }
    seen *all = malloc(sizeof(*all));
    all->n = 0;
    lastvalue_each_match(lv, "batch.*.progress", collect, all);
    assert_int_equal(all->n, N);
    for (size_t i = 1; i < N; i++)
        assert_true(all->frames[i - 1]->seq < all->frames[i]->seq);

    /* Replace half of them: the count stays, the old frames are released. */
    for (size_t i = 0; i < N; i += 2) {
        wsg_frame *g = msg(f[i]->subject, 100000 + i);
        lastvalue_put(lv, g);
        frame_unref(g);
        assert_int_equal(f[i]->refs, 1);
    }
    assert_int_equal(lastvalue_count(lv), N);
    all->n = 0;
    lastvalue_each_match(lv, ">", collect, all);
    assert_int_equal(all->n, N);
    for (size_t i = 1; i < N; i++)
        assert_true(all->frames[i - 1]->seq < all->frames[i]->seq);
    assert_int_equal(all->frames[N - 1]->seq, 100000 + N - 2);

    /* Clear: empty, references released, usable again. */
    lastvalue_clear(lv);
    assert_int_equal(lastvalue_count(lv), 0);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(f[i]->refs, 1);
    all->n = 0;
    lastvalue_each_match(lv, ">", collect, all);
    assert_int_equal(all->n, 0);
    lastvalue_put(lv, f[5]);
    assert_int_equal(lastvalue_count(lv), 1);
    all->n = 0;
    lastvalue_each_match(lv, ">", collect, all);
    assert_int_equal(all->n, 1);
    assert_ptr_equal(all->frames[0], f[5]);

    lastvalue_destroy(lv);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(f[i]->refs, 1);
        frame_unref(f[i]);
    }
    free(all);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is),
        cmocka_unit_test(test_put_replaces),
        cmocka_unit_test(test_each_match_order_and_filter),
        cmocka_unit_test(test_many_subjects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
