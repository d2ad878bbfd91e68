/* jsonscan.c: a single-pass JSON validator (UTF-8 checked by utf8.c) that never allocates.
 *
 * The gateway embeds a published payload into its msg frame as raw JSON when
 * the payload is valid JSON; this scanner decides that once per event, with
 * no allocation and no tree (a full parser would build one just to drop it). */
#include "wsgate/jsonscan.h"

#include "wsgate/utf8.h"

#include <stdint.h>

typedef struct jsonscan {
    const unsigned char *p;
    const unsigned char *end;
} jsonscan;

static void jsonscan_ws(jsonscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool jsonscan_lit(jsonscan *s, const char *word)
{
    for (; *word; word++, s->p++)
        if (s->p >= s->end || *s->p != (unsigned char)*word)
            return false;
    return true;
}

static bool jsonscan_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool jsonscan_string(jsonscan *s)
{
    s->p++; /* opening quote */
    while (s->p < s->end) {
        unsigned char c = *s->p;
        if (c == '"') {
            s->p++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (++s->p >= s->end)
                return false;
            c = *s->p++;
            if (c == 'u') {
                for (int i = 0; i < 4; i++, s->p++)
                    if (s->p >= s->end || !jsonscan_hex(*s->p))
                        return false;
            } else if (!(c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                         c == 'r' || c == 't')) {
                return false;
            }
            continue;
        }
        if (c < 0x80) {
            s->p++;
            continue;
        }
        size_t k = utf8_decode((const char *)s->p, (size_t)(s->end - s->p), NULL);
        if (!k)
            return false;
        s->p += k;
    }
    return false;
}

static bool jsonscan_digits(jsonscan *s)
{
    const unsigned char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > start;
}

static bool jsonscan_number(jsonscan *s)
{
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (!jsonscan_digits(s))
        return false;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!jsonscan_digits(s))
            return false;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (!jsonscan_digits(s))
            return false;
    }
    return true;
}

static bool jsonscan_value(jsonscan *s, int depth);

/* Array or object: `close` is ']' or '}'; objects want "key": before each value. */
static bool jsonscan_container(jsonscan *s, int depth, unsigned char close)
{
    if (depth >= JSONSCAN_MAX_DEPTH)
        return false;
    s->p++;
    jsonscan_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return true;
    }
    for (;;) {
        if (close == '}') {
            if (s->p >= s->end || *s->p != '"' || !jsonscan_string(s))
                return false;
            jsonscan_ws(s);
            if (s->p >= s->end || *s->p++ != ':')
                return false;
        }
        if (!jsonscan_value(s, depth + 1))
            return false;
        jsonscan_ws(s);
        if (s->p >= s->end)
            return false;
        unsigned char c = *s->p++;
        if (c == close)
            return true;
        if (c != ',')
            return false;
        jsonscan_ws(s);
    }
}

static bool jsonscan_value(jsonscan *s, int depth)
{
    jsonscan_ws(s);
    if (s->p >= s->end)
        return false;
    switch (*s->p) {
    case '{':
        return jsonscan_container(s, depth, '}');
    case '[':
        return jsonscan_container(s, depth, ']');
    case '"':
        return jsonscan_string(s);
    case 't':
        return jsonscan_lit(s, "true");
    case 'f':
        return jsonscan_lit(s, "false");
    case 'n':
        return jsonscan_lit(s, "null");
    default:
        return jsonscan_number(s);
    }
}

bool jsonscan_valid(const char *p, size_t n)
{
    jsonscan s = {(const unsigned char *)p, (const unsigned char *)p + n};
    if (!jsonscan_value(&s, 0))
        return false;
    jsonscan_ws(&s);
    return s.p == s.end;
}
