/* test_log.c: unit tests for log.c (JSON and text lines, escaping, filtering, truncation). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "wsgate/log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- capturing stderr ---- */

static int saved_stderr = -1;
static char capture_path[] = "/tmp/wsgate-test-log-XXXXXX";

/* Send fd 2 to a fresh temporary file. */
static void capture_begin(void)
{
    strcpy(capture_path, "/tmp/wsgate-test-log-XXXXXX");
    int fd = mkstemp(capture_path);
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_SETFL, O_APPEND), 0);
    saved_stderr = dup(STDERR_FILENO);
    assert_true(saved_stderr >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    close(fd);
}

/* Restore fd 2 and return everything written meanwhile (caller frees). */
static char *capture_end(void)
{
    FILE *f = fopen(capture_path, "rb");
    assert_non_null(f);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    unlink(capture_path);

    char *text = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            text = realloc(text, cap);
            assert_non_null(text);
        }
        memcpy(text + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!text)
        text = calloc(1, 1);
    else
        text[len] = '\0';
    return text;
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* Parse one line (up to '\n') as a JSON object; fails the test if it is not. */
static json_t *parse_line(const char *line)
{
    const char *nl = strchr(line, '\n');
    assert_non_null(nl);
    json_error_t err;
    json_t *j = json_loadb(line, (size_t)(nl - line), 0, &err);
    if (!j)
        print_error("bad JSON line: %s (%s)\n", err.text, line);
    assert_non_null(j);
    assert_true(json_is_object(j));
    return j;
}

/* out = the lines written by one call to log_event with the given args. */
#define CAPTURE(out, ...)                                                                          \
    do {                                                                                           \
        capture_begin();                                                                           \
        log_event(__VA_ARGS__);                                                                    \
        (out) = capture_end();                                                                     \
    } while (0)

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *str_field(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    assert_non_null(v);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

/* ---- tests ---- */

static void test_json_fields(void **state)
{
    log_init(LOG_DEBUG, LOG_FORMAT_JSON);
    capture_begin();
    log_event(LOG_INFO, "conn_close", "s:conn", "c1", "i:code", 4001, "i:neg", INT_MIN, "l:big",
              LLONG_MIN, "u:small", 42ULL, "f:ratio", 0.25, "b:yes", 1, "b:no", 0, "s:none",
              (const char *)NULL, NULL);
    char *out = capture_end();

    assert_int_equal(count_lines(out), 1);
    json_t *j = parse_line(out);
    assert_string_equal(str_field(j, "level"), "info");
    assert_string_equal(str_field(j, "event"), "conn_close");
    assert_string_equal(str_field(j, "conn"), "c1");
    assert_int_equal(json_integer_value(json_object_get(j, "code")), 4001);
    assert_int_equal(json_integer_value(json_object_get(j, "neg")), INT_MIN);
    assert_true(json_integer_value(json_object_get(j, "big")) == LLONG_MIN);
    assert_true(json_is_real(json_object_get(j, "ratio")));
    assert_true(json_real_value(json_object_get(j, "ratio")) == 0.25);
    assert_true(json_is_true(json_object_get(j, "yes")));
    assert_true(json_is_false(json_object_get(j, "no")));
    assert_true(json_is_null(json_object_get(j, "none")));
    assert_null(json_object_get(j, "truncated"));
    assert_int_equal(json_integer_value(json_object_get(j, "small")), 42);
    /* Key order: ts, level, event, then the fields as given. */
    assert_true(strncmp(out, "{\"ts\":\"", 7) == 0);
    assert_true(strstr(out, "\"level\"") < strstr(out, "\"event\""));
    assert_true(strstr(out, "\"event\"") < strstr(out, "\"conn\""));

    /* ts looks like 2026-11-27T07:40:12.118Z */
    const char *ts = str_field(j, "ts");
    assert_int_equal(strlen(ts), 24);
    assert_int_equal(ts[4], '-');
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[19], '.');
    assert_int_equal(ts[23], 'Z');
    json_decref(j);
    free(out);

    /* ULLONG_MAX does not fit jansson's json_int_t: check the text. */
    CAPTURE(out, LOG_INFO, "e", "u:huge", ULLONG_MAX, NULL);
    assert_non_null(strstr(out, "\"event\":\"e\",\"huge\":18446744073709551615}\n"));
    free(out);
}

static void test_json_non_finite_double(void **state)
{
    log_init(LOG_DEBUG, LOG_FORMAT_JSON);
    char *out;
    CAPTURE(out, LOG_INFO, "e", "f:inf", INFINITY, "f:nan", NAN, NULL);
    json_t *j = parse_line(out);
    assert_true(json_is_null(json_object_get(j, "inf")));
    assert_true(json_is_null(json_object_get(j, "nan")));
    json_decref(j);
    free(out);
}

static void test_json_escaping(void **state)
{
    /* quote, backslash, controls, DEL, valid UTF-8 (2 and 4 bytes), then
     * invalid bytes: a stray 0xff, a truncated sequence, an overlong '/',
     * an encoded surrogate and a code point above U+10FFFF. */
    const char *nasty = "q\"b\\n\nt\tr\rc\x01\x1f"
                        "d\x7f"
                        "\xc3\xa9\xf0\x9f\x98\x80"
                        "|\xff|\xc3(|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|";
    const char *want = "q\"b\\n\nt\tr\rc\x01\x1f"
                       "d\x7f"
                       "\xc3\xa9\xf0\x9f\x98\x80"
                       "|\xef\xbf\xbd|\xef\xbf\xbd(|\xef\xbf\xbd\xef\xbf\xbd|"
                       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
                       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|";

    log_init(LOG_DEBUG, LOG_FORMAT_JSON);
    char *out;
    CAPTURE(out, LOG_WARN, "ev\"il\n", "s:msg", nasty, "s:k\"ey", "v", NULL);
    assert_int_equal(count_lines(out), 1);
    /* No raw control character may reach the line. */
    for (const char *p = out; *p != '\n'; p++)
        assert_true((unsigned char)*p >= 0x20);
    json_t *j = parse_line(out);
    assert_string_equal(str_field(j, "event"), "ev\"il\n");
    assert_string_equal(str_field(j, "msg"), want);
    assert_string_equal(str_field(j, "k\"ey"), "v");
    assert_string_equal(str_field(j, "level"), "warn");
    json_decref(j);
    free(out);
}

static void test_level_filter(void **state)
{
    log_init(LOG_WARN, LOG_FORMAT_JSON);
    capture_begin();
    log_event(LOG_DEBUG, "d", NULL);
    log_event(LOG_INFO, "i", NULL);
    log_event(LOG_WARN, "w", NULL);
    log_event(LOG_ERROR, "e", NULL);
    log_event((enum log_level)42, "bogus", NULL);
    char *out = capture_end();

    assert_int_equal(count_lines(out), 2);
    json_t *j = parse_line(out);
    assert_string_equal(str_field(j, "event"), "w");
    assert_string_equal(str_field(j, "level"), "warn");
    json_decref(j);
    j = parse_line(strchr(out, '\n') + 1);
    assert_string_equal(str_field(j, "event"), "e");
    assert_string_equal(str_field(j, "level"), "error");
    json_decref(j);
    free(out);

    log_init(LOG_DEBUG, LOG_FORMAT_JSON);
    CAPTURE(out, LOG_DEBUG, "d", NULL);
    assert_int_equal(count_lines(out), 1);
    j = parse_line(out);
    assert_string_equal(str_field(j, "level"), "debug");
    json_decref(j);
    free(out);
}

static void test_text_format(void **state)
{
    log_init(LOG_DEBUG, LOG_FORMAT_TEXT);
    capture_begin();
    log_event(LOG_INFO, "conn_close", "s:conn", "c1", "i:code", 4001, NULL);
    log_event(LOG_ERROR, "boom", "s:msg", "two words", "s:empty", "", "s:nl", "a\nb", "b:ok", 1,
              "s:none", (const char *)NULL, NULL);
    char *out = capture_end();

    assert_int_equal(count_lines(out), 2);
    /* "2026-11-27T07:40:12.118Z info  conn_close conn=c1 code=4001" */
    assert_true(strlen(out) > 25);
    assert_int_equal(out[10], 'T');
    assert_int_equal(out[23], 'Z');
    const char *line2 = strchr(out, '\n') + 1;
    assert_true(starts_with(out + 24, " info  conn_close conn=c1 code=4001\n"));
    assert_true(starts_with(line2 + 24, " error boom msg=\"two words\" empty=\"\" nl=\"a\\nb\" "
                                        "ok=true none=null\n"));
    free(out);
}

static void test_truncation(void **state)
{
    size_t n = 10000;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';

    log_init(LOG_DEBUG, LOG_FORMAT_JSON);
    char *out;
    CAPTURE(out, LOG_INFO, "big", "s:msg", big, "i:after", 7, NULL);
    assert_int_equal(count_lines(out), 1);
    assert_true(strlen(out) <= 4096);
    json_t *j = parse_line(out);
    assert_true(json_is_true(json_object_get(j, "truncated")));
    const char *msg = str_field(j, "msg");
    assert_true(strlen(msg) > 3000 && strlen(msg) < n);
    assert_null(json_object_get(j, "after"));
    json_decref(j);
    free(out);

    /* Escapes and multi-byte characters are never cut in half. */
    const char *units[] = {"\x01", "\xc3\xa9", "\xf0\x9f\x98\x80", "\"", "\xff"};
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        for (size_t shift = 0; shift < 7; shift++) {
            size_t len = strlen(units[u]), pos = 0;
            char *s = malloc(n + 8);
            memset(s, 'y', shift);
            for (pos = shift; pos + len <= n; pos += len)
                memcpy(s + pos, units[u], len);
            s[pos] = '\0';
            CAPTURE(out, LOG_INFO, "cut", "s:msg", s, NULL);
            assert_int_equal(count_lines(out), 1);
            assert_true(strlen(out) <= 4096);
            j = parse_line(out);
            assert_true(json_is_true(json_object_get(j, "truncated")));
            json_decref(j);
            free(out);
            free(s);
        }
    }

    /* Many fields: the line ends before the buffer does, still valid. */
    capture_begin();
    log_event(LOG_INFO, "many", "s:a", big + 9000, "s:b", big + 9000, "s:c", big + 9000, "s:d",
              big + 9000, "s:e", big + 9000, "i:f", 1, NULL);
    out = capture_end();
    assert_int_equal(count_lines(out), 1);
    j = parse_line(out);
    assert_true(json_is_true(json_object_get(j, "truncated")));
    assert_non_null(json_object_get(j, "a"));
    assert_null(json_object_get(j, "f"));
    json_decref(j);
    free(out);

    /* Text format truncates too. */
    log_init(LOG_DEBUG, LOG_FORMAT_TEXT);
    CAPTURE(out, LOG_INFO, "big", "s:msg", big, NULL);
    assert_int_equal(count_lines(out), 1);
    assert_true(strlen(out) <= 4096);
    assert_non_null(strstr(out, " msg=xxxx"));
    assert_non_null(strstr(out, "x truncated=true\n"));
    free(out);
    free(big);
}

static void test_bad_key(void **state)
{
    log_init(LOG_DEBUG, LOG_FORMAT_JSON);
    char *out;
    CAPTURE(out, LOG_INFO, "e", "i:ok", 1, "nocolon", 2, NULL);
    json_t *j = parse_line(out);
    assert_int_equal(json_integer_value(json_object_get(j, "ok")), 1);
    assert_string_equal(str_field(j, "bad_key"), "nocolon");
    json_decref(j);
    free(out);

    CAPTURE(out, LOG_INFO, "e", "z:what", 2, NULL);
    j = parse_line(out);
    assert_string_equal(str_field(j, "bad_key"), "z:what");
    json_decref(j);
    free(out);
}

static void test_lws_routing(void **state)
{
    log_init(LOG_DEBUG, LOG_FORMAT_JSON);
    capture_begin();
    lwsl_err("broken %d\n", 7);
    lwsl_warn("careful\n");
    lwsl_notice("fyi\n");
    char *out = capture_end();

    assert_int_equal(count_lines(out), 3);
    const char *line = out;
    const char *want[3][2] = {{"error", "broken 7"}, {"warn", "careful"}, {"debug", "fyi"}};
    for (int i = 0; i < 3; i++) {
        json_t *j = parse_line(line);
        assert_string_equal(str_field(j, "event"), "lws");
        assert_string_equal(str_field(j, "level"), want[i][0]);
        assert_string_equal(str_field(j, "msg"), want[i][1]);
        json_decref(j);
        line = strchr(line, '\n') + 1;
    }
    free(out);

    /* Above debug, lws notices are not even produced. */
    log_init(LOG_INFO, LOG_FORMAT_JSON);
    capture_begin();
    lwsl_notice("quiet\n");
    lwsl_err("loud\n");
    out = capture_end();
    assert_int_equal(count_lines(out), 1);
    assert_non_null(strstr(out, "\"msg\":\"loud\""));
    free(out);
}

#define THREADS 4
#define LINES   300

static void *thread_main(void *arg)
{
    for (int i = 0; i < LINES; i++)
        log_event(LOG_INFO, "t", "l:thread", (long long)(intptr_t)arg, "i:i", i, "s:pad",
                  "................................................................", NULL);
    return NULL;
}

static void test_threads(void **state)
{
    pthread_t t[THREADS];
    int seen[THREADS] = {0};

    log_init(LOG_DEBUG, LOG_FORMAT_JSON);
    capture_begin();
    for (intptr_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_main, (void *)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    char *out = capture_end();

    assert_int_equal(count_lines(out), THREADS * LINES);
    for (const char *line = out; *line; line = strchr(line, '\n') + 1) {
        json_t *j = parse_line(line);
        json_int_t th = json_integer_value(json_object_get(j, "thread"));
        assert_true(th >= 0 && th < THREADS);
        /* Lines of one thread arrive in order. */
        assert_int_equal(json_integer_value(json_object_get(j, "i")), seen[th]);
        seen[th]++;
        json_decref(j);
    }
    free(out);
}

static void test_parse_names(void **state)
{
    enum log_level l = LOG_ERROR;
    enum log_format f = LOG_FORMAT_TEXT;

    assert_int_equal(log_level_parse("debug", &l), 0);
    assert_int_equal(l, LOG_DEBUG);
    assert_int_equal(log_level_parse("info", &l), 0);
    assert_int_equal(l, LOG_INFO);
    assert_int_equal(log_level_parse("warn", &l), 0);
    assert_int_equal(l, LOG_WARN);
    assert_int_equal(log_level_parse("error", &l), 0);
    assert_int_equal(l, LOG_ERROR);
    assert_int_equal(log_level_parse("INFO", &l), -EINVAL);
    assert_int_equal(log_level_parse("warning", &l), -EINVAL);
    assert_int_equal(log_level_parse("", &l), -EINVAL);
    assert_int_equal(log_level_parse(NULL, &l), -EINVAL);
    assert_int_equal(l, LOG_ERROR);

    assert_int_equal(log_format_parse("auto", &f), 0);
    assert_int_equal(f, LOG_FORMAT_AUTO);
    assert_int_equal(log_format_parse("json", &f), 0);
    assert_int_equal(f, LOG_FORMAT_JSON);
    assert_int_equal(log_format_parse("text", &f), 0);
    assert_int_equal(f, LOG_FORMAT_TEXT);
    assert_int_equal(log_format_parse("xml", &f), -EINVAL);
    assert_int_equal(log_format_parse(NULL, &f), -EINVAL);
    assert_int_equal(f, LOG_FORMAT_TEXT);
}

static void test_redact(void **state)
{
    char out[64];
    const char *jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig";
    char want[64];

    assert_string_equal(log_redact(NULL, out, sizeof(out)), "(none)");

    assert_ptr_equal(log_redact(jwt, out, sizeof(out)), out);
    snprintf(want, sizeof(want), "eyJh\xe2\x80\xa6(%zu bytes)", strlen(jwt));
    assert_string_equal(out, want);
    assert_null(strstr(out, "eyJhb"));

    /* A short secret shows none of its characters. */
    log_redact("hunter2", out, sizeof(out));
    assert_string_equal(out, "\xe2\x80\xa6(7 bytes)");
    log_redact("", out, sizeof(out));
    assert_string_equal(out, "\xe2\x80\xa6(0 bytes)");

    /* A small buffer is never overrun and stays terminated. */
    char tiny[6];
    memset(tiny, 'Z', sizeof(tiny));
    log_redact(jwt, tiny, 5);
    assert_int_equal(tiny[5], 'Z');
    assert_true(strlen(tiny) <= 4);
    assert_string_equal(log_redact(jwt, tiny, 0), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_fields),   cmocka_unit_test(test_json_non_finite_double),
        cmocka_unit_test(test_json_escaping), cmocka_unit_test(test_level_filter),
        cmocka_unit_test(test_text_format),   cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_bad_key),       cmocka_unit_test(test_lws_routing),
        cmocka_unit_test(test_threads),       cmocka_unit_test(test_parse_names),
        cmocka_unit_test(test_redact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
