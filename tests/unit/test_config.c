/* test_config.c: unit tests for config.c (defaults, value types, sources and errors). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "wsgate/config.h"
#include "wsgate/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *no_env[] = {NULL};
static char err[512];

/* config_load with argv ended by NULL ("wsgate" first). */
static int load(wsg_config *c, char **argv, char **envp)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    memset(err, 0, sizeof(err));
    return config_load(c, argc, argv, envp, err, sizeof(err));
}

/* Load with one flag and value and expect success. */
static void load_ok(wsg_config *c, const char *flag, const char *value)
{
    char *argv[] = {"wsgate", (char *)flag, (char *)value, NULL};
    int rc = load(c, argv, no_env);
    if (rc != CONFIG_OK)
        print_error("%s %s: %s\n", flag, value, err);
    assert_int_equal(rc, CONFIG_OK);
}

static bool all_zero(const wsg_config *c)
{
    static const wsg_config zero;
    return memcmp(c, &zero, sizeof(zero)) == 0;
}

/* The last error must be one line and contain every string given (NULL-ended). */
static void expect_in_err(const char *first, ...)
{
    va_list ap;
    assert_null(strchr(err, '\n'));
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *)) {
        if (!strstr(err, s))
            print_error("\"%s\" not in error \"%s\"\n", s, err);
        assert_non_null(strstr(err, s));
    }
    va_end(ap);
}

/* Load with one flag and value and expect an error naming the flag, the
 * command line as its source and `expected`. Nothing may be left to free. */
static void load_bad(const char *flag, const char *value, const char *expected)
{
    wsg_config c;
    char *argv[] = {"wsgate", (char *)flag, (char *)value, NULL};
    int rc = load(&c, argv, no_env);
    if (rc != CONFIG_ERROR)
        print_error("%s \"%s\" was accepted\n", flag, value);
    assert_int_equal(rc, CONFIG_ERROR);
    assert_int_equal(rc, -EINVAL); /* a negative errno, like every failure of ours */
    expect_in_err(flag, "(command line)", expected, NULL);
    assert_true(all_zero(&c));
}

/* A temporary file holding text; returns its path, valid until the next call. */
static char *write_file(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/wsgate-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
    wsg_config c;
    char *argv[] = {"wsgate", NULL};
    assert_int_equal(load(&c, argv, no_env), CONFIG_OK);

    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8080);
    assert_null(c.web_root);
    assert_int_equal(c.max_frame, 65536);
    assert_int_equal(c.queue_bytes, 1024 * 1024);
    assert_int_equal(c.max_subs, 256);
    assert_true(c.ops_rate == 100.0);
    assert_int_equal(c.ops_burst, 200);
    assert_int_equal(c.err_limit, 50);
    assert_int_equal(c.err_window_ms, 10000);
    assert_int_equal(c.heartbeat_ms, 25000);
    assert_int_equal(c.ping_timeout_ms, 60000);
    assert_int_equal(c.max_conns, 0);
    assert_int_equal(c.max_conns_per_ip, 256);
    assert_int_equal(c.handshake_timeout_ms, 10000);
    assert_int_equal(c.idle_timeout_ms, 60000);
    assert_int_equal(c.refresh_ahead_ms, 30000);
    assert_int_equal(c.shutdown_timeout_ms, 4000);

    assert_int_equal(c.nats_url_count, 1);
    assert_string_equal(c.nats_urls[0], "nats://127.0.0.1:4222");
    assert_string_equal(c.stream, "EVENTS");
    assert_int_equal(c.stream_subject_count, 3);
    assert_string_equal(c.stream_subjects[0], "batch.>");
    assert_string_equal(c.stream_subjects[1], "license.>");
    assert_string_equal(c.stream_subjects[2], "verification.>");
    assert_int_equal(c.stream_max_msgs, -1);
    assert_int_equal(c.stream_max_bytes, -1);
    assert_int_equal(c.stream_max_age_ms, 7LL * 24 * 3600 * 1000); /* retention by default */
    assert_int_equal(c.stream_replicas, 1);
    assert_null(c.nats_user);
    assert_null(c.nats_password);
    assert_null(c.nats_token);
    assert_null(c.nats_creds);
    assert_null(c.nats_ca);
    assert_null(c.nats_cert);
    assert_null(c.nats_key);

    assert_int_equal(c.ring_msgs, 100000);
    assert_int_equal(c.ring_bytes, 64 * 1024 * 1024);
    assert_int_equal(c.last_value_count, 1);
    assert_string_equal(c.last_value[0], "batch.*.progress");
    assert_int_equal(c.batch_stall_ms, 30000);
    assert_int_equal(c.batch_retention_ms, 3600000);

    assert_null(c.jwt_secret);
    assert_null(c.jwt_public_key);
    assert_null(c.allowed_origins);
    assert_int_equal(c.allowed_origin_count, 0);
    assert_null(c.tls_cert);
    assert_null(c.tls_key);
    assert_int_equal(c.log_level, LOG_INFO);
    assert_int_equal(c.log_format, LOG_FORMAT_AUTO);

    config_free(&c);
    assert_true(all_zero(&c));
}

/* ---- value types ---- */

static void test_sizes(void **state)
{
    static const struct {
        const char *text;
        size_t bytes;
    } good[] = {{"1024", 1024},    {"2K", 2048},       {"2KiB", 2048},       {"3M", 3 << 20},
                {"3MiB", 3 << 20}, {"1G", 1ULL << 30}, {"5GiB", 5ULL << 30}, {"1048576", 1048576}};
    wsg_config c;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        load_ok(&c, "--queue-bytes", good[i].text);
        assert_int_equal(c.queue_bytes, good[i].bytes);
        config_free(&c);
    }
    const char *bad[] = {
        "abc",        "",    "1.5M",  "1k",    "1KB", "K",     " 1024",
        "1024 ",      "1M ", "0x400", "+1024", "-1",  "1MiBs", "99999999999999999999",
        "9000000000G"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        load_bad("--queue-bytes", bad[i], "expected a size in bytes");

    /* Ranges: max-frame at least 256, queue-bytes at least 1024. */
    load_bad("--max-frame", "255", "at least 256");
    load_bad("--queue-bytes", "1023", "at least 1024");
    load_ok(&c, "--max-frame", "256");
    assert_int_equal(c.max_frame, 256);
    config_free(&c);

    /* stream-max-bytes also takes -1. */
    load_ok(&c, "--stream-max-bytes", "-1");
    assert_int_equal(c.stream_max_bytes, -1);
    config_free(&c);
    load_ok(&c, "--stream-max-bytes", "10G");
    assert_int_equal(c.stream_max_bytes, 10LL << 30);
    config_free(&c);
    load_bad("--stream-max-bytes", "-2", "at least -1");
    load_ok(&c, "--ring-bytes", "0");
    assert_int_equal(c.ring_bytes, 0);
    config_free(&c);
}

static void test_durations(void **state)
{
    static const struct {
        const char *text;
        long long ms;
    } good[] = {{"0", 0},        {"250ms", 250}, {"25s", 25000}, {"2m", 120000},
                {"1h", 3600000}, {"0s", 0},      {"0ms", 0},     {"90m", 5400000}};
    wsg_config c;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        load_ok(&c, "--idle-timeout", good[i].text);
        assert_int_equal(c.idle_timeout_ms, good[i].ms);
        config_free(&c);
    }
    const char *bad[] = {"5",
                         "1d",
                         "-1s",
                         "s",
                         "1.5s",
                         "",
                         "10 s",
                         " 10s",
                         "10S",
                         "1sm",
                         "ms",
                         "0x",
                         "99999999999999999h"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        load_bad("--idle-timeout", bad[i], "expected a duration");

    /* A duration that must be positive, and one with both bounds. */
    load_bad("--batch-stall", "0", "at least 1ms");
    load_bad("--heartbeat", "500ms", "from 1000ms to 65535000ms");
    load_bad("--ping-timeout", "65536s", "from 1000ms to 65535000ms");
    load_bad("--max-batches", "0", "from 1 to 1000000");
    load_bad("--max-batches", "1000001", "from 1 to 1000000");
    load_bad("--max-batches", "many", "expected an integer");
}

static void test_integers(void **state)
{
    wsg_config c;

    load_ok(&c, "--max-subs", "1");
    assert_int_equal(c.max_subs, 1);
    config_free(&c);
    load_ok(&c, "--max-conns", "0");
    assert_int_equal(c.max_conns, 0);
    config_free(&c);
    load_ok(&c, "--stream-max-msgs", "5000000000");
    assert_int_equal(c.stream_max_msgs, 5000000000LL);
    config_free(&c);
    load_ok(&c, "--ring-msgs", "0");
    assert_int_equal(c.ring_msgs, 0);
    config_free(&c);

    const char *bad[] = {"abc", "1.5", "", "1e3", " 5", "5x", "0x10", "-"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        load_bad("--max-subs", bad[i], "expected an integer");
    load_bad("--max-subs", "0", "at least 1");
    load_bad("--max-subs", "2147483648", "at least 1");
    load_bad("--max-conns", "-1", "at least 0");
    load_bad("--stream-max-msgs", "-2", "at least -1");
    load_bad("--ring-msgs", "-1", "at least 0");

    load_ok(&c, "--stream-replicas", "5");
    assert_int_equal(c.stream_replicas, 5);
    config_free(&c);
    load_bad("--stream-replicas", "0", "from 1 to 5");
    load_bad("--stream-replicas", "6", "from 1 to 5");
}

static void test_rate(void **state)
{
    wsg_config c;

    load_ok(&c, "--ops-rate", "0.5");
    assert_true(c.ops_rate == 0.5);
    config_free(&c);
    load_ok(&c, "--ops-rate", "250");
    assert_true(c.ops_rate == 250.0);
    config_free(&c);
    const char *bad[] = {"0", "-1", "abc", "", "inf", "nan", "1e999", "5/s", " 1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        load_bad("--ops-rate", bad[i], "expected a positive number");
}

static void test_lists(void **state)
{
    wsg_config c;

    load_ok(&c, "--nats", " nats://a:4222 ,tls://b:4443,  nats://c ");
    assert_int_equal(c.nats_url_count, 3);
    assert_string_equal(c.nats_urls[0], "nats://a:4222");
    assert_string_equal(c.nats_urls[1], "tls://b:4443");
    assert_string_equal(c.nats_urls[2], "nats://c");
    config_free(&c);

    load_ok(&c, "--allowed-origins", "https://a.example,http://localhost:3000");
    assert_int_equal(c.allowed_origin_count, 2);
    assert_string_equal(c.allowed_origins[1], "http://localhost:3000");
    config_free(&c);

    const char *bad_urls[] = {
        "",        ",",      "nats://a,,nats://b", "nats://a,", ",nats://a", "http://a",
        "nats://", "ws://a", "nats://a b",         "  "};
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++)
        load_bad("--nats", bad_urls[i], "nats:// or tls://");
    load_bad("--allowed-origins", "a,,b", "without empty items");
    load_bad("--allowed-origins", "", "without empty items");

    load_ok(&c, "--public-host", "gw.example, 10.0.0.5,[2001:db8::1]");
    assert_int_equal(c.public_host_count, 3);
    assert_string_equal(c.public_hosts[1], "10.0.0.5");
    config_free(&c);
    const char *bad_hosts[] = {
        "https://gw.example", "gw.example:8443", "gw.example/x", "[::1", ".gw", "a b", "[g::1]"};
    for (size_t i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++)
        load_bad("--public-host", bad_hosts[i], "host names or addresses");
}

static void test_subjects_and_stream(void **state)
{
    wsg_config c;

    load_ok(&c, "--stream-subjects", "a.*,b.>,c.d");
    assert_int_equal(c.stream_subject_count, 3);
    assert_string_equal(c.stream_subjects[1], "b.>");
    config_free(&c);
    load_ok(&c, "--last-value", "batch.*.progress, license.*.seats");
    assert_int_equal(c.last_value_count, 2);
    assert_string_equal(c.last_value[1], "license.*.seats");
    config_free(&c);
    load_bad("--stream-subjects", "a.>.b", "subject patterns");
    load_bad("--stream-subjects", "a..b", "subject patterns");
    load_bad("--last-value", "x y", "subject patterns");
    load_bad("--last-value", "ok,a.b.", "subject patterns");

    load_ok(&c, "--stream", "My_Stream-2");
    assert_string_equal(c.stream, "My_Stream-2");
    config_free(&c);
    char name[66];
    memset(name, 'S', 64);
    name[64] = '\0';
    load_ok(&c, "--stream", name);
    config_free(&c);
    name[64] = 'S';
    name[65] = '\0';
    load_bad("--stream", name, "1 to 64 characters");
    load_bad("--stream", "a.b", "1 to 64 characters");
    load_bad("--stream", "a b", "1 to 64 characters");
    load_bad("--stream", "", "1 to 64 characters");
}

static void test_listen(void **state)
{
    static const struct {
        const char *text, *host;
        int port;
    } good[] = {{"0.0.0.0:80", "0.0.0.0", 80},
                {"[::1]:8080", "::1", 8080},
                {":8080", "0.0.0.0", 8080},
                {"localhost:0", "localhost", 0},
                {"gw.example:65535", "gw.example", 65535},
                {"[::]:1", "::", 1}};
    wsg_config c;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        load_ok(&c, "--listen", good[i].text);
        assert_string_equal(c.listen_host, good[i].host);
        assert_int_equal(c.listen_port, good[i].port);
        config_free(&c);
    }
    const char *bad[] = {"host",      "host:",  "host:65536", "::1:80",
                         "[::1]8080", "[]:80",  "h:-1",       "h:abc",
                         "h :80",     "[::1]:", "[::1:80",    "",
                         "h:80:90",   "h:+80",  ":",          "h:99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        load_bad("--listen", bad[i], "HOST:PORT");
}

static void test_enums_and_strings(void **state)
{
    wsg_config c;

    load_ok(&c, "--log-level", "debug");
    assert_int_equal(c.log_level, LOG_DEBUG);
    config_free(&c);
    load_ok(&c, "--log-level", "error");
    assert_int_equal(c.log_level, LOG_ERROR);
    config_free(&c);
    load_ok(&c, "--log-format", "json");
    assert_int_equal(c.log_format, LOG_FORMAT_JSON);
    config_free(&c);
    load_ok(&c, "--log-format", "text");
    assert_int_equal(c.log_format, LOG_FORMAT_TEXT);
    config_free(&c);
    load_bad("--log-level", "verbose", "debug, info, warn or error");
    load_bad("--log-level", "INFO", "debug, info, warn or error");
    load_bad("--log-format", "xml", "auto, json or text");

    load_ok(&c, "--web-root", "/srv/web");
    assert_string_equal(c.web_root, "/srv/web");
    config_free(&c);
    load_ok(&c, "--nats-user", "svc");
    assert_string_equal(c.nats_user, "svc");
    config_free(&c);
    load_bad("--web-root", "", "a directory path");
    load_bad("--jwt-secret", "", "a file path");
    load_bad("--nats-creds", "", "a file path");
    load_bad("--nats-user", "", "a non-empty string");
}

/* ---- sources ---- */

static void test_flag_forms(void **state)
{
    wsg_config c;

    char *eq[] = {"wsgate", "--max-subs=7", "--nats-password=a=b", "--stream-max-msgs", "-1", NULL};
    assert_int_equal(load(&c, eq, no_env), CONFIG_OK);
    assert_int_equal(c.max_subs, 7);
    assert_string_equal(c.nats_password, "a=b");
    assert_int_equal(c.stream_max_msgs, -1);
    config_free(&c);

    /* The last of repeated flags wins; the earlier values are freed. */
    char *twice[] = {"wsgate", "--stream",          "A",      "--stream", "B",
                     "--nats", "nats://x,nats://y", "--nats", "nats://z", NULL};
    assert_int_equal(load(&c, twice, no_env), CONFIG_OK);
    assert_string_equal(c.stream, "B");
    assert_int_equal(c.nats_url_count, 1);
    assert_string_equal(c.nats_urls[0], "nats://z");
    config_free(&c);

    /* argc 0 is tolerated. */
    assert_int_equal(config_load(&c, 0, NULL, no_env, err, sizeof(err)), CONFIG_OK);
    config_free(&c);
}

static void test_flag_errors(void **state)
{
    wsg_config c;

    char *unknown[] = {"wsgate", "--foo", "1", NULL};
    assert_int_equal(load(&c, unknown, no_env), CONFIG_ERROR);
    assert_string_equal(err, "unknown option --foo");
    assert_true(all_zero(&c));

    char *unknown_eq[] = {"wsgate", "--foo=bar", NULL};
    assert_int_equal(load(&c, unknown_eq, no_env), CONFIG_ERROR);
    assert_string_equal(err, "unknown option --foo");

    char *single[] = {"wsgate", "-x", NULL};
    assert_int_equal(load(&c, single, no_env), CONFIG_ERROR);
    assert_string_equal(err, "unknown option -x");

    char *positional[] = {"wsgate", "serve", NULL};
    assert_int_equal(load(&c, positional, no_env), CONFIG_ERROR);
    expect_in_err("unexpected argument", "serve", NULL);

    char *missing[] = {"wsgate", "--listen", NULL};
    assert_int_equal(load(&c, missing, no_env), CONFIG_ERROR);
    assert_string_equal(err, "missing value for --listen");

    char *forgot[] = {"wsgate", "--listen", "--max-subs", "5", NULL};
    assert_int_equal(load(&c, forgot, no_env), CONFIG_ERROR);
    assert_string_equal(err, "missing value for --listen");

    /* An error after other values were set still leaves nothing behind. */
    char *late[] = {"wsgate", "--stream", "S", "--nats", "nats://a", "--max-frame", "x", NULL};
    assert_int_equal(load(&c, late, no_env), CONFIG_ERROR);
    expect_in_err("invalid value \"x\" for --max-frame (command line)", NULL);
    assert_true(all_zero(&c));

    /* A value with control characters stays on one line; long ones are cut. */
    char *nasty[] = {"wsgate", "--max-frame", "1\n2\x1b[31m", NULL};
    assert_int_equal(load(&c, nasty, no_env), CONFIG_ERROR);
    expect_in_err("\"1?2?[31m\"", NULL);
    char longv[300];
    memset(longv, '9', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    char *lng[] = {"wsgate", "--listen", longv, NULL};
    assert_int_equal(load(&c, lng, no_env), CONFIG_ERROR);
    expect_in_err("...\" for --listen", NULL);
    assert_true(strlen(err) < 200);

    /* Secrets are not echoed. */
    char *secret[] = {"wsgate", "--nats", "natz://user:hunter2@host", NULL};
    assert_int_equal(load(&c, secret, no_env), CONFIG_ERROR);
    expect_in_err("--nats", NULL);
    assert_null(strstr(err, "hunter2"));

    /* A small error buffer is respected. */
    char small[8];
    memset(small, 'Z', sizeof(small));
    assert_int_equal(config_load(&c, 2, unknown, no_env, small, 6), CONFIG_ERROR);
    assert_string_equal(small, "unkno");
    assert_int_equal(small[6], 'Z');
    assert_int_equal(config_load(&c, 2, unknown, no_env, NULL, 0), CONFIG_ERROR);
}

static void test_env(void **state)
{
    wsg_config c;
    char *argv[] = {"wsgate", NULL};

    char *env[] = {"PATH=/usr/bin",
                   "WSGATE_BIN=/build/wsgate",
                   "WSGATE_SIM_BIN=/build/wsgate-sim",
                   "WSGATE_WEB=/src/web",
                   "WSGATE_NATS=nats://n1:4222,nats://n2:4222",
                   "WSGATE_MAX_CONNS_PER_IP=9",
                   "WSGATE_LOG_LEVEL=warn",
                   "WSGATE_NOEQUALS",
                   "wsgate_max_subs=3",
                   "WSGATE_TEST_TIMEOUT_SCALE=3",
                   "WSGATE_SANITIZED=1",
                   "WSGATE_PORT=9000",
                   NULL};
    assert_int_equal(load(&c, argv, env), CONFIG_OK);
    assert_int_equal(c.nats_url_count, 2);
    assert_string_equal(c.nats_urls[1], "nats://n2:4222");
    assert_int_equal(c.max_conns_per_ip, 9);
    assert_int_equal(c.log_level, LOG_WARN);
    assert_int_equal(c.max_subs, 256);
    config_free(&c);

    char *bad[] = {"WSGATE_MAX_FRAME=abc", NULL};
    assert_int_equal(load(&c, argv, bad), CONFIG_ERROR);
    assert_string_equal(err, "invalid value \"abc\" for --max-frame (WSGATE_MAX_FRAME): expected "
                             "a size in bytes (like 65536, 64K, 1MiB, 2G)");
    assert_true(all_zero(&c));
}

/* A WSGATE_* variable that names no option stops start-up naming it, like
 * an unknown flag or config key; the repository's own non-option variables
 * (README "Configuration") do not. */
static void test_env_unknown(void **state)
{
    wsg_config c;
    char *argv[] = {"wsgate", NULL};

    char *typo[] = {"WSGATE_MAX_FRAME=4096", "WSGATE_MAX_FRAMES=4096", NULL};
    assert_int_equal(load(&c, argv, typo), CONFIG_ERROR);
    expect_in_err("unknown environment variable WSGATE_MAX_FRAMES", NULL);
    assert_null(strstr(err, "4096")); /* the value is not echoed: it may be a secret */
    assert_true(all_zero(&c));

    char *lower[] = {"WSGATE_max_subs=4", NULL}; /* names are upper case */
    assert_int_equal(load(&c, argv, lower), CONFIG_ERROR);
    expect_in_err("WSGATE_max_subs", NULL);

    char *empty[] = {"WSGATE_=1", NULL};
    assert_int_equal(load(&c, argv, empty), CONFIG_ERROR);
    expect_in_err("unknown environment variable WSGATE_ ", NULL);

    char *prefix_only[] = {"WSGATE_TEST_=1", NULL}; /* WSGATE_TEST_ itself is no test variable */
    assert_int_equal(load(&c, argv, prefix_only), CONFIG_ERROR);

    char *ignored[] = {"WSGATE_BIN=/b/wsgate",
                       "WSGATE_SIM_BIN=/b/sim",
                       "WSGATE_WEB=/w",
                       "WSGATE_BROWSER=1",
                       "WSGATE_SANITIZED=1",
                       "WSGATE_ARGS=--x",
                       "WSGATE_PORT=1",
                       "WSGATE_LIVE_S=5",
                       "WSGATE_SCREENSHOT=/s.png",
                       "WSGATE_CHAOS_CLIENTS=9",
                       "WSGATE_FAILOVER_CLIENTS=9",
                       "WSGATE_TEST_LOG_LINES=80",
                       "WSGATE_NOEQUALS",
                       NULL};
    assert_int_equal(load(&c, argv, ignored), CONFIG_OK);
    config_free(&c);

    /* A flag does not excuse the variable: it is still a mistake to report. */
    char *with_flag[] = {"wsgate", "--max-frame", "4096", NULL};
    assert_int_equal(load(&c, with_flag, typo), CONFIG_ERROR);
}

static void test_precedence(void **state)
{
    wsg_config c;
    char path[64];
    strcpy(path, write_file("{\"max-subs\": 10, \"ops-burst\": 11, \"err-limit\": 12,"
                            " \"max-conns\": \"13\", \"stream\": \"FILE\"}"));
    char env_config[128];
    snprintf(env_config, sizeof(env_config), "WSGATE_CONFIG=%s", path);

    /* file < env < flags, with the file named by --config */
    char *env[] = {"WSGATE_OPS_BURST=21", "WSGATE_ERR_LIMIT=22", "WSGATE_STREAM=ENV", NULL};
    char *argv[] = {"wsgate", "--err-limit", "32", "--config", path, NULL};
    assert_int_equal(load(&c, argv, env), CONFIG_OK);
    assert_int_equal(c.max_subs, 10);
    assert_int_equal(c.ops_burst, 21);
    assert_int_equal(c.err_limit, 32);
    assert_int_equal(c.max_conns, 13);
    assert_string_equal(c.stream, "ENV");
    config_free(&c);

    /* The file named by WSGATE_CONFIG. */
    char *env2[] = {env_config, "WSGATE_OPS_BURST=21", NULL};
    char *plain[] = {"wsgate", NULL};
    assert_int_equal(load(&c, plain, env2), CONFIG_OK);
    assert_int_equal(c.max_subs, 10);
    assert_int_equal(c.ops_burst, 21);
    assert_string_equal(c.stream, "FILE");
    config_free(&c);

    /* --config wins over WSGATE_CONFIG. */
    char other[64];
    strcpy(other, write_file("{\"max-subs\": 99}"));
    char flag[128];
    snprintf(flag, sizeof(flag), "--config=%s", other);
    char *argv3[] = {"wsgate", flag, NULL};
    assert_int_equal(load(&c, argv3, env2), CONFIG_OK);
    assert_int_equal(c.max_subs, 99);
    assert_string_equal(c.stream, "EVENTS");
    config_free(&c);

    unlink(path);
    unlink(other);
}

static void test_config_file(void **state)
{
    wsg_config c;
    char *argv[] = {"wsgate", "--config", NULL, NULL};

    argv[2] = write_file("{\"listen\": \"0.0.0.0:9000\", \"nats\": [\"nats://a\", \"tls://b\"],"
                         " \"max-frame\": \"64K\", \"queue-bytes\": 2048,"
                         " \"ops-rate\": 2.5, \"heartbeat\": \"5s\", \"idle-timeout\": 0,"
                         " \"allowed-origins\": \"https://x\"}");
    assert_int_equal(load(&c, argv, no_env), CONFIG_OK);
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 9000);
    assert_int_equal(c.nats_url_count, 2);
    assert_string_equal(c.nats_urls[1], "tls://b");
    assert_int_equal(c.max_frame, 65536);
    assert_int_equal(c.queue_bytes, 2048);
    assert_true(c.ops_rate == 2.5);
    assert_int_equal(c.heartbeat_ms, 5000);
    assert_int_equal(c.idle_timeout_ms, 0);
    assert_int_equal(c.allowed_origin_count, 1);
    config_free(&c);
    unlink(argv[2]);

    static const struct {
        const char *json, *message;
    } bad[] = {
        {"{\"foo\": 1}", "unknown key \"foo\""},
        {"{\"listen\": 8080}", "key \"listen\" must be a string"},
        {"{\"max-subs\": true}", "key \"max-subs\" must be a string or a number"},
        {"{\"nats\": [\"nats://a\", 5]}", "key \"nats\" must be an array of strings"},
        {"{\"stream\": [\"A\"]}", "key \"stream\" must be a string"},
        {"{\"stream\": null}", "key \"stream\" must be a string"},
        {"{\"nats\": {}}", "key \"nats\" must be a string or an array of strings"},
        {"{\"config\": \"/x.json\"}", "key \"config\" is not allowed"},
        {"[1, 2]", "expected a JSON object"},
        {"{\"max-subs\": 1", "line"},
        {"{\"max-subs\": 1, \"max-subs\": 2}", "duplicate"},
        {"{\"max-subs\": 1.5}", "expected an integer"},
        {"{\"heartbeat\": 25}", "expected a duration"},
        {"{\"nats\": []}", "--nats"},
        {"{\"max-frame\": \"abc\"}", "invalid value \"abc\" for --max-frame (config file "},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        argv[2] = write_file(bad[i].json);
        int rc = load(&c, argv, no_env);
        if (rc != CONFIG_ERROR)
            print_error("accepted: %s\n", bad[i].json);
        assert_int_equal(rc, CONFIG_ERROR);
        expect_in_err(bad[i].message, NULL);
        if (strncmp(bad[i].message, "invalid value", 13) != 0 && strcmp(bad[i].message, "--nats"))
            expect_in_err("config file ", argv[2], NULL);
        assert_true(all_zero(&c));
        unlink(argv[2]);
    }

    /* The exact message for an unknown key, and for a bad value. */
    argv[2] = write_file("{\"foo\": 1}");
    assert_int_equal(load(&c, argv, no_env), CONFIG_ERROR);
    char want[256];
    snprintf(want, sizeof(want), "config file %s: unknown key \"foo\"", argv[2]);
    assert_string_equal(err, want);
    unlink(argv[2]);
    argv[2] = write_file("{\"max-subs\": \"lots\"}");
    assert_int_equal(load(&c, argv, no_env), CONFIG_ERROR);
    snprintf(want, sizeof(want),
             "invalid value \"lots\" for --max-subs (config file %s, key \"max-subs\"): expected "
             "an integer",
             argv[2]);
    assert_string_equal(err, want);
    unlink(argv[2]);

    /* A missing file, and an empty file name. */
    argv[2] = "/nonexistent/wsgate.json";
    assert_int_equal(load(&c, argv, no_env), CONFIG_ERROR);
    expect_in_err("config file /nonexistent/wsgate.json", NULL);
    argv[2] = "";
    assert_int_equal(load(&c, argv, no_env), CONFIG_ERROR);
    expect_in_err("--config", NULL);
    char *env[] = {"WSGATE_CONFIG=/nonexistent/env.json", NULL};
    char *plain[] = {"wsgate", NULL};
    assert_int_equal(load(&c, plain, env), CONFIG_ERROR);
    expect_in_err("config file /nonexistent/env.json", NULL);
}

static void test_cross_checks(void **state)
{
    wsg_config c;

    char *equal[] = {"wsgate", "--heartbeat", "30s", "--ping-timeout", "30s", NULL};
    assert_int_equal(load(&c, equal, no_env), CONFIG_ERROR);
    expect_in_err("--ping-timeout", "--heartbeat", NULL);
    assert_true(all_zero(&c));
    char *below[] = {"wsgate", "--heartbeat", "2m", NULL};
    assert_int_equal(load(&c, below, no_env), CONFIG_ERROR);
    expect_in_err("--ping-timeout", "--heartbeat", NULL);
    char *fine[] = {"wsgate", "--heartbeat", "1s", "--ping-timeout", "2s", NULL};
    assert_int_equal(load(&c, fine, no_env), CONFIG_OK);
    config_free(&c);

    char *idle[] = {"wsgate", "--batch-stall", "1m", "--batch-idle", "1m", NULL};
    assert_int_equal(load(&c, idle, no_env), CONFIG_ERROR);
    expect_in_err("--batch-idle", "--batch-stall", NULL);
    char *idle_off[] = {"wsgate", "--batch-stall", "1m", "--batch-idle", "0", NULL};
    assert_int_equal(load(&c, idle_off, no_env), CONFIG_OK);
    assert_int_equal(c.batch_idle_ms, 0);
    assert_int_equal(c.max_batches, 10000);
    config_free(&c);

    char *jwt[] = {"wsgate", "--jwt-secret", "/k", "--jwt-public-key", "/p", NULL};
    assert_int_equal(load(&c, jwt, no_env), CONFIG_ERROR);
    expect_in_err("--jwt-secret", "--jwt-public-key", NULL);
    assert_true(all_zero(&c));

    char *metrics_alone[] = {"wsgate", "--metrics-auth", "true", NULL};
    assert_int_equal(load(&c, metrics_alone, no_env), CONFIG_ERROR);
    expect_in_err("--metrics-auth", "--jwt-secret", NULL);
    char *metrics[] = {"wsgate", "--metrics-auth", "on", "--jwt-secret", "/s", NULL};
    assert_int_equal(load(&c, metrics, no_env), CONFIG_OK);
    assert_true(c.metrics_auth);
    config_free(&c);
    char *metrics_off[] = {"wsgate", "--metrics-auth", "false", NULL};
    assert_int_equal(load(&c, metrics_off, no_env), CONFIG_OK);
    assert_false(c.metrics_auth);
    config_free(&c);
    load_bad("--metrics-auth", "maybe", "true or false");
    char *aud_alone[] = {"wsgate", "--jwt-audience", "wsgate", NULL};
    assert_int_equal(load(&c, aud_alone, no_env), CONFIG_ERROR);
    expect_in_err("--jwt-audience", "--jwt-secret", NULL);
    char *iss_alone[] = {"wsgate", "--jwt-issuer", "https://idp", NULL};
    assert_int_equal(load(&c, iss_alone, no_env), CONFIG_ERROR);
    expect_in_err("--jwt-issuer", "--jwt-public-key", NULL);
    char *jwt_policy[] = {"wsgate", "--jwt-public-key",
                          "/p",     "--jwt-audience",
                          "a",      "--jwt-issuer",
                          "i",      "--jwt-es256-low-s",
                          "yes",    NULL};
    assert_int_equal(load(&c, jwt_policy, no_env), CONFIG_OK);
    assert_string_equal(c.jwt_audience, "a");
    assert_string_equal(c.jwt_issuer, "i");
    assert_true(c.jwt_es256_low_s);
    config_free(&c);
    char *file[] = {"wsgate", "--config",
                    write_file("{\"metrics-auth\": true, \"jwt-secret\": \"/s\"}"), NULL};
    assert_int_equal(load(&c, file, no_env), CONFIG_OK);
    assert_true(c.metrics_auth);
    config_free(&c);

    char *tls[] = {"wsgate", "--tls-cert", "/c", NULL};
    assert_int_equal(load(&c, tls, no_env), CONFIG_ERROR);
    expect_in_err("--tls-cert", "--tls-key", NULL);
    char *tls_key[] = {"wsgate", "--tls-key", "/k", NULL};
    assert_int_equal(load(&c, tls_key, no_env), CONFIG_ERROR);
    expect_in_err("--tls-cert", "--tls-key", NULL);
    char *tls_ok[] = {"wsgate", "--tls-key", "/k", "--tls-cert", "/c", "--jwt-secret", "/s", NULL};
    assert_int_equal(load(&c, tls_ok, no_env), CONFIG_OK);
    assert_string_equal(c.tls_cert, "/c");
    assert_string_equal(c.tls_key, "/k");
    assert_string_equal(c.jwt_secret, "/s");
    config_free(&c);

    char *nats_cert[] = {"wsgate", "--nats-cert", "/c", NULL};
    assert_int_equal(load(&c, nats_cert, no_env), CONFIG_ERROR);
    expect_in_err("--nats-cert", "--nats-key", NULL);
}

/* ---- --help and --version ---- */

/* Run config_load with stdout sent to a file; returns what it printed. */
static char *load_stdout(char **argv, int *rc)
{
    wsg_config c;
    char path[] = "/tmp/wsgate-test-stdout-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    dup2(fd, STDOUT_FILENO);
    *rc = load(&c, argv, no_env);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    assert_true(all_zero(&c));

    off_t len = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)len + 1);
    assert_int_equal(pread(fd, text, (size_t)len, 0), len);
    close(fd);
    unlink(path);
    return text;
}

/* The column where the description of the help line starting with `start` begins. */
static size_t help_column(const char *help, const char *start)
{
    const char *line = strstr(help, start);
    assert_non_null(line);
    return strlen(start) - 1 + strspn(line + strlen(start), " ");
}

static void test_help_and_version(void **state)
{
    static const char *names[] = {"listen",           "web-root",
                                  "max-frame",        "queue-bytes",
                                  "max-subs",         "ops-rate",
                                  "ops-burst",        "err-limit",
                                  "err-window",       "heartbeat",
                                  "ping-timeout",     "max-conns",
                                  "max-conns-per-ip", "handshake-timeout",
                                  "idle-timeout",     "refresh-ahead",
                                  "shutdown-timeout", "nats",
                                  "stream",           "stream-subjects",
                                  "stream-max-msgs",  "stream-max-bytes",
                                  "stream-max-age",   "stream-replicas",
                                  "nats-user",        "nats-password",
                                  "nats-token",       "nats-creds",
                                  "nats-ca",          "nats-cert",
                                  "nats-key",         "ring-msgs",
                                  "ring-bytes",       "last-value",
                                  "batch-stall",      "batch-retention",
                                  "jwt-secret",       "jwt-public-key",
                                  "allowed-origins",  "tls-cert",
                                  "tls-key",          "log-level",
                                  "log-format",       "config"};
    int rc;

    char *help[] = {"wsgate", "--max-subs", "3", "--help", "--bogus", NULL};
    char *out = load_stdout(help, &rc);
    assert_int_equal(rc, CONFIG_EXIT);
    assert_true(strncmp(out, "Usage: wsgate [options]\n", 24) == 0);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char flag[64], env[64];
        snprintf(flag, sizeof(flag), "\n  --%s ", names[i]);
        snprintf(env, sizeof(env), "(env WSGATE_");
        for (const char *p = names[i]; *p; p++) {
            char up[2] = {*p == '-' ? '_' : (char)(*p - 'a' + 'A'), '\0'};
            strcat(env, up);
        }
        if (!strstr(out, flag) || !strstr(out, env))
            print_error("--help lacks %s / %s\n", flag + 1, env);
        assert_non_null(strstr(out, flag));
        assert_non_null(strstr(out, env));
    }
    assert_non_null(strstr(out, "(env WSGATE_QUEUE_BYTES, default 1MiB)"));
    assert_non_null(strstr(out, "--help"));
    assert_non_null(strstr(out, "--version"));
    /* Every description starts in the same column. */
    assert_int_equal(help_column(out, "\n  --listen HOST:PORT"),
                     help_column(out, "\n  --max-conns-per-ip N"));
    assert_int_equal(help_column(out, "\n  --listen HOST:PORT"),
                     help_column(out, "\n  --handshake-timeout DURATION"));
    free(out);

    char *short_help[] = {"wsgate", "-h", NULL};
    out = load_stdout(short_help, &rc);
    assert_int_equal(rc, CONFIG_EXIT);
    assert_non_null(strstr(out, "--listen HOST:PORT"));
    free(out);

    char *version[] = {"wsgate", "--version", NULL};
    out = load_stdout(version, &rc);
    assert_int_equal(rc, CONFIG_EXIT);
    assert_true(strncmp(out, "wsgate ", 7) == 0);
    assert_string_equal(out + strlen(out) - 1, "\n");
    assert_true(strlen(out) > 9);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_subjects_and_stream),
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_enums_and_strings),
        cmocka_unit_test(test_flag_forms),
        cmocka_unit_test(test_flag_errors),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_env_unknown),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_cross_checks),
        cmocka_unit_test(test_help_and_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
