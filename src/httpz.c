/* httpz.c: content codings for HTTP responses (see httpz.h): Accept-Encoding, gzip (zlib), br
 * (libbrotlienc). */
#include "wsgate/httpz.h"

#include "wsgate/httptoken.h"

#include "wsgate/xmalloc.h"

#include <brotli/encode.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define HTTPZ_GZIP_STATIC  9
#define HTTPZ_GZIP_DYNAMIC 3                  /* zlib's fast path (deflate_fast: levels 1-3) */
#define HTTPZ_BR_STATIC    BROTLI_MAX_QUALITY /* 11 */
#define HTTPZ_BR_DYNAMIC   4
#define HTTPZ_LEN_MAX      ((size_t)1 << 30)
#define HTTPZ_UNLISTED     (-1) /* a weight Accept-Encoding does not give */

static const char *const httpz_names[HTTPZ_CODINGS] = {NULL, "gzip", "br"};
static const char *const httpz_suffix[HTTPZ_CODINGS] = {"", "-gz", "-br"};

const char *httpz_name(httpz_coding c)
{
    return (unsigned)c < HTTPZ_CODINGS ? httpz_names[c] : NULL;
}

/* Weights of one Accept-Encoding header, in thousandths, HTTPZ_UNLISTED when absent. */
typedef struct httpz_accept {
    int q[HTTPZ_CODINGS];
    int star;
} httpz_accept;

static const char *httpz_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* A qvalue (RFC 9110 §12.4.2: "0", "0.5", "1.000") of n bytes at p in
 * thousandths, or -1 when it is not one. */
static int httpz_qvalue(const char *p, size_t n)
{
    if (n == 0 || (p[0] != '0' && p[0] != '1') || (n > 1 && (p[1] != '.' || n > 5)))
        return -1;
    int q = (p[0] - '0') * 1000, scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        q += (p[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

/* Parse one element "coding *( OWS ; OWS param )" at p (OWS skipped):
 * sets *coding (-1 for a coding we do not make, -2 for `*`) and *q; returns
 * the end of the element (at ',' or the NUL). *q is -1 for a malformed element. */
static const char *httpz_element(const char *p, int *coding, int *q)
{
    const char *name = p;
    while (httptoken_char((unsigned char)*p))
        p++;
    size_t n = (size_t)(p - name);
    *q = n ? 1000 : -1;
    if (n == 1 && name[0] == '*')
        *coding = -2;
    else if ((n == 4 && strncasecmp(name, "gzip", 4) == 0) ||
             (n == 6 && strncasecmp(name, "x-gzip", 6) == 0))
        *coding = HTTPZ_GZIP;
    else if (n == 2 && strncasecmp(name, "br", 2) == 0)
        *coding = HTTPZ_BR;
    else if (n == 8 && strncasecmp(name, "identity", 8) == 0)
        *coding = HTTPZ_IDENTITY;
    else
        *coding = -1;
    for (p = httpz_ows(p); *p == ';'; p = httpz_ows(p)) {
        p = httpz_ows(p + 1);
        const char *pn = p;
        while (httptoken_char((unsigned char)*p))
            p++;
        bool is_q = p - pn == 1 && (*pn == 'q' || *pn == 'Q');
        p = httpz_ows(p);
        if (*p != '=') {
            *q = -1;
            break;
        }
        p = httpz_ows(p + 1);
        const char *v = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        if (is_q && *q >= 0)
            *q = httpz_qvalue(v, (size_t)(p - v));
    }
    if (*p && *p != ',')
        *q = -1; /* junk after the element */
    while (*p && *p != ',')
        p++;
    return p;
}

/* The weights of header s; the first element naming a coding counts, a
 * malformed element counts for nothing. */
static void httpz_parse(const char *s, httpz_accept *a)
{
    for (int i = 0; i < HTTPZ_CODINGS; i++)
        a->q[i] = HTTPZ_UNLISTED;
    a->star = HTTPZ_UNLISTED;
    for (const char *p = s; *p;) {
        p = httpz_ows(p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (!*p)
            break;
        int coding, q;
        p = httpz_element(p, &coding, &q);
        if (q < 0)
            continue;
        int *slot = coding == -2 ? &a->star : coding >= 0 ? &a->q[coding] : NULL;
        if (slot && *slot == HTTPZ_UNLISTED)
            *slot = q;
    }
}

httpz_coding httpz_choose(const char *accept_encoding, unsigned offered)
{
    static const httpz_coding order[] = {HTTPZ_BR, HTTPZ_GZIP}; /* preferred first */
    if (!accept_encoding)
        return HTTPZ_IDENTITY;
    httpz_accept a;
    httpz_parse(accept_encoding, &a);
    httpz_coding best = HTTPZ_IDENTITY;
    int bestq = 0;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        httpz_coding c = order[i];
        int q = a.q[c] != HTTPZ_UNLISTED ? a.q[c] : a.star != HTTPZ_UNLISTED ? a.star : 0;
        if ((offered & HTTPZ_BIT(c)) && q > bestq) {
            best = c;
            bestq = q;
        }
    }
    int idq = a.q[HTTPZ_IDENTITY] != HTTPZ_UNLISTED ? a.q[HTTPZ_IDENTITY] : a.star;
    return best != HTTPZ_IDENTITY && bestq >= idq ? best : HTTPZ_IDENTITY;
}

int httpz_etag(const char *etag, httpz_coding c, char out[HTTPZ_ETAG_MAX])
{
    size_t n = strlen(etag);
    if ((unsigned)c >= HTTPZ_CODINGS || n < 2 || etag[n - 1] != '"' ||
        n + strlen(httpz_suffix[c]) >= HTTPZ_ETAG_MAX)
        return -EINVAL;
    size_t m = strlen(httpz_suffix[c]);
    memmove(out, etag, n - 1); /* out may be etag (identity) */
    memcpy(out + n - 1, httpz_suffix[c], m);
    memcpy(out + n - 1 + m, "\"", 2);
    return 0;
}

/* gzip (RFC 1952: a zero mtime, so the same input gives the same bytes) of
 * in[0..len) into a new buffer: 0 with *out and *outlen, or -EIO. The
 * window shrinks to the input (less memory for small bodies). */
static int httpz_gzip(int level, const unsigned char *in, size_t len, unsigned char **out,
                      size_t *outlen)
{
    int wbits = 9;
    while (wbits < 15 && ((size_t)1 << wbits) < len)
        wbits++;
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, level, Z_DEFLATED, wbits + 16, level >= 9 ? 9 : 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return -EIO;
    uLong cap = deflateBound(&z, (uLong)len);
    unsigned char *buf = xmalloc(cap);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *outlen = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -EIO;
    }
    *out = buf;
    return 0;
}

/* br of in[0..len) into a new buffer: 0 with *out and *outlen, or -EIO. The
 * window is the smallest that holds the input (a small decoder window). */
static int httpz_br(int quality, const unsigned char *in, size_t len, unsigned char **out,
                    size_t *outlen)
{
    int lgwin = BROTLI_MIN_WINDOW_BITS;
    while (lgwin < BROTLI_MAX_WINDOW_BITS && ((size_t)1 << lgwin) - 16 < len)
        lgwin++;
    size_t cap = BrotliEncoderMaxCompressedSize(len);
    if (cap == 0)
        return -EIO;
    unsigned char *buf = xmalloc(cap);
    *outlen = cap;
    if (!BrotliEncoderCompress(quality, lgwin, BROTLI_MODE_GENERIC, len, in, outlen, buf)) {
        free(buf);
        return -EIO;
    }
    *out = buf;
    return 0;
}

/* in[0..len) in coding c into a new buffer (see httpz_compress). */
static int httpz_encode(httpz_coding c, httpz_effort effort, const void *in, size_t len,
                        unsigned char **out, size_t *outlen)
{
    if (len > HTTPZ_LEN_MAX)
        return -EFBIG;
    bool dyn = effort == HTTPZ_DYNAMIC;
    if (c == HTTPZ_GZIP)
        return httpz_gzip(dyn ? HTTPZ_GZIP_DYNAMIC : HTTPZ_GZIP_STATIC, in, len, out, outlen);
    if (c == HTTPZ_BR)
        return httpz_br(dyn ? HTTPZ_BR_DYNAMIC : HTTPZ_BR_STATIC, in, len, out, outlen);
    return -EINVAL;
}

int httpz_compress(httpz_coding c, httpz_effort effort, const void *in, size_t len, sbuf *out)
{
    unsigned char *buf;
    size_t n;
    int rc = httpz_encode(c, effort, in, len, &buf, &n);
    if (rc != 0)
        return rc;
    sbuf_put(out, buf, n);
    free(buf);
    return 0;
}

void httpz_set_init(httpz_set *s, const void *data, size_t len, const char *etag, bool compress)
{
    memset(s, 0, sizeof(*s));
    s->offered = HTTPZ_BIT(HTTPZ_IDENTITY);
    s->len[HTTPZ_IDENTITY] = len;
    if (httpz_etag(etag, HTTPZ_IDENTITY, s->etag[HTTPZ_IDENTITY]) != 0)
        snprintf(s->etag[HTTPZ_IDENTITY], HTTPZ_ETAG_MAX, "%s", etag); /* not one to suffix */
    httpz_effort effort = len <= HTTPZ_STATIC_MAX ? HTTPZ_STATIC : HTTPZ_DYNAMIC;
    for (httpz_coding c = HTTPZ_GZIP; compress && c < HTTPZ_CODINGS; c++) {
        if (httpz_etag(etag, c, s->etag[c]) != 0 ||
            httpz_encode(c, effort, data, len, &s->data[c], &s->len[c]) != 0 ||
            s->len[c] >= len) { /* failed, or no smaller: not worth a variant */
            free(s->data[c]);
            s->data[c] = NULL;
            s->len[c] = 0;
            s->etag[c][0] = '\0';
            continue;
        }
        s->offered |= HTTPZ_BIT(c);
    }
}

void httpz_set_fini(httpz_set *s)
{
    for (int c = 0; c < HTTPZ_CODINGS; c++)
        free(s->data[c]);
    memset(s, 0, sizeof(*s));
}
