/* fuzz_utf8.c: libFuzzer target for UTF-8 decoding, validation, clipping and JSON escaping. */
#include "fuzz.h"
#include "wsgate/sbuf.h"
#include "wsgate/utf8.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * The input is any bytes. Beyond "no crash, no read past the end", each
 * check is a property; a violation aborts so libFuzzer reports it:
 *   - utf8_valid agrees with jansson's own UTF-8 check (json_stringn);
 *   - walking with utf8_decode: each decoded code point re-encodes to the
 *     bytes it came from, and the walk consumes everything iff utf8_valid;
 *   - utf8_clip at every max: at most max (and n) bytes, never splits a
 *     character of valid input (the prefix stays valid);
 *   - sbuf_json_str's output is valid UTF-8 and one JSON string, equal to
 *     the input when the input is valid UTF-8.
 */

static size_t fuzz_encode(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    bool valid = utf8_valid(s, size);

    json_t *ref = json_stringn(s, size);
    CHECK(valid == (ref != NULL));
    json_decref(ref);

    size_t i = 0;
    while (i < size) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, size - i, &cp);
        if (k == 0)
            break;
        unsigned char enc[4];
        CHECK(cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF));
        CHECK(fuzz_encode(cp, enc) == k && memcmp(enc, s + i, k) == 0);
        i += k;
    }
    CHECK((i == size) == valid);

    for (size_t max = 0; max <= size + 1; max++) {
        size_t k = utf8_clip(s, size, max);
        CHECK(k <= max && k <= size);
        CHECK(k + 3 >= (max < size ? max : size));
        if (valid)
            CHECK(utf8_valid(s, k));
    }

    sbuf b;
    sbuf_init(&b, 0);
    sbuf_json_str(&b, s, size);
    CHECK(utf8_valid(sbuf_str(&b), b.len));
    json_error_t err;
    json_t *j = json_loadb(sbuf_str(&b), b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    CHECK(j && json_is_string(j));
    if (valid)
        CHECK(json_string_length(j) == size && memcmp(json_string_value(j), s, size) == 0);
    json_decref(j);
    sbuf_free(&b);
    return 0;
}
