/* test_hash.c: unit tests for the table hash: SipHash-1-3 checked against OpenSSL's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/hash.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <string.h>

/* SipHash-c-d of p[0..n) under key, by OpenSSL's EVP_MAC "SIPHASH". */
static uint64_t openssl_siphash(const uint8_t key[16], const void *p, size_t n)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    assert_non_null(mac);
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    unsigned int c = 1, d = 3;
    size_t size = 8;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
        OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_C_ROUNDS, &c),
        OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_D_ROUNDS, &d),
        OSSL_PARAM_construct_end(),
    };
    assert_int_equal(EVP_MAC_init(ctx, key, 16, params), 1);
    assert_int_equal(EVP_MAC_update(ctx, p, n), 1);
    unsigned char out[8];
    size_t outlen = 0;
    assert_int_equal(EVP_MAC_final(ctx, out, &outlen, sizeof(out)), 1);
    assert_int_equal(outlen, 8);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | out[i];
    return v;
}

/* Every length 0..64 and a few keys: the same values as OpenSSL. */
static void test_against_openssl(void **state)
{
    uint8_t key[16], msg[64];
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)(i * 37 + 11);
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < 16; i++)
            key[i] = (uint8_t)(k == 0 ? i : k * 101 + i * 7);
        hash_set_key(key);
        for (size_t n = 0; n <= sizeof(msg); n++) {
            uint64_t want = openssl_siphash(key, msg, n), got = hash_bytes(msg, n);
            if (got != want)
                fail_msg("key %d, %zu bytes: %016llx, want %016llx", k, n, (unsigned long long)got,
                         (unsigned long long)want);
        }
    }
}

static void test_str_and_key(void **state)
{
    static const uint8_t k1[16] = {1}, k2[16] = {2};
    hash_set_key(k1);
    assert_true(hash_str("license.b42.assigned") == hash_bytes("license.b42.assigned", 20));
    assert_true(hash_str("") == hash_bytes("", 0));
    uint64_t a = hash_str("10.0.0.1");
    assert_true(a == hash_str("10.0.0.1"));
    assert_true(a != hash_str("10.0.0.2"));
    hash_set_key(k2);
    assert_true(a != hash_str("10.0.0.1")); /* another key, another value */
}

/* Low bits (what power-of-two tables use) spread evenly over similar keys. */
static void test_low_bits_spread(void **state)
{
    enum { BUCKETS = 256, KEYS = 256 * 64 };
    static unsigned count[BUCKETS];
    for (int i = 0; i < KEYS; i++) {
        char key[32];
        snprintf(key, sizeof(key), "license.L%d.assigned", i);
        count[hash_str(key) & (BUCKETS - 1)]++;
    }
    for (int b = 0; b < BUCKETS; b++)
        if (count[b] < 64 / 2 || count[b] > 64 * 2)
            fail_msg("bucket %d holds %u of %d keys (mean 64)", b, count[b], KEYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_openssl),
        cmocka_unit_test(test_str_and_key),
        cmocka_unit_test(test_low_bits_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
