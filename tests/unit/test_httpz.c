/* test_httpz.c: unit tests for content codings: the Accept-Encoding choice, gzip and br round
 * trips, ETags, variant sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/http.h"
#include "wsgate/httpz.h"

#include "unz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALL (HTTPZ_BIT(HTTPZ_IDENTITY) | HTTPZ_BIT(HTTPZ_GZIP) | HTTPZ_BIT(HTTPZ_BR))
#define ID  HTTPZ_IDENTITY
#define GZ  HTTPZ_GZIP
#define BR  HTTPZ_BR

static void test_choose(void **state)
{
    static const struct {
        const char *header; /* NULL: absent */
        unsigned offered;
        httpz_coding want;
    } cases[] = {
        {NULL, ALL, ID}, /* no header: identity (a client that asked for nothing) */
        {"", ALL, ID},   /* empty: identity only (RFC 9110 §12.5.3) */
        {"gzip", ALL, GZ},
        {"br", ALL, BR},
        {"gzip, br", ALL, BR}, /* equal weight: br */
        {"br, gzip", ALL, BR},
        {"gzip, deflate, br, zstd", ALL, BR},
        {"gzip;q=1, br;q=0.9", ALL, GZ}, /* the higher weight wins */
        {"br;q=0.5, gzip;q=0.5", ALL, BR},
        {"gzip;q=0.8,br;q=0.9", ALL, BR},
        {"gzip ; q=0.8 , br ; q=0.9", ALL, BR}, /* OWS around ; and , */
        {"GZIP", ALL, GZ},                      /* codings are case-insensitive */
        {"Br;Q=0.5", ALL, BR},
        {"x-gzip", ALL, GZ},
        {"gzip;q=0", ALL, ID}, /* q=0 refuses */
        {"gzip;q=0.000", ALL, ID},
        {"br;q=0, gzip", ALL, GZ},
        {"br;q=0, gzip;q=0", ALL, ID},
        {"*", ALL, BR}, /* anything: the best we have */
        {"*;q=0", ALL, ID},
        {"*, br;q=0", ALL, GZ},
        {"*;q=0.5, gzip", ALL, GZ},
        {"br;q=0.2, *;q=0.4", ALL, GZ}, /* * weighs gzip 0.4 here */
        {"identity", ALL, ID},
        {"deflate", ALL, ID},
        {"gzip;q=0.5, identity", ALL, ID}, /* identity weighs more */
        {"gzip;q=0.5, identity;q=0.5", ALL, GZ},
        {"gzip;q=0.5, *;q=0", ALL, GZ},
        {"*;q=0.3, identity;q=0.5, br;q=0.4", ALL, ID},
        {"gzip;q=0.001", ALL, GZ}, /* unlisted identity loses to any coding listed */
        {"identity;q=0", ALL, ID}, /* nothing acceptable: identity anyway, never 406 */
        {"identity;q=0, gzip;q=0.1", ALL, GZ},
        {"gzip;q=1.000", ALL, GZ},
        {"gzip;q=1.001", ALL, ID}, /* malformed weights: the element counts for nothing */
        {"gzip;q=2", ALL, ID},
        {"gzip;q=0.0001", ALL, ID},
        {"gzip;q=", ALL, ID},
        {"gzip;q", ALL, ID},
        {"gzip;q=abc, br", ALL, BR},
        {"gzip junk", ALL, ID},
        {"gzip;level=1;q=0.5", ALL, GZ}, /* other parameters are ignored */
        {",, gzip ,,", ALL, GZ},
        {"gzip;q=0, gzip", ALL, ID}, /* the first element naming a coding counts */
        {"gzipx, xbr", ALL, ID},
        {"br", HTTPZ_BIT(GZ), ID}, /* only what the body exists in */
        {"gzip, br", HTTPZ_BIT(GZ), GZ},
        {"*", HTTPZ_BIT(GZ), GZ},
        {"gzip, br", 0, ID},
        {"gzip, br", HTTPZ_BIT(BR), BR},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        httpz_coding got = httpz_choose(cases[i].header, cases[i].offered);
        if (got != cases[i].want)
            fail_msg("Accept-Encoding: %s (offered %#x): %d, want %d",
                     cases[i].header ? cases[i].header : "(absent)", cases[i].offered, got,
                     cases[i].want);
    }
}

static void test_names_and_etags(void **state)
{
    assert_null(httpz_name(ID));
    assert_string_equal(httpz_name(GZ), "gzip");
    assert_string_equal(httpz_name(BR), "br");
    assert_null(httpz_name((httpz_coding)7));

    char out[HTTPZ_ETAG_MAX];
    assert_int_equal(httpz_etag("\"abc\"", GZ, out), 0);
    assert_string_equal(out, "\"abc-gz\"");
    assert_int_equal(httpz_etag("\"abc\"", BR, out), 0);
    assert_string_equal(out, "\"abc-br\"");
    assert_int_equal(httpz_etag("\"abc\"", ID, out), 0);
    assert_string_equal(out, "\"abc\"");
    assert_int_equal(httpz_etag("W/\"abc\"", BR, out), 0);
    assert_string_equal(out, "W/\"abc-br\"");
    assert_int_equal(httpz_etag("abc", GZ, out), -EINVAL);
    assert_int_equal(httpz_etag("\"", GZ, out), -EINVAL);
    char longtag[HTTPZ_ETAG_MAX];
    memset(longtag, 'a', sizeof(longtag) - 1);
    longtag[0] = longtag[sizeof(longtag) - 4] = '"';
    longtag[sizeof(longtag) - 3] = '\0'; /* 61 bytes: no room for the suffix */
    assert_int_equal(httpz_etag(longtag, GZ, out), -EINVAL);
}

/* Text that compresses like the dashboard's files and the /api JSON. */
static char *sample_text(size_t n)
{
    char *s = malloc(n + 1);
    size_t len = 0;
    for (unsigned i = 0; len < n; i++) {
        char rec[128];
        int k =
            snprintf(rec, sizeof(rec), "{\"id\":\"b%u\",\"done\":%u,\"failed\":%u,\"rate\":%u.%u},",
                     i, i * 7 % 1000, i % 13, i % 97, i % 10);
        size_t take = len + (size_t)k > n ? n - len : (size_t)k;
        memcpy(s + len, rec, take);
        len += take;
    }
    s[n] = '\0';
    return s;
}

/* Bytes no coding can shrink. */
static unsigned char *sample_random(size_t n)
{
    unsigned char *p = malloc(n);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)x;
    }
    return p;
}

/* c of in[0..len) at effort: decodes back to exactly in, and is smaller when
 * in is text; returns the compressed length. */
static size_t roundtrip(httpz_coding c, httpz_effort effort, const void *in, size_t len)
{
    sbuf z;
    sbuf_init(&z, 0);
    sbuf_puts(&z, "kept"); /* httpz_compress appends */
    assert_int_equal(httpz_compress(c, effort, in, len, &z), 0);
    assert_memory_equal(sbuf_str(&z), "kept", 4);
    const unsigned char *enc = (const unsigned char *)sbuf_str(&z) + 4;
    size_t enclen = z.len - 4;
    if (c == GZ) { /* RFC 1952 magic, deflate, mtime 0: the same bytes every time */
        assert_true(enclen >= 18);
        assert_int_equal(enc[0], 0x1f);
        assert_int_equal(enc[1], 0x8b);
        assert_int_equal(enc[2], 8);
        assert_memory_equal(enc + 4, "\0\0\0\0", 4);
    }
    if (unz_can(c)) {
        size_t n;
        unsigned char *dec = unz_decode(c, enc, enclen, len, &n);
        if (!dec)
            fail_msg("coding %d, effort %d, %zu bytes: does not decode", c, effort, len);
        assert_int_equal(n, len);
        if (len)
            assert_memory_equal(dec, in, len);
        free(dec);
        /* A truncated stream is refused by the decoder: the check can fail. */
        if (enclen > 4)
            assert_null(unz_decode(c, enc, enclen - 3, len, &n));
    }
    sbuf_free(&z);
    return enclen;
}

static void test_roundtrip(void **state)
{
    static const size_t sizes[] = {0, 1, 100, 1024, 30000, 300000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *text = sample_text(sizes[i]);
        for (httpz_coding c = GZ; c <= BR; c++) {
            size_t st = roundtrip(c, HTTPZ_STATIC, text, sizes[i]);
            size_t dy = roundtrip(c, HTTPZ_DYNAMIC, text, sizes[i]);
            if (sizes[i] >= 1024) {
                assert_true(st < sizes[i] / 3); /* JSON-like text: well under a third */
                assert_true(dy < sizes[i] / 3);
                assert_true(st <= dy); /* more effort, no bigger */
            }
        }
        free(text);
    }
    unsigned char *rnd = sample_random(50000);
    roundtrip(GZ, HTTPZ_DYNAMIC, rnd, 50000);
    roundtrip(BR, HTTPZ_DYNAMIC, rnd, 50000);
    free(rnd);

    sbuf z;
    sbuf_init(&z, 0);
    assert_int_equal(httpz_compress(ID, HTTPZ_STATIC, "x", 1, &z), -EINVAL);
    assert_int_equal(httpz_compress((httpz_coding)9, HTTPZ_STATIC, "x", 1, &z), -EINVAL);
    assert_int_equal(z.len, 0);
    sbuf_free(&z);
}

/* Each variant of s decodes to data and is smaller; the ETags are the identity one with suffixes.
 */
static void check_set(const httpz_set *s, const void *data, size_t len, const char *etag)
{
    assert_true(s->offered & HTTPZ_BIT(ID));
    assert_null(s->data[ID]);
    assert_int_equal(s->len[ID], len);
    assert_string_equal(s->etag[ID], etag);
    for (httpz_coding c = GZ; c <= BR; c++) {
        if (!(s->offered & HTTPZ_BIT(c))) {
            assert_null(s->data[c]);
            assert_string_equal(s->etag[c], "");
            continue;
        }
        char want[HTTPZ_ETAG_MAX];
        assert_int_equal(httpz_etag(etag, c, want), 0);
        assert_string_equal(s->etag[c], want);
        assert_true(s->len[c] < len);
        if (!unz_can(c))
            continue;
        size_t n;
        unsigned char *dec = unz_decode(c, s->data[c], s->len[c], len, &n);
        assert_non_null(dec);
        assert_int_equal(n, len);
        assert_memory_equal(dec, data, len);
        free(dec);
    }
}

static void test_set(void **state)
{
    httpz_set s;
    char *text = sample_text(20000);
    httpz_set_init(&s, text, 20000, "\"0123456789abcdef\"", true);
    assert_int_equal(s.offered, ALL);
    check_set(&s, text, 20000, "\"0123456789abcdef\"");
    assert_true(s.len[BR] < s.len[GZ]); /* br 11 beats gzip 9 on text */
    httpz_set_fini(&s);

    /* Not to be compressed (an image): identity only. */
    httpz_set_init(&s, text, 20000, "\"x\"", false);
    assert_int_equal(s.offered, HTTPZ_BIT(ID));
    check_set(&s, text, 20000, "\"x\"");
    httpz_set_fini(&s);

    /* Bigger than HTTPZ_STATIC_MAX: compressed at the dynamic effort, still right. */
    char *big = sample_text(HTTPZ_STATIC_MAX + 1);
    httpz_set_init(&s, big, HTTPZ_STATIC_MAX + 1, "\"big\"", true);
    assert_int_equal(s.offered, ALL);
    check_set(&s, big, HTTPZ_STATIC_MAX + 1, "\"big\"");
    httpz_set_fini(&s);
    free(big);
    free(text);

    /* What does not shrink gets no variant. */
    unsigned char *rnd = sample_random(4096);
    httpz_set_init(&s, rnd, 4096, "\"r\"", true);
    assert_int_equal(s.offered, HTTPZ_BIT(ID));
    check_set(&s, rnd, 4096, "\"r\"");
    httpz_set_fini(&s);
    free(rnd);
    httpz_set_init(&s, "a", 1, "\"one\"", true);
    assert_int_equal(s.offered, HTTPZ_BIT(ID));
    httpz_set_fini(&s);
    httpz_set_init(&s, "", 0, "\"empty\"", true);
    assert_int_equal(s.offered, HTTPZ_BIT(ID));
    httpz_set_fini(&s);
}

/* Every embedded dashboard file of a text type has gzip and br variants
 * smaller than itself that decode to it. */
static void test_embedded_assets(void **state)
{
    size_t n = 0;
    for (const struct http_asset *a = http_assets; a->path; a++, n++) {
        const char *type = http_content_type(a->path);
        httpz_set s;
        httpz_set_init(&s, a->data, a->len, a->etag, true);
        check_set(&s, a->data, a->len, a->etag);
        if (a->len >= 1024 && (strncmp(type, "text/", 5) == 0))
            assert_int_equal(s.offered, ALL);
        httpz_set_fini(&s);
    }
    assert_true(n > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choose),          cmocka_unit_test(test_names_and_etags),
        cmocka_unit_test(test_roundtrip),       cmocka_unit_test(test_set),
        cmocka_unit_test(test_embedded_assets),
    };
#ifndef HAVE_BROTLIDEC
    fprintf(stderr, "test_httpz: no libbrotlidec: br streams are made but not decoded\n");
#endif
    return cmocka_run_group_tests(tests, NULL, NULL);
}
