/* subject.c: NATS subject and pattern syntax, matching and pattern containment (see subject.h). */
#include "wsgate/subject.h"

#include <string.h>

/*
 * Subjects and wildcards
 * ======================
 *
 * A subject is a dotted list of tokens, most general first:
 *
 *     license.b42.assigned
 *
 * Each token is 1..64 characters out of A-Z a-z 0-9 - _, a subject has at
 * most 16 tokens and 256 bytes. Empty tokens ("a..b", ".a", "a.") are not
 * allowed. Publishers always use plain subjects.
 *
 * A subscriber may use a pattern instead, where two tokens are special:
 *
 *   "*"  matches exactly one token, whatever it is:
 *            license.*.assigned  matches  license.b42.assigned
 *                                but not  license.assigned
 *                                     or  license.b42.x.assigned
 *
 *   ">"  may only be the last token and matches one or more tokens:
 *            license.>           matches  license.b42  and  license.b42.assigned
 *                                but not  license
 *
 * A wildcard is always a whole token: "lic*" or "a.>b" are invalid, not
 * prefixes. "*" may appear anywhere, any number of times ("*.*.x"); ">"
 * alone matches every subject.
 *
 * Containment (subject_contains) compares two patterns: outer contains inner
 * when every subject inner matches is also matched by outer. Walking both
 * token by token:
 *
 *   - outer ">" takes whatever inner has left, provided it is at least one
 *     token (inner's own ">" is one or more tokens, so it qualifies);
 *   - inner ">" against anything else in outer fails: inner reaches subjects
 *     of any length, outer only of a fixed one;
 *   - outer "*" takes one inner token, literal or "*";
 *   - an outer literal takes only the same literal (not "*": inner "*"
 *     reaches other tokens too);
 *   - both must run out of tokens together.
 *
 * So "license.>" contains "license.b42.*" and "license.>", "*" contains
 * "x" and "*", but "license.*.assigned" does not contain "license.>" and
 * "a.b" does not contain "a.*". This is what the authorisation check uses: a
 * requested pattern is allowed when an allowed pattern contains it.
 *
 * Nothing here allocates; every function is a single left-to-right pass.
 */

/* Is c allowed in a literal token? */
static bool subject_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Length of the token starting at s: up to the next '.' or the end. */
static size_t subject_toklen(const char *s)
{
    size_t n = 0;
    while (s[n] != '.' && s[n] != '\0')
        n++;
    return n;
}

static bool subject_is_star(const char *t, size_t n)
{
    return n == 1 && t[0] == '*';
}

static bool subject_is_gt(const char *t, size_t n)
{
    return n == 1 && t[0] == '>';
}

/* Check the syntax of a subject, or of a pattern when `pattern` is set. */
static bool subject_check(const char *s, bool pattern)
{
    if (!s)
        return false;
    const char *t = s;
    for (size_t tokens = 1; tokens <= SUBJECT_MAX_TOKENS; tokens++) {
        size_t n = 0;
        while (n <= SUBJECT_MAX_TOKEN && subject_char_ok((unsigned char)t[n]))
            n++;
        if (n == 0 && pattern && (t[0] == '*' || t[0] == '>'))
            n = 1; /* a wildcard, checked below to be a whole token */
        else if (n == 0 || n > SUBJECT_MAX_TOKEN)
            return false;
        if (t[n] != '.' && t[n] != '\0')
            return false; /* bad character, or a wildcard glued to text */
        if (subject_is_gt(t, n) && t[n] != '\0')
            return false; /* ">" must be last */
        t += n;
        if ((size_t)(t - s) > SUBJECT_MAX_LEN)
            return false;
        if (*t == '\0')
            return true;
        t++; /* the '.' */
    }
    return false; /* too many tokens */
}

bool subject_id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

bool subject_valid(const char *s)
{
    return subject_check(s, false);
}

bool subject_pattern_valid(const char *p)
{
    return subject_check(p, true);
}

bool subject_matches(const char *p, const char *s)
{
    for (;;) {
        size_t pn = subject_toklen(p), sn = subject_toklen(s);
        if (subject_is_gt(p, pn))
            return sn > 0;
        if (sn == 0)
            return false;
        if (!subject_is_star(p, pn) && (pn != sn || memcmp(p, s, pn) != 0))
            return false;
        p += pn;
        s += sn;
        if (*p == '\0' || *s == '\0')
            return *p == *s; /* both must end together */
        p++;
        s++;
    }
}

bool subject_contains(const char *outer, const char *inner)
{
    for (;;) {
        size_t on = subject_toklen(outer), in = subject_toklen(inner);
        if (subject_is_gt(outer, on))
            return in > 0;
        if (in == 0 || subject_is_gt(inner, in))
            return false;
        /* Outer "*" takes any one inner token; a literal only itself (so not "*"). */
        if (!subject_is_star(outer, on) && (on != in || memcmp(outer, inner, on) != 0))
            return false;
        outer += on;
        inner += in;
        if (*outer == '\0' || *inner == '\0')
            return *outer == *inner;
        outer++;
        inner++;
    }
}
