/* sbuf.h: a growable byte buffer with optional headroom, for building frames and HTTP bodies. */
#ifndef WSGATE_SBUF_H
#define WSGATE_SBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct sbuf {
    unsigned char *mem; /* allocation: headroom bytes, then len bytes of content */
    size_t head;        /* headroom reserved in front of the content */
    size_t len;         /* content bytes */
    size_t cap;         /* content capacity (excluding headroom and the NUL slot) */
} sbuf;

/* Start an empty buffer whose content is preceded by `headroom` spare bytes
 * (LWS_PRE for WebSocket frames, 0 otherwise). Never fails. */
void sbuf_init(sbuf *b, size_t headroom);
/* Free the memory; the buffer may be initialised again. */
void sbuf_free(sbuf *b);
/* Content pointer (after the headroom); always NUL-terminated. */
char *sbuf_str(const sbuf *b);
/* Drop the content, keep the memory. */
void sbuf_reset(sbuf *b);
/* Hand the allocation to the caller (content at result + head); the buffer is left empty. */
unsigned char *sbuf_release(sbuf *b);

void sbuf_put(sbuf *b, const void *p, size_t n);
void sbuf_puts(sbuf *b, const char *s);
void sbuf_putc(sbuf *b, char c);
void sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_vprintf(sbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Append s[0..n) as a quoted JSON string, escaped by jsonesc_char: well-formed
 * UTF-8 is copied as it is, each byte of ill-formed UTF-8 becomes \ufffd, so
 * the output is valid JSON and valid UTF-8 whatever s holds. */
void sbuf_json_str(sbuf *b, const char *s, size_t n);
/* Append standard base64 (RFC 4648, padded) of p[0..n). */
void sbuf_base64(sbuf *b, const void *p, size_t n);

#endif
