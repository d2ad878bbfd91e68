/* auth.c: compact JWT verification with the algorithm pinned by the configured key (see auth.h). */
#include "wsgate/auth.h"

#include "wsgate/subject.h"
#include "wsgate/utf8.h"
#include "wsgate/xmalloc.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define AUTH_SECRET_MAX   (1024 * 1024) /* a bigger "secret file" is a configuration mistake */
#define AUTH_RSA_MIN_BITS 2048
#define AUTH_HS256_MIN    32  /* bytes: RFC 7518 3.2, a key at least as long as the hash */
#define AUTH_KID_MAX      128 /* bytes of a key id (a file name in a key directory) */

enum auth_alg { AUTH_HS256, AUTH_RS256, AUTH_ES256 };

static const char *const auth_alg_names[] = {"HS256", "RS256", "ES256"};

/* One verification key; its algorithm is pinned by what it is. */
typedef struct auth_key {
    char *kid; /* the file name in a key directory; NULL for a key file */
    enum auth_alg alg;
    unsigned char *secret; /* HS256 */
    size_t secretlen;
    EVP_PKEY *pkey; /* RS256, ES256 */
} auth_key;

struct auth {
    auth_key *keys; /* one (a key file) or a directory's, sorted by kid */
    size_t nkeys;
    char *audience;   /* required in "aud" when set */
    char *issuer;     /* required as "iss" when set */
    bool es256_low_s; /* refuse ES256 signatures with S above n/2 */
};

/* Read the secret file whole into k; one trailing newline is not part of
 * the key. 0, or -EINVAL with a reason naming the file in err. */
static int auth_load_secret(const char *path, auth_key *k, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "jwt secret file %s: %s", path, strerror(errno));
        return -EINVAL;
    }
    /* Room for the largest secret, its newline, and one byte to detect more. */
    size_t cap = AUTH_SECRET_MAX + 2;
    unsigned char *buf = xmalloc(cap);
    size_t n = fread(buf, 1, cap, f);
    bool failed = ferror(f);
    fclose(f);
    if (n > 0 && n < cap && buf[n - 1] == '\n')
        n--;
    const char *why = NULL;
    if (failed)
        why = "read error";
    else if (n > AUTH_SECRET_MAX)
        why = "larger than 1 MiB";
    else if (n == 0)
        why = "empty secret";
    else if (n < AUTH_HS256_MIN)
        why = "shorter than 32 bytes (HS256 needs a 256-bit key)";
    if (why) {
        snprintf(err, errlen, "jwt secret file %s: %s", path, why);
        OPENSSL_cleanse(buf, cap);
        free(buf);
        return -EINVAL;
    }
    k->alg = AUTH_HS256;
    k->secret = xmalloc(n);
    memcpy(k->secret, buf, n);
    k->secretlen = n;
    OPENSSL_cleanse(buf, cap);
    free(buf);
    return 0;
}

/* The algorithm a public key pins, or a reason it is not usable. */
static const char *auth_key_alg(EVP_PKEY *pkey, enum auth_alg *alg)
{
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        if (EVP_PKEY_get_bits(pkey) < AUTH_RSA_MIN_BITS)
            return "RSA key shorter than 2048 bits";
        *alg = AUTH_RS256;
        return NULL;
    }
    if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[64] = "";
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                            NULL) ||
            strcmp(group, "prime256v1") != 0)
            return "EC key is not on curve P-256";
        *alg = AUTH_ES256;
        return NULL;
    }
    return "not an RSA or EC P-256 public key";
}

/* Read a PEM public key file into k: 0, or -EINVAL with a reason in err. */
static int auth_load_public_key(const char *path, auth_key *k, char *err, size_t errlen)
{
    BIO *bio = BIO_new_file(path, "r");
    if (!bio) {
        snprintf(err, errlen, "jwt public key file %s: %s", path, strerror(errno));
        ERR_clear_error();
        return -EINVAL;
    }
    EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ERR_clear_error();
    if (!pkey) {
        snprintf(err, errlen, "jwt public key file %s: not a PEM public key", path);
        return -EINVAL;
    }
    enum auth_alg alg = AUTH_RS256;
    const char *why = auth_key_alg(pkey, &alg);
    if (why) {
        snprintf(err, errlen, "jwt public key file %s: %s", path, why);
        EVP_PKEY_free(pkey);
        return -EINVAL;
    }
    k->alg = alg;
    k->pkey = pkey;
    return 0;
}

static void auth_key_clear(auth_key *k)
{
    free(k->kid);
    if (k->secret) {
        OPENSSL_cleanse(k->secret, k->secretlen);
        free(k->secret);
    }
    EVP_PKEY_free(k->pkey);
    memset(k, 0, sizeof *k);
}

/* Load one key file (a secret or a public key) into k. */
static int auth_load_key(const char *path, bool secret, auth_key *k, char *err, size_t errlen)
{
    return secret ? auth_load_secret(path, k, err, errlen)
                  : auth_load_public_key(path, k, err, errlen);
}

/* qsort's comparator over kids (its contract, not an error code). */
static int auth_cmp_kid(const void *x, const void *y)
{
    return strcmp(((const auth_key *)x)->kid, ((const auth_key *)y)->kid);
}

/* Every key of directory `dir` into a: each file whose name does not start
 * with '.' is a key whose kid is its name (the form of a mounted Kubernetes
 * Secret, whose "..data" entries are skipped). 0, or -EINVAL with a reason
 * in err (one bad file fails all: a half-loaded set is not what was meant). */
static int auth_load_dir(auth *a, const char *dir, bool secret, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "jwt key directory %s: %s", dir, strerror(errno));
        return -EINVAL;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        char path[PATH_MAX];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue; /* a sub-directory, or a link to nothing */
        if (strlen(e->d_name) > AUTH_KID_MAX) {
            snprintf(err, errlen, "jwt key directory %s: file name longer than %d bytes", dir,
                     AUTH_KID_MAX);
            rc = -EINVAL;
            break;
        }
        a->keys = xrealloc(a->keys, (a->nkeys + 1) * sizeof *a->keys);
        auth_key *k = &a->keys[a->nkeys];
        memset(k, 0, sizeof *k);
        if ((rc = auth_load_key(path, secret, k, err, errlen)) != 0)
            break;
        k->kid = xstrdup(e->d_name);
        a->nkeys++;
    }
    closedir(d);
    if (rc == 0 && a->nkeys == 0) {
        snprintf(err, errlen, "jwt key directory %s: no key files", dir);
        rc = -EINVAL;
    }
    if (rc == 0)
        qsort(a->keys, a->nkeys, sizeof *a->keys, auth_cmp_kid);
    return rc;
}

auth *auth_create(const char *secret_file, const char *public_key_file, char *err, size_t errlen)
{
    if ((secret_file == NULL) == (public_key_file == NULL)) {
        snprintf(err, errlen, "jwt: give exactly one of a secret file or a public key file");
        return NULL;
    }
    const char *path = secret_file ? secret_file : public_key_file;
    struct stat st;
    auth *a = xcalloc(1, sizeof *a);
    int rc;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = auth_load_dir(a, path, secret_file != NULL, err, errlen);
    } else {
        a->keys = xcalloc(1, sizeof *a->keys);
        rc = auth_load_key(path, secret_file != NULL, a->keys, err, errlen);
        a->nkeys = rc == 0;
    }
    if (rc != 0) {
        auth_destroy(a);
        return NULL;
    }
    return a;
}

size_t auth_key_count(const auth *a)
{
    return a->nkeys;
}

void auth_set_policy(auth *a, const auth_policy *p)
{
    free(a->audience);
    free(a->issuer);
    a->audience = p->audience ? xstrdup(p->audience) : NULL;
    a->issuer = p->issuer ? xstrdup(p->issuer) : NULL;
    a->es256_low_s = p->es256_low_s;
}

void auth_destroy(auth *a)
{
    if (!a)
        return;
    free(a->audience);
    free(a->issuer);
    for (size_t i = 0; i < a->nkeys; i++)
        auth_key_clear(&a->keys[i]);
    free(a->keys);
    free(a);
}

/* Value of a base64url character (0..63), or -EINVAL if it is not one. */
static int auth_b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -EINVAL;
}

/* Decode unpadded base64url s[0..n) into a new NUL-terminated buffer. Only
 * the canonical encoding is accepted (unused trailing bits zero), so each
 * value has exactly one spelling. NULL if s is not such an encoding. */
static unsigned char *auth_b64url_decode(const char *s, size_t n, size_t *outlen)
{
    if (n % 4 == 1)
        return NULL;
    unsigned char *out = xmalloc(n / 4 * 3 + 3);
    size_t len = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = auth_b64url_value((unsigned char)s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6 | (unsigned)v) & 0xffffu;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[len++] = (unsigned char)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1)) {
        free(out);
        return NULL;
    }
    out[len] = '\0';
    *outlen = len;
    return out;
}

/* Decode one segment and parse it as a JSON object; NULL if it is not one. */
static json_t *auth_segment_json(const char *s, size_t n)
{
    size_t len = 0;
    unsigned char *raw = auth_b64url_decode(s, n, &len);
    if (!raw)
        return NULL;
    json_t *j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Is the header acceptable for one of the keys? Returns NULL with the keys
 * to try in *from..*to (the one its "kid" names in a key directory; else
 * every key of its algorithm), or a reason. A kid is ignored with a key
 * file (one key, no kid), as it always was. */
static const char *auth_check_header(const auth *a, const json_t *header, size_t *from, size_t *to)
{
    const json_t *alg = json_object_get(header, "alg");
    const json_t *typ = json_object_get(header, "typ");
    const json_t *kid = json_object_get(header, "kid");
    if (!json_is_string(alg))
        return "malformed token";
    if (typ && !(json_is_string(typ) && strcmp(json_string_value(typ), "JWT") == 0))
        return "malformed token";
    if (kid && !json_is_string(kid))
        return "malformed token";
    /* We understand no critical extension, so RFC 7515 says refuse any. */
    if (json_object_get(header, "crit"))
        return "malformed token";
    bool named = kid && a->keys[0].kid; /* kids only in a directory: all keys have one */
    bool any = false;
    *from = a->nkeys;
    *to = 0;
    for (size_t i = 0; i < a->nkeys; i++) {
        if (named && strcmp(a->keys[i].kid, json_string_value(kid)) != 0)
            continue;
        any = true;
        if (strcmp(json_string_value(alg), auth_alg_names[a->keys[i].alg]) != 0)
            continue;
        if (*from == a->nkeys)
            *from = i;
        *to = i + 1;
    }
    if (!any)
        return "unknown key id";
    return *from < *to ? NULL : "algorithm not allowed";
}

static bool auth_verify_hs256(const auth_key *k, const char *data, size_t len,
                              const unsigned char *sig, size_t siglen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k->secret, k->secretlen,
                   (const unsigned char *)data, len, mac, sizeof mac, &maclen))
        return false;
    return siglen == maclen && CRYPTO_memcmp(mac, sig, maclen) == 0;
}

/* SHA-256 signature check with the public key; sig in the DER/PKCS#1 form OpenSSL expects. */
static bool auth_digest_verify(EVP_PKEY *pkey, const char *data, size_t len,
                               const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        abort();
    bool ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
              EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)data, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* Half the order of P-256, big-endian: an S above it is the "high" twin of a
 * valid signature (n - S verifies too), so each token has one spelling only. */
static const unsigned char auth_p256_half_order[32] = {
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8};

/* JOSE's ES256 signature is R||S, 32 bytes each; OpenSSL wants DER. With
 * es256_low_s a high S is refused (signature malleability); off by default
 * because common signers (OpenSSL, Node, Java) do not normalize S, so half
 * of their valid tokens have a high one. */
static bool auth_verify_es256(const auth *a, const auth_key *k, const char *data, size_t len,
                              const unsigned char *sig, size_t siglen)
{
    if (siglen != 64 || (a->es256_low_s && memcmp(sig + 32, auth_p256_half_order, 32) > 0))
        return false;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL);
    BIGNUM *s = BN_bin2bn(sig + 32, 32, NULL);
    if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s))
        abort();
    unsigned char *der = NULL;
    int derlen = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    if (derlen <= 0)
        abort();
    bool ok = auth_digest_verify(k->pkey, data, len, der, (size_t)derlen);
    OPENSSL_free(der);
    return ok;
}

static bool auth_check_signature(const auth *a, const auth_key *k, const char *data, size_t len,
                                 const unsigned char *sig, size_t siglen)
{
    bool ok = false;
    switch (k->alg) {
    case AUTH_HS256:
        ok = auth_verify_hs256(k, data, len, sig, siglen);
        break;
    case AUTH_RS256:
        ok = auth_digest_verify(k->pkey, data, len, sig, siglen);
        break;
    case AUTH_ES256:
        ok = auth_verify_es256(a, k, data, len, sig, siglen);
        break;
    }
    ERR_clear_error(); /* a failed check leaves errors in this thread's queue */
    return ok;
}

/* Copy s into dst[size] truncated at a UTF-8 character boundary. */
static void auth_copy_utf8(char *dst, size_t size, const char *s)
{
    size_t n = utf8_clip(s, strlen(s), size - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* A NumericDate as whole seconds, clamped to the int64_t range. */
static int64_t auth_seconds(double d)
{
    if (d >= 9223372036854775808.0)
        return INT64_MAX;
    if (d < -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)d;
}

/* Does "aud" (a string or an array of strings) name audience? */
static bool auth_audience_ok(const json_t *aud, const char *audience)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), audience) == 0;
    size_t i;
    const json_t *v;
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), audience) == 0)
            return true;
    }
    return false;
}

/* The configured "aud" and "iss" checks; NULL or a reason. */
static const char *auth_check_expected(const auth *a, const json_t *claims)
{
    const json_t *iss = json_object_get(claims, "iss");
    if (a->audience && !auth_audience_ok(json_object_get(claims, "aud"), a->audience))
        return "wrong audience";
    if (a->issuer && !(json_is_string(iss) && strcmp(json_string_value(iss), a->issuer) == 0))
        return "wrong issuer";
    return NULL;
}

/* Check the claims and fill out; NULL or a reason. */
static const char *auth_read_claims(const json_t *claims, int64_t now_s, auth_claims *out)
{
    const json_t *exp = json_object_get(claims, "exp");
    const json_t *nbf = json_object_get(claims, "nbf");
    const json_t *sub = json_object_get(claims, "sub");
    const json_t *subs = json_object_get(claims, "subs");
    if (!exp)
        return "missing exp";
    if (!json_is_number(exp))
        return "bad claims";
    /* No clock-skew leeway: the token is valid while now < exp. */
    if (!(json_number_value(exp) > (double)now_s))
        return "token expired";
    if (nbf && !json_is_number(nbf))
        return "bad claims";
    if (nbf && json_number_value(nbf) > (double)now_s)
        return "token not yet valid";
    if (sub && !json_is_string(sub))
        return "bad claims";
    if (subs && !json_is_array(subs))
        return "bad claims";
    size_t i;
    const json_t *p;
    json_array_foreach(subs, i, p)
    {
        if (!json_is_string(p) || !subject_pattern_valid(json_string_value(p)))
            return "bad claims";
    }
    out->exp = auth_seconds(json_number_value(exp));
    if (sub)
        auth_copy_utf8(out->sub, sizeof out->sub, json_string_value(sub));
    out->nsubs = json_array_size(subs);
    out->subs = xcalloc(out->nsubs, sizeof *out->subs);
    json_array_foreach(subs, i, p)
    {
        out->subs[i] = xstrdup(json_string_value(p));
    }
    return NULL;
}

int auth_verify(const auth *a, const char *token, size_t len, int64_t now_s, auth_claims *out,
                const char **reason)
{
    memset(out, 0, sizeof *out);
    if (len > AUTH_TOKEN_MAX) {
        *reason = "token too long";
        return -EACCES;
    }
    /* header.payload.signature: exactly two dots, non-empty header and payload. */
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    const char *end = token + len;
    if (!dot2 || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) || dot1 == token ||
        dot2 == dot1 + 1) {
        *reason = "malformed token";
        return -EACCES;
    }

    json_t *header = auth_segment_json(token, (size_t)(dot1 - token));
    size_t from = 0, to = 0;
    const char *why = header ? auth_check_header(a, header, &from, &to) : "malformed token";
    json_decref(header);
    if (why) {
        *reason = why;
        return -EACCES;
    }

    size_t siglen = 0;
    unsigned char *sig = auth_b64url_decode(dot2 + 1, (size_t)(end - dot2 - 1), &siglen);
    if (!sig) {
        *reason = "malformed token";
        return -EACCES;
    }
    bool good = false;
    for (size_t i = from; i < to && !good; i++)
        good = auth_check_signature(a, &a->keys[i], token, (size_t)(dot2 - token), sig, siglen);
    free(sig);
    if (!good) {
        *reason = "bad signature";
        return -EACCES;
    }

    /* Only now, with the signature checked, is the payload looked at. */
    json_t *claims = auth_segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    why = !claims ? "malformed token" : auth_check_expected(a, claims);
    if (!why)
        why = auth_read_claims(claims, now_s, out);
    json_decref(claims);
    if (why) {
        auth_claims_clear(out);
        *reason = why;
        return -EACCES;
    }
    return 0;
}

bool auth_claims_allow(const auth_claims *c, const char *pattern)
{
    if (!subject_pattern_valid(pattern))
        return false;
    for (size_t i = 0; i < c->nsubs; i++) {
        if (subject_contains(c->subs[i], pattern))
            return true;
    }
    return false;
}

void auth_claims_clear(auth_claims *c)
{
    for (size_t i = 0; i < c->nsubs; i++)
        free(c->subs[i]);
    free(c->subs);
    memset(c, 0, sizeof *c);
}
