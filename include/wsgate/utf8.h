/* utf8.h: UTF-8 decoding, validation and clipping, bounded by a length (never by a NUL). */
#ifndef WSGATE_UTF8_H
#define WSGATE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decode the character at s[0..n). Returns its length (1..4) and sets *cp
 * (when cp is not NULL), or returns 0 when n is 0 or the bytes there are not
 * well-formed UTF-8 (RFC 3629): a bad lead byte, a missing or bad
 * continuation byte (never read past s + n), an overlong form, a surrogate
 * (U+D800..U+DFFF) or a code point above U+10FFFF. */
size_t utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Is s[0..n) well-formed UTF-8 throughout? (NUL bytes are valid characters.) */
bool utf8_valid(const char *s, size_t n);
/* The length of s[0..n) cut to at most max bytes without splitting a
 * character: n when n <= max, else max, or less when a multi-byte character
 * starts before max and would end after it (then the cut goes before it).
 * Invalid bytes are not characters: they may be cut anywhere. */
size_t utf8_clip(const char *s, size_t n, size_t max);

#endif
