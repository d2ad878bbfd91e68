/* test_admit.c: unit tests for the Origin policy (admit_origin_allowed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/admit.h"

/* The default policy: loopback, or one of the gateway's own hosts. */
static void test_default_policy(void **state)
{
    char *hosts[] = {"gw.example", "10.0.0.5", "[2001:db8::1]"};
    const size_t n = 3;
    const char *yes[] = {"http://localhost:3000", "http://127.0.0.1:8080",
                         "http://127.1.2.3",      "http://[::1]:8080",
                         "https://gw.example",    "https://GW.EXAMPLE:8443",
                         "http://10.0.0.5:8080",  "http://[2001:db8::1]:80"};
    const char *no[] = {"http://evil.example",
                        "https://app.gw.example",
                        "https://gw.example.evil",
                        "http://127.evil.example",
                        "http://localhost.evil.example",
                        "null",
                        "",
                        "gw.example",
                        "http://10.0.0.6",
                        "http://[::2]"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(admit_origin_allowed(yes[i], hosts, n, NULL, 0));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(admit_origin_allowed(no[i], hosts, n, NULL, 0));
    /* With no hosts at all only loopback is "same host". */
    assert_false(admit_origin_allowed("https://gw.example", NULL, 0, NULL, 0));
    assert_true(admit_origin_allowed("http://localhost", NULL, 0, NULL, 0));
}

/* An allow-list replaces the default policy. */
static void test_allow_list(void **state)
{
    char *hosts[] = {"gw.example"};
    char *allowed[] = {"https://app.example"};
    assert_true(admit_origin_allowed("https://app.example", hosts, 1, allowed, 1));
    assert_false(admit_origin_allowed("https://gw.example", hosts, 1, allowed, 1));
    assert_false(admit_origin_allowed("http://localhost", hosts, 1, allowed, 1));
    char *any[] = {"*"};
    assert_true(admit_origin_allowed("https://x.example", NULL, 0, any, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_policy),
        cmocka_unit_test(test_allow_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
