/* test_cpus.c: the CPU count the sender pool defaults to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/cpus.h"

#include <sched.h>

static void test_quota_parse(void **state)
{
    (void)state;
    assert_int_equal(cpus_quota_parse("200000 100000\n"), 2);
    assert_int_equal(cpus_quota_parse("150000 100000"), 2); /* 1.5 CPUs: rounded up */
    assert_int_equal(cpus_quota_parse("50000 100000"), 1);
    assert_int_equal(cpus_quota_parse("max 100000\n"), 0); /* no quota */
    assert_int_equal(cpus_quota_parse("-1 100000"), 0);    /* cgroup v1: no quota */
    assert_int_equal(cpus_quota_parse(""), 0);
    assert_int_equal(cpus_quota_parse("abc"), 0);
    assert_int_equal(cpus_quota_parse("100000"), 0);
    assert_int_equal(cpus_quota_parse("100000 0"), 0);
    assert_int_equal(cpus_quota_parse(NULL), 0);
}

/* At least one, and never more than the CPUs the affinity mask allows. */
static void test_usable_within_affinity(void **state)
{
    (void)state;
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
    int n = cpus_usable();
    assert_true(n >= 1);
    assert_true(n <= CPU_COUNT(&set));
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    if (sched_setaffinity(0, sizeof(set), &set) == 0)
        assert_int_equal(cpus_usable(), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quota_parse),
        cmocka_unit_test(test_usable_within_affinity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
