/* test_admit.c: unit tests for the Origin policy (admit_origin_allowed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/admit.h"
#include "wsgate/auth.h"
#include "wsgate/config.h"

#include "jwtmint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* ---- admit_check: a request built as server.c builds it, the gateway's side as the hub says ----
 */

#define SECRET "an HS256 secret of at least 32 bytes, for tests"

static void test_check(void **state)
{
    wsg_config cfg;
    char *argv[] = {"wsgate", NULL}, *envp[] = {NULL}, err[256];
    assert_int_equal(config_load(&cfg, 1, argv, envp, err, sizeof(err)), CONFIG_OK);
    cfg.max_conns_per_ip = 2;
    admit *a = admit_create(&cfg);
    admit_request req = {.path = "/ws", .ip = "10.1.2.3", .local = "10.0.0.5"};
    admit_gate gate = {.started = true, .connections = 0, .max_conns = 100};
    const char *why = NULL;
    auth_claims *claims = NULL;

    /* the path, the gateway's state, the origin, the connection limits */
    req.path = "/other";
    assert_int_equal(admit_check(a, &req, &gate, NULL, &why), 404);
    req.path = "/ws";
    gate.started = false;
    assert_int_equal(admit_check(a, &req, &gate, NULL, &why), 503);
    assert_string_equal(why, "starting: rebuilding state from the stream");
    gate.started = gate.draining = true;
    assert_int_equal(admit_check(a, &req, &gate, NULL, &why), 503);
    assert_string_equal(why, "draining");
    gate.draining = false;
    req.origin = "https://evil.example";
    assert_int_equal(admit_check(a, &req, &gate, NULL, &why), 403);
    req.origin = "http://10.0.0.5:8080"; /* the address it connected to: its own page */
    assert_int_equal(admit_check(a, &req, &gate, NULL, &why), 0);
    req.origin = NULL;
    req.origin_unreadable = true;
    assert_int_equal(admit_check(a, &req, &gate, NULL, &why), 403);
    req.origin_unreadable = false;
    gate.connections = 100;
    assert_int_equal(admit_check(a, &req, &gate, NULL, &why), 503);
    gate.connections = 0;

    /* counted per address only when admitted for real (claims non-NULL) */
    assert_int_equal(admit_check(a, &req, &gate, NULL, &why), 0);
    assert_int_equal(admit_check(a, &req, &gate, &claims, &why), 0);
    assert_null(claims); /* auth off */
    assert_int_equal(admit_check(a, &req, &gate, &claims, &why), 0);
    assert_int_equal(admit_check(a, &req, &gate, NULL, &why), 503);
    assert_string_equal(why, "too many connections from this address");
    req.ip = "10.9.9.9"; /* another address is not affected */
    assert_int_equal(admit_check(a, &req, &gate, NULL, &why), 0);
    req.ip = "10.1.2.3";
    admit_release(a, "10.1.2.3");
    assert_int_equal(admit_check(a, &req, &gate, NULL, &why), 0);

    /* JWT: missing, too long, bad, good (the claims go to the caller) */
    char path[] = "/tmp/test_admit_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, SECRET, strlen(SECRET)), (ssize_t)strlen(SECRET));
    close(fd);
    gate.auth = auth_create(path, NULL, err, sizeof(err));
    unlink(path);
    assert_non_null(gate.auth);
    gate.now_s = (int64_t)time(NULL);
    assert_int_equal(admit_check(a, &req, &gate, NULL, &why), 401);
    assert_string_equal(why, "missing token");
    req.token_too_long = true;
    assert_int_equal(admit_check(a, &req, &gate, NULL, &why), 401);
    assert_string_equal(why, "token too long");
    req.token_too_long = false;
    req.token = "not.a.token";
    assert_int_equal(admit_check(a, &req, &gate, NULL, &why), 401);
    char payload[128];
    snprintf(payload, sizeof(payload), "{\"sub\":\"u-7\",\"exp\":%lld}",
             (long long)gate.now_s + 60);
    char *good = jwtmint_hs256(SECRET, payload);
    assert_non_null(good);
    req.token = good;
    req.ip = "10.4.4.4";
    assert_int_equal(admit_check(a, &req, &gate, &claims, &why), 0);
    assert_non_null(claims);
    assert_string_equal(claims->sub, "u-7");
    auth_claims_clear(claims);
    free(claims);
    gate.now_s += 120; /* expired by then */
    assert_int_equal(admit_check(a, &req, &gate, NULL, &why), 401);
    free(good);
    auth_destroy(gate.auth);
    admit_destroy(a);
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_policy),
        cmocka_unit_test(test_allow_list),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
