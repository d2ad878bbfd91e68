/* test_timefmt.c: unit tests for the RFC 3339 formatter, checked against gmtime_r. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void check_ns(int64_t ns, const char *want)
{
    char out[TIMEFMT_MAX];
    memset(out, 'x', sizeof(out));
    int n = timefmt_ns(ns, out);
    assert_string_equal(out, want);
    assert_int_equal(n, (int)strlen(want));
}

static void check_ms(int64_t ms, const char *want)
{
    char out[TIMEFMT_MAX];
    int n = timefmt_ms(ms, out);
    assert_string_equal(out, want);
    assert_int_equal(n, (int)strlen(want));
}

/* Fractions as JetStream prints them: up to 9 digits, trailing zeros trimmed. */
static void test_ns_trimmed(void **state)
{
    check_ns(0, "1970-01-01T00:00:00Z");
    check_ns(1, "1970-01-01T00:00:00.000000001Z");
    check_ns(1000, "1970-01-01T00:00:00.000001Z");
    check_ns(100000000, "1970-01-01T00:00:00.1Z");
    check_ns(999999999, "1970-01-01T00:00:00.999999999Z");
    check_ns(1795764012118500000LL, "2026-11-27T07:20:12.1185Z");
    check_ns(1795764012000000000LL, "2026-11-27T07:20:12Z");
    check_ns(951782400000000000LL, "2000-02-29T00:00:00Z"); /* leap day of a 400-year */
    check_ns(-1, "1969-12-31T23:59:59.999999999Z");
    check_ns(-1000000000, "1969-12-31T23:59:59Z");
    /* the whole int64 range fits in the buffer */
    check_ns(INT64_MAX, "2262-04-11T23:47:16.854775807Z");
    check_ns(INT64_MIN, "1677-09-21T00:12:43.145224192Z");
}

static void test_ms(void **state)
{
    check_ms(0, "1970-01-01T00:00:00.000Z");
    check_ms(1795764012118LL, "2026-11-27T07:20:12.118Z");
    check_ms(1795764012000LL, "2026-11-27T07:20:12.000Z");
    check_ms(-1, "1969-12-31T23:59:59.999Z");
    check_ms(253402300799999LL, "9999-12-31T23:59:59.999Z");
    check_ms(-62167219200000LL, "0000-01-01T00:00:00.000Z");
    char out[TIMEFMT_MAX] = "junk";
    assert_int_equal(timefmt_ms(253402300800000LL, out), -ERANGE); /* year 10000 */
    assert_string_equal(out, "");
    assert_int_equal(timefmt_ms(INT64_MAX, out), -ERANGE);
    assert_int_equal(timefmt_ms(INT64_MIN, out), -ERANGE);
    assert_int_equal(timefmt_ms(-62167219200001LL, out), -ERANGE);
}

/* The calendar against libc's, a day and a bit at a time over 1900..2400. */
static void test_against_gmtime(void **state)
{
    int64_t from = -2208988800LL, to = 13569465600LL; /* 1900-01-01 .. 2400-01-01 */
    for (int64_t secs = from; secs < to; secs += 86400 + 3661) {
        time_t t = (time_t)secs;
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        char want[64], got[TIMEFMT_MAX];
        strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S.250Z", &tm);
        timefmt_ms(secs * 1000 + 250, got);
        if (strcmp(want, got) != 0)
            fail_msg("%lld s: want %s, got %s", (long long)secs, want, got);
    }
}

static void test_now(void **state)
{
    char out[TIMEFMT_MAX];
    int n = timefmt_now(out);
    assert_int_equal(n, 24);
    assert_int_equal(out[23], 'Z');
    assert_true(strncmp(out, "20", 2) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ns_trimmed),
        cmocka_unit_test(test_ms),
        cmocka_unit_test(test_against_gmtime),
        cmocka_unit_test(test_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
