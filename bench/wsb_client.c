/* wsb_client.c: one load-generator process: many WebSocket subscribers on one epoll loop. */
#include "wsb.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum state { ST_CONNECTING, ST_UPGRADE, ST_WAIT_HELLO, ST_WAIT_OK, ST_WAIT_PONG, ST_LIVE, ST_DEAD };

/* One client connection; buf holds bytes not yet parsed (a partial frame), nbuf a partial
 * NATS protocol line or message (NATS bytes run across WebSocket frames). */
struct conn {
    int fd;
    uint8_t state;
    uint8_t url;
    char *buf;
    uint32_t len, cap;
    char *nbuf;
    uint32_t nlen, ncap;
};

struct client {
    const struct wsb_client_cfg *cfg;
    struct wsb_slot *slot;
    struct conn *conns;
    int ep;
    long started, inflight;
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
    c->buf = c->nbuf = NULL;
    c->len = c->cap = c->nlen = c->ncap = 0;
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

/* A delivery: find the phase and publish stamp ("ph":P ... "t":NS) in p[0..n) and count it. */
static void client_deliver(struct client *cl, const char *p, size_t n)
{
    const char *ph = memmem(p, n, "\"ph\":", 5);
    const char *t = ph ? memmem(ph, n - (size_t)(ph - p), "\"t\":", 4) : NULL;
    if (!t) {
        cl->slot->unparsed++;
        return;
    }
    const char *end = p + n;
    unsigned phase = 0;
    for (ph += 5; ph < end && *ph >= '0' && *ph <= '9'; ph++)
        phase = phase * 10 + (unsigned)(*ph - '0');
    uint64_t ts = 0;
    for (t += 4; t < end && *t >= '0' && *t <= '9'; t++)
        ts = ts * 10 + (uint64_t)(*t - '0');
    if (phase >= WSB_PHASES) {
        cl->slot->unparsed++;
        return;
    }
    uint64_t now = wsb_now_ns();
    uint64_t us = now > ts ? (now - ts) / 1000 : 0;
    cl->slot->hist[phase][wsb_hist_bucket(us)]++;
    if (us > cl->slot->max_us[phase])
        cl->slot->max_us[phase] = us;
    cl->slot->delivered[phase]++;
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
        client_deliver(cl, p, n);
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
            client_deliver(cl, l + line, size);
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

/* Parse WebSocket frames in p[0..n); returns the bytes consumed. */
static size_t client_frames(struct client *cl, struct conn *c, const char *p, size_t n)
{
    size_t pos = 0;
    while (pos + 2 <= n && c->state != ST_DEAD) {
        const uint8_t *h = (const uint8_t *)p + pos;
        int op = h[0] & 0x0f;
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
        switch (op) {
        case 0: /* continuation */
        case 1:
        case 2:
            if (cl->cfg->proto == WSB_PROTO_NATS)
                client_on_nats(cl, c, pl, (size_t)len);
            else
                client_on_wsgate(cl, c, pl, (size_t)len);
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
    c->state = ST_WAIT_HELLO; /* wsgate sends hello, nats-server INFO */
    return (size_t)(end + 4 - p);
}

/* Everything available on c's socket. */
static void client_on_readable(struct client *cl, struct conn *c)
{
    for (;;) {
        ssize_t r = recv(c->fd, cl->scratch, sizeof cl->scratch, 0);
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
    char req[512];
    int k = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     u->path, u->host, u->port);
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
