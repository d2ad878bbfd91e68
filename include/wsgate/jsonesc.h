/* jsonesc.h: the one JSON string escaper (RFC 8259), safe for any bytes. */
#ifndef WSGATE_JSONESC_H
#define WSGATE_JSONESC_H

#include <stddef.h>

#define JSONESC_MAX 6 /* the longest output for one character: "\u001f", "\ufffd" */

/* The JSON string form of the character at s[0..n) (n >= 1) into out, its
 * length in *outlen; returns the input bytes consumed (1..4):
 *   - '"' and '\\' as \" and \\; \n \r \t as themselves escaped; every other
 *     byte below 0x20 as \u00XX (lower-case hex);
 *   - a well-formed UTF-8 character (other ASCII included) as its own bytes;
 *   - a byte that does not start a well-formed UTF-8 sequence as \ufffd (the
 *     replacement character), one per byte: the output is always valid UTF-8
 *     and valid JSON, whatever the input. */
size_t jsonesc_char(const char *s, size_t n, char out[JSONESC_MAX], size_t *outlen);

#endif
