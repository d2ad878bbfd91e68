/* test_seqrule.c: the sequence rule of a live JetStream consumer (seqrule.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/seqrule.h"

/* Exactly +1 in both sequences is taken; the state moves only then. */
static void test_in_order(void **state)
{
    seqrule r = {.start = 10, .floor = 1};
    uint64_t due;
    assert_true(seqrule_take(&r, 10, 1, &due));
    assert_true(seqrule_take(&r, 11, 2, &due));
    assert_int_equal(r.last_seq, 11);
    assert_int_equal(r.cseq, 2);
    /* a skipped message still in the stream */
    assert_false(seqrule_take(&r, 13, 3, &due));
    assert_int_equal(due, 12);
    assert_int_equal(r.last_seq, 11); /* unchanged */
    /* the consumer sequence jumped (it skipped one), or repeated */
    assert_false(seqrule_take(&r, 12, 4, &due));
    assert_false(seqrule_take(&r, 12, 2, &due));
    /* back in the stream (a redelivery of an older one) */
    assert_false(seqrule_take(&r, 11, 3, &due));
    assert_true(seqrule_take(&r, 12, 3, &due));
}

/* The first message may start past `start` only over what the stream had
 * deleted (below its first sequence, or in its deleted list). */
static void test_deleted(void **state)
{
    static const uint64_t del[] = {5, 6, 7, 12, 20, 21};
    seqrule r = {.start = 2, .floor = 5, .del = del, .ndel = 6};
    uint64_t due;
    /* 2..4 are below the floor, 5..7 deleted: the first may be 8 */
    assert_true(seqrule_take(&r, 8, 1, &due));
    assert_true(seqrule_take(&r, 9, 2, &due));
    assert_false(seqrule_take(&r, 11, 3, &due)); /* 10 is not deleted */
    assert_true(seqrule_take(&r, 10, 3, &due));
    assert_true(seqrule_take(&r, 11, 4, &due));
    assert_true(seqrule_take(&r, 13, 5, &due));  /* 12 was deleted */
    assert_false(seqrule_take(&r, 22, 6, &due)); /* 14..19 are not */
    assert_true(seqrule_deleted(&r, 20, 22));
    assert_false(seqrule_deleted(&r, 19, 22));
    assert_true(seqrule_deleted(&r, 1, 8));   /* below the floor, then 5..7 */
    assert_true(seqrule_deleted(&r, 30, 30)); /* nothing in between */
}

/* A new consumer (after a break) starts from last + 1 with what the stream
 * had deleted by then: a message it delivers from there is taken. */
static void test_after_break(void **state)
{
    seqrule r = {.start = 1, .floor = 1};
    uint64_t due;
    assert_true(seqrule_take(&r, 1, 1, &due));
    assert_false(seqrule_take(&r, 3, 2, &due));
    seqrule again = {.start = r.last_seq + 1, .floor = 1, .last_seq = r.last_seq};
    assert_true(seqrule_take(&again, 2, 1, &due));
    assert_true(seqrule_take(&again, 3, 2, &due));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_deleted),
        cmocka_unit_test(test_after_break),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
