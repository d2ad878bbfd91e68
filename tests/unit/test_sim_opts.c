/* test_sim_opts.c: unit tests for wsgate-sim's command line (tools/sim/sim_opts.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim_opts.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

/* sim_opts_parse over "wsgate-sim" and the given arguments (ended by NULL). */
static int parse(struct sim_opts *o, char **args)
{
    char *argv[16] = {"wsgate-sim"};
    int argc = 1;
    while (args[argc - 1])
        argv[argc] = args[argc - 1], argc++;
    optind = 0; /* glibc: start getopt afresh */
    return sim_opts_parse(o, argc, argv);
}

static void test_valid(void **state)
{
    struct sim_opts o;
    char *args[] = {"--batches", "3", "--mode", "progress", "--seed", "42", NULL};
    assert_int_equal(parse(&o, args), 0);
    assert_int_equal(o.batches, 3);
    assert_int_equal(o.mode, SIM_MODE_PROGRESS);
    assert_int_equal(o.seed, 42);
}

static void test_help(void **state)
{
    struct sim_opts o;
    char *args[] = {"--help", NULL};
    assert_int_equal(parse(&o, args), 1);
}

/* Every refused command line is -EINVAL (after a one-line error on stderr). */
static void test_refused(void **state)
{
    struct sim_opts o;
    char *bad[][3] = {
        {"--batches", "x", NULL},     {"--batches", "-1", NULL}, {"--speed", "0", NULL},
        {"--mode", "sideways", NULL}, {"--seed", "-3", NULL},    {"--batch-prefix", "a.b", NULL},
        {"--bogus", NULL, NULL},      {"extra", NULL, NULL},     {"--batches", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(&o, bad[i]), -EINVAL);
    char *nothing[] = {"--batches", "0", "--verifications", "0", NULL};
    assert_int_equal(parse(&o, nothing), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
