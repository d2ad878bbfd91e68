/* test_ratelimit.c: unit tests for the log-line limiter (src/ratelimit.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/ratelimit.h"

/* per_window go out in a window, the rest are counted; a new window starts
 * at the first call past the end of the last. */
static void test_budget_per_window(void **state)
{
    ratelimit rl;
    ratelimit_init(&rl, 3, 1000);
    for (int i = 0; i < 3; i++)
        assert_true(ratelimit_allow(&rl, 5000 + i));
    for (int i = 0; i < 5; i++)
        assert_false(ratelimit_allow(&rl, 5500));
    assert_false(ratelimit_allow(&rl, 5999));
    assert_true(ratelimit_allow(&rl, 6000)); /* a new window */
    assert_true(ratelimit_allow(&rl, 6999));
    assert_true(ratelimit_allow(&rl, 6999));
    assert_false(ratelimit_allow(&rl, 6999));
    assert_true(ratelimit_allow(&rl, 100000)); /* after a long quiet time */
}

/* The suppressed count is reported once its window has closed, then reset. */
static void test_suppressed_report(void **state)
{
    ratelimit rl;
    ratelimit_init(&rl, 2, 1000);
    assert_int_equal(ratelimit_suppressed(&rl, 0), 0); /* nothing yet */
    for (int i = 0; i < 10; i++)
        ratelimit_allow(&rl, 100);
    assert_int_equal(ratelimit_suppressed(&rl, 500), 0); /* the window is still open */
    assert_int_equal(ratelimit_suppressed(&rl, 1100), 8);
    assert_int_equal(ratelimit_suppressed(&rl, 1200), 0); /* reported once */
    /* Refusals over several windows add up until reported. */
    for (int i = 0; i < 4; i++)
        ratelimit_allow(&rl, 2000);
    for (int i = 0; i < 5; i++)
        ratelimit_allow(&rl, 3000);
    assert_int_equal(ratelimit_suppressed(&rl, 4000), 2 + 3);
}

/* per_window 0 lets nothing through; a window of 0 ms is taken as 1 ms. */
static void test_edges(void **state)
{
    ratelimit rl;
    ratelimit_init(&rl, 0, 1000);
    assert_false(ratelimit_allow(&rl, 0));
    assert_false(ratelimit_allow(&rl, 5000));
    assert_int_equal(ratelimit_suppressed(&rl, 7000), 2);
    ratelimit_init(&rl, 1, 0);
    assert_true(ratelimit_allow(&rl, 10));
    assert_false(ratelimit_allow(&rl, 10));
    assert_true(ratelimit_allow(&rl, 11));
    /* Negative clocks work: the first window starts wherever the clock is. */
    ratelimit_init(&rl, 1, 1000);
    assert_true(ratelimit_allow(&rl, -5000));
    assert_false(ratelimit_allow(&rl, -4001));
    assert_true(ratelimit_allow(&rl, -4000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_per_window),
        cmocka_unit_test(test_suppressed_report),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
