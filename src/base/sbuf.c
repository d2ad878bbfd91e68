/* sbuf.c: growable byte buffer with headroom (see sbuf.h). */
#include "wsgate/sbuf.h"

#include "wsgate/jsonesc.h"
#include "wsgate/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbuf_init(sbuf *b, size_t headroom)
{
    b->head = headroom;
    b->len = 0;
    b->cap = 64;
    b->mem = xmalloc(b->head + b->cap + 1);
    b->mem[b->head] = '\0';
}

void sbuf_free(sbuf *b)
{
    free(b->mem);
    b->mem = NULL;
    b->len = b->cap = 0;
}

char *sbuf_str(const sbuf *b)
{
    return (char *)b->mem + b->head;
}

void sbuf_reset(sbuf *b)
{
    b->len = 0;
    b->mem[b->head] = '\0';
}

unsigned char *sbuf_release(sbuf *b)
{
    unsigned char *m = b->mem;
    b->mem = NULL;
    b->len = b->cap = 0;
    return m;
}

/* Make room for n more content bytes plus the terminating NUL. */
static void sbuf_grow(sbuf *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n)
        cap *= 2;
    b->mem = xrealloc(b->mem, b->head + cap + 1);
    b->cap = cap;
}

void sbuf_put(sbuf *b, const void *p, size_t n)
{
    sbuf_grow(b, n);
    memcpy(b->mem + b->head + b->len, p, n);
    b->len += n;
    b->mem[b->head + b->len] = '\0';
}

void sbuf_puts(sbuf *b, const char *s)
{
    sbuf_put(b, s, strlen(s));
}

void sbuf_putc(sbuf *b, char c)
{
    sbuf_put(b, &c, 1);
}

void sbuf_vprintf(sbuf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n <= 0)
        return;
    sbuf_grow(b, (size_t)n);
    vsnprintf((char *)b->mem + b->head + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void sbuf_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

void sbuf_json_str(sbuf *b, const char *s, size_t n)
{
    sbuf_grow(b, n + 2);
    sbuf_putc(b, '"');
    size_t run = 0; /* start of the bytes to copy verbatim in one go */
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        char esc[JSONESC_MAX];
        size_t outlen, k = jsonesc_char(s + i, n - i, esc, &outlen);
        if (outlen != k) { /* an escape, not the character itself */
            sbuf_put(b, s + run, i - run);
            sbuf_put(b, esc, outlen);
            run = i + k;
        }
        i += k;
    }
    sbuf_put(b, s + run, n - run);
    sbuf_putc(b, '"');
}

void sbuf_base64(sbuf *b, const void *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *in = p;
    sbuf_grow(b, (n + 2) / 3 * 4);
    char *out = (char *)b->mem + b->head + b->len;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    b->len += o;
    b->mem[b->head + b->len] = '\0';
}
