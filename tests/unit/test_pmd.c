/* test_pmd.c: permessage-deflate offers (RFC 7692 section 7), our answer, and inflating client
 * messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/pmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static int negotiate(const char *offer, pmd_params *p)
{
    memset(p, 0xa5, sizeof(*p));
    return pmd_negotiate(offer, p);
}

static void test_offers_taken(void **state)
{
    pmd_params p;
    /* Chromium's and Firefox's offer */
    assert_int_equal(negotiate("permessage-deflate; client_max_window_bits", &p), 0);
    assert_int_equal(p.server_bits, 15);
    assert_false(p.server_bits_asked);
    assert_false(p.server_no_takeover);
    /* Node's ws with serverMaxWindowBits, spaces and tabs, quoted value */
    assert_int_equal(
        negotiate("permessage-deflate;server_max_window_bits=\"10\" ;\tclient_max_window_bits=12",
                  &p),
        0);
    assert_int_equal(p.server_bits, 10);
    assert_true(p.server_bits_asked);
    assert_int_equal(
        negotiate("permessage-deflate; server_no_context_takeover; client_no_context_takeover", &p),
        0);
    assert_true(p.server_no_takeover);
    /* the first acceptable offer wins: 8 bits cannot be honoured, unknown extensions are skipped */
    assert_int_equal(
        negotiate("x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=8, "
                  "permessage-deflate; server_max_window_bits=11, permessage-deflate",
                  &p),
        0);
    assert_int_equal(p.server_bits, 11);
    assert_int_equal(negotiate("foo; a=1; b=\"x\", permessage-deflate", &p), 0);
    assert_int_equal(p.server_bits, 15);
}

static void test_offers_declined(void **state)
{
    pmd_params p;
    static const char *const bad[] = {
        "",
        "x-webkit-deflate-frame",
        "permessage-deflate; server_max_window_bits=8", /* zlib needs 9 */
        "permessage-deflate; server_max_window_bits",   /* a value is required */
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=x",
        "permessage-deflate; unknown_param",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; ; ",
        "permessage-deflate; server_max_window_bits=\"1",
        "permessage-deflate garbage",
        "permessage-deflate; client_max_window_bits=\"\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (negotiate(bad[i], &p) != -ENOENT)
            fail_msg("accepted: %s", bad[i]);
    }
}

static void test_answer(void **state)
{
    char buf[128];
    pmd_params p = {.server_bits = 15};
    assert_int_equal(pmd_answer(&p, buf, sizeof(buf)), (int)strlen("; client_no_context_takeover"));
    assert_string_equal(buf, "; client_no_context_takeover");
    p = (pmd_params){.server_bits = 10, .server_bits_asked = true, .server_no_takeover = true};
    pmd_answer(&p, buf, sizeof(buf));
    assert_string_equal(buf, "; client_no_context_takeover; server_no_context_takeover; "
                             "server_max_window_bits=10");
    assert_int_equal(pmd_answer(&p, buf, 20), -ENOSPC);
}

/* Compress as a client does (raw deflate, sync flush, the tail taken off). */
static size_t client_deflate(const void *in, size_t len, unsigned char *out, size_t cap, int level)
{
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_SYNC_FLUSH), Z_OK);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    assert_memory_equal(out + n - 4, "\x00\x00\xff\xff", 4);
    return n - 4;
}

static void test_inflate(void **state)
{
    const char msg[] = "{\"op\":\"sub\",\"subject\":\"license.>\",\"id\":\"1\"}";
    unsigned char z[256];
    sbuf out;
    sbuf_init(&out, 0);
    for (int round = 0; round < 3; round++) { /* the one inflater is reused */
        size_t n = client_deflate(msg, strlen(msg), z, sizeof(z), round * 4 + 1);
        assert_int_equal(pmd_inflate(z, n, 65536, &out), 0);
        assert_int_equal(out.len, strlen(msg));
        assert_memory_equal(sbuf_str(&out), msg, strlen(msg));
    }
    /* a final block (BFINAL) is fine too; garbage after it is not */
    unsigned long zl = sizeof(z);
    z_stream s = {0};
    deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    s.next_in = (unsigned char *)msg, s.avail_in = (uInt)strlen(msg), s.next_out = z,
    s.avail_out = (uInt)zl;
    assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
    size_t n = zl - s.avail_out;
    deflateEnd(&s);
    assert_int_equal(pmd_inflate(z, n, 65536, &out), 0);
    assert_int_equal(out.len, strlen(msg));
    z[n] = 'x';
    z[n + 1] = 'y';
    assert_int_equal(pmd_inflate(z, n + 2, 65536, &out), -EINVAL);
    /* not deflate at all */
    assert_int_equal(pmd_inflate("\xff\xff\xff\xff", 4, 65536, &out), -EINVAL);
    /* empty message (a lone empty stored block is what clients send) */
    assert_int_equal(pmd_inflate("\x00", 1, 65536, &out), 0);
    assert_int_equal(out.len, 0);
    sbuf_free(&out);
    pmd_fini();
}

/* A decompression bomb stops at max: 16 MiB of zeros compress to ~16 KiB. */
static void test_bomb(void **state)
{
    size_t big = 16u << 20;
    unsigned char *zeros = calloc(1, big), *z = malloc(64 * 1024);
    size_t n = client_deflate(zeros, big, z, 64 * 1024, 9);
    assert_true(n < 32 * 1024);
    sbuf out;
    sbuf_init(&out, 0);
    assert_int_equal(pmd_inflate(z, n, 65536, &out), -EMSGSIZE);
    assert_true(out.cap < 256 * 1024); /* memory bounded by max, not by what it would inflate to */
    /* exactly max is fine, one more is not */
    n = client_deflate(zeros, 65536, z, 64 * 1024, 9);
    assert_int_equal(pmd_inflate(z, n, 65536, &out), 0);
    assert_int_equal(out.len, 65536);
    n = client_deflate(zeros, 65537, z, 64 * 1024, 9);
    assert_int_equal(pmd_inflate(z, n, 65536, &out), -EMSGSIZE);
    sbuf_free(&out);
    free(zeros);
    free(z);
    pmd_fini();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offers_taken), cmocka_unit_test(test_offers_declined),
        cmocka_unit_test(test_answer),       cmocka_unit_test(test_inflate),
        cmocka_unit_test(test_bomb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
