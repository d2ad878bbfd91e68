/* test_utf8.c: unit tests for UTF-8 decoding, validation and clipping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/jsonscan.h"
#include "wsgate/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"

/* Encode cp in exactly n bytes (1..4), overlong or not. */
static size_t utf8_encode(uint32_t cp, int n, unsigned char *out)
{
    switch (n) {
    case 1:
        out[0] = (unsigned char)cp;
        return 1;
    case 2:
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    case 3:
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    default:
        out[0] = (unsigned char)(0xF0 | cp >> 18);
        out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[3] = (unsigned char)(0x80 | (cp & 0x3F));
        return 4;
    }
}

static void test_utf8_table(void **state)
{
    static const doc valid[] = {
        D(""),
        D("plain ascii"),
        D("\x00\x01\x7f"),
        D("\xc2\x80"),         /* U+0080 */
        D("\xdf\xbf"),         /* U+07FF */
        D("\xe0\xa0\x80"),     /* U+0800 */
        D("\xed\x9f\xbf"),     /* U+D7FF */
        D("\xee\x80\x80"),     /* U+E000 */
        D("\xef\xbf\xbf"),     /* U+FFFF */
        D("\xf0\x90\x80\x80"), /* U+10000 */
        D("\xf4\x8f\xbf\xbf"), /* U+10FFFF */
        D("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
    };
    static const doc invalid[] = {
        D("\x80"), /* lone continuation */
        D("\xbf"),
        D("a\x80z"),
        D("\xc0\x80"),                 /* overlong NUL */
        D("\xc0\xaf"),                 /* overlong '/' */
        D("\xc1\xbf"),                 /* overlong U+007F */
        D("\xe0\x80\x80"),             /* overlong 3-byte */
        D("\xe0\x9f\xbf"),             /* overlong U+07FF */
        D("\xf0\x80\x80\x80"),         /* overlong 4-byte */
        D("\xf0\x8f\xbf\xbf"),         /* overlong U+FFFF */
        D("\xed\xa0\x80"),             /* U+D800 */
        D("\xed\xbf\xbf"),             /* U+DFFF */
        D("\xed\xa0\xbd\xed\xb8\x80"), /* CESU-8 surrogate pair */
        D("\xf4\x90\x80\x80"),         /* U+110000 */
        D("\xf7\xbf\xbf\xbf"),         /* U+1FFFFF */
        D("\xf8\x88\x80\x80\x80"),     /* 5-byte form */
        D("\xfc\x84\x80\x80\x80\x80"),
        D("\xfe"),
        D("\xff"),
        D("\xc3"), /* truncated sequences */
        D("\xe2\x82"),
        D("\xf0\x9f\x98"),
        D("\xc3"
          "a"),
        D("\xe2\x82"
          "a"),
        D("\xf0\x9f\x98"
          "a"),
        D("\xe2"
          "a"
          "\xac"),
    };
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
        if (!utf8_valid(valid[i].p, valid[i].len))
            fail_msg("valid UTF-8 #%zu rejected", i);
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        if (utf8_valid(invalid[i].p, invalid[i].len))
            fail_msg("invalid UTF-8 #%zu accepted", i);

    /* A truncated sequence at the very end must not be read past (exact-size copy for ASan). */
    char *p = malloc(1);
    p[0] = (char)0xf0;
    assert_false(utf8_valid(p, 1));
    free(p);
}

/* Every code point, in every length: valid exactly in its shortest form, and not a surrogate. */
static void test_utf8_exhaustive(void **state)
{
    unsigned char buf[8];
    for (uint32_t cp = 0; cp <= 0x1FFFFF; cp++) {
        int shortest = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        for (int n = shortest; n <= 4; n++) {
            if (n == 1 && cp >= 0x80)
                continue;
            size_t len = utf8_encode(cp, n, buf);
            bool want = n == shortest && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
            if (utf8_valid((const char *)buf, len) != want)
                fail_msg("U+%04X in %d bytes: expected %s", cp, n, want ? "valid" : "invalid");
            /* and inside a JSON string, the same verdict */
            if (cp >= 0x20 && cp != '"' && cp != '\\' && (cp & 0xFF) == 0x41) {
                char s[16];
                s[0] = '"';
                memcpy(s + 1, buf, len);
                s[len + 1] = '"';
                if (jsonscan_valid(s, len + 2) != want)
                    fail_msg("\"U+%04X\" in %d bytes: expected %s", cp, n,
                             want ? "valid" : "invalid");
            }
        }
    }
}

/* utf8_decode returns the code point and its length, and never reads past n. */
static void test_decode(void **state)
{
    uint32_t cp = 0;
    assert_int_equal(utf8_decode("A", 1, &cp), 1);
    assert_int_equal(cp, 'A');
    assert_int_equal(utf8_decode("\0", 1, &cp), 1);
    assert_int_equal(cp, 0);
    assert_int_equal(utf8_decode("\xc3\xa9x", 3, &cp), 2);
    assert_int_equal(cp, 0xE9);
    assert_int_equal(utf8_decode("\xe2\x82\xac", 3, &cp), 3);
    assert_int_equal(cp, 0x20AC);
    assert_int_equal(utf8_decode("\xf0\x9f\x98\x80", 4, &cp), 4);
    assert_int_equal(cp, 0x1F600);
    assert_int_equal(utf8_decode("\xf4\x8f\xbf\xbf", 4, NULL), 4);
    cp = 7;
    assert_int_equal(utf8_decode("\xff", 1, &cp), 0);
    assert_int_equal(cp, 7); /* untouched on failure */
    assert_int_equal(utf8_decode("", 0, &cp), 0);
    /* a valid sequence cut by n: reads stop at n (exact-size copies for ASan) */
    static const char euro[] = "\xe2\x82\xac";
    for (size_t n = 1; n < 3; n++) {
        char *p = malloc(n);
        memcpy(p, euro, n);
        assert_int_equal(utf8_decode(p, n, &cp), 0);
        assert_false(utf8_valid(p, n));
        free(p);
    }
}

/* Every code point in its shortest form decodes back to itself. */
static void test_decode_roundtrip(void **state)
{
    unsigned char buf[4];
    for (uint32_t c = 0; c <= 0x10FFFF; c++) {
        if (c >= 0xD800 && c <= 0xDFFF)
            continue;
        int n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        size_t len = utf8_encode(c, n, buf);
        uint32_t got = 0xFFFFFFFF;
        if (utf8_decode((const char *)buf, len, &got) != len || got != c)
            fail_msg("U+%04X: decoded %zu bytes as U+%04X", c,
                     utf8_decode((const char *)buf, len, NULL), got);
    }
}

static void check_clip(const char *s, size_t max, size_t want)
{
    size_t got = utf8_clip(s, strlen(s), max);
    if (got != want)
        fail_msg("utf8_clip(\"%s\", %zu) = %zu, want %zu", s, max, got, want);
}

static void test_clip(void **state)
{
    check_clip("", 0, 0);
    check_clip("abc", 5, 3);
    check_clip("abc", 3, 3);
    check_clip("abc", 2, 2);
    check_clip("abc", 0, 0);
    /* "a€b": the euro sign is bytes 1..3 */
    check_clip("a\xe2\x82\xac"
               "b",
               1, 1);
    check_clip("a\xe2\x82\xac"
               "b",
               2, 1);
    check_clip("a\xe2\x82\xac"
               "b",
               3, 1);
    check_clip("a\xe2\x82\xac"
               "b",
               4, 4);
    check_clip("\xf0\x9f\x98\x80"
               "\xf0\x9f\x98\x80",
               7, 4);
    check_clip("\xf0\x9f\x98\x80"
               "\xf0\x9f\x98\x80",
               3, 0);
    check_clip("\xc3\xa9\xc3\xa9", 3, 2);
    /* invalid bytes are not characters: a stray continuation byte is cut anywhere */
    check_clip("ab\x80\x80", 2, 2);
    check_clip("ab\x80\x80", 3, 3);
    check_clip("\x80\x80\x80\x80\x80\x80", 5, 5);
    check_clip("\xff\xff\xff", 1, 1);

    /* Clipping valid UTF-8 anywhere leaves valid UTF-8, at most one character shorter. */
    const char *s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 x\xdf\xbf";
    size_t n = strlen(s);
    for (size_t max = 0; max <= n + 1; max++) {
        size_t k = utf8_clip(s, n, max);
        assert_true(k <= max && k <= n);
        assert_true(k + 3 >= (max < n ? max : n));
        if (!utf8_valid(s, k))
            fail_msg("clip at %zu -> %zu is not valid UTF-8", max, k);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_table), cmocka_unit_test(test_utf8_exhaustive),
        cmocka_unit_test(test_decode),     cmocka_unit_test(test_decode_roundtrip),
        cmocka_unit_test(test_clip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
