/* fuzz_jwt.c: libFuzzer target for auth_verify with fixed HS256, RS256 and ES256 keys. */
#include "fuzz.h"
#include "wsgate/auth.h"
#include "wsgate/subject.h"
#include "wsgate/xmalloc.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The first input byte picks a mode (modulo 5), the rest is its argument:
 *   0, 1, 2  a raw token for the HS256, RS256 or ES256 key;
 *   3        a signing input "header.payload": the target appends a valid
 *            HS256 signature, so the payload decoding and claims are reached;
 *   4        "header JSON\npayload JSON": the target encodes and signs both,
 *            so the fuzzer works on the claims themselves.
 * The HS256 seeds in corpus/jwt are signed with SECRET.
 */

#define NOW 1700000000LL

static const char SECRET[] = "wsgate-fuzz-secret";
static auth *keys[3];

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* auth_create from data written to a temporary file (secret or PEM). */
static auth *fuzz_load(const void *data, size_t n, bool is_secret)
{
    char path[] = "/tmp/fuzz_jwt_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, data, n) != (ssize_t)n)
        abort();
    close(fd);
    char err[256];
    auth *a = auth_create(is_secret ? path : NULL, is_secret ? NULL : path, err, sizeof err);
    unlink(path);
    if (!a) {
        fprintf(stderr, "fuzz_jwt: %s\n", err);
        abort();
    }
    return a;
}

static auth *fuzz_load_key(EVP_PKEY *key)
{
    BIO *mem = BIO_new(BIO_s_mem());
    char *pem = NULL;
    if (!key || !mem || PEM_write_bio_PUBKEY(mem, key) != 1)
        abort();
    long n = BIO_get_mem_data(mem, &pem);
    auth *a = fuzz_load(pem, (size_t)n, false);
    BIO_free(mem);
    EVP_PKEY_free(key);
    return a;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    keys[0] = fuzz_load(SECRET, strlen(SECRET), true);
    keys[1] = fuzz_load_key(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048));
    keys[2] = fuzz_load_key(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
    return 0;
}

/* Append unpadded base64url of p[0..n) to out (room for n / 3 * 4 + 4 bytes). */
static size_t fuzz_b64url(char *out, const unsigned char *p, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        size_t chars = n - i >= 3 ? 4 : n - i + 1;
        for (size_t k = 0; k < chars; k++)
            out[o++] = abc[v >> (18 - 6 * k) & 63];
    }
    return o;
}

/* Append "." and the HS256 signature of token[0..len) to token. */
static size_t fuzz_sign(char *token, size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, SECRET, strlen(SECRET),
                   (const unsigned char *)token, len, mac, sizeof mac, &maclen))
        abort();
    token[len++] = '.';
    return len + fuzz_b64url(token + len, mac, maclen);
}

/* Verify and check what auth_verify promises about its results. */
static void fuzz_verify(const auth *a, const char *token, size_t len)
{
    auth_claims c;
    const char *reason = NULL;
    if (auth_verify(a, token, len, NOW, &c, &reason) != 0) {
        if (!reason || c.subs || c.nsubs)
            abort();
        return;
    }
    if (c.exp <= NOW || strnlen(c.sub, sizeof c.sub) >= sizeof c.sub)
        abort();
    for (size_t i = 0; i < c.nsubs; i++) {
        if (!subject_pattern_valid(c.subs[i]) || !auth_claims_allow(&c, c.subs[i]))
            abort();
    }
    auth_claims_allow(&c, "license.b42.*");
    auth_claims_clear(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 2 * AUTH_TOKEN_MAX)
        return 0;
    unsigned mode = data[0] % 5;
    const char *arg = (const char *)data + 1;
    size_t n = size - 1;
    if (mode < 3) {
        fuzz_verify(keys[mode], arg, n);
        return 0;
    }
    /* Room for the encoded parts, two dots and a signature. */
    char *token = xmalloc(n / 3 * 4 + 128);
    size_t len = 0;
    if (mode == 3) {
        memcpy(token, arg, n);
        len = n;
    } else {
        const char *nl = memchr(arg, '\n', n);
        size_t hlen = nl ? (size_t)(nl - arg) : n;
        len = fuzz_b64url(token, (const unsigned char *)arg, hlen);
        token[len++] = '.';
        if (nl)
            len += fuzz_b64url(token + len, (const unsigned char *)nl + 1, n - hlen - 1);
    }
    len = fuzz_sign(token, len);
    fuzz_verify(keys[0], token, len);
    free(token);
    return 0;
}
