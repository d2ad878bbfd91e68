/* test_jsonesc.c: unit tests for the JSON string escaper and its users (sbuf_json_str). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/jsonesc.h"
#include "wsgate/sbuf.h"
#include "wsgate/utf8.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* jsonesc_char on s[0..n): the output and the bytes consumed. */
static void check_char(const char *s, size_t n, const char *want, size_t want_used)
{
    char out[JSONESC_MAX];
    size_t outlen = 99, used = jsonesc_char(s, n, out, &outlen);
    assert_int_equal(used, want_used);
    assert_int_equal(outlen, strlen(want));
    assert_memory_equal(out, want, outlen);
}

static void test_char(void **state)
{
    check_char("a", 1, "a", 1);
    check_char("\"", 1, "\\\"", 1);
    check_char("\\", 1, "\\\\", 1);
    check_char("\n", 1, "\\n", 1);
    check_char("\r", 1, "\\r", 1);
    check_char("\t", 1, "\\t", 1);
    check_char("\0", 1, "\\u0000", 1);
    check_char("\x1f", 1, "\\u001f", 1);
    check_char("\b", 1, "\\u0008", 1);
    check_char("\x7f", 1, "\x7f", 1);
    check_char("/", 1, "/", 1);
    check_char("\xc3\xa9z", 3, "\xc3\xa9", 2);
    check_char("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80", 4);
    /* ill-formed: one \ufffd per byte */
    check_char("\xff", 1, "\\ufffd", 1);
    check_char("\x80", 1, "\\ufffd", 1);
    check_char("\xc0\xaf", 2, "\\ufffd", 1);     /* overlong */
    check_char("\xed\xa0\x80", 3, "\\ufffd", 1); /* surrogate */
    check_char("\xe2\x82\xac", 2, "\\ufffd", 1); /* cut by n */
}

/* sbuf_json_str's output as a C string. */
static const char *json_str(sbuf *b, const char *s, size_t n)
{
    sbuf_reset(b);
    sbuf_json_str(b, s, n);
    return sbuf_str(b);
}

/* Invalid UTF-8 never reaches the output: each bad byte becomes \ufffd. */
static void test_sbuf_invalid_utf8(void **state)
{
    sbuf b;
    sbuf_init(&b, 0);
    assert_string_equal(json_str(&b, "batch.\xff.progress", 16), "\"batch.\\ufffd.progress\"");
    assert_string_equal(json_str(&b, "\xc3", 1), "\"\\ufffd\"");
    assert_string_equal(json_str(&b, "a\xe2\x82", 3), "\"a\\ufffd\\ufffd\"");
    assert_string_equal(json_str(&b, "\xc0\xaf\"", 3), "\"\\ufffd\\ufffd\\\"\"");
    assert_string_equal(json_str(&b, "\xed\xa0\x80", 3), "\"\\ufffd\\ufffd\\ufffd\"");
    assert_string_equal(json_str(&b, "\xe2\x82\xac\xff\xe2\x82\xac", 7),
                        "\"\xe2\x82\xac\\ufffd\xe2\x82\xac\"");
    sbuf_free(&b);
}

/* Any bytes at all: the output is valid UTF-8 and one JSON string, and
 * decodes back to the input where the input was well-formed. */
static void test_sbuf_any_bytes(void **state)
{
    sbuf b;
    sbuf_init(&b, 0);
    uint32_t x = 12345;
    for (int round = 0; round < 3000; round++) {
        char s[64];
        size_t n = (size_t)round % sizeof(s);
        for (size_t i = 0; i < n; i++) {
            x = x * 1664525 + 1013904223;
            /* bias towards the interesting bytes: lead bytes, continuations, controls */
            static const unsigned char pick[] = {'a',  '"',  '\\', 0,    0x1f, 0x7f, 0x80, 0xbf,
                                                 0xc2, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xff, 0x82};
            s[i] = (char)(x >> 28 < 8 ? pick[(x >> 24) & 15] : (x >> 16) & 0xff);
        }
        json_str(&b, s, n);
        if (!utf8_valid(sbuf_str(&b), b.len))
            fail_msg("round %d: output is not valid UTF-8", round);
        json_error_t err;
        json_t *j = json_loadb(sbuf_str(&b), b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        if (!j || !json_is_string(j))
            fail_msg("round %d: not a JSON string (%s)", round, j ? "" : err.text);
        if (utf8_valid(s, n)) {
            assert_int_equal(json_string_length(j), n);
            assert_memory_equal(json_string_value(j), s, n);
        }
        json_decref(j);
    }
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_char),
        cmocka_unit_test(test_sbuf_invalid_utf8),
        cmocka_unit_test(test_sbuf_any_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
