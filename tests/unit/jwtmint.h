/* jwtmint.h: JWTs minted in unit tests: base64url and HS256 tokens (header-only, for tests). */
#ifndef WSGATE_TEST_JWTMINT_H
#define WSGATE_TEST_JWTMINT_H

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The base64url alphabet (RFC 4648 section 5). */
#define JWTMINT_B64URL "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/* Base64url of p[0..n) without padding (caller frees). */
static inline char *jwtmint_b64url(const unsigned char *p, size_t n)
{
    static const char abc[] = JWTMINT_B64URL;
    char *out = malloc(n / 3 * 4 + 5);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = abc[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = abc[v & 63];
    }
    out[o] = '\0';
    return out;
}

/* An HS256 token for payload, signed with key (caller frees; NULL if HMAC failed). */
static inline char *jwtmint_hs256(const char *key, const char *payload)
{
    const char *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *h = jwtmint_b64url((const unsigned char *)header, strlen(header));
    char *p = jwtmint_b64url((const unsigned char *)payload, strlen(payload));
    size_t inlen = strlen(h) + strlen(p) + 2;
    char *input = malloc(inlen);
    snprintf(input, inlen, "%s.%s", h, p);
    unsigned char sig[64];
    size_t siglen = sizeof(sig);
    char *tok = NULL;
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, strlen(key),
                  (const unsigned char *)input, strlen(input), sig, siglen, &siglen)) {
        char *sg = jwtmint_b64url(sig, siglen);
        size_t n = strlen(input) + strlen(sg) + 2;
        tok = malloc(n);
        snprintf(tok, n, "%s.%s", input, sg);
        free(sg);
    }
    free(h);
    free(p);
    free(input);
    return tok;
}

#endif
