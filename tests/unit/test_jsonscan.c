/* test_jsonscan.c: unit tests for the JSON and UTF-8 validator, checked against jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/jsonscan.h"
#include "wsgate/sbuf.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"

static void check_table(const doc *docs, size_t n, bool want)
{
    for (size_t i = 0; i < n; i++)
        if (jsonscan_valid(docs[i].p, docs[i].len) != want)
            fail_msg("jsonscan_valid(\"%.*s\") should be %s", (int)docs[i].len, docs[i].p,
                     want ? "true" : "false");
}

static void test_valid_documents(void **state)
{
    static const doc valid[] = {
        /* literals */
        D("true"),
        D("false"),
        D("null"),
        /* numbers */
        D("0"),
        D("-0"),
        D("1"),
        D("-1"),
        D("123456789"),
        D("1e5"),
        D("1E5"),
        D("1e+5"),
        D("1e-5"),
        D("1.5E-3"),
        D("-0.0"),
        D("0.5"),
        D("-12.25e+10"),
        D("0e0"),
        D("99999999999999999999999999999999999"),
        D("1e99999"),
        /* strings */
        D("\"\""),
        D("\"abc\""),
        D("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""),
        D("\"\\u0041\""),
        D("\"\\u00e9\\uD83D\\uDE00\""),
        D("\"\\uABCD\\uabcd\""),
        D("\"\\u0000\""),
        D("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""),
        D("\"\x7f\""),
        D("\"'\""),
        /* containers */
        D("[]"),
        D("{}"),
        D("[1]"),
        D("[1,2,3]"),
        D("[[],[[]],{}]"),
        D("{\"a\":1}"),
        D("{\"a\":{\"b\":[true,false,null]}}"),
        D("{\"a\":1,\"a\":2}"),
        D("{\"\":\"\"}"),
        D("[\"a\",{\"b\":\"c\"},-1.5e2]"),
        /* white space around and inside */
        D(" 1"),
        D("1 "),
        D(" \t\r\n[ 1 , 2 ]\n"),
        D("{ \"a\" : 1 , \"b\" : [ ] }"),
        D("[ ]"),
        D("{ }"),
        D("\n\"x\"\n"),
    };
    check_table(valid, sizeof(valid) / sizeof(valid[0]), true);
}

static void test_invalid_documents(void **state)
{
    static const doc invalid[] = {
        /* empty and blank */
        D(""),
        D(" "),
        D("\n\t"),
        /* numbers */
        D("01"),
        D("-01"),
        D("00"),
        D("1."),
        D(".5"),
        D("-"),
        D("-a"),
        D("+1"),
        D("1e"),
        D("1e+"),
        D("1E-"),
        D("1.e5"),
        D("0x10"),
        D("1.5.5"),
        D("--1"),
        D("NaN"),
        D("Infinity"),
        D("-Infinity"),
        D("1,"),
        D("[01]"),
        D("[1.]"),
        D("[-]"),
        /* literals, truncated or wrong case */
        D("t"),
        D("tru"),
        D("fals"),
        D("nul"),
        D("True"),
        D("NULL"),
        D("truee"),
        D("nulll"),
        D("[tru]"),
        D("{\"a\":nul}"),
        /* strings */
        D("\""),
        D("\"abc"),
        D("\"abc\\\""),
        D("\"\\\""),
        D("\"\\a\""),
        D("\"\\x41\""),
        D("\"\\u12\""),
        D("\"\\u123g\""),
        D("\"\\u\""),
        D("\"\\U0041\""),
        D("'a'"),
        D("\"\x01\""),
        D("\"\x1f\""),
        D("\"tab\there\""),
        D("\"new\nline\""),
        D("\"\0\""),
        D("\"\xff\""),
        D("\"\xc3\""),
        D("\"\xc0\xaf\""),
        D("\"\xed\xa0\x80\""),
        D("\"\xf4\x90\x80\x80\""),
        D("\"\x80\""),
        /* containers */
        D("["),
        D("]"),
        D("{"),
        D("}"),
        D("[1"),
        D("[1,"),
        D("[1,]"),
        D("[,1]"),
        D("[1 2]"),
        D("{\"a\"}"),
        D("{\"a\":}"),
        D("{\"a\" 1}"),
        D("{\"a\":1,}"),
        D("{,}"),
        D("{1:1}"),
        D("{a:1}"),
        D("{\"a\":1"),
        D("[}"),
        D("{]"),
        D("[[]"),
        D("[]]"),
        D("{\"a\":1 \"b\":2}"),
        D("[1;2]"),
        D("[1x2]"),
        D("{\"a\":1;\"b\":2}"),
        D("{\"a\";1}"),
        /* trailing garbage, several values */
        D("1 2"),
        D("[] []"),
        D("{}x"),
        D("true false"),
        D("\"a\"\"b\""),
        D("[]\0"),
        D("1\0"),
        /* bytes outside strings */
        D("\xef\xbb\xbf[]"),
        D("[\xc3\xa9]"),
        D("\v1"),
        D("\f1"),
    };
    check_table(invalid, sizeof(invalid) / sizeof(invalid[0]), false);
}

/* depth arrays (or objects) nested around a scalar. */
static char *nested(int depth, bool objects, size_t *len)
{
    sbuf b;
    sbuf_init(&b, 0);
    for (int i = 0; i < depth; i++)
        sbuf_puts(&b, objects ? "{\"k\":" : "[");
    sbuf_puts(&b, "1");
    for (int i = 0; i < depth; i++)
        sbuf_putc(&b, objects ? '}' : ']');
    *len = b.len;
    char *s = (char *)sbuf_release(&b);
    return s; /* content at s + 0: headroom 0 */
}

/* Validate the document, free it, then report (so a failing assertion leaks nothing). */
static bool valid_then_free(char *s, size_t len)
{
    bool v = jsonscan_valid(s, len);
    free(s);
    return v;
}

/* `pairs` times "[{"a":" around `inner`, closed again. */
static char *mixed(int pairs, const char *inner, size_t *len)
{
    sbuf b;
    sbuf_init(&b, 0);
    for (int i = 0; i < pairs; i++)
        sbuf_puts(&b, "[{\"a\":");
    sbuf_puts(&b, inner);
    for (int i = 0; i < pairs; i++)
        sbuf_puts(&b, "}]");
    *len = b.len;
    return (char *)sbuf_release(&b);
}

static void test_depth(void **state)
{
    size_t len;
    for (int objects = 0; objects < 2; objects++) {
        char *s = nested(JSONSCAN_MAX_DEPTH, objects, &len);
        assert_true(valid_then_free(s, len));
        s = nested(JSONSCAN_MAX_DEPTH + 1, objects, &len);
        assert_false(valid_then_free(s, len));
        s = nested(10000, objects, &len);
        assert_false(valid_then_free(s, len));
    }
    /* Mixed nesting counts every container. */
    char *s = mixed(JSONSCAN_MAX_DEPTH / 2, "[]", &len);
    assert_false(valid_then_free(s, len)); /* MAX_DEPTH + 1 containers */
    s = mixed(JSONSCAN_MAX_DEPTH / 2, "0", &len);
    assert_true(valid_then_free(s, len)); /* exactly MAX_DEPTH */
    /* Deep, but one after the other: depth goes back down. */
    sbuf b;
    sbuf_init(&b, 0);
    sbuf_putc(&b, '[');
    for (int i = 0; i < 1000; i++)
        sbuf_puts(&b, i ? ",[[[]]]" : "[[[]]]");
    sbuf_putc(&b, ']');
    len = b.len;
    assert_true(valid_then_free((char *)sbuf_release(&b), len));
}

/* The scanner must look at exactly n bytes: never past them, never stop early. */
static void test_length_is_respected(void **state)
{
    const char *s = "[1,2]garbage";
    assert_true(jsonscan_valid(s, 5));
    assert_false(jsonscan_valid(s, 4));
    assert_false(jsonscan_valid(s, 6));
    for (size_t n = 0; n < 5; n++)
        assert_false(jsonscan_valid(s, n));

    /* Every proper prefix of these documents is invalid (and ASan sees no overread). */
    static const char *const docs[] = {"{\"a\":[true,false,null,-1.5e+3,\"\\u00e9\\n\"]}",
                                       "\"\xf0\x9f\x98\x80\"", "[[[\"x\"]]]", "-0.5E-7"};
    for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
        size_t len = strlen(docs[d]);
        assert_true(jsonscan_valid(docs[d], len));
        for (size_t n = 0; n < len; n++) {
            char *copy = malloc(n ? n : 1); /* exact size: an overread is a heap error */
            memcpy(copy, docs[d], n);
            bool v = jsonscan_valid(copy, n);
            /* "-0.5E-7" has the valid numeric prefixes "-0", "-0.5"; others have none */
            if (d == 3 && (n == 2 || n == 4))
                assert_true(v);
            else if (v)
                fail_msg("prefix %zu of %s accepted", n, docs[d]);
            free(copy);
        }
    }
}

/* ---- differential test against jansson ---- */

static uint64_t rng_state;
static uint32_t rng(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static void gen_string(sbuf *b)
{
    static const char *const pieces[] = {"a",
                                         "Z",
                                         " ",
                                         "\\\"",
                                         "\\\\",
                                         "\\/",
                                         "\\b",
                                         "\\f",
                                         "\\n",
                                         "\\r",
                                         "\\t",
                                         "\\u0041",
                                         "\\u00e9",
                                         "\\uD83D\\uDE00",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         "'",
                                         "{",
                                         "]",
                                         ":",
                                         ",",
                                         "0",
                                         "\x7f"};
    sbuf_putc(b, '"');
    for (uint32_t n = rng(6); n > 0; n--)
        sbuf_puts(b, pieces[rng(sizeof(pieces) / sizeof(pieces[0]))]);
    sbuf_putc(b, '"');
}

static void gen_number(sbuf *b)
{
    if (rng(3) == 0)
        sbuf_putc(b, '-');
    if (rng(4) == 0)
        sbuf_putc(b, '0');
    else
        sbuf_printf(b, "%u", 1 + rng(100000));
    if (rng(3) == 0)
        sbuf_printf(b, ".%u", rng(1000));
    if (rng(4) == 0)
        sbuf_printf(b, "%c%s%u", rng(2) ? 'e' : 'E', rng(2) ? "-" : (rng(2) ? "+" : ""), rng(30));
}

static void gen_ws(sbuf *b)
{
    static const char ws[] = " \t\n\r";
    if (rng(4) == 0)
        sbuf_putc(b, ws[rng(4)]);
}

static void gen_value(sbuf *b, int depth)
{
    uint32_t k = rng(depth < 5 ? 8 : 5);
    gen_ws(b);
    switch (k) {
    case 0:
        sbuf_puts(b, "true");
        break;
    case 1:
        sbuf_puts(b, "false");
        break;
    case 2:
        sbuf_puts(b, "null");
        break;
    case 3:
        gen_number(b);
        break;
    case 4:
        gen_string(b);
        break;
    case 5:
    case 6: {
        sbuf_putc(b, '[');
        for (uint32_t n = rng(4), i = 0; i < n; i++) {
            if (i)
                sbuf_putc(b, ',');
            gen_value(b, depth + 1);
        }
        gen_ws(b);
        sbuf_putc(b, ']');
        break;
    }
    default: {
        sbuf_putc(b, '{');
        for (uint32_t n = rng(4), i = 0; i < n; i++) {
            if (i)
                sbuf_putc(b, ',');
            gen_ws(b);
            gen_string(b);
            gen_ws(b);
            sbuf_putc(b, ':');
            gen_value(b, depth + 1);
        }
        gen_ws(b);
        sbuf_putc(b, '}');
        break;
    }
    }
    gen_ws(b);
}

/* Apply a few random byte edits, biased toward JSON's own characters. */
static void mutate(sbuf *b)
{
    static const char alphabet[] = "{}[]\",:\\ \t\n0123456789-+.eEtrufalsn/ubfnrtxAF";
    static const unsigned char raw[] = {0x00, 0x01, 0x1f, 0x7f, 0x80, 0xbf, 0xc0, 0xc3,
                                        0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xfe, 0xff};
    for (uint32_t n = 1 + rng(3); n > 0; n--) {
        unsigned char c =
            rng(5) ? (unsigned char)alphabet[rng(sizeof(alphabet) - 1)] : raw[rng(sizeof(raw))];
        size_t at = b->len ? rng((uint32_t)b->len + 1) : 0;
        unsigned char *s = (unsigned char *)sbuf_str(b);
        switch (rng(4)) {
        case 0: /* replace */
            if (at < b->len)
                s[at] = c;
            break;
        case 1: /* delete */
            if (at < b->len) {
                memmove(s + at, s + at + 1, b->len - at - 1);
                b->len--;
            }
            break;
        case 2: /* truncate */
            b->len = at;
            break;
        default: { /* insert */
            sbuf_putc(b, '\0');
            s = (unsigned char *)sbuf_str(b);
            memmove(s + at + 1, s + at, b->len - at - 1);
            s[at] = c;
            break;
        }
        }
        s[b->len] = '\0';
    }
}

/* jansson rejects some grammatically valid documents for reasons outside RFC 8259's grammar
 * (number range, lone surrogate escapes, NUL in object keys): those are not compared. */
static bool jansson_extra_limit(const json_error_t *e)
{
    return strstr(e->text, "too big") || strstr(e->text, "overflow") ||
           strstr(e->text, "invalid Unicode") || strstr(e->text, "NUL byte in object key") ||
           strstr(e->text, "maximum parsing depth");
}

/* The document buffer of the differential test (freed by the teardown, even after a failure). */
static sbuf diff_buf;

static int diff_teardown(void **state)
{
    sbuf_free(&diff_buf);
    return 0;
}

static void test_differential_jansson(void **state)
{
    rng_state = 0x9E3779B97F4A7C15ULL;
    sbuf_init(&diff_buf, 0);
    sbuf *b = &diff_buf;
    size_t compared = 0, valid_seen = 0, invalid_seen = 0;
    for (int iter = 0; iter < 60000; iter++) {
        sbuf_reset(b);
        gen_value(b, 0);
        json_error_t err;
        json_t *j = json_loadb(sbuf_str(b), b->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        if (!j)
            fail_msg("generated document rejected by jansson (%s): %s", err.text, sbuf_str(b));
        json_decref(j);
        if (!jsonscan_valid(sbuf_str(b), b->len))
            fail_msg("generated document rejected: %s", sbuf_str(b));
        if (iter % 4 != 0)
            mutate(b);
        j = json_loadb(sbuf_str(b), b->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        bool ref = j != NULL;
        json_decref(j);
        bool got = jsonscan_valid(sbuf_str(b), b->len);
        if (memchr(sbuf_str(b), '\0', b->len)) {
            /* A raw NUL is never valid JSON (jansson stops reading at one, so no comparison). */
            if (got)
                fail_msg("iteration %d: raw NUL accepted", iter);
            continue;
        }
        if (!ref && jansson_extra_limit(&err))
            continue;
        if (got != ref) {
            for (size_t i = 0; i < b->len; i++)
                fprintf(stderr, "%02x ", (unsigned char)sbuf_str(b)[i]);
            fprintf(stderr, "\n");
            fail_msg("iteration %d: jsonscan says %d, jansson says %d (%s) for [%.*s] (%zu bytes)",
                     iter, got, ref, ref ? "ok" : err.text, (int)b->len, sbuf_str(b), b->len);
        }
        compared++;
        valid_seen += got;
        invalid_seen += !got;
    }
    /* The test is only worth something if both outcomes were exercised a lot. */
    assert_true(compared > 50000);
    assert_true(valid_seen > 15000);
    assert_true(invalid_seen > 15000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_documents),
        cmocka_unit_test(test_invalid_documents),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_length_is_respected),
        cmocka_unit_test_teardown(test_differential_jansson, diff_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
