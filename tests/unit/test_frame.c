/* test_frame.c: unit tests for refcounted frames and the growable byte buffer (sbuf). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/frame.h"
#include "wsgate/sbuf.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- frames ---- */

static void test_frame_create(void **state)
{
    const char data[] = "{\"op\":\"pong\"}";
    wsg_frame *f = frame_create(data, sizeof(data) - 1);
    assert_int_equal(f->refs, 1);
    assert_int_equal(f->len, sizeof(data) - 1);
    assert_int_equal(f->seq, 0);
    assert_int_equal(f->recv_ns, 0);
    assert_false(f->lastvalue);
    assert_null(f->subject);
    assert_ptr_not_equal(frame_data(f), (const unsigned char *)data); /* a copy */
    assert_memory_equal(frame_data(f), data, sizeof(data) - 1);
    assert_int_equal(frame_data(f) - f->mem, FRAME_PRE);
    assert_int_equal(frame_data(f)[f->len], '\0');
    memset(f->mem, 0, FRAME_PRE); /* the headroom is ours to write (ASan checks the bounds) */
    frame_unref(f);

    /* Empty payload. */
    f = frame_create("", 0);
    assert_int_equal(f->len, 0);
    assert_int_equal(f->refs, 1);
    assert_int_equal(frame_data(f)[0], '\0');
    frame_unref(f);

    /* Binary payload with NUL bytes is copied whole. */
    const unsigned char bin[] = {0, 1, 2, 0, 255};
    f = frame_create(bin, sizeof(bin));
    assert_int_equal(f->len, sizeof(bin));
    assert_memory_equal(frame_data(f), bin, sizeof(bin));
    frame_unref(f);
}

static void test_frame_refcount(void **state)
{
    wsg_frame *f = frame_create("abc", 3);
    assert_ptr_equal(frame_ref(f), f);
    assert_int_equal(f->refs, 2);
    assert_ptr_equal(frame_ref(f), f);
    assert_int_equal(f->refs, 3);
    frame_unref(f);
    assert_int_equal(f->refs, 2);
    frame_unref(f);
    assert_int_equal(f->refs, 1);
    assert_memory_equal(frame_data(f), "abc", 3); /* still alive */
    f->subject = strdup("a.b");                   /* owned: the last unref frees it */
    frame_unref(f);                               /* freed: LSan reports a leak otherwise */

    frame_unref(NULL); /* ignored */

    /* Many references, dropped in any order. */
    f = frame_create("x", 1);
    for (int i = 0; i < 1000; i++)
        frame_ref(f);
    assert_int_equal(f->refs, 1001);
    for (int i = 0; i < 1000; i++)
        frame_unref(f);
    assert_int_equal(f->refs, 1);
    frame_unref(f);
}

static void test_frame_from_sbuf(void **state)
{
    sbuf b;
    sbuf_init(&b, FRAME_PRE);
    sbuf_puts(&b, "{\"op\":\"ok\"");
    for (int i = 0; i < 100; i++) /* grow past the first allocation */
        sbuf_printf(&b, ",\"k%d\":%d", i, i);
    sbuf_putc(&b, '}');
    size_t len = b.len;
    char *copy = strdup(sbuf_str(&b));
    unsigned char *content = (unsigned char *)sbuf_str(&b);

    wsg_frame *f = frame_from_sbuf(&b);
    assert_int_equal(f->refs, 1);
    assert_int_equal(f->len, len);
    assert_ptr_equal(frame_data(f), content); /* the buffer is taken, not copied */
    assert_memory_equal(frame_data(f), copy, len);
    assert_int_equal(frame_data(f)[len], '\0');
    assert_null(f->subject);
    assert_int_equal(f->seq, 0);
    memset(f->mem, 0, FRAME_PRE);
    json_t *j = json_loadb((const char *)frame_data(f), f->len, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 101);
    json_decref(j);

    /* b is left empty: freeing or reusing it touches nothing of the frame. */
    assert_null(b.mem);
    assert_int_equal(b.len, 0);
    sbuf_free(&b);
    sbuf_init(&b, FRAME_PRE);
    sbuf_puts(&b, "second");
    wsg_frame *g = frame_from_sbuf(&b);
    assert_int_equal(g->len, 6);
    assert_memory_equal(frame_data(g), "second", 6);
    assert_memory_equal(frame_data(f), copy, len);

    /* An empty sbuf gives an empty frame. */
    sbuf_init(&b, FRAME_PRE);
    wsg_frame *h = frame_from_sbuf(&b);
    assert_int_equal(h->len, 0);
    assert_int_equal(frame_data(h)[0], '\0');

    frame_unref(h);
    frame_unref(g);
    frame_unref(f);
    free(copy);
}

/* ---- sbuf ---- */

static void test_sbuf_basics(void **state)
{
    sbuf b;
    sbuf_init(&b, 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.head, 0);
    assert_string_equal(sbuf_str(&b), "");

    sbuf_puts(&b, "abc");
    sbuf_putc(&b, 'd');
    sbuf_put(&b, "ef\0gh", 5);
    assert_int_equal(b.len, 9);
    assert_memory_equal(sbuf_str(&b), "abcdef\0gh", 10); /* NUL-terminated after the content */
    sbuf_put(&b, "", 0);
    assert_int_equal(b.len, 9);

    sbuf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(sbuf_str(&b), "");
    sbuf_puts(&b, "again");
    assert_string_equal(sbuf_str(&b), "again");
    sbuf_free(&b);
    assert_null(b.mem);

    /* Headroom: content after `head` bytes that belong to us. */
    sbuf_init(&b, 16);
    assert_int_equal(b.head, 16);
    sbuf_puts(&b, "payload");
    assert_ptr_equal(sbuf_str(&b), (char *)b.mem + 16);
    memset(b.mem, 'H', 16);
    assert_string_equal(sbuf_str(&b), "payload");
    for (int i = 0; i < 1000; i++)
        sbuf_putc(&b, (char)('a' + i % 26));
    assert_int_equal(b.len, 1007);
    assert_true(b.cap >= b.len);
    memset(b.mem, 'H', 16); /* the headroom survives growth */
    assert_memory_equal(sbuf_str(&b), "payloadabc", 10);
    assert_int_equal(sbuf_str(&b)[1007], '\0');
    sbuf_free(&b);

    /* Initialised again after free. */
    sbuf_init(&b, 0);
    sbuf_puts(&b, "x");
    assert_string_equal(sbuf_str(&b), "x");
    sbuf_free(&b);
}

static void test_sbuf_printf(void **state)
{
    sbuf b;
    sbuf_init(&b, 8);
    sbuf_printf(&b, "%d-%s-%llu", 42, "x", 18446744073709551615ULL);
    assert_string_equal(sbuf_str(&b), "42-x-18446744073709551615");
    sbuf_printf(&b, "%s", ""); /* nothing */
    assert_int_equal(b.len, strlen("42-x-18446744073709551615"));

    /* One call much larger than the capacity. */
    sbuf_reset(&b);
    sbuf_printf(&b, "[%5000d]", 7);
    assert_int_equal(b.len, 5002);
    assert_int_equal(sbuf_str(&b)[0], '[');
    assert_int_equal(sbuf_str(&b)[5000], '7');
    assert_int_equal(sbuf_str(&b)[5001], ']');
    assert_int_equal(sbuf_str(&b)[5002], '\0');

    /* Many small calls: same text as one snprintf into a big buffer. */
    sbuf_reset(&b);
    char *want = malloc(200000);
    size_t off = 0;
    for (int i = 0; i < 10000; i++) {
        sbuf_printf(&b, "%d,", i * 7919);
        off += (size_t)snprintf(want + off, 200000 - off, "%d,", i * 7919);
    }
    assert_int_equal(b.len, off);
    assert_string_equal(sbuf_str(&b), want);
    free(want);
    sbuf_free(&b);
}

/* Decode sbuf_json_str's output with jansson and compare with the input bytes. */
static void check_json_str(const char *s, size_t n)
{
    sbuf b;
    sbuf_init(&b, 0);
    sbuf_puts(&b, "pre");
    sbuf_json_str(&b, s, n);
    assert_memory_equal(sbuf_str(&b), "pre\"", 4);
    assert_int_equal(sbuf_str(&b)[b.len - 1], '"');
    json_error_t err;
    json_t *j = json_loadb(sbuf_str(&b) + 3, b.len - 3, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!j)
        fail_msg("not a JSON string (%s): %s", err.text, sbuf_str(&b));
    assert_true(json_is_string(j));
    assert_int_equal(json_string_length(j), n);
    assert_memory_equal(json_string_value(j), s, n);
    /* No raw control characters in the output. */
    for (size_t i = 0; i < b.len; i++)
        assert_true((unsigned char)sbuf_str(&b)[i] >= 0x20);
    json_decref(j);
    sbuf_free(&b);
}

static void test_sbuf_json_str(void **state)
{
    sbuf b;
    sbuf_init(&b, 0);
    sbuf_json_str(&b, "", 0);
    assert_string_equal(sbuf_str(&b), "\"\"");
    sbuf_reset(&b);
    sbuf_json_str(&b, "plain / text", 12);
    assert_string_equal(sbuf_str(&b), "\"plain / text\"");
    sbuf_reset(&b);
    sbuf_json_str(&b, "q\"b\\n\nr\rt\t", 10);
    assert_string_equal(sbuf_str(&b), "\"q\\\"b\\\\n\\nr\\rt\\t\"");
    sbuf_reset(&b);
    sbuf_json_str(&b, "\x01\x1f\b\f\x7f", 5);
    assert_string_equal(sbuf_str(&b), "\"\\u0001\\u001f\\u0008\\u000c\x7f\"");
    sbuf_reset(&b);
    sbuf_json_str(&b, "a\0b", 3);
    assert_string_equal(sbuf_str(&b), "\"a\\u0000b\"");
    sbuf_reset(&b);
    sbuf_json_str(&b, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9); /* UTF-8 passes through */
    assert_string_equal(sbuf_str(&b), "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    sbuf_reset(&b);
    sbuf_json_str(&b, "abcdef", 3); /* only n bytes */
    assert_string_equal(sbuf_str(&b), "\"abc\"");
    sbuf_free(&b);

    /* Every byte 0x00..0x7f, one at a time and all together. */
    char all[128];
    for (int c = 0; c < 128; c++) {
        all[c] = (char)c;
        check_json_str(all + c, 1);
    }
    check_json_str(all, sizeof(all));

    /* Random strings of escapes and multibyte characters, long enough to grow. */
    static const char *const pieces[] = {
        "a", "\"", "\\", "\n", "\x01", "\x1f", "\xc3\xa9", "\xf0\x9f\x98\x80", " ", "\0"};
    uint32_t x = 7;
    for (int round = 0; round < 200; round++) {
        char s[4096];
        size_t n = 0;
        while (n < (size_t)(round * 20)) {
            x = x * 1664525 + 1013904223;
            size_t k = (x >> 16) % (sizeof(pieces) / sizeof(pieces[0]));
            size_t plen = k == 9 ? 1 : strlen(pieces[k]);
            memcpy(s + n, pieces[k], plen);
            n += plen;
        }
        check_json_str(s, n);
    }
}

static void test_sbuf_base64(void **state)
{
    /* RFC 4648, section 10. */
    static const char *const vec[][2] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    sbuf b;
    sbuf_init(&b, 0);
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        sbuf_reset(&b);
        sbuf_base64(&b, vec[i][0], strlen(vec[i][0]));
        assert_string_equal(sbuf_str(&b), vec[i][1]);
        assert_int_equal(b.len, strlen(vec[i][1]));
    }
    /* High bits and every alphabet character (incl. '+' and '/'). */
    sbuf_reset(&b);
    sbuf_base64(&b, "\xff\xfe\xfd", 3);
    assert_string_equal(sbuf_str(&b), "//79");
    sbuf_reset(&b);
    sbuf_base64(&b, "\xfb\xff", 2);
    assert_string_equal(sbuf_str(&b), "+/8=");
    sbuf_reset(&b);
    sbuf_base64(&b, "\0\0\0\0", 4);
    assert_string_equal(sbuf_str(&b), "AAAAAA==");
    sbuf_reset(&b);
    unsigned char seq[48];
    for (int i = 0; i < 48; i++) /* bytes whose 6-bit groups walk the alphabet */
        seq[i] = (unsigned char)((i % 3 == 0) ? ((4 * i / 3) << 2) | ((4 * i / 3 + 1) >> 4)
                                 : (i % 3 == 1)
                                     ? (((4 * (i / 3) + 1) & 15) << 4) | ((4 * (i / 3) + 2) >> 2)
                                     : (((4 * (i / 3) + 2) & 3) << 6) | (4 * (i / 3) + 3));
    sbuf_base64(&b, seq, sizeof(seq));
    assert_string_equal(sbuf_str(&b),
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");

    /* Appends after existing content, and grows for a large input. */
    sbuf_reset(&b);
    sbuf_puts(&b, "x=");
    sbuf_base64(&b, "foobar", 6);
    sbuf_putc(&b, ';');
    assert_string_equal(sbuf_str(&b), "x=Zm9vYmFy;");
    sbuf_reset(&b);
    size_t n = 30001;
    unsigned char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (unsigned char)(i * 31 + 7);
    sbuf_base64(&b, big, n);
    assert_int_equal(b.len, (n + 2) / 3 * 4);
    assert_int_equal(sbuf_str(&b)[b.len], '\0');
    assert_int_equal(sbuf_str(&b)[b.len - 1], '=');
    assert_int_equal(sbuf_str(&b)[b.len - 2], '=');
    free(big);
    sbuf_free(&b);
}

static void test_sbuf_release(void **state)
{
    sbuf b;
    sbuf_init(&b, 4);
    sbuf_puts(&b, "owned");
    unsigned char *m = sbuf_release(&b);
    assert_non_null(m);
    assert_string_equal((char *)m + 4, "owned");
    assert_null(b.mem);
    assert_int_equal(b.len, 0);
    sbuf_free(&b); /* harmless on a released buffer */
    free(m);

    /* Released then initialised again. */
    sbuf_init(&b, 0);
    sbuf_puts(&b, "one");
    m = sbuf_release(&b);
    sbuf_init(&b, 0);
    sbuf_puts(&b, "two");
    assert_string_equal((char *)m, "one");
    assert_string_equal(sbuf_str(&b), "two");
    free(m);
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_create),    cmocka_unit_test(test_frame_refcount),
        cmocka_unit_test(test_frame_from_sbuf), cmocka_unit_test(test_sbuf_basics),
        cmocka_unit_test(test_sbuf_printf),     cmocka_unit_test(test_sbuf_json_str),
        cmocka_unit_test(test_sbuf_base64),     cmocka_unit_test(test_sbuf_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
