/* conn.c: one WebSocket connection: its queue of shared frames, its subscriptions, closing.
 *
 * The queue holds references to frames that every recipient shares; a
 * connection never encodes or copies an event. Queue slots carry tag bits
 * in the low bits of the pointer: CONN_COUNTED for frames that count toward
 * the slow-consumer bound (live and replayed frames; replies do not),
 * CONN_LIVE for live frames, the only ones conflation may replace,
 * CONN_FANOUT for fan-out deliveries (their latency is measured). What the
 * client says (messages, ops, their limits) is client.c's. */
#include "conn_internal.h"

#include "wsgate/clock.h"
#include "wsgate/log.h"
#include "wsgate/metrics.h"
#include "wsgate/replay.h"
#include "wsgate/sendpool.h"
#include "wsgate/xmalloc.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(FRAME_PRE == LWS_PRE, "FRAME_PRE must equal LWS_PRE");

/* lws 4.1 writes a close frame for write type 4 (LWS_WRITE_CLOSE, private in
 * its headers: lws-write.h says "LWS_WRITE_CLOSE is handled by
 * lws_close_reason()", which also closes the socket at once). */
#define CONN_WRITE_CLOSE ((enum lws_write_protocol)4)

#define CONN_WRITE_BUDGET  256            /* frames per write-out (a dispatch slice's worth) */
#define CONN_BATCH_BYTES   CONN_BATCH_MAX /* TLS: bytes of frames copied into one lws_write() */
#define CONN_SEND_BYTES    (1 << 20)      /* plain: bytes of frames in one sendmsg() */
#define CONN_SLOW_GRACE_MS 1000  /* over the queue bound this long (and not writable): 4001 */
#define CONN_CLOSE_DROP_MS 10000 /* a close the peer does not read: drop the socket after this */

#define CONN_COUNTED ((uintptr_t)1) /* slot tag: counts toward the slow-consumer bound */
#define CONN_LIVE    ((uintptr_t)2) /* slot tag: a live frame (may be conflated) */
#define CONN_FANOUT  ((uintptr_t)4) /* slot tag: queued by the fan-out (its latency is measured) */
#define CONN_TAGS    (CONN_COUNTED | CONN_LIVE | CONN_FANOUT)

static inline wsg_frame *conn_slot_frame(wsg_frame *slot)
{
    return (wsg_frame *)((uintptr_t)slot & ~CONN_TAGS);
}

static inline bool conn_slot_live(wsg_frame *slot)
{
    return (uintptr_t)slot & CONN_LIVE;
}

/* What a queued frame counts toward the slow-consumer bound: the size of the
 * message it stands for (a compressed frame keeps its original alive, and the
 * bound means the same with compression on or off). */
static inline size_t conn_frame_bytes(const wsg_frame *f)
{
    return frame_origin(f)->len;
}

static inline bool conn_slot_counted(wsg_frame *slot)
{
    return (uintptr_t)slot & CONN_COUNTED;
}

int64_t conn_refresh_due_ms(const conn *c, int64_t exp)
{
    int64_t ahead = c->hub->cfg->refresh_ahead_ms;
    if (exp > INT64_MAX / 1000 - 1)
        return INT64_MAX; /* so far off that no hint is due */
    if (ahead <= 0)
        return exp * 1000;
    return exp * 1000 > ahead ? exp * 1000 - ahead : 0;
}

conn *conn_create(hub *h, struct lws *wsi, auth_claims *claims, const char *ip,
                  const pmd_params *pmd)
{
    conn *c = xcalloc(1, sizeof(*c));
    c->wsi = wsi;
    c->tls = lws_is_ssl(wsi);
    c->hub = h;
    c->round = h->round;
    c->claims = claims;
    c->created_ms = clock_now_ms();
    c->last_rx_ms = c->created_ms;
    c->tokens = h->cfg->ops_burst;
    c->tokens_ms = c->created_ms;
    snprintf(c->id, sizeof(c->id), "c%llx", (unsigned long long)++h->next_serial);
    snprintf(c->ip, sizeof(c->ip), "%s", ip ? ip : "");
    c->next = h->conns;
    if (h->conns)
        h->conns->prev = c;
    h->conns = c;
    metrics.connections++;
    metrics.connections_total++;
    if (pmd) {
        zmember_init(&c->z, pmd->server_bits, pmd->server_no_takeover);
        metrics.compressed_connections++;
    }
    log_event(LOG_INFO, "conn_open", "s:conn", c->id, "s:ip", c->ip, "s:client",
              claims ? claims->sub : NULL, "i:deflate_bits", (int)c->z.bits, NULL);
    int64_t exp = claims ? claims->exp : 0;
    wsg_frame *hello = protocol_hello(c->id, h->epoch, h->cfg->heartbeat_ms, h->cfg->max_frame, exp,
                                      claims ? conn_refresh_due_ms(c, exp) - c->created_ms : 0);
    conn_send(c, hello, false);
    frame_unref(hello);
    return c;
}

/* The subscription set changed: move c to the compression group of the new set. */
static void conn_z_update(conn *c)
{
    if (!c->z.bits || c->gone)
        return;
    const char **patterns = xmalloc((c->nsubs ? c->nsubs : 1) * sizeof(*patterns));
    for (uint32_t i = 0; i < c->nsubs; i++)
        patterns[i] = sublist_entry_pattern(c->subs[i]->entry);
    zmember_set(c->hub->zg, &c->z, patterns, c->nsubs);
    free(patterns);
}

static void conn_sub_free(conn *c, conn_sub *s)
{
    replay_cancel(s);
    sublist_remove(c->hub->subs, s->entry);
    free(s);
    metrics.subscriptions--;
}

void conn_sub_remove(conn *c, conn_sub *s)
{
    for (uint32_t i = 0; i < c->nsubs; i++) {
        if (c->subs[i] == s) {
            c->subs[i] = c->subs[--c->nsubs];
            conn_sub_free(c, s);
            conn_z_update(c);
            return;
        }
    }
}

/* Drop every queued frame and give the queue's memory back. */
static void conn_queue_clear(conn *c)
{
    for (uint32_t i = 0; i < c->qlen; i++)
        frame_unref(conn_slot_frame(c->q[(c->qhead + i) % c->qcap]));
    free(c->q);
    c->q = NULL;
    c->qhead = c->qlen = c->qcap = 0;
    metrics.queued_bytes -= c->qbytes;
    c->qbytes = 0;
}

/* Drop a client message being assembled. */
void conn_rx_free(conn *c)
{
    if (!c->rx)
        return;
    sbuf_free(c->rx);
    free(c->rx);
    c->rx = NULL;
}

void conn_destroy(conn *c)
{
    hub *h = c->hub;
    c->gone = true;    /* its waiting replays must not start */
    while (c->nsubs) { /* out of the array before it is freed: replay.c walks it */
        conn_sub *s = c->subs[--c->nsubs];
        conn_sub_free(c, s);
    }
    free(c->subs);
    zmember_clear(h->zg, &c->z);
    if (c->z.bits)
        metrics.compressed_connections--;
    if (c->flush_at)
        c->round->flushv[c->flush_at - 1] = NULL; /* its place in the round stays empty */
    conn_queue_clear(c);
    free(c->pend);
    conn_rx_free(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->claims) {
        auth_claims_clear(c->claims);
        free(c->claims);
    }
    free(c->err_times);
    metrics.connections--;
    log_event(LOG_DEBUG, "conn_free", "s:conn", c->id, NULL);
    free(c);
}

void conn_close(conn *c, int code, const char *reason, bool after_queue)
{
    if (c->close_code)
        return;
    c->close_code = code;
    c->close_reason = reason;
    c->close_after_queue = after_queue;
    c->close_deadline_ms = clock_now_ms() + CONN_CLOSE_DROP_MS;
    if (!after_queue)
        conn_queue_clear(c); /* the close goes ahead of it: nothing queued will be written */
    log_event(code == 1001 ? LOG_DEBUG : LOG_INFO, "conn_closing", "s:conn", c->id, "i:code", code,
              "s:reason", reason, NULL);
    lws_callback_on_writable(c->wsi);
}

/* Slow-consumer bound (PROTOCOL.md 4001). A client is slow when it holds more
 * than `queue_bytes` of live frames the socket did not take, and still does
 * CONN_SLOW_GRACE_MS later (a burst the writer has not had a chance to drain is
 * not slowness), or at once when it holds four times that. `bytes` is what
 * the queue would hold. Closes the connection and returns true when it is slow. */
bool conn_check_slow(conn *c, size_t bytes, int64_t now_ms)
{
    size_t bound = c->hub->cfg->queue_bytes;
    if (c->close_code)
        return true; /* decided already: count each close once */
    if (bytes <= bound) {
        c->over_since_ms = 0;
        return false;
    }
    if (!now_ms)
        now_ms = clock_now_ms();
    if (bytes <= 4 * bound) {
        if (!c->over_since_ms)
            c->over_since_ms = now_ms;
        if (now_ms - c->over_since_ms < CONN_SLOW_GRACE_MS || !lws_send_pipe_choked(c->wsi))
            return false;
    }
    metrics.slow_consumer_closes++;
    conn_close(c, 4001, "slow consumer", false);
    return true;
}

/* A frame c was given from its compression group leaves the queue unsent:
 * the frames queued after it refer to it, so every queued group frame goes
 * back to its uncompressed original (which no client window holds), and c
 * is out of step until the group's next sync point. */
static void conn_unchain(conn *c)
{
    for (uint32_t i = 0; i < c->qlen; i++) {
        wsg_frame **slot = &c->q[(c->qhead + i) % c->qcap];
        wsg_frame *f = conn_slot_frame(*slot);
        if (!f->chained)
            continue;
        uintptr_t tags = (uintptr_t)*slot & CONN_TAGS; /* counted by its original's size already */
        *slot = (wsg_frame *)((uintptr_t)frame_ref(f->src) | tags);
        frame_unref(f);
    }
    zmember_diverge(c->hub->zg, &c->z);
}

/* Conflation: drop the newest queued live frame of f's last-value subject
 * (f is then queued at the tail), so frames still leave in stream order:
 * replacing it in place would send f ahead of older frames of other
 * subjects, and a client resuming from the highest seq it saw would lose
 * them. A queued reply's value is kept. */
static void conn_conflate(conn *c, const wsg_frame *f)
{
    for (uint32_t i = c->qlen; i-- > 0;) {
        uint32_t at = (c->qhead + i) % c->qcap;
        wsg_frame *old = conn_slot_frame(c->q[at]);
        if (!old->lastvalue || strcmp(frame_origin(old)->subject, f->subject) != 0)
            continue;
        if (!conn_slot_live(c->q[at]))
            return;
        if (old->chained) {
            conn_unchain(c); /* old is now its original, in the same slot */
            old = conn_slot_frame(c->q[at]);
        }
        for (uint32_t k = i; k + 1 < c->qlen; k++)
            c->q[(c->qhead + k) % c->qcap] = c->q[(c->qhead + k + 1) % c->qcap];
        c->qlen--;
        c->qbytes -= conn_frame_bytes(old);
        metrics.queued_bytes -= conn_frame_bytes(old);
        frame_unref(old);
        metrics.conflated++;
        return;
    }
}

static void conn_queue_grow(conn *c)
{
    uint32_t cap = c->qcap ? c->qcap * 2 : 8;
    wsg_frame **q = xmalloc(cap * sizeof(*q));
    for (uint32_t i = 0; i < c->qlen; i++)
        q[i] = c->q[(c->qhead + i) % c->qcap];
    free(c->q);
    c->q = q;
    c->qcap = cap;
    c->qhead = 0;
}

/* Append a reference to f with the slot tags. */
static void conn_push(conn *c, wsg_frame *f, uintptr_t tags)
{
    if (c->qlen == c->qcap)
        conn_queue_grow(c);
    if (tags & CONN_COUNTED)
        c->qbytes += conn_frame_bytes(f), metrics.queued_bytes += conn_frame_bytes(f);
    c->q[(c->qhead + c->qlen) % c->qcap] = (wsg_frame *)((uintptr_t)frame_ref(f) | tags);
    if (c->qlen++ != 0)
        return; /* a write is coming already */
    conn_round *r = c->round;
    if (!r->dispatching) {
        lws_callback_on_writable(c->wsi);
    } else if (!c->flush_at) { /* written at the end of the round: no epoll change */
        if (r->nflush == r->capflush) {
            r->capflush = r->capflush ? 2 * r->capflush : 1024;
            r->flushv = xrealloc(r->flushv, r->capflush * sizeof(*r->flushv));
        }
        r->flushv[r->nflush++] = c;
        c->flush_at = r->nflush;
    }
}

/* Queue f with tags: a live frame conflates or meets the slow-consumer
 * bound; a fan-out frame goes compressed when c negotiated it. */
static void conn_send_tagged(conn *c, wsg_frame *f, uintptr_t tags)
{
    HUB_ON_SERVICE_THREAD(c->hub);
    if (c->close_code)
        return; /* closing: nothing more is queued */
    if (tags & CONN_LIVE) {
        if (f->lastvalue && c->qlen)
            conn_conflate(c, f);
        if (!f->lastvalue && conn_check_slow(c, c->qbytes + f->len, 0)) /* no clock read */
            return;
    }
    bool compress = (tags & CONN_FANOUT) && c->z.bits; /* only fan-out frames are compressed */
    conn_push(c, compress ? zmember_frame(c->hub->zg, &c->z, f) : f, tags);
}

void conn_send(conn *c, wsg_frame *f, bool live)
{
    conn_send_tagged(c, f, live ? CONN_COUNTED | CONN_LIVE : 0);
}

void conn_send_replay(conn *c, wsg_frame *f)
{
    if (!c->close_code)
        conn_push(c, f, CONN_COUNTED);
}

bool conn_has_room(const conn *c)
{
    return !c->close_code && c->qbytes < c->hub->cfg->queue_bytes / 2;
}

void conn_deliver(conn_sub *s, wsg_frame *f, uint64_t gen)
{
    conn *c = s->conn;
    if (f->seq <= s->min_seq || s->replay)
        return; /* seen already, or a replay runs: it catches up with live itself */
    if (c->fanout_gen == gen)
        return; /* already queued through another subscription */
    c->fanout_gen = gen;
    conn_send_tagged(c, f, CONN_COUNTED | CONN_LIVE | CONN_FANOUT);
}

/* Send the close frame ourselves and wait (a few seconds at most) for the
 * client's reply: closing the socket at once would make the kernel answer
 * the client's frames still in flight with a reset, which can destroy the
 * frames and the close code the client has not read yet. Returns what the
 * lws WRITEABLE callback returns (it is conn_writable's answer): 0, or -1 to
 * close when the frame could not be written. */
static int conn_send_close(conn *c)
{
    if (c->close_sent)
        return 0;
    unsigned char buf[LWS_PRE + 125];
    const char *r = c->close_reason ? c->close_reason : "";
    size_t n = strlen(r) > 120 ? 120 : strlen(r);
    buf[LWS_PRE] = (unsigned char)(c->close_code >> 8);
    buf[LWS_PRE + 1] = (unsigned char)(c->close_code & 0xff);
    memcpy(buf + LWS_PRE + 2, r, n);
    c->close_sent = true;
    if (lws_write(c->wsi, buf + LWS_PRE, n + 2, CONN_WRITE_CLOSE) < (int)(n + 2))
        return -1;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_ACK, 3);
    return 0;
}

/* Take the head of the queue: the slot (frame and tags); the caller owns the reference. */
static wsg_frame *conn_pop(conn *c)
{
    wsg_frame *slot = c->q[c->qhead];
    wsg_frame *f = conn_slot_frame(slot);
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
    if (conn_slot_counted(slot))
        c->qbytes -= conn_frame_bytes(f), metrics.queued_bytes -= conn_frame_bytes(f);
    return slot;
}

/* Count a popped slot's frame as written and drop the queue's reference to
 * it. Latency is measured for fan-out deliveries only (a last value sent on
 * sub or a replayed frame is old by design). */
static void conn_written(wsg_frame *slot, int64_t now_ns)
{
    wsg_frame *f = conn_slot_frame(slot);
    metrics.bytes_sent += f->len;
    if (f->src) {
        metrics.deflate_in_bytes += f->src->len;
        metrics.deflate_out_bytes += f->len;
    }
    if (f->seq) {
        metrics.deliveries++;
        if ((uintptr_t)slot & CONN_FANOUT) {
            if (f->recv_ns) {
                int64_t since_recv = now_ns - f->recv_ns;
                metrics_latency_observe((double)since_recv / 1e9);
                if (f->stored_age_ns >= 0)
                    metrics_stored_observe(f->stored_age_ns + since_recv);
            }
        }
    }
    frame_unref(f);
}

/* Copy queued frames' wire bytes into out (at most cap bytes, *budget
 * frames), taking them off the queue; returns the bytes used (0 when the
 * first frame does not fit: it goes out alone through lws). For TLS, where
 * lws needs the bytes in one buffer. */
static size_t conn_take_batch(conn *c, unsigned char *out, size_t cap, int *budget, int64_t now_ns)
{
    size_t used = 0;
    for (; c->qlen && *budget > 0; --*budget) {
        wsg_frame *f = conn_slot_frame(c->q[c->qhead]);
        if (used + frame_wire_len(f) > cap)
            break;
        memcpy(out + used, frame_wire(f), frame_wire_len(f));
        used += frame_wire_len(f);
        conn_written(conn_pop(c), now_ns);
    }
    return used;
}

/* Point iov at the wire bytes of the frames at the head of the queue: at
 * most max frames and CONN_SEND_BYTES (the first frame whatever its size).
 * Nothing leaves the queue (conn_sent takes what a send wrote): the queue's
 * references keep the frames alive meanwhile. Returns the count; *len the bytes. */
static int conn_gather(const conn *c, struct iovec *iov, int max, size_t *len)
{
    int n = 0;
    *len = 0;
    for (uint32_t i = 0; i < c->qlen && n < max; i++) {
        const wsg_frame *f = conn_slot_frame(c->q[(c->qhead + i) % c->qcap]);
        if (n > 0 && *len + frame_wire_len(f) > CONN_SEND_BYTES)
            break;
        iov[n++] = (struct iovec){(void *)frame_wire(f), frame_wire_len(f)};
        *len += frame_wire_len(f);
    }
    return n;
}

/* A send of gathered frames wrote `sent` bytes: those frames leave the queue
 * (counted as written); the unsent rest of a frame it cut waits in c->pend,
 * to be written first. */
static void conn_sent(conn *c, size_t sent, int64_t now_ns)
{
    while (sent > 0) {
        const wsg_frame *f = conn_slot_frame(c->q[c->qhead]);
        size_t w = frame_wire_len(f), part = sent < w ? sent : w;
        if (part < w) {
            c->pend = xmalloc(w - part);
            memcpy(c->pend, frame_wire(f) + part, w - part);
            c->pend_len = w - part;
            c->pend_off = 0;
        }
        sent -= part;
        conn_written(conn_pop(c), now_ns);
    }
}

/* Write gathered frames to a plain socket with one sendmsg(). Returns 0 (the
 * socket may have taken only part: *all tells) or the negative errno. */
static int conn_send_frames(conn *c, int budget, int64_t now_ns, bool *all)
{
    struct iovec iov[CONN_WRITE_BUDGET];
    size_t len;
    int n = conn_gather(c, iov, budget < CONN_WRITE_BUDGET ? budget : CONN_WRITE_BUDGET, &len);
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    metrics.socket_writes++;
    ssize_t sent = sendmsg(lws_get_socket_fd(c->wsi), &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return -errno;
    sent = sent > 0 ? sent : 0;
    conn_sent(c, (size_t)sent, now_ns);
    *all = (size_t)sent == len;
    return 0;
}

/* Write what c->pend holds. Returns 0 (c->pend is NULL once all is out) or
 * the negative errno of send(). */
static int conn_out_pending(conn *c)
{
    ssize_t n = send(lws_get_socket_fd(c->wsi), c->pend + c->pend_off, c->pend_len - c->pend_off,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return -errno;
    c->pend_off += n > 0 ? (size_t)n : 0;
    if (c->pend_off == c->pend_len) {
        free(c->pend);
        c->pend = NULL;
        c->pend_len = c->pend_off = 0;
    }
    return 0;
}

/* Must c's frames wait for WRITEABLE (a close, a ping or the rest of an
 * earlier write goes first)? */
static bool conn_must_wait(const conn *c)
{
    return c->close_code || c->ping_due || c->hangup || c->pend || lws_partial_buffered(c->wsi);
}

bool conn_flush_take(conn *c, struct iovec *iov, int max, int *iovcnt, int *fd)
{
    c->flush_at = 0;
    if (!c->qlen || c->tls || conn_must_wait(c))
        return false;
    size_t len;
    *iovcnt = conn_gather(c, iov, max < CONN_WRITE_BUDGET ? max : CONN_WRITE_BUDGET, &len);
    *fd = lws_get_socket_fd(c->wsi);
    return *iovcnt > 0;
}

void conn_flush_done(conn *c, ssize_t sent, int64_t now_ns)
{
    metrics.socket_writes++;
    if (sent < 0)
        c->hangup = true; /* the socket failed: WRITEABLE hangs up */
    else
        conn_sent(c, (size_t)sent, now_ns);
    if (conn_has_room(c))
        replay_pump(c);
    if (c->qlen || c->pend || c->hangup)
        lws_callback_on_writable(c->wsi);
}

static int conn_write_some(conn *c, int budget);

/* Tell the client its token expires soon (once per token: a refresh re-arms it). */
static void conn_refresh_hint(conn *c)
{
    c->refresh_hinted = true;
    conn_send_owned(c, protocol_refresh_hint(c->claims->exp), false);
}

void conn_tick(conn *c, int64_t now_ms)
{
    const wsg_config *cfg = c->hub->cfg;
    conn_keepalive(c, now_ms);
    if (c->claims && c->claims->exp <= now_ms / 1000) /* seconds: exp * 1000 can overflow */
        conn_close(c, 4002, "token expired", false);
    else if (c->claims && !c->refresh_hinted && cfg->refresh_ahead_ms > 0 &&
             conn_refresh_due_ms(c, c->claims->exp) <= now_ms)
        conn_refresh_hint(c);
    if (c->close_code)
        return;
    if (c->over_since_ms && conn_check_slow(c, c->qbytes, now_ms))
        return;
    else if (cfg->idle_timeout_ms > 0 && c->nsubs == 0 &&
             now_ms - c->created_ms > cfg->idle_timeout_ms)
        conn_close(c, 1000, "idle: no subscription", false);
}

conn *conn_next(const conn *c)
{
    return c->next;
}

const char *conn_id(const conn *c)
{
    return c->id;
}

int conn_close_code(const conn *c)
{
    return c->close_code;
}

bool conn_close_sent(const conn *c)
{
    return c->close_sent;
}

void conn_keepalive(conn *c, int64_t now_ms)
{
    const wsg_config *cfg = c->hub->cfg;
    if (c->close_code) {
        /* A peer that does not read cannot get our close frame (or lws keeps
         * the part of it the socket refused): drop the socket. */
        if (now_ms >= c->close_deadline_ms && !c->hangup) {
            log_event(LOG_INFO, "conn_dropped", "s:conn", c->id, "i:code", c->close_code, NULL);
            c->hangup = true;
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        }
        return;
    }
    int64_t quiet = now_ms - c->last_rx_ms;
    if (quiet >= cfg->ping_timeout_ms) {
        log_event(LOG_INFO, "conn_silent", "s:conn", c->id, "l:quiet_ms", (long long)quiet, NULL);
        c->hangup = true;
    } else if (quiet >= cfg->heartbeat_ms && now_ms - c->last_ping_ms >= cfg->heartbeat_ms) {
        c->ping_due = true;
        c->last_ping_ms = now_ms;
    } else {
        return;
    }
    lws_callback_on_writable(c->wsi);
}

void conn_pong(conn *c)
{
    c->last_rx_ms = clock_now_ms();
}

int conn_writable(conn *c)
{
    HUB_ON_SERVICE_THREAD(c->hub);
    if (c->hangup)
        return -1; /* a silent peer would not read a close frame either */
    if (c->pend) { /* the rest of frames a send() took only part of */
        if (conn_out_pending(c) != 0)
            return -1;
        if (c->pend) {
            lws_callback_on_writable(c->wsi);
            return 0;
        }
    }
    if (c->ping_due) {
        /* a payload: lws 4.1 does not report an empty pong (RECEIVE_PONG) */
        unsigned char ping[LWS_PRE + 4] = {[LWS_PRE] = 'w', 's', 'g', 'k'};
        c->ping_due = false;
        if (lws_write(c->wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 4)
            return -1;
        lws_callback_on_writable(c->wsi); /* one control frame per WRITEABLE */
        return 0;
    }
    if (c->close_code && (!c->close_after_queue || c->qlen == 0))
        return conn_send_close(c);
    if (conn_write_some(c, lws_partial_buffered(c->wsi) ? 0 : CONN_WRITE_BUDGET) != 0)
        return -1;
    if (c->over_since_ms)
        conn_check_slow(c, c->qbytes, 0);
    if (conn_has_room(c))
        replay_pump(c);
    if (c->qlen == 0 && c->qcap > 64) { /* give a burst's memory back while idle */
        free(c->q);
        c->q = NULL;
        c->qcap = c->qhead = 0;
    }
    if (c->qlen || c->close_code || c->pend)
        lws_callback_on_writable(c->wsi);
    return 0;
}

void conn_flush(conn *c)
{
    c->flush_at = 0;
    if (!c->qlen)
        return;
    if (conn_must_wait(c)) {
        lws_callback_on_writable(c->wsi); /* those go through WRITEABLE */
        return;
    }
    if (conn_write_some(c, CONN_WRITE_BUDGET) != 0) {
        c->hangup = true; /* the socket failed: WRITEABLE hangs up */
        lws_callback_on_writable(c->wsi);
        return;
    }
    if (conn_has_room(c))
        replay_pump(c); /* the queue drained: feed running replays */
    if (c->qlen || c->pend || lws_partial_buffered(c->wsi))
        lws_callback_on_writable(c->wsi);
}

/* Write queued frames, up to budget of them: on a plain socket straight from
 * the shared frames with sendmsg(), on TLS copied into as few lws_write()s as
 * the batch buffer allows; stop when the socket takes only part. Returns 0,
 * or a negative errno when the socket failed (-EIO when lws_write did). */
static int conn_write_some(conn *c, int budget)
{
    static unsigned char batch[LWS_PRE + CONN_BATCH_BYTES]; /* the service thread's */
    int64_t now_ns = clock_mono_ns();
    while (c->qlen && budget > 0 && !c->pend) {
        if (!c->tls) {
            uint32_t before = c->qlen;
            bool all;
            int rc = conn_send_frames(c, budget, now_ns, &all);
            if (rc != 0)
                return rc;
            budget -= (int)(before - c->qlen);
            if (!all)
                break; /* the socket is full: WRITEABLE comes back */
            continue;
        }
        wsg_frame *f = conn_slot_frame(c->q[c->qhead]);
        if (frame_wire_len(f) <= CONN_BATCH_BYTES && c->qlen > 1) {
            size_t used = conn_take_batch(c, batch + LWS_PRE, CONN_BATCH_BYTES, &budget, now_ns);
            metrics.socket_writes++;
            if (lws_write(c->wsi, batch + LWS_PRE, used, LWS_WRITE_RAW) < (int)used)
                return -EIO;
        } else {
            budget--;
            wsg_frame *slot = conn_pop(c);
            metrics.socket_writes++;
            /* raw: the frame's own header (lws would write RSV1 clear) */
            size_t w = frame_wire_len(f);
            int n = lws_write(c->wsi, (unsigned char *)frame_wire(f), w, LWS_WRITE_RAW);
            bool ok = n >= (int)w;
            conn_written(slot, now_ns);
            if (!ok)
                return -EIO;
        }
        if (lws_partial_buffered(c->wsi))
            break; /* the socket took only part: lws keeps the rest, WRITEABLE comes back */
    }
    return 0;
}

void conn_send_owned(conn *c, wsg_frame *f, bool live)
{
    conn_send(c, f, live);
    frame_unref(f);
}

conn_sub *conn_sub_find(conn *c, const char *pattern, uint32_t *index)
{
    for (uint32_t i = 0; i < c->nsubs; i++) {
        if (strcmp(sublist_entry_pattern(c->subs[i]->entry), pattern) == 0) {
            if (index)
                *index = i;
            return c->subs[i];
        }
    }
    return NULL;
}

conn_sub *conn_sub_add(conn *c, const char *pattern)
{
    conn_sub *s = xcalloc(1, sizeof(*s));
    s->conn = c;
    s->entry = sublist_insert(c->hub->subs, pattern, s);
    if (c->nsubs == c->capsubs) {
        c->capsubs = c->capsubs ? c->capsubs * 2 : 4;
        c->subs = xrealloc(c->subs, c->capsubs * sizeof(*c->subs));
    }
    c->subs[c->nsubs++] = s;
    metrics.subscriptions++;
    conn_z_update(c);
    return s;
}

/* ---- the writes of a dispatch round ---- */

#define CONN_IOV_MAX 65536 /* frames (iovecs) of one slice of a round's sends */
#define CONN_JOB_IOV 256   /* frames one connection sends at the end of a round */

conn_round *conn_round_create(int threads)
{
    conn_round *r = xcalloc(1, sizeof(*r));
    r->pool = sendpool_create(threads);
    if (!r->pool) {
        free(r);
        return NULL;
    }
    r->iov = xmalloc(CONN_IOV_MAX * sizeof(*r->iov));
    return r;
}

void conn_round_destroy(conn_round *r)
{
    if (!r)
        return;
    sendpool_destroy(r->pool);
    free(r->jobs);
    free(r->job_conns);
    free(r->flushv);
    free(r->iov);
    free(r);
}

int conn_round_threads(const conn_round *r)
{
    return sendpool_threads(r->pool);
}

void conn_round_begin(conn_round *r)
{
    r->dispatching = true;
}

/* Send the jobs gathered so far on every core, then let each connection see
 * what its send did. */
static void conn_round_jobs(conn_round *r, size_t n)
{
    sendpool_run(r->pool, r->jobs, n);
    int64_t now_ns = clock_mono_ns();
    for (size_t i = 0; i < n; i++)
        conn_flush_done(r->job_conns[i], r->jobs[i].sent, now_ns);
}

void conn_round_end(conn_round *r)
{
    r->dispatching = false;
    if (!r->nflush)
        return;
    int64_t t0 = clock_mono_ns();
    size_t n = 0, used = 0;
    for (size_t i = 0; i < r->nflush; i++) {
        conn *c = r->flushv[i];
        if (!c)
            continue; /* closed during the round */
        if (used + CONN_JOB_IOV > CONN_IOV_MAX) {
            conn_round_jobs(r, n);
            n = used = 0;
        }
        int iovcnt, fd;
        if (!conn_flush_take(c, r->iov + used, CONN_JOB_IOV, &iovcnt, &fd)) {
            conn_flush(c);
            continue;
        }
        if (n == r->capjobs) {
            r->capjobs = r->capjobs ? 2 * r->capjobs : 1024;
            r->jobs = xrealloc(r->jobs, r->capjobs * sizeof(*r->jobs));
            r->job_conns = xrealloc(r->job_conns, r->capjobs * sizeof(*r->job_conns));
        }
        r->jobs[n] = (sendpool_job){.fd = fd, .iov = r->iov + used, .iovcnt = iovcnt};
        r->job_conns[n++] = c;
        used += (size_t)iovcnt;
    }
    conn_round_jobs(r, n);
    r->nflush = 0;
    metrics.send_rounds++;
    metrics.send_round_ns += (uint64_t)(clock_mono_ns() - t0);
}
