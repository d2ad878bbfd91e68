/* test_hmap.c: unit tests for the open-addressing map, against a plain array as reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/hash.h"
#include "wsgate/hmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_basics(void **state)
{
    hmap m;
    hmap_init(&m);
    assert_null(hmap_get(&m, "a"));
    assert_null(hmap_del(&m, "a"));
    int one = 1, two = 2, three = 3;
    assert_null(hmap_put(&m, "a", &one));
    assert_null(hmap_put(&m, "b", &two));
    assert_ptr_equal(hmap_get(&m, "a"), &one);
    assert_ptr_equal(hmap_get(&m, "b"), &two);
    assert_int_equal(hmap_count(&m), 2);
    /* replace: the old value back, the new key pointer kept */
    char key[] = "a";
    assert_ptr_equal(hmap_put(&m, key, &three), &one);
    assert_int_equal(hmap_count(&m), 2);
    size_t i = 0;
    hmap_slot *s;
    int seen = 0;
    while ((s = hmap_next(&m, &i))) {
        seen++;
        if (s->value == &three)
            assert_ptr_equal(s->key, key);
    }
    assert_int_equal(seen, 2);
    assert_ptr_equal(hmap_del(&m, "a"), &three);
    assert_null(hmap_get(&m, "a"));
    assert_int_equal(hmap_count(&m), 1);
    hmap_clear(&m);
    assert_int_equal(hmap_count(&m), 0);
    assert_null(hmap_get(&m, "b"));
    assert_null(hmap_put(&m, "b", &two));
    hmap_fini(&m);
    assert_int_equal(hmap_count(&m), 0);
    hmap_fini(&m); /* twice is fine */
}

/* A key given by length: a token inside a longer string finds the entry of
 * exactly that string, not a longer or shorter one. */
static void test_getn(void **state)
{
    hmap m;
    hmap_init(&m);
    int ab = 1, abc = 2;
    assert_null(hmap_getn(&m, "ab", 2));
    hmap_put(&m, "ab", &ab);
    hmap_put(&m, "abc", &abc);
    const char *subject = "abc.ab.abcd";
    assert_ptr_equal(hmap_getn(&m, subject, 3), &abc);
    assert_ptr_equal(hmap_getn(&m, subject + 4, 2), &ab);
    assert_ptr_equal(hmap_getn(&m, subject, 2), &ab);
    assert_null(hmap_getn(&m, subject + 7, 4)); /* "abcd" */
    assert_null(hmap_getn(&m, subject, 1));     /* "a" */
    assert_null(hmap_getn(&m, subject, 0));     /* "" */
    hmap_fini(&m);
}

/* With the hash given (hmap_getnh, hmap_puth) the map is the same map:
 * entries stored either way are found either way. */
static void test_hash_given(void **state)
{
    hmap m;
    hmap_init(&m);
    static char keys[100][8];
    static int values[100];
    for (int k = 0; k < 100; k++) {
        snprintf(keys[k], sizeof keys[k], "t%d", k);
        if (k % 2)
            assert_null(hmap_puth(&m, keys[k], &values[k], hash_str(keys[k])));
        else
            assert_null(hmap_put(&m, keys[k], &values[k]));
    }
    assert_int_equal(hmap_count(&m), 100);
    char subject[32];
    for (int k = 0; k < 100; k++) {
        /* the key as a token inside a subject */
        int n = snprintf(subject, sizeof subject, "a.%s.b", keys[k]);
        size_t len = (size_t)n - 4;
        assert_ptr_equal(hmap_getnh(&m, subject + 2, len, hash_bytes(subject + 2, len)),
                         &values[k]);
        assert_ptr_equal(hmap_get(&m, keys[k]), &values[k]);
    }
    assert_null(hmap_getnh(&m, "t1000", 5, hash_bytes("t1000", 5)));
    assert_ptr_equal(hmap_getnh(&m, "t1x", 2, hash_bytes("t1x", 2)), &values[1]); /* "t1" */
    assert_null(hmap_getnh(&m, "t1x", 1, hash_bytes("t1x", 1)));                  /* "t" */
    /* replace through puth: the old value back */
    assert_ptr_equal(hmap_puth(&m, keys[2], &values[3], hash_str(keys[2])), &values[2]);
    assert_ptr_equal(hmap_get(&m, keys[2]), &values[3]);
    hmap_fini(&m);
    assert_null(hmap_getnh(&m, "t1", 2, hash_bytes("t1", 2)));
}

/* Small maps stay small: a map with one entry holds 2 slots (a trie node
 * with one child pays 48 bytes), and grows by doubling from there. */
static void test_small(void **state)
{
    hmap m;
    hmap_init(&m);
    int v[5];
    hmap_put(&m, "a", &v[0]);
    assert_int_equal(m.cap, 2);
    hmap_put(&m, "b", &v[1]);
    assert_int_equal(m.cap, 4);
    hmap_put(&m, "c", &v[2]);
    assert_int_equal(m.cap, 8);
    assert_ptr_equal(hmap_del(&m, "a"), &v[0]);
    assert_ptr_equal(hmap_del(&m, "b"), &v[1]);
    assert_ptr_equal(hmap_get(&m, "c"), &v[2]);
    assert_ptr_equal(hmap_del(&m, "c"), &v[2]);
    assert_int_equal(hmap_count(&m), 0);
    assert_null(hmap_get(&m, "c"));
    hmap_fini(&m);
}

enum { KEYS = 3000 };

/* Random puts, replaces and deletes over a small key space (long probe runs,
 * many backward shifts), checked after every step against an array. */
static void test_random_against_reference(void **state)
{
    static char keys[KEYS][16];
    static int values[KEYS];
    static void *ref[KEYS];
    for (int k = 0; k < KEYS; k++)
        snprintf(keys[k], sizeof(keys[k]), "k%d", k);
    hmap m;
    hmap_init(&m);
    size_t count = 0;
    uint32_t x = 1;
    for (int step = 0; step < 200000; step++) {
        x = x * 1664525 + 1013904223;
        int k = (int)((x >> 8) % (step < 100000 ? KEYS : KEYS / 10));
        void *got;
        if ((x >> 28) < 9) {
            got = hmap_put(&m, keys[k], &values[k]);
            assert_ptr_equal(got, ref[k]);
            count += ref[k] == NULL;
            ref[k] = &values[k];
        } else {
            got = hmap_del(&m, keys[k]);
            assert_ptr_equal(got, ref[k]);
            count -= ref[k] != NULL;
            ref[k] = NULL;
        }
        assert_int_equal(hmap_count(&m), count);
        if (step % 5000 == 0 || step == 199999) {
            for (int j = 0; j < KEYS; j++)
                if (hmap_get(&m, keys[j]) != ref[j])
                    fail_msg("step %d: key %s", step, keys[j]);
            size_t i = 0, n = 0;
            hmap_slot *s;
            while ((s = hmap_next(&m, &i))) {
                n++;
                assert_ptr_equal(ref[atoi(s->key + 1)], s->value);
            }
            assert_int_equal(n, count);
        }
    }
    hmap_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),
        cmocka_unit_test(test_getn),
        cmocka_unit_test(test_hash_given),
        cmocka_unit_test(test_small),
        cmocka_unit_test(test_random_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
