/* test_subject.c: unit tests for subject syntax, matching and containment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/subject.h"

#include <stdio.h>
#include <string.h>

/* A string of n copies of c (n < 512). */
static const char *repeat(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

static void test_valid_subjects(void **state)
{
    const char *good[] = {"a", "license.b42.assigned", "A-Z_09.x", "-", "_._", "a.b.c.d"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        assert_true(subject_valid(good[i]));
        assert_true(subject_pattern_valid(good[i])); /* a subject is also a pattern */
    }
    const char *bad[] = {"",    ".", "a.",  ".a",   "a..b", "a b", "a.*", "*",    ">",
                         "a.>", "é", "a/b", "a\tb", "a.b.", "a,b", "a*",  "a.b\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(subject_valid(bad[i]));
    assert_false(subject_valid(NULL));
    assert_false(subject_pattern_valid(NULL));
}

static void test_valid_patterns(void **state)
{
    const char *good[] = {"*", ">", "a.*", "a.>", "*.b.*", "*.*.>", "license.*.assigned", "a.*.>"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_true(subject_pattern_valid(good[i]));
    const char *bad[] = {"",     "a.>.b", ">.a", "**",   "a*",   "*a", "a.b*", ">>",
                         "a.>>", "a.*.",  ".*",  "a..*", "a.>b", "> ", "*.",   "a.*>"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(subject_pattern_valid(bad[i]));
}

static void test_limits(void **state)
{
    char buf[600], tok[128];

    /* Token length: 64 is fine, 65 is not. */
    assert_true(subject_valid(repeat(tok, 'x', 64)));
    assert_false(subject_valid(repeat(tok, 'x', 65)));
    snprintf(buf, sizeof buf, "a.%s.b", repeat(tok, 'y', 65));
    assert_false(subject_pattern_valid(buf));

    /* Token count: 16 is fine, 17 is not (wildcards count too). */
    strcpy(buf, "a");
    for (int i = 1; i < 16; i++)
        strcat(buf, ".a");
    assert_true(subject_valid(buf));
    strcat(buf, ".a");
    assert_false(subject_valid(buf));
    strcpy(buf, "*");
    for (int i = 1; i < 16; i++)
        strcat(buf, ".*");
    assert_true(subject_pattern_valid(buf));
    strcat(buf, ".>");
    assert_false(subject_pattern_valid(buf));

    /* Length: 3 * 64 + 3 dots + 61 = 256 bytes is fine, 257 is not. */
    char t64[80];
    repeat(t64, 'z', 64);
    snprintf(buf, sizeof buf, "%s.%s.%s.%s", t64, t64, t64, repeat(tok, 'w', 61));
    assert_int_equal(strlen(buf), 256);
    assert_true(subject_valid(buf));
    snprintf(buf, sizeof buf, "%s.%s.%s.%s", t64, t64, t64, repeat(tok, 'w', 62));
    assert_int_equal(strlen(buf), 257);
    assert_false(subject_valid(buf));
}

typedef struct {
    const char *pattern, *subject;
    bool match;
} match_case;

static void test_matches(void **state)
{
    const match_case cases[] = {
        {"a", "a", true},
        {"a", "b", false},
        {"a", "ab", false},
        {"ab", "a", false},
        {"a.b", "a.b", true},
        {"a.b", "a", false},
        {"a", "a.b", false},
        {"a.b", "a.bc", false},
        {"*", "a", true},
        {"*", "a.b", false},
        {"a.*", "a.b", true},
        {"a.*", "a", false},
        {"a.*", "a.b.c", false},
        {"*.b", "a.b", true},
        {"*.b", "a.c", false},
        {"a.*.c", "a.b.c", true},
        {"a.*.c", "a.b.d", false},
        {"a.*.c", "a.c", false},
        {"*.*", "a.b", true},
        {"*.*", "a", false},
        {">", "a", true},
        {">", "a.b.c", true},
        {"a.>", "a", false},
        {"a.>", "a.b", true},
        {"a.>", "a.b.c.d", true},
        {"a.>", "b.c", false},
        {"a.>", "ab.c", false},
        {"a.*.>", "a.b", false},
        {"a.*.>", "a.b.c", true},
        {"license.*.assigned", "license.b42.assigned", true},
        {"license.*.assigned", "license.assigned", false},
        {"license.*.assigned", "license.b42.x.assigned", false},
        {"license.>", "license", false},
        {"license.>", "license.b42", true},
        {"license.>", "licenses.b42", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (subject_matches(cases[i].pattern, cases[i].subject) != cases[i].match)
            fail_msg("matches(%s, %s) should be %d", cases[i].pattern, cases[i].subject,
                     cases[i].match);
    }
}

typedef struct {
    const char *outer, *inner;
    bool contains;
} contain_case;

static void test_contains(void **state)
{
    const contain_case cases[] = {
        {"license.>", "license.b42.*", true},
        {"license.>", "license.*.assigned", true},
        {"license.>", "license.>", true},
        {"license.>", "license.b42", true},
        {"license.>", "license", false},
        {"license.>", "licenses.x", false},
        {"license.>", ">", false},
        {"license.*", "license.x", true},
        {"license.*", "license.*", true},
        {"license.*", "license.>", false},
        {"license.*", "license.x.y", false},
        {"*", "*", true},
        {"*", "x", true},
        {"*", ">", false},
        {"*", "x.y", false},
        {"x", "*", false},
        {">", "a", true},
        {">", "a.b.c", true},
        {">", "*.*", true},
        {">", ">", true},
        {"license.*.assigned", "license.>", false},
        {"license.*.assigned", "license.b42.assigned", true},
        {"license.*.assigned", "license.*.assigned", true},
        {"license.*.assigned", "license.*.*", false},
        {"a.*.c", "a.b.c", true},
        {"a.b", "a.*", false},
        {"a.b", "a.b", true},
        {"a.b", "a.b.c", false},
        {"a.b.c", "a.b", false},
        {"a.*.>", "a.>", false},
        {"a.*.>", "a.b.>", true},
        {"a.*.>", "a.*.c", true},
        {"a.*.>", "a.b", false},
        {"*.>", "a.>", true},
        {"*.>", ">", false},
        {"a.>", "a.*.>", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (subject_contains(cases[i].outer, cases[i].inner) != cases[i].contains)
            fail_msg("contains(%s, %s) should be %d", cases[i].outer, cases[i].inner,
                     cases[i].contains);
    }
}

/* xorshift64: a deterministic generator for the property test. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static unsigned rng(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

/* A random pattern (wildcards allowed) or subject over the tokens a, b, c. */
static void random_pattern(char *buf, bool wildcards)
{
    static const char *toks[] = {"a", "b", "c", "*"};
    unsigned n = 1 + rng(4);
    buf[0] = '\0';
    for (unsigned i = 0; i < n; i++) {
        if (i)
            strcat(buf, ".");
        if (wildcards && i == n - 1 && rng(4) == 0)
            strcat(buf, ">");
        else
            strcat(buf, toks[rng(wildcards ? 4 : 3)]);
    }
}

/* Enumerate every subject over a, b, c of 1..5 tokens into subs; return how many. */
static size_t all_subjects(char subs[][16])
{
    size_t count = 0;
    for (unsigned len = 1; len <= 5; len++) {
        unsigned total = 1;
        for (unsigned i = 0; i < len; i++)
            total *= 3;
        for (unsigned k = 0; k < total; k++) {
            char *s = subs[count++];
            unsigned v = k;
            for (unsigned i = 0; i < len; i++, v /= 3) {
                *s++ = (char)('a' + v % 3);
                *s++ = i + 1 < len ? '.' : '\0';
            }
        }
    }
    return count;
}

/* Containment agrees with matching: contains(o, i) exactly when every subject
 * (up to the depth enumerated, one more than any pattern) matched by i is
 * matched by o. */
static void test_contains_agrees_with_matches(void **state)
{
    static char subs[400][16];
    size_t nsubs = all_subjects(subs);
    assert_int_equal(nsubs, 3 + 9 + 27 + 81 + 243);
    for (int round = 0; round < 3000; round++) {
        char outer[32], inner[32];
        random_pattern(outer, true);
        random_pattern(inner, true);
        assert_true(subject_pattern_valid(outer));
        assert_true(subject_pattern_valid(inner));
        assert_true(subject_contains(outer, outer));
        bool subset = true;
        for (size_t i = 0; i < nsubs && subset; i++)
            if (subject_matches(inner, subs[i]) && !subject_matches(outer, subs[i]))
                subset = false;
        if (subject_contains(outer, inner) != subset)
            fail_msg("contains(%s, %s) != %d", outer, inner, subset);
    }
}

/* A literal pattern matches exactly itself. */
static void test_literal_matches_itself(void **state)
{
    for (int round = 0; round < 500; round++) {
        char a[32], b[32];
        random_pattern(a, false);
        random_pattern(b, false);
        assert_true(subject_valid(a));
        assert_true(subject_matches(a, a));
        assert_int_equal(subject_matches(a, b), strcmp(a, b) == 0);
        assert_int_equal(subject_contains(a, b), strcmp(a, b) == 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_subjects),
        cmocka_unit_test(test_valid_patterns),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_matches),
        cmocka_unit_test(test_contains),
        cmocka_unit_test(test_contains_agrees_with_matches),
        cmocka_unit_test(test_literal_matches_itself),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
