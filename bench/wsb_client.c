/* wsb_client.c: one load-generator process: many WebSocket subscribers on one epoll loop. */
#include "wsb.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum state { ST_CONNECTING, ST_UPGRADE, ST_WAIT_HELLO, ST_WAIT_OK, ST_WAIT_PONG, ST_LIVE, ST_DEAD };

#define MAX_MESSAGE (64u << 20) /* a data message (after inflating) beyond this closes */
#define EV_CACHE    256         /* rebuilt payloads kept (message i in slot i % EV_CACHE) */

/* A message in fragments (FIN clear): none, an uncompressed one, a compressed one. */
enum frag { FRAG_NONE, FRAG_PLAIN, FRAG_DEFLATE };

/* One client connection; buf holds bytes not yet parsed (a partial frame), nbuf a partial
 * NATS protocol line or message (NATS bytes run across WebSocket frames), mbuf the fragments of
 * a data message so far. With permessage-deflate negotiated (pmd), inf is the connection's
 * inflater, made at its first compressed message and kept across messages (context takeover)
 * unless the server said server_no_context_takeover (snct). */
struct conn {
    int fd;
    uint8_t state;
    uint8_t url;
    uint8_t pmd, snct, wbits;
    uint8_t frag, frag_op;
    uint8_t last_ph; /* the phase last[] is about */
    uint8_t unread;  /* --sample: data messages are counted, never read */
    char *buf;
    uint32_t len, cap;
    char *nbuf;
    uint32_t nlen, ncap;
    char *mbuf;
    uint32_t mlen, mcap;
    z_stream *inf;
    int32_t *last; /* per subject, the last index delivered in phase last_ph (-1: none) */
};

/* A payload rebuilt from (ph, i, t), and its subject. */
struct ev_cache {
    uint64_t t;
    long i;
    int ph; /* -1: empty */
    uint32_t len, slen;
    char *data;
    char subj[96];
};

struct client {
    const struct wsb_client_cfg *cfg;
    struct wsb_slot *slot;
    struct conn *conns;
    int ep;
    long started, inflight;
    char *obuf; /* the inflated message */
    size_t olen, ocap;
    struct ev_cache cache[EV_CACHE];
    char scratch[256 * 1024];
};

static void client_note_error(struct client *cl, const char *what, int err)
{
    if (cl->slot->err[0])
        return;
    snprintf(cl->slot->err, sizeof cl->slot->err, "%s%s%s", what, err ? ": " : "",
             err ? strerror(err) : "");
}

/* Append n bytes to a growable buffer. */
static void client_append(char **b, uint32_t *len, uint32_t *cap, const char *p, size_t n)
{
    if (*len + n > *cap) {
        uint32_t nc = *cap ? *cap : 1024;
        while (nc < *len + n)
            nc *= 2;
        char *nb = realloc(*b, nc);
        if (!nb)
            abort();
        *b = nb;
        *cap = nc;
    }
    memcpy(*b + *len, p, n);
    *len += (uint32_t)n;
}

/* Close c; counts it as failed when it never subscribed, closed otherwise. */
static void client_kill(struct client *cl, struct conn *c, const char *why, int err)
{
    if (c->state == ST_DEAD)
        return;
    if (c->state == ST_LIVE) {
        cl->slot->closed++;
    } else {
        cl->slot->failed++;
        client_note_error(cl, why, err);
        if (c->state == ST_CONNECTING || c->state == ST_UPGRADE || c->state == ST_WAIT_HELLO ||
            c->state == ST_WAIT_OK || c->state == ST_WAIT_PONG)
            cl->inflight--;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = ST_DEAD;
    free(c->buf);
    free(c->nbuf);
    free(c->mbuf);
    free(c->last);
    if (c->inf) {
        inflateEnd(c->inf);
        free(c->inf);
    }
    c->inf = NULL;
    c->last = NULL;
    c->buf = c->nbuf = c->mbuf = NULL;
    c->len = c->cap = c->nlen = c->ncap = c->mlen = c->mcap = 0;
}

/* Send one masked client frame (opcode op) carrying p[0..n). */
static void client_send_frame(struct client *cl, struct conn *c, int op, const char *p, size_t n)
{
    char f[16 + 1024];
    size_t h = 0;
    if (n > 1024)
        n = 1024;
    f[h++] = (char)(0x80 | op);
    if (n < 126) {
        f[h++] = (char)(0x80 | n);
    } else {
        f[h++] = (char)(0x80 | 126);
        f[h++] = (char)(n >> 8);
        f[h++] = (char)(n & 0xff);
    }
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    memcpy(f + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        f[h + i] = (char)(p[i] ^ mask[i & 3]);
    ssize_t w = send(c->fd, f, h + n, MSG_NOSIGNAL);
    if (w != (ssize_t)(h + n))
        client_kill(cl, c, "send", w < 0 ? errno : EAGAIN);
}

/* Parse the decimal digits at *pp (moving it past them) into v; false when there are none. */
static int client_digits(const char **pp, const char *end, uint64_t *v)
{
    const char *p = *pp;
    uint64_t x = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++)
        x = x * 10 + (uint64_t)(*p - '0');
    int any = p > *pp;
    *pp = p;
    *v = x;
    return any;
}

/* Whether p[0..n) and subject s[0..sn) are exactly message (ph, i) stamped t as published. */
static int client_intact(struct client *cl, unsigned ph, long i, uint64_t t, const char *p,
                         size_t n, const char *s, size_t sn)
{
    struct ev_cache *e = &cl->cache[(unsigned long)i % EV_CACHE];
    if (e->ph != (int)ph || e->i != i || e->t != t) {
        size_t cap = (size_t)cl->cfg->ev.size + 600;
        if (!e->data && !(e->data = malloc(cap)))
            abort();
        e->len = (uint32_t)wsb_event(e->data, cap, &cl->cfg->ev, ph, i, t);
        e->slen = (uint32_t)wsb_event_subject(e->subj, sizeof e->subj, &cl->cfg->ev, i);
        e->ph = (int)ph;
        e->i = i;
        e->t = t;
    }
    return n == e->len && memcmp(p, e->data, n) == 0 && sn == e->slen &&
           memcmp(s, e->subj, sn) == 0;
}

/* A delivery to c: payload p[0..n) ("ph":P,"i":I,"t":NS first) on subject s[0..sn) (NULL:
 * not found in the frame, counted as not intact). Counts it, its latency, its order among the
 * messages of its subject on c, and whether it is the bytes published. */
static void client_deliver(struct client *cl, struct conn *c, const char *p, size_t n,
                           const char *s, size_t sn)
{
    const char *end = p + n;
    const char *ph = memmem(p, n, "\"ph\":", 5);
    const char *ip = ph ? memmem(ph, (size_t)(end - ph), "\"i\":", 4) : NULL;
    const char *t = ip ? memmem(ip, (size_t)(end - ip), "\"t\":", 4) : NULL;
    uint64_t phase, idx, ts;
    if (!t)
        goto unparsed;
    ph += 5, ip += 4, t += 4;
    if (!client_digits(&ph, end, &phase) || !client_digits(&ip, end, &idx) ||
        !client_digits(&t, end, &ts) || phase >= WSB_PHASES || idx > INT32_MAX)
        goto unparsed;
    uint64_t now = wsb_now_ns();
    uint64_t us = now > ts ? (now - ts) / 1000 : 0;
    struct wsb_slot *sl = cl->slot;
    sl->hist[phase][wsb_hist_bucket(us)]++;
    if (us > sl->max_us[phase])
        sl->max_us[phase] = us;
    sl->delivered[phase]++;
    sl->read[phase]++;
    if (!s || !client_intact(cl, (unsigned)phase, (long)idx, ts, p, n, s, sn)) {
        if (sl->not_intact[phase]++ == 0) {
            char m[160];
            snprintf(m, sizeof m, "not intact: %.*s", (int)(n < 120 ? n : 120), p);
            client_note_error(cl, m, 0);
        }
    }
    int subjects = cl->cfg->ev.subjects;
    if (!c->last && !(c->last = malloc((size_t)subjects * sizeof *c->last)))
        abort();
    if (c->last_ph != phase + 1) { /* a new phase: its indexes start again at 0 */
        for (int k = 0; k < subjects; k++)
            c->last[k] = -1;
        c->last_ph = (uint8_t)(phase + 1);
    }
    int32_t *last = &c->last[idx % (uint64_t)subjects];
    if ((int64_t)idx == *last)
        sl->duplicates[phase]++;
    else if ((int64_t)idx < *last)
        sl->out_of_order[phase]++;
    *last = (int32_t)idx;
    return;
unparsed:
    cl->slot->unparsed++;
}

static void client_subscribed(struct client *cl, struct conn *c)
{
    c->state = ST_LIVE;
    cl->slot->subscribed++;
    cl->inflight--;
}

/* A wsgate text frame. */
static void client_on_wsgate(struct client *cl, struct conn *c, const char *p, size_t n)
{
    if (n >= 11 && memcmp(p, "{\"op\":\"msg\"", 11) == 0) {
        /* {"op":"msg","subject":"S","seq":N,"data":PAYLOAD} (PROTOCOL.md) */
        const char *s = memmem(p, n, "\"subject\":\"", 11);
        const char *d = memmem(p, n, ",\"data\":", 8);
        const char *se = s ? memchr(s + 11, '"', n - (size_t)(s + 11 - p)) : NULL;
        if (!se || !d || d < se || p[n - 1] != '}')
            client_deliver(cl, c, p, n, NULL, 0);
        else
            client_deliver(cl, c, d + 8, (size_t)(p + n - 1 - (d + 8)), s + 11,
                           (size_t)(se - (s + 11)));
        return;
    }
    if (c->state == ST_WAIT_HELLO && memmem(p, n, "\"op\":\"hello\"", 12)) {
        char sub[512];
        int k = snprintf(sub, sizeof sub, "{\"op\":\"sub\",\"subject\":\"%s\"}", cl->cfg->subject);
        c->state = ST_WAIT_OK;
        client_send_frame(cl, c, 1, sub, (size_t)k);
    } else if (c->state == ST_WAIT_OK && memmem(p, n, "\"op\":\"ok\"", 9)) {
        client_subscribed(cl, c);
    } else if (memmem(p, n, "\"op\":\"err\"", 10)) {
        char m[128];
        snprintf(m, sizeof m, "gateway err frame: %.*s", (int)(n < 100 ? n : 100), p);
        client_note_error(cl, m, 0);
        if (c->state != ST_LIVE)
            client_kill(cl, c, m, 0);
    }
}

/* Parse NATS protocol bytes p[0..n); returns the bytes consumed (the rest is incomplete). */
static size_t client_nats_parse(struct client *cl, struct conn *c, const char *p, size_t n)
{
    size_t pos = 0;
    while (pos < n && c->state != ST_DEAD) {
        const char *nl = memchr(p + pos, '\n', n - pos);
        if (!nl)
            break;
        size_t line = (size_t)(nl - (p + pos)) + 1;
        const char *l = p + pos;
        if (l[0] == 'M' || l[0] == 'm') {
            /* MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n */
            const char *q = nl - 1;
            if (*q == '\r')
                q--;
            size_t size = 0, mul = 1;
            while (q > l && *q >= '0' && *q <= '9') {
                size += (size_t)(*q - '0') * mul;
                mul *= 10;
                q--;
            }
            if (pos + line + size + 2 > n)
                break;
            const char *s = l + 4; /* after "MSG " */
            const char *se = line > 4 ? memchr(s, ' ', line - 4) : NULL;
            client_deliver(cl, c, l + line, size, se ? s : NULL, se ? (size_t)(se - s) : 0);
            pos += line + size + 2;
            continue;
        }
        if (l[0] == 'P' && line >= 4 && l[1] == 'I') { /* PING */
            client_send_frame(cl, c, 2, "PONG\r\n", 6);
        } else if (l[0] == 'P' && line >= 4 && l[1] == 'O') { /* PONG */
            if (c->state == ST_WAIT_PONG)
                client_subscribed(cl, c);
        } else if (l[0] == '-') {
            char m[128];
            snprintf(m, sizeof m, "nats-server: %.*s", (int)(line < 100 ? line : 100), l);
            client_note_error(cl, m, 0);
            if (c->state != ST_LIVE)
                client_kill(cl, c, m, 0);
        } else if (l[0] == 'I' && c->state == ST_WAIT_HELLO) { /* INFO: subscribe */
            char cmd[512];
            int k = snprintf(cmd, sizeof cmd,
                             "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,"
                             "\"echo\":false}\r\nSUB %s 1\r\nPING\r\n",
                             cl->cfg->subject);
            c->state = ST_WAIT_PONG;
            client_send_frame(cl, c, 2, cmd, (size_t)k);
        }
        pos += line;
    }
    return pos;
}

static void client_on_nats(struct client *cl, struct conn *c, const char *p, size_t n)
{
    if (c->nlen == 0) {
        size_t used = client_nats_parse(cl, c, p, n);
        if (c->state != ST_DEAD && used < n)
            client_append(&c->nbuf, &c->nlen, &c->ncap, p + used, n - used);
        return;
    }
    client_append(&c->nbuf, &c->nlen, &c->ncap, p, n);
    size_t used = client_nats_parse(cl, c, c->nbuf, c->nlen);
    if (c->state == ST_DEAD)
        return;
    memmove(c->nbuf, c->nbuf + used, c->nlen - used);
    c->nlen -= (uint32_t)used;
}

/* A whole data message p[0..n) (inflated when it came compressed). */
static void client_on_message(struct client *cl, struct conn *c, const char *p, size_t n)
{
    cl->slot->app_bytes += n;
    if (cl->cfg->proto == WSB_PROTO_NATS)
        client_on_nats(cl, c, p, n);
    else
        client_on_wsgate(cl, c, p, n);
}

/* Inflate one compressed message p[0..n) (its frames' payloads joined) with c's inflater into
 * cl->obuf[0..olen): the payload, then 00 00 ff ff (RFC 7692 7.2.2). Returns 0, or -1 with the
 * connection to be closed. */
static int client_inflate(struct client *cl, struct conn *c, const char *p, size_t n)
{
    static const unsigned char tail[4] = {0x00, 0x00, 0xff, 0xff};
    if (!c->inf) {
        c->inf = calloc(1, sizeof *c->inf);
        if (!c->inf || inflateInit2(c->inf, -(int)c->wbits) != Z_OK)
            abort();
        cl->slot->inflaters++;
    }
    z_stream *z = c->inf;
    cl->olen = 0;
    for (int part = 0; part < 2; part++) {
        z->next_in = part ? (Bytef *)tail : (Bytef *)p;
        z->avail_in = part ? 4 : (uInt)n;
        for (;;) {
            if (cl->ocap - cl->olen < 16384) {
                size_t nc = cl->ocap ? cl->ocap * 2 : 256 * 1024;
                if (nc > MAX_MESSAGE + 16384)
                    return -1; /* inflates to more than MAX_MESSAGE */
                char *nb = realloc(cl->obuf, nc);
                if (!nb)
                    abort();
                cl->obuf = nb;
                cl->ocap = nc;
            }
            z->next_out = (Bytef *)cl->obuf + cl->olen;
            z->avail_out = (uInt)(cl->ocap - cl->olen);
            int rc = inflate(z, Z_SYNC_FLUSH);
            cl->olen = cl->ocap - z->avail_out;
            if (rc == Z_STREAM_END) {
                /* a final block (BFINAL): the sender starts a new stream; the rest is the tail */
                inflateReset(z);
                if (z->avail_in == 0)
                    break;
                continue;
            }
            if (rc == Z_BUF_ERROR && z->avail_in == 0 && z->avail_out > 0)
                break; /* nothing more to do with this input */
            if (rc != Z_OK && rc != Z_BUF_ERROR)
                return -1;
            if (z->avail_in == 0 && z->avail_out > 0)
                break;
        }
    }
    if (c->snct)
        inflateReset(z);
    cl->slot->inflated++;
    return 0;
}

/* A complete compressed message: inflate it and hand it on. */
static void client_on_deflated(struct client *cl, struct conn *c, const char *p, size_t n)
{
    if (client_inflate(cl, c, p, n) < 0) {
        cl->slot->inflate_errors++;
        char m[128];
        snprintf(m, sizeof m, "inflate failed: %s",
                 c->inf && c->inf->msg ? c->inf->msg : "more than 64 MiB");
        client_note_error(cl, m, 0);
        client_kill(cl, c, m, 0);
        return;
    }
    client_on_message(cl, c, cl->obuf, cl->olen);
}

/* Parse WebSocket frames in p[0..n); returns the bytes consumed. */
static size_t client_frames(struct client *cl, struct conn *c, const char *p, size_t n)
{
    size_t pos = 0;
    while (pos + 2 <= n && c->state != ST_DEAD) {
        const uint8_t *h = (const uint8_t *)p + pos;
        int op = h[0] & 0x0f, fin = h[0] & 0x80, rsv1 = h[0] & 0x40;
        uint64_t len = h[1] & 0x7f;
        size_t hl = 2;
        if (len == 126) {
            if (pos + 4 > n)
                break;
            len = ((uint64_t)h[2] << 8) | h[3];
            hl = 4;
        } else if (len == 127) {
            if (pos + 10 > n)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | h[2 + i];
            hl = 10;
        }
        if (h[1] & 0x80)
            hl += 4; /* a masked server frame: not expected, skipped as data */
        if (pos + hl + len > n)
            break;
        const char *pl = p + pos + hl;
        pos += hl + (size_t)len;
        const char *bad = NULL;
        if (h[0] & 0x30)
            bad = "frame with RSV2 or RSV3";
        else if (op >= 8 && (rsv1 || !fin))
            bad = "control frame with RSV1 or without FIN";
        else if (op == 0 && (rsv1 || c->frag == FRAG_NONE))
            bad = "continuation frame with RSV1 or outside a message";
        else if ((op == 1 || op == 2) && c->frag != FRAG_NONE)
            bad = "data frame inside a fragmented message";
        else if ((op == 1 || op == 2) && rsv1 && !c->pmd)
            bad = "RSV1 without permessage-deflate";
        if (bad) {
            client_kill(cl, c, bad, 0);
            break;
        }
        if (c->unread && c->state == ST_LIVE && (op == 1 || op == 2) && fin) {
            /* --sample: a live event (compressed, or a msg frame) counted unread */
            if (rsv1 || (len >= 11 && memcmp(pl, "{\"op\":\"msg\"", 11) == 0)) {
                int ph = *cl->cfg->phase;
                if (ph >= 0 && ph < WSB_PHASES)
                    cl->slot->delivered[ph]++;
                continue;
            }
        }
        switch (op) {
        case 1:
        case 2:
            if (fin) { /* a message in one frame: no copy */
                if (rsv1)
                    client_on_deflated(cl, c, pl, (size_t)len);
                else
                    client_on_message(cl, c, pl, (size_t)len);
                break;
            }
            c->frag = rsv1 ? FRAG_DEFLATE : FRAG_PLAIN;
            c->frag_op = (uint8_t)op;
            c->mlen = 0;
            /* fall through */
        case 0:
            if (c->mlen + len > MAX_MESSAGE) {
                client_kill(cl, c, "fragmented message over 64 MiB", 0);
                break;
            }
            client_append(&c->mbuf, &c->mlen, &c->mcap, pl, (size_t)len);
            if (fin) {
                int deflated = c->frag == FRAG_DEFLATE;
                c->frag = FRAG_NONE;
                if (deflated)
                    client_on_deflated(cl, c, c->mbuf, c->mlen);
                else
                    client_on_message(cl, c, c->mbuf, c->mlen);
                if (c->state != ST_DEAD)
                    c->mlen = 0;
            }
            break;
        case 8:
            cl->slot->last_close_code = len >= 2 ? ((uint8_t)pl[0] << 8) | (uint8_t)pl[1] : 1005;
            client_kill(cl, c, "close frame from the server", 0);
            break;
        case 9:
            client_send_frame(cl, c, 10, pl, (size_t)len);
            break;
        default:
            break;
        }
    }
    return pos;
}

/* Parameter name[=value] of an extension at s (up to end) into name/val; returns the end. */
static const char *client_ext_param(const char *s, const char *end, char *name, size_t nsz,
                                    char *val, size_t vsz)
{
    size_t k = 0;
    name[0] = val[0] = 0;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (s < end && *s != '=' && *s != ';' && *s != ',' && *s != ' ' && *s != '\t') {
        if (k + 1 < nsz)
            name[k++] = *s;
        s++;
    }
    name[k] = 0;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    if (s < end && *s == '=') {
        s++;
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        k = 0;
        while (s < end && *s != ';' && *s != ',' && *s != ' ' && *s != '\t') {
            if (*s != '"' && k + 1 < vsz)
                val[k++] = *s;
            s++;
        }
        val[k] = 0;
    }
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    return s;
}

/* The server's Sec-WebSocket-Extensions answer v[0..n): sets c->pmd, wbits, snct. Returns NULL,
 * or what is wrong with it (the connection is then closed, RFC 6455 9.1, RFC 7692 7.1). */
static const char *client_extensions(struct client *cl, struct conn *c, const char *v, size_t n)
{
    const char *end = v + n;
    char name[40], val[16];
    const char *s = client_ext_param(v, end, name, sizeof name, val, sizeof val);
    if (strcmp(name, "permessage-deflate") != 0)
        return "unknown extension in the answer";
    if (!cl->cfg->deflate)
        return "permessage-deflate answered but not offered";
    c->pmd = 1;
    c->wbits = 15;
    while (s < end && *s == ';') {
        s = client_ext_param(s + 1, end, name, sizeof name, val, sizeof val);
        if (strcmp(name, "server_no_context_takeover") == 0) {
            c->snct = 1;
        } else if (strcmp(name, "client_no_context_takeover") == 0) {
            /* we send uncompressed messages only */
        } else if (strcmp(name, "server_max_window_bits") == 0) {
            int b = atoi(val);
            if (b < 8 || b > 15)
                return "bad server_max_window_bits in the answer";
            if (cl->cfg->window_bits && b > cl->cfg->window_bits)
                return "server_max_window_bits above the one requested";
            c->wbits = (uint8_t)b;
        } else if (strcmp(name, "client_max_window_bits") == 0) {
            /* offered; the limit is for our compressor, which we do not use */
        } else {
            return "unknown permessage-deflate parameter in the answer";
        }
    }
    if (s < end)
        return "more than one extension in the answer";
    /* zlib's raw inflate needs a window of at least 9 bits for what a 9-bit deflater makes */
    if (c->wbits < 9)
        c->wbits = 9;
    return NULL;
}

/* Bytes after the HTTP upgrade request; returns the bytes consumed. */
static size_t client_upgrade(struct client *cl, struct conn *c, const char *p, size_t n)
{
    const char *end = memmem(p, n, "\r\n\r\n", 4);
    if (!end)
        return 0;
    if (n < 12 || memcmp(p, "HTTP/1.1 101", 12) != 0) {
        char m[128];
        const char *eol = memchr(p, '\r', n);
        snprintf(m, sizeof m, "upgrade refused: %.*s", (int)(eol ? eol - p : 40), p);
        client_kill(cl, c, m, 0);
        return n;
    }
    static const char hdr[] = "sec-websocket-extensions:";
    for (const char *l = memchr(p, '\n', (size_t)(end - p)); l && l < end;
         l = memchr(l, '\n', (size_t)(end + 2 - l))) {
        l++;
        const char *eol = memmem(l, (size_t)(end + 2 - l), "\r\n", 2);
        if (!eol)
            break;
        if ((size_t)(eol - l) > sizeof hdr - 1 && strncasecmp(l, hdr, sizeof hdr - 1) == 0) {
            const char *v = l + sizeof hdr - 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *bad = client_extensions(cl, c, v, (size_t)(eol - v));
            if (!cl->slot->ext[0])
                snprintf(cl->slot->ext, sizeof cl->slot->ext, "%.*s", (int)(eol - v), v);
            if (bad) {
                client_kill(cl, c, bad, 0);
                return n;
            }
            if (c->pmd)
                cl->slot->deflate_conns++;
        }
        l = eol;
    }
    c->state = ST_WAIT_HELLO; /* wsgate sends hello, nats-server INFO */
    return (size_t)(end + 4 - p);
}

/* Everything available on c's socket. */
static void client_on_readable(struct client *cl, struct conn *c)
{
    for (;;) {
        ssize_t r = recv(c->fd, cl->scratch, sizeof cl->scratch, 0);
        if (r > 0)
            cl->slot->wire_bytes += (uint64_t)r;
        if (r == 0) {
            client_kill(cl, c, "connection closed by the server", 0);
            return;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            client_kill(cl, c, "recv", errno);
            return;
        }
        const char *p = cl->scratch;
        size_t n = (size_t)r;
        if (c->len) {
            client_append(&c->buf, &c->len, &c->cap, p, n);
            p = c->buf;
            n = c->len;
        }
        size_t used = 0;
        if (c->state == ST_UPGRADE)
            used = client_upgrade(cl, c, p, n);
        if (c->state != ST_UPGRADE && c->state != ST_DEAD)
            used += client_frames(cl, c, p + used, n - used);
        if (c->state == ST_DEAD)
            return;
        if (p == c->buf) {
            memmove(c->buf, c->buf + used, n - used);
            c->len = (uint32_t)(n - used);
        } else if (used < n) {
            client_append(&c->buf, &c->len, &c->cap, p + used, n - used);
        }
        if ((size_t)r < sizeof cl->scratch)
            return;
    }
}

/* The TCP connection is up (or failed): send the upgrade request. */
static void client_on_connected(struct client *cl, struct conn *c)
{
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        client_kill(cl, c, "connect", err);
        return;
    }
    cl->slot->connected++;
    const struct wsb_url *u = &cl->cfg->urls[c->url];
    char ext[128] = "";
    if (cl->cfg->deflate && cl->cfg->window_bits)
        snprintf(ext, sizeof ext,
                 "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; "
                 "server_max_window_bits=%d\r\n",
                 cl->cfg->window_bits);
    else if (cl->cfg->deflate)
        snprintf(ext, sizeof ext,
                 "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
    char req[768];
    int k = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     u->path, u->host, u->port, ext);
    c->state = ST_UPGRADE;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(cl->ep, EPOLL_CTL_MOD, c->fd, &ev);
    if (send(c->fd, req, (size_t)k, MSG_NOSIGNAL) != k)
        client_kill(cl, c, "send upgrade", errno);
}

/* Start connection i of this process. */
static void client_start(struct client *cl, long i)
{
    struct conn *c = &cl->conns[i];
    long global = cl->cfg->first + i;
    c->url = (uint8_t)(global % cl->cfg->nurls);
    const struct wsb_url *u = &cl->cfg->urls[c->url];
    c->state = ST_CONNECTING;
    c->unread =
        cl->cfg->sample > 1 && cl->cfg->proto == WSB_PROTO_WSGATE && global % cl->cfg->sample != 0;
    cl->inflight++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        client_kill(cl, c, "socket", errno);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(global % cl->cfg->src_ips));
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0) {
        client_kill(cl, c, "bind", errno);
        return;
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)u->port)};
    inet_pton(AF_INET, u->host, &dst.sin_addr);
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(cl->ep, EPOLL_CTL_ADD, c->fd, &ev);
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS)
        client_kill(cl, c, "connect", errno);
}

int wsb_client_run(const struct wsb_client_cfg *cfg, volatile int *stop, struct wsb_slot *slot)
{
    struct client *cl = calloc(1, sizeof *cl);
    if (!cl)
        return -ENOMEM;
    cl->cfg = cfg;
    cl->slot = slot;
    cl->conns = calloc((size_t)cfg->count, sizeof *cl->conns);
    cl->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!cl->conns || cl->ep < 0)
        return cl->ep < 0 ? -errno : -ENOMEM;
    for (int k = 0; k < EV_CACHE; k++)
        cl->cache[k].ph = -1;
    struct epoll_event evs[1024];
    while (!*stop) {
        while (cl->started < cfg->count && cl->inflight < cfg->inflight)
            client_start(cl, cl->started++);
        int n = epoll_wait(cl->ep, evs, 1024, 50);
        for (int k = 0; k < n; k++) {
            struct conn *c = evs[k].data.ptr;
            if (c->state == ST_DEAD)
                continue;
            if (c->state == ST_CONNECTING)
                client_on_connected(cl, c);
            else if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                client_on_readable(cl, c);
        }
    }
    return 0;
}
