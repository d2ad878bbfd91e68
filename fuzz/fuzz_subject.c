/* fuzz_subject.c: libFuzzer target for subject syntax, matching and containment, with invariants.
 */
#include "fuzz.h"
#include "wsgate/subject.h"
#include "wsgate/xmalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * The input is up to three NUL-separated strings a, b and s. Beyond "no
 * crash", every check below is a property of NATS subjects; a violation
 * aborts so libFuzzer reports it:
 *   - a valid subject is a valid pattern, and matches itself;
 *   - a valid pattern contains itself;
 *   - a subject used as a pattern contains exactly what matches it:
 *     contains(a, s) == matches(a, s);
 *   - containment is sound: contains(a, b) and matches(b, x) => matches(a, x),
 *     for s and for subjects built from b by filling in its wildcards.
 */

/* The next NUL-terminated string of data[*pos..size), as a new string. */
static char *fuzz_next(const uint8_t *data, size_t size, size_t *pos)
{
    const char *p = (const char *)data + *pos;
    char *s = xstrndup(p, size - *pos);
    *pos += strlen(s) + (*pos + strlen(s) < size);
    return s;
}

/* A subject b matches: each "*" becomes "x", a final ">" becomes `gt`. NULL if too long. */
static char *fuzz_instance(const char *b, const char *gt)
{
    size_t n = strlen(b), gtn = strlen(gt);
    char *s = xmalloc(n * gtn + n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        bool whole = (i == 0 || b[i - 1] == '.') && (b[i + 1] == '.' || b[i + 1] == '\0');
        if (whole && b[i] == '*') {
            s[o++] = 'x';
        } else if (whole && b[i] == '>') {
            memcpy(s + o, gt, gtn);
            o += gtn;
        } else {
            s[o++] = b[i];
        }
    }
    s[o] = '\0';
    return s;
}

/* b is a valid pattern; x a subject built from it that must be valid unless too long. */
static void fuzz_check_instance(const char *a, const char *b, char *x, bool may_be_too_long)
{
    if (!subject_valid(x)) {
        CHECK(may_be_too_long);
    } else {
        CHECK(subject_matches(b, x));
        if (a && subject_contains(a, b))
            CHECK(subject_matches(a, x));
    }
    free(x);
}

static void fuzz_check_one(const char *x)
{
    if (subject_valid(x)) {
        CHECK(subject_pattern_valid(x));
        CHECK(subject_matches(x, x));
    }
    if (subject_pattern_valid(x))
        CHECK(subject_contains(x, x));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    char *a = fuzz_next(data, size, &pos);
    char *b = fuzz_next(data, size, &pos);
    char *s = fuzz_next(data, size, &pos);
    fuzz_check_one(a);
    fuzz_check_one(b);
    fuzz_check_one(s);

    bool pa = subject_pattern_valid(a), pb = subject_pattern_valid(b);
    bool vs = subject_valid(s);
    if (pa && vs)
        CHECK(subject_contains(a, s) == subject_matches(a, s));
    if (pb && vs && subject_matches(b, s) && pa && subject_contains(a, b))
        CHECK(subject_matches(a, s));
    if (pb) {
        fuzz_check_instance(pa ? a : NULL, b, fuzz_instance(b, "x"), false);
        fuzz_check_instance(pa ? a : NULL, b, fuzz_instance(b, "x.y"), true);
    }
    if (pa && pb && subject_contains(a, b) && subject_contains(b, a))
        CHECK(strcmp(a, b) == 0); /* containment both ways: the same pattern */

    free(a);
    free(b);
    free(s);
    return 0;
}
