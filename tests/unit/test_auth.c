/* test_auth.c: JWT verification against tokens minted here with keys generated at test time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wsgate/auth.h"

#include "jwtmint.h"

#include <errno.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOW 1700000000LL

static const char SECRET[] = "correct horse battery staple, 32+ bytes";

/* Keys and the files auth_create reads, made once for the whole group. */
static EVP_PKEY *rsa_key, *ec_key;
static char secret_path[64], rsa_path[64], ec_path[64];
static auth *hs, *rs, *es;

enum signer { SIGN_HS256, SIGN_RS256, SIGN_ES256, SIGN_NONE };

/* Signature bytes of data (at most 512) by `how`; secret is the HMAC key. */
static size_t sign(enum signer how, const void *secret, size_t secretlen, const char *data,
                   unsigned char *sig)
{
    size_t len = 512;
    if (how == SIGN_NONE)
        return 0;
    if (how == SIGN_HS256) {
        assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, secretlen,
                                  (const unsigned char *)data, strlen(data), sig, len, &len));
        return len;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(
        EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, how == SIGN_RS256 ? rsa_key : ec_key), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &len, (const unsigned char *)data, strlen(data)), 1);
    EVP_MD_CTX_free(ctx);
    if (how == SIGN_RS256)
        return len;
    /* ES256: DER -> JOSE's fixed-size R||S. */
    const unsigned char *der = sig;
    ECDSA_SIG *es_sig = d2i_ECDSA_SIG(NULL, &der, (long)len);
    assert_non_null(es_sig);
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(es_sig, &r, &s);
    assert_int_equal(BN_bn2binpad(r, sig, 32), 32);
    assert_int_equal(BN_bn2binpad(s, sig + 32, 32), 32);
    ECDSA_SIG_free(es_sig);
    return 64;
}

/* header.payload.signature from the two JSON texts; HS256 uses secret. */
static char *mint_with(enum signer how, const void *secret, size_t secretlen, const char *header,
                       const char *payload)
{
    char *h = jwtmint_b64url((const unsigned char *)header, strlen(header));
    char *p = jwtmint_b64url((const unsigned char *)payload, strlen(payload));
    size_t n = strlen(h) + strlen(p) + 2;
    char *input = malloc(n);
    snprintf(input, n, "%s.%s", h, p);
    unsigned char sig[512];
    size_t siglen = sign(how, secret, secretlen, input, sig);
    char *s = jwtmint_b64url(sig, siglen);
    size_t tn = n + strlen(s) + 1;
    char *token = malloc(tn);
    snprintf(token, tn, "%s.%s", input, s);
    free(h);
    free(p);
    free(input);
    free(s);
    return token;
}

static const char *default_header(enum signer how)
{
    static const char *const headers[] = {
        "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"ES256\"}", "{\"alg\":\"none\",\"typ\":\"JWT\"}"};
    return headers[how];
}

/* A token with the usual header for `how` (HS256 with SECRET). */
static char *mint(enum signer how, const char *payload)
{
    return mint_with(how, SECRET, strlen(SECRET), default_header(how), payload);
}

static const char VALID[] = "{\"sub\":\"client-1\",\"exp\":1700003600,"
                            "\"subs\":[\"license.>\",\"batch.*.progress\"]}";

/* ---- checking ---- */

static void accept(const auth *a, const char *token, auth_claims *c)
{
    const char *reason = "unset";
    int rc = auth_verify(a, token, strlen(token), NOW, c, &reason);
    if (rc != 0)
        fail_msg("refused (%s): %s", reason, token);
}

static void refuse(const auth *a, const char *token, const char *want)
{
    auth_claims c;
    const char *reason = NULL;
    assert_int_equal(auth_verify(a, token, strlen(token), NOW, &c, &reason), -EACCES);
    assert_non_null(reason);
    assert_string_equal(reason, want);
    assert_int_equal(c.nsubs, 0);
    assert_null(c.subs);
}

static void refuse_minted(const auth *a, enum signer how, const char *payload, const char *want)
{
    char *t = mint(how, payload);
    refuse(a, t, want);
    free(t);
}

/* ---- fixtures ---- */

static void write_file(char *path, const void *data, size_t n)
{
    strcpy(path, "/tmp/wsgate_test_auth_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

static void write_pem(char *path, EVP_PKEY *key)
{
    BIO *mem = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(mem, key), 1);
    char *data;
    long n = BIO_get_mem_data(mem, &data);
    write_file(path, data, (size_t)n);
    BIO_free(mem);
}

static auth *load(const char *secret_file, const char *key_file)
{
    char err[256] = "";
    auth *a = auth_create(secret_file, key_file, err, sizeof err);
    if (!a)
        fail_msg("auth_create: %s", err);
    return a;
}

static int setup(void **state)
{
    rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(rsa_key);
    assert_non_null(ec_key);
    char secret_nl[sizeof SECRET + 1];
    snprintf(secret_nl, sizeof secret_nl, "%s\n", SECRET); /* the newline is not part of the key */
    write_file(secret_path, secret_nl, strlen(secret_nl));
    write_pem(rsa_path, rsa_key);
    write_pem(ec_path, ec_key);
    hs = load(secret_path, NULL);
    rs = load(NULL, rsa_path);
    es = load(NULL, ec_path);
    return 0;
}

static int teardown(void **state)
{
    auth_destroy(hs);
    auth_destroy(rs);
    auth_destroy(es);
    unlink(secret_path);
    unlink(rsa_path);
    unlink(ec_path);
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(ec_key);
    return 0;
}

/* ---- tests ---- */

static void check_valid(const auth *a, enum signer how)
{
    char *t = mint(how, VALID);
    auth_claims c;
    accept(a, t, &c);
    assert_string_equal(c.sub, "client-1");
    assert_int_equal(c.exp, 1700003600);
    assert_int_equal(c.nsubs, 2);
    assert_string_equal(c.subs[0], "license.>");
    assert_string_equal(c.subs[1], "batch.*.progress");
    auth_claims_clear(&c);
    assert_int_equal(c.nsubs, 0);
    free(t);
}

static void test_hs256_valid(void **state)
{
    check_valid(hs, SIGN_HS256);
}

static void test_rs256_valid(void **state)
{
    check_valid(rs, SIGN_RS256);
}

static void test_es256_valid(void **state)
{
    check_valid(es, SIGN_ES256);
}

static void test_alg_none_refused(void **state)
{
    const auth *keys[] = {hs, rs, es};
    for (int i = 0; i < 3; i++) {
        refuse_minted(keys[i], SIGN_NONE, VALID, "algorithm not allowed");
        /* Even with a (meaningless) signature attached. */
        char *t = mint_with(SIGN_HS256, SECRET, strlen(SECRET), "{\"alg\":\"none\"}", VALID);
        refuse(keys[i], t, "algorithm not allowed");
        free(t);
    }
}

static void test_alg_mismatch_refused(void **state)
{
    refuse_minted(hs, SIGN_RS256, VALID, "algorithm not allowed");
    refuse_minted(hs, SIGN_ES256, VALID, "algorithm not allowed");
    refuse_minted(rs, SIGN_HS256, VALID, "algorithm not allowed");
    refuse_minted(rs, SIGN_ES256, VALID, "algorithm not allowed");
    refuse_minted(es, SIGN_HS256, VALID, "algorithm not allowed");
    refuse_minted(es, SIGN_RS256, VALID, "algorithm not allowed");
    /* Right key, but a header naming another algorithm of the family. */
    char *t = mint_with(SIGN_HS256, SECRET, strlen(SECRET), "{\"alg\":\"HS512\"}", VALID);
    refuse(hs, t, "algorithm not allowed");
    free(t);
    t = mint_with(SIGN_HS256, SECRET, strlen(SECRET), "{\"alg\":\"hs256\"}", VALID);
    refuse(hs, t, "algorithm not allowed");
    free(t);
    /* Missing or mistyped alg is malformed. */
    t = mint_with(SIGN_HS256, SECRET, strlen(SECRET), "{\"typ\":\"JWT\"}", VALID);
    refuse(hs, t, "malformed token");
    free(t);
    t = mint_with(SIGN_HS256, SECRET, strlen(SECRET), "{\"alg\":256}", VALID);
    refuse(hs, t, "malformed token");
    free(t);
}

static void test_key_confusion_refused(void **state)
{
    /* HS256 signed with the public key's PEM text as the HMAC secret. */
    FILE *f = fopen(rsa_path, "rb");
    assert_non_null(f);
    char pem[4096];
    size_t n = fread(pem, 1, sizeof pem, f);
    fclose(f);
    char *t = mint_with(SIGN_HS256, pem, n, default_header(SIGN_HS256), VALID);
    refuse(rs, t, "algorithm not allowed");
    free(t);
    t = mint_with(SIGN_HS256, pem, n - 1, default_header(SIGN_HS256), VALID);
    refuse(rs, t, "algorithm not allowed");
    free(t);
}

/* Replace a character in the middle of the signature with another base64url one. */
static void flip_signature(char *t)
{
    char *sig = strrchr(t, '.') + 1;
    char *c = sig + strlen(sig) / 2;
    *c = *c == 'A' ? 'B' : 'A';
}

static void test_bad_signature_refused(void **state)
{
    const auth *keys[] = {hs, rs, es};
    for (int i = 0; i < 3; i++) {
        char *t = mint((enum signer)i, VALID);
        flip_signature(t);
        refuse(keys[i], t, "bad signature");
        free(t);

        /* A signature from another token. */
        char *other = mint((enum signer)i, "{\"exp\":1700003600,\"subs\":[\">\"]}");
        t = mint((enum signer)i, VALID);
        strcpy(strrchr(t, '.'), strrchr(other, '.'));
        refuse(keys[i], t, "bad signature");
        free(t);
        free(other);

        /* No signature at all. */
        t = mint((enum signer)i, VALID);
        strrchr(t, '.')[1] = '\0';
        refuse(keys[i], t, "bad signature");
        free(t);
    }
    /* Signed with another secret, or with the newline the secret file ends with. */
    char *t = mint_with(SIGN_HS256, "wrong", 5, default_header(SIGN_HS256), VALID);
    refuse(hs, t, "bad signature");
    free(t);
    char secret_nl[sizeof SECRET + 1];
    snprintf(secret_nl, sizeof secret_nl, "%s\n", SECRET);
    t = mint_with(SIGN_HS256, secret_nl, strlen(secret_nl), default_header(SIGN_HS256), VALID);
    refuse(hs, t, "bad signature");
    free(t);
}

static void test_malformed_refused(void **state)
{
    char *good = mint(SIGN_HS256, VALID);
    char *dot1 = strchr(good, '.'), *dot2 = strrchr(good, '.');
    char buf[2048];

    refuse(hs, "", "malformed token");
    refuse(hs, "abc", "malformed token");
    refuse(hs, "..", "malformed token");
    /* Two segments. */
    snprintf(buf, sizeof buf, "%.*s", (int)(dot2 - good), good);
    refuse(hs, buf, "malformed token");
    /* Four segments. */
    snprintf(buf, sizeof buf, "%s.AAAA", good);
    refuse(hs, buf, "malformed token");
    /* Empty header or payload. */
    snprintf(buf, sizeof buf, "%s", dot1);
    refuse(hs, buf, "malformed token");
    snprintf(buf, sizeof buf, "%.*s.%s", (int)(dot1 - good), good, dot2);
    refuse(hs, buf, "malformed token");
    /* Characters outside base64url, padding, and a non-canonical last character. */
    snprintf(buf, sizeof buf, "%s", good);
    buf[1] = '+';
    refuse(hs, buf, "malformed token");
    snprintf(buf, sizeof buf, "%s=", good);
    refuse(hs, buf, "malformed token");
    snprintf(buf, sizeof buf, "%s", good);
    char *last =
        buf + strlen(buf) - 1; /* 32 signature bytes: the last character has 2 unused bits */
    static const char abc[] = JWTMINT_B64URL;
    *last = abc[(strchr(abc, *last) - abc) | 1];
    refuse(hs, buf, "malformed token");
    /* A length that is no base64 length. */
    snprintf(buf, sizeof buf, "A%s", good);
    refuse(hs, buf, "malformed token");
    free(good);

    /* Header that is not JSON, or not an object. */
    char *t = mint_with(SIGN_HS256, SECRET, strlen(SECRET), "not json", VALID);
    refuse(hs, t, "malformed token");
    free(t);
    t = mint_with(SIGN_HS256, SECRET, strlen(SECRET), "[\"HS256\"]", VALID);
    refuse(hs, t, "malformed token");
    free(t);
    t = mint_with(SIGN_HS256, SECRET, strlen(SECRET), "{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
                  VALID);
    refuse(hs, t, "malformed token"); /* duplicate key */
    free(t);
    /* typ other than JWT; a critical extension we cannot honour. */
    t = mint_with(SIGN_HS256, SECRET, strlen(SECRET), "{\"alg\":\"HS256\",\"typ\":\"JWS\"}", VALID);
    refuse(hs, t, "malformed token");
    free(t);
    t = mint_with(SIGN_HS256, SECRET, strlen(SECRET),
                  "{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}", VALID);
    refuse(hs, t, "malformed token");
    free(t);
    /* Correctly signed payloads that are not JSON objects. */
    refuse_minted(hs, SIGN_HS256, "[1700003600]", "malformed token");
    refuse_minted(hs, SIGN_HS256, "1700003600", "malformed token");
    refuse_minted(hs, SIGN_HS256, "not json", "malformed token");
    refuse_minted(rs, SIGN_RS256, "\"exp\"", "malformed token");
}

static void test_token_size_limit(void **state)
{
    /* Grow a padding claim until the token is within 3 bytes of the limit. */
    char payload[AUTH_TOKEN_MAX];
    char *t = NULL;
    for (size_t pad = 6000;; pad++) {
        snprintf(payload, sizeof payload, "{\"exp\":1700003600,\"pad\":\"%0*d\"}", (int)pad, 0);
        free(t);
        t = mint(SIGN_HS256, payload);
        if (strlen(t) + 3 >= AUTH_TOKEN_MAX)
            break;
    }
    assert_true(strlen(t) <= AUTH_TOKEN_MAX);
    auth_claims c;
    accept(hs, t, &c);
    auth_claims_clear(&c);
    free(t);

    char *big = malloc(AUTH_TOKEN_MAX + 2);
    memset(big, 'A', AUTH_TOKEN_MAX + 1);
    big[AUTH_TOKEN_MAX + 1] = '\0';
    refuse(hs, big, "token too long");
    free(big);
}

static void test_time_claims(void **state)
{
    refuse_minted(hs, SIGN_HS256, "{\"sub\":\"x\"}", "missing exp");
    refuse_minted(es, SIGN_ES256, "{\"sub\":\"x\"}", "missing exp");
    refuse_minted(hs, SIGN_HS256, "{\"exp\":1699999999}", "token expired");
    refuse_minted(hs, SIGN_HS256, "{\"exp\":1700000000}", "token expired"); /* no leeway */
    refuse_minted(rs, SIGN_RS256, "{\"exp\":1000}", "token expired");
    refuse_minted(hs, SIGN_HS256, "{\"exp\":\"1700003600\"}", "bad claims");
    refuse_minted(hs, SIGN_HS256, "{\"exp\":null}", "bad claims");
    refuse_minted(hs, SIGN_HS256, "{\"exp\":1700003600,\"nbf\":1700000001}", "token not yet valid");
    refuse_minted(hs, SIGN_HS256, "{\"exp\":1700003600,\"nbf\":\"0\"}", "bad claims");

    auth_claims c;
    char *t = mint(SIGN_HS256, "{\"exp\":1700000001,\"nbf\":1700000000}");
    accept(hs, t, &c);
    assert_int_equal(c.exp, 1700000001);
    assert_string_equal(c.sub, "");
    assert_int_equal(c.nsubs, 0);
    auth_claims_clear(&c);
    free(t);
    /* Fractional and huge NumericDates. */
    t = mint(SIGN_HS256, "{\"exp\":1700000000.5}");
    accept(hs, t, &c);
    assert_int_equal(c.exp, 1700000000);
    auth_claims_clear(&c);
    free(t);
    t = mint(SIGN_HS256, "{\"exp\":1e300}");
    accept(hs, t, &c);
    assert_int_equal(c.exp, INT64_MAX);
    auth_claims_clear(&c);
    free(t);
}

static void test_claim_types(void **state)
{
    refuse_minted(hs, SIGN_HS256, "{\"exp\":1700003600,\"sub\":42}", "bad claims");
    refuse_minted(hs, SIGN_HS256, "{\"exp\":1700003600,\"subs\":\"license.>\"}", "bad claims");
    refuse_minted(hs, SIGN_HS256, "{\"exp\":1700003600,\"subs\":null}", "bad claims");
    refuse_minted(hs, SIGN_HS256, "{\"exp\":1700003600,\"subs\":[\"a\",7]}", "bad claims");
    refuse_minted(hs, SIGN_HS256, "{\"exp\":1700003600,\"subs\":[\"a..b\"]}", "bad claims");
    refuse_minted(hs, SIGN_HS256, "{\"exp\":1700003600,\"subs\":[\"a.>.b\"]}", "bad claims");
    refuse_minted(hs, SIGN_HS256, "{\"exp\":1700003600,\"subs\":[\"\"]}", "bad claims");
    refuse_minted(hs, SIGN_HS256, "{\"exp\":1700003600,\"exp\":1700003600}", "malformed token");

    /* A long sub is cut to 127 bytes, never inside a UTF-8 character. */
    char payload[512], sub[300];
    memset(sub, 'x', 200);
    sub[200] = '\0';
    snprintf(payload, sizeof payload, "{\"exp\":1700003600,\"sub\":\"%s\"}", sub);
    char *t = mint(SIGN_HS256, payload);
    auth_claims c;
    accept(hs, t, &c);
    assert_int_equal(strlen(c.sub), 127);
    auth_claims_clear(&c);
    free(t);
    memset(sub, 'x', 126);
    strcpy(sub + 126, "\xc3\xa9tail"); /* "é" straddles the cut */
    snprintf(payload, sizeof payload, "{\"exp\":1700003600,\"sub\":\"%s\"}", sub);
    t = mint(SIGN_HS256, payload);
    accept(hs, t, &c);
    assert_int_equal(strlen(c.sub), 126);
    auth_claims_clear(&c);
    free(t);
}

static void test_subs_containment(void **state)
{
    auth_claims c;
    char *t = mint(SIGN_RS256, "{\"exp\":1700003600,\"subs\":[\"license.>\"]}");
    accept(rs, t, &c);
    assert_true(auth_claims_allow(&c, "license.b42.*"));
    assert_true(auth_claims_allow(&c, "license.b42.assigned"));
    assert_true(auth_claims_allow(&c, "license.>"));
    assert_false(auth_claims_allow(&c, "license"));
    assert_false(auth_claims_allow(&c, ">"));
    assert_false(auth_claims_allow(&c, "batch.b42.progress"));
    assert_false(auth_claims_allow(&c, "license..x")); /* not a pattern */
    auth_claims_clear(&c);
    free(t);

    t = mint(SIGN_ES256, "{\"exp\":1700003600,\"subs\":[\"license.*.assigned\",\"batch.*\"]}");
    accept(es, t, &c);
    assert_false(auth_claims_allow(&c, "license.>"));
    assert_false(auth_claims_allow(&c, "license.b42.>"));
    assert_true(auth_claims_allow(&c, "license.b42.assigned"));
    assert_true(auth_claims_allow(&c, "license.*.assigned"));
    assert_true(auth_claims_allow(&c, "batch.b42"));
    assert_false(auth_claims_allow(&c, "batch.b42.progress"));
    auth_claims_clear(&c);
    free(t);

    /* No subs claim: nothing is allowed. */
    t = mint(SIGN_HS256, "{\"exp\":1700003600}");
    accept(hs, t, &c);
    assert_false(auth_claims_allow(&c, "license.b42.assigned"));
    assert_false(auth_claims_allow(&c, ">"));
    auth_claims_clear(&c);
    free(t);
}

/* auth_create must fail with err naming the file, for path (secret or key). */
static void expect_create_error(const char *secret_file, const char *key_file, const char *named)
{
    char err[256] = "";
    assert_null(auth_create(secret_file, key_file, err, sizeof err));
    assert_non_null(strstr(err, named));
    assert_null(strchr(err, '\n'));
}

static void test_create_errors(void **state)
{
    char path[64];
    expect_create_error("/nonexistent/secret", NULL, "/nonexistent/secret");
    expect_create_error(NULL, "/nonexistent/key.pem", "/nonexistent/key.pem");
    expect_create_error(NULL, NULL, "jwt");
    expect_create_error(secret_path, rsa_path, "jwt");

    write_file(path, "", 0);
    expect_create_error(path, NULL, path);
    unlink(path);
    write_file(path, "\n", 1);
    expect_create_error(path, NULL, path);
    unlink(path);
    /* An empty directory (no key), and a "secret" over 1 MiB. */
    char empty[] = "/tmp/wsgate_test_auth_dir_XXXXXX";
    assert_non_null(mkdtemp(empty));
    expect_create_error(empty, NULL, "no key files");
    expect_create_error(NULL, empty, empty);
    rmdir(empty);
    size_t big = 1024 * 1024 + 2;
    char *junk = malloc(big);
    memset(junk, 'k', big);
    junk[big - 1] = '\n';
    write_file(path, junk, big);
    expect_create_error(path, NULL, path);
    unlink(path);
    free(junk);
    /* A secret is not a PEM public key. */
    write_file(path, SECRET, strlen(SECRET));
    expect_create_error(NULL, path, path);
    unlink(path);
    /* EC keys on other curves, and short RSA keys, are refused. */
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    write_pem(path, p384);
    expect_create_error(NULL, path, path);
    unlink(path);
    EVP_PKEY_free(p384);
    EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    write_pem(path, rsa1024);
    expect_create_error(NULL, path, path);
    unlink(path);
    EVP_PKEY_free(rsa1024);
    /* Ed25519 is not supported. */
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    write_pem(path, ed);
    expect_create_error(NULL, path, path);
    unlink(path);
    EVP_PKEY_free(ed);
}

static void test_secret_without_newline(void **state)
{
    /* The same key with no trailing newline in the file; only one newline is stripped. */
    char path[64];
    write_file(path, SECRET, strlen(SECRET));
    auth *a = load(path, NULL);
    unlink(path);
    char *t = mint(SIGN_HS256, VALID);
    auth_claims c;
    accept(a, t, &c);
    auth_claims_clear(&c);
    free(t);
    auth_destroy(a);

    write_file(path, "0123456789abcdef0123456789abcdef\n\n", 34);
    a = load(path, NULL);
    unlink(path);
    t = mint_with(SIGN_HS256, "0123456789abcdef0123456789abcdef\n", 33, default_header(SIGN_HS256),
                  VALID);
    accept(a, t, &c);
    auth_claims_clear(&c);
    free(t);
    auth_destroy(a);
}

static void test_secret_min_length(void **state)
{
    /* HS256 needs a 256-bit key: 31 bytes (plus the newline) are refused. */
    char path[64];
    write_file(path, "0123456789abcdef0123456789abcde\n", 32);
    char err[256] = "";
    assert_null(auth_create(path, NULL, err, sizeof err));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "32 bytes"));
    unlink(path);
    write_file(path, "0123456789abcdef0123456789abcdef", 32);
    auth_destroy(load(path, NULL));
    unlink(path);
}

static void test_audience_and_issuer(void **state)
{
    auth *a = load(secret_path, NULL);
    auth_set_policy(a, &(auth_policy){"wsgate", "https://idp.example", false});
    const char *ok[] = {
        "{\"exp\":1700003600,\"aud\":\"wsgate\",\"iss\":\"https://idp.example\"}",
        "{\"exp\":1700003600,\"aud\":[\"other\",\"wsgate\"],\"iss\":\"https://idp.example\"}",
    };
    for (size_t i = 0; i < 2; i++) {
        char *t = mint(SIGN_HS256, ok[i]);
        auth_claims c;
        accept(a, t, &c);
        auth_claims_clear(&c);
        free(t);
    }
    refuse_minted(a, SIGN_HS256, "{\"exp\":1700003600,\"iss\":\"https://idp.example\"}",
                  "wrong audience");
    refuse_minted(a, SIGN_HS256,
                  "{\"exp\":1700003600,\"aud\":\"other\",\"iss\":\"https://idp.example\"}",
                  "wrong audience");
    refuse_minted(a, SIGN_HS256,
                  "{\"exp\":1700003600,\"aud\":[1,\"x\"],\"iss\":\"https://idp.example\"}",
                  "wrong audience");
    refuse_minted(a, SIGN_HS256, "{\"exp\":1700003600,\"aud\":\"wsgate\"}", "wrong issuer");
    refuse_minted(a, SIGN_HS256,
                  "{\"exp\":1700003600,\"aud\":\"wsgate\",\"iss\":\"https://evil.example\"}",
                  "wrong issuer");
    /* Without a policy neither claim is looked at. */
    char *t = mint(SIGN_HS256, "{\"exp\":1700003600,\"aud\":\"other\",\"iss\":7}");
    auth_claims c;
    accept(hs, t, &c);
    auth_claims_clear(&c);
    free(t);
    auth_destroy(a);
}

/* An ES256 token for VALID whose S is the low (S <= n/2) or the high one of
 * the pair {S, n - S}: both verify as ECDSA. */
static char *mint_es256_s(bool high)
{
    const char *header = default_header(SIGN_ES256);
    char *h = jwtmint_b64url((const unsigned char *)header, strlen(header));
    char *p = jwtmint_b64url((const unsigned char *)VALID, strlen(VALID));
    char input[1024];
    snprintf(input, sizeof input, "%s.%s", h, p);
    unsigned char sig[512];
    assert_int_equal(sign(SIGN_ES256, NULL, 0, input, sig), 64);
    BIGNUM *n = NULL, *s = BN_bin2bn(sig + 32, 32, NULL), *other = BN_new();
    assert_true(BN_hex2bn(&n, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551") >
                0);
    assert_int_equal(BN_sub(other, n, s), 1);
    const BIGNUM *low = BN_cmp(s, other) < 0 ? s : other, *high_s = low == s ? other : s;
    assert_int_equal(BN_bn2binpad(high ? high_s : low, sig + 32, 32), 32);
    BN_free(n);
    BN_free(s);
    BN_free(other);
    char *sb = jwtmint_b64url(sig, 64);
    size_t tn = strlen(input) + strlen(sb) + 2;
    char *token = malloc(tn);
    snprintf(token, tn, "%s.%s", input, sb);
    free(h);
    free(p);
    free(sb);
    return token;
}

/* A token signed with secret, with a "kid" header when kid is not NULL. */
static char *mint_kid(const char *secret, const char *kid)
{
    char header[128];
    if (kid)
        snprintf(header, sizeof header, "{\"alg\":\"HS256\",\"kid\":\"%s\"}", kid);
    else
        snprintf(header, sizeof header, "{\"alg\":\"HS256\"}");
    return mint_with(SIGN_HS256, secret, strlen(secret), header, VALID);
}

static void write_in(const char *dir, const char *name, const char *data)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static void remove_in(const char *dir, const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(remove(path), 0);
}

/* A key directory: every file a key named by its file name (kid); a token
 * with a kid gets that key only, one without any key of its algorithm. */
static void test_key_directory(void **state)
{
    static const char A[] = "key A: 0123456789abcdef0123456789abcdef",
                      B[] = "key B: 0123456789abcdef0123456789abcdef",
                      C[] = "key C: 0123456789abcdef0123456789abcdef";
    char dir[] = "/tmp/wsgate_test_auth_dir_XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_in(dir, "2026-01", A);
    write_in(dir, "2026-02", B);
    write_in(dir, ".hidden", "short: would fail if it were read");
    char sub[160];
    snprintf(sub, sizeof sub, "%s/..data", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    auth *a = load(dir, NULL);
    assert_int_equal(auth_key_count(a), 2);
    assert_int_equal(auth_key_count(hs), 1);

    struct {
        const char *secret, *kid, *want; /* want NULL: accepted */
    } cases[] = {
        {A, "2026-01", NULL},
        {B, "2026-02", NULL},
        {A, NULL, NULL}, /* no kid: any key */
        {B, NULL, NULL},
        {B, "2026-01", "bad signature"}, /* the kid's key only */
        {A, "2026-03", "unknown key id"},
        {C, NULL, "bad signature"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = mint_kid(cases[i].secret, cases[i].kid);
        auth_claims c;
        if (cases[i].want) {
            refuse(a, t, cases[i].want);
        } else {
            accept(a, t, &c);
            auth_claims_clear(&c);
        }
        free(t);
    }
    refuse_minted(a, SIGN_RS256, VALID, "algorithm not allowed");
    char *t = mint_with(SIGN_HS256, A, strlen(A), "{\"alg\":\"HS256\",\"kid\":7}", VALID);
    refuse(a, t, "malformed token");
    free(t);
    auth_destroy(a);

    /* With a key file (no kids) a kid is ignored, as before key directories. */
    t = mint_kid(SECRET, "whatever");
    auth_claims c;
    accept(hs, t, &c);
    auth_claims_clear(&c);
    free(t);

    /* One bad file fails the whole directory, naming it. */
    write_in(dir, "short", "31 bytes: 0123456789abcdef01234");
    char err[256] = "";
    assert_null(auth_create(dir, NULL, err, sizeof err));
    assert_non_null(strstr(err, "/short"));
    remove_in(dir, "short");

    /* Public keys: each pins its own algorithm. */
    char kdir[] = "/tmp/wsgate_test_auth_dir_XXXXXX";
    assert_non_null(mkdtemp(kdir));
    char rsa_in[128], ec_in[128];
    snprintf(rsa_in, sizeof rsa_in, "%s/rsa", kdir);
    snprintf(ec_in, sizeof ec_in, "%s/ec", kdir);
    assert_int_equal(link(rsa_path, rsa_in), 0);
    assert_int_equal(link(ec_path, ec_in), 0);
    a = load(NULL, kdir);
    assert_int_equal(auth_key_count(a), 2);
    t = mint_with(SIGN_RS256, NULL, 0, "{\"alg\":\"RS256\",\"kid\":\"rsa\"}", VALID);
    accept(a, t, &c);
    auth_claims_clear(&c);
    free(t);
    t = mint_with(SIGN_ES256, NULL, 0, "{\"alg\":\"ES256\"}", VALID);
    accept(a, t, &c);
    auth_claims_clear(&c);
    free(t);
    t = mint_with(SIGN_ES256, NULL, 0, "{\"alg\":\"ES256\",\"kid\":\"rsa\"}", VALID);
    refuse(a, t, "algorithm not allowed");
    free(t);
    auth_destroy(a);
    remove_in(kdir, "rsa");
    remove_in(kdir, "ec");
    rmdir(kdir);

    remove_in(dir, "2026-01");
    remove_in(dir, "2026-02");
    remove_in(dir, ".hidden");
    rmdir(sub);
    rmdir(dir);
}

static void test_es256_high_s(void **state)
{
    auth *strict = load(NULL, ec_path);
    auth_set_policy(strict, &(auth_policy){NULL, NULL, true});
    for (int i = 0; i < 8; i++) { /* fresh signatures: each a new random pair */
        char *lo = mint_es256_s(false), *hi = mint_es256_s(true);
        auth_claims c;
        accept(strict, lo, &c);
        auth_claims_clear(&c);
        refuse(strict, hi, "bad signature");
        /* By default both spellings verify (common signers do not normalize S). */
        accept(es, lo, &c);
        auth_claims_clear(&c);
        accept(es, hi, &c);
        auth_claims_clear(&c);
        free(lo);
        free(hi);
    }
    auth_destroy(strict);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hs256_valid),           cmocka_unit_test(test_rs256_valid),
        cmocka_unit_test(test_es256_valid),           cmocka_unit_test(test_alg_none_refused),
        cmocka_unit_test(test_alg_mismatch_refused),  cmocka_unit_test(test_key_confusion_refused),
        cmocka_unit_test(test_bad_signature_refused), cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_token_size_limit),      cmocka_unit_test(test_time_claims),
        cmocka_unit_test(test_claim_types),           cmocka_unit_test(test_subs_containment),
        cmocka_unit_test(test_create_errors),         cmocka_unit_test(test_secret_without_newline),
        cmocka_unit_test(test_secret_min_length),     cmocka_unit_test(test_audience_and_issuer),
        cmocka_unit_test(test_es256_high_s),          cmocka_unit_test(test_key_directory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
