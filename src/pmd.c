/* pmd.c: permessage-deflate negotiation and the one inflater of client messages (see pmd.h). */
#include "wsgate/pmd.h"

#include "wsgate/httptoken.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define PMD_CHUNK 16384 /* inflated bytes per round of inflate() */

/* One parameter of an offer: name[=value], value unquoted. */
typedef struct pmd_param {
    char name[32];
    char value[8];
    bool has_value;
} pmd_param;

static const char *pmd_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Copy a token at s into out (size bytes). Returns the end, or NULL when
 * there is no token or it does not fit. */
static const char *pmd_token(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (; httptoken_char((unsigned char)*s); s++) {
        if (n + 1 >= size)
            return NULL;
        out[n++] = *s;
    }
    out[n] = '\0';
    return n ? s : NULL;
}

/* A token or a quoted string (RFC 6455 9.1: its content must be a token). */
static const char *pmd_value(const char *s, char *out, size_t size)
{
    if (*s != '"')
        return pmd_token(s, out, size);
    size_t n = 0;
    for (s++; *s != '"'; s++) {
        if (*s == '\\')
            s++;
        if (!*s || !httptoken_char((unsigned char)*s) || n + 1 >= size)
            return NULL;
        out[n++] = *s;
    }
    out[n] = '\0';
    return n ? s + 1 : NULL;
}

/* Window bits from a value: 8..15, or -1. */
static int pmd_bits(const pmd_param *p)
{
    if (!p->has_value || strlen(p->value) > 2 || !isdigit((unsigned char)p->value[0]) ||
        (p->value[1] && !isdigit((unsigned char)p->value[1])))
        return -1;
    int v = atoi(p->value);
    return v >= 8 && v <= 15 ? v : -1;
}

/* Apply one parameter to the offer being read. Returns 0, or -EINVAL when
 * the offer must be declined (unknown, repeated or malformed). */
static int pmd_apply(const pmd_param *p, pmd_params *o, unsigned *seen)
{
    static const char *const names[] = {"server_no_context_takeover", "client_no_context_takeover",
                                        "server_max_window_bits", "client_max_window_bits"};
    unsigned i = 0;
    while (i < 4 && strcmp(p->name, names[i]) != 0)
        i++;
    if (i == 4 || (*seen & (1u << i)))
        return -EINVAL;
    *seen |= 1u << i;
    switch (i) {
    case 0:
        o->server_no_takeover = true;
        /* fallthrough */
    case 1:
        return p->has_value ? -EINVAL : 0;
    case 2: {
        int bits = pmd_bits(p);
        if (bits < 9) /* 8 is valid, but zlib cannot make a raw deflate stream that small */
            return -EINVAL;
        o->server_bits = (uint8_t)bits;
        o->server_bits_asked = true;
        return 0;
    }
    default: /* our inflater has a 15-bit window: whatever the client uses fits */
        return !p->has_value || pmd_bits(p) > 0 ? 0 : -EINVAL;
    }
}

/* Read one offer (extension name and parameters) at s, up to the next ',' or
 * the end. Returns where it ends; *ok says it is a permessage-deflate offer
 * we accept, with its parameters in *o. NULL when the header is malformed. */
static const char *pmd_offer(const char *s, pmd_params *o, bool *ok)
{
    char name[32];
    unsigned seen = 0;
    *o = (pmd_params){.server_bits = 15};
    s = pmd_token(pmd_space(s), name, sizeof(name));
    *ok = s && strcmp(name, "permessage-deflate") == 0;
    if (!s) /* a name too long for us is not ours: skip its offer */
        return NULL;
    for (s = pmd_space(s); *s == ';'; s = pmd_space(s)) {
        pmd_param p = {0};
        s = pmd_token(pmd_space(s + 1), p.name, sizeof(p.name));
        if (!s)
            return NULL;
        s = pmd_space(s);
        if (*s == '=') {
            p.has_value = true;
            s = pmd_value(pmd_space(s + 1), p.value, sizeof(p.value));
            if (!s)
                return NULL;
        }
        if (*ok && pmd_apply(&p, o, &seen) != 0)
            *ok = false;
    }
    return *s == ',' || *s == '\0' ? s : NULL;
}

int pmd_negotiate(const char *offer, pmd_params *out)
{
    const char *s = offer;
    while (s && *s) {
        bool ok;
        pmd_params o;
        s = pmd_offer(s, &o, &ok);
        if (!s)
            return -ENOENT;
        if (ok) {
            *out = o;
            return 0;
        }
        if (*s == ',')
            s++;
    }
    return -ENOENT;
}

int pmd_answer(const pmd_params *p, char *buf, size_t size)
{
    char bits[32] = "";
    if (p->server_bits_asked)
        snprintf(bits, sizeof(bits), "; server_max_window_bits=%u", p->server_bits);
    int n = snprintf(buf, size, "; client_no_context_takeover%s%s",
                     p->server_no_takeover ? "; server_no_context_takeover" : "", bits);
    return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

static z_stream pmd_z;
static bool pmd_z_ready;

int pmd_inflate(const void *in, size_t len, size_t max, sbuf *out)
{
    static const unsigned char tail[4] = {0x00, 0x00, 0xff, 0xff};
    unsigned char chunk[PMD_CHUNK];
    if (!pmd_z_ready) {
        if (inflateInit2(&pmd_z, -15) != Z_OK)
            return -ENOMEM;
        pmd_z_ready = true;
    } else {
        inflateReset(&pmd_z);
    }
    sbuf_reset(out);
    int rc = 0;
    for (int part = 0; part < 2 && rc == 0; part++) {
        pmd_z.next_in = part ? (unsigned char *)tail : (unsigned char *)in;
        pmd_z.avail_in = part ? sizeof(tail) : (uInt)len;
        do {
            pmd_z.next_out = chunk;
            pmd_z.avail_out = sizeof(chunk);
            int z = inflate(&pmd_z, Z_SYNC_FLUSH);
            size_t got = sizeof(chunk) - pmd_z.avail_out;
            if (out->len + got > max)
                return -EMSGSIZE;
            sbuf_put(out, chunk, got);
            if (z == Z_STREAM_END)
                return part == 0 && pmd_z.avail_in ? -EINVAL : 0; /* nothing may follow */
            if (z == Z_BUF_ERROR && pmd_z.avail_in == 0)
                break; /* all input used */
            if (z != Z_OK)
                rc = -EINVAL;
        } while (rc == 0 && (pmd_z.avail_in > 0 || pmd_z.avail_out == 0));
    }
    return rc;
}

void pmd_fini(void)
{
    if (pmd_z_ready)
        inflateEnd(&pmd_z);
    pmd_z_ready = false;
}
