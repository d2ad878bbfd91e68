/* unz.h: decode what httpz made, with the real decoders (zlib's inflate, libbrotlidec), for unit
 * tests. */
#ifndef WSGATE_TEST_UNZ_H
#define WSGATE_TEST_UNZ_H

#include "wsgate/httpz.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#ifdef HAVE_BROTLIDEC
#include <brotli/decode.h>
#endif

/* Can unz_decode decode coding c here (br needs libbrotlidec)? */
static inline bool unz_can(httpz_coding c)
{
#ifdef HAVE_BROTLIDEC
    return true;
#else
    return c != HTTPZ_BR;
#endif
}

/* in[0..len) decoded from coding c into a new buffer (*outlen bytes; the
 * caller frees it), or NULL when it is not a complete, valid stream of c
 * that decodes to at most max bytes with nothing after its end. */
static inline unsigned char *unz_decode(httpz_coding c, const void *in, size_t len, size_t max,
                                        size_t *outlen)
{
    unsigned char *out = malloc(max + 1);
    *outlen = 0;
    if (c == HTTPZ_IDENTITY && len <= max) {
        memcpy(out, in, len);
        *outlen = len;
        return out;
    }
    if (c == HTTPZ_GZIP) {
        z_stream z;
        memset(&z, 0, sizeof(z));
        if (inflateInit2(&z, 15 + 16) != Z_OK) /* gzip wrapper only */
            goto fail;
        z.next_in = (Bytef *)in;
        z.avail_in = (uInt)len;
        z.next_out = out;
        z.avail_out = (uInt)(max + 1);
        int rc = inflate(&z, Z_FINISH);
        *outlen = z.total_out;
        bool whole = rc == Z_STREAM_END && z.avail_in == 0 && *outlen <= max;
        inflateEnd(&z);
        if (whole)
            return out;
    }
#ifdef HAVE_BROTLIDEC
    if (c == HTTPZ_BR) {
        size_t n = max + 1;
        if (BrotliDecoderDecompress(len, in, &n, out) == BROTLI_DECODER_RESULT_SUCCESS &&
            n <= max) {
            *outlen = n;
            return out;
        }
    }
#endif
fail:
    free(out);
    return NULL;
}

#endif
