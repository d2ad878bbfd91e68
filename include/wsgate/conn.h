/* conn.h: one WebSocket client: its outgoing queue, subscriptions, limits and close codes. */
#ifndef WSGATE_CONN_H
#define WSGATE_CONN_H

#include "wsgate/auth.h"
#include "wsgate/frame.h"
#include "wsgate/hub.h"
#include "wsgate/protocol.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct iovec;

#define CONN_BATCH_MAX 65536 /* most bytes of frames coalesced into one send() */

struct lws;

/* One subscription of one connection; the sublist entry's owner. */
typedef struct conn_sub {
    struct conn *conn;
    sublist_entry *entry;
    uint64_t min_seq;      /* live frames are delivered only when seq > min_seq */
    struct replay *replay; /* non-NULL while a resume (`since`) runs: live frames wait for it */
} conn_sub;

typedef struct conn {
    struct conn *prev, *next; /* hub->conns */
    struct conn *flush_next;  /* hub->flush: frames came in this dispatch round */
    bool flush_queued;
    struct lws *wsi;
    hub *hub;
    char id[20];

    wsg_frame **q; /* outgoing frames: a circular array of references */
    uint32_t qhead, qlen, qcap;
    size_t qbytes;         /* bytes of live and replayed frames queued (bounded by queue_bytes) */
    int64_t over_since_ms; /* when qbytes went over queue_bytes, 0 when under */
    unsigned char *pend;   /* framed bytes a send() did not take (plain sockets), or NULL */
    uint32_t pend_len, pend_off;
    bool tls;           /* data goes through lws (TLS), not send() */
    bool gone;          /* being destroyed */
    bool replay_window; /* a JetStream window of one of its replays is out */
    uint16_t nreplays;  /* replays of its subscriptions (running or waiting) */

    conn_sub **subs;
    uint32_t nsubs, capsubs;
    uint64_t fanout_gen;

    sbuf *rx;      /* a fragmented client message being assembled */
    double tokens; /* ops rate limiter (token bucket) */
    int64_t tokens_ms;
    int64_t *err_times; /* times of the last err_limit+1 err frames (lazy) */
    uint32_t err_next, err_count;

    int close_code;         /* non-zero: close with this code at the next WRITEABLE */
    bool close_after_queue; /* ... but only once the queue is written */
    bool close_sent;        /* our close frame is out; waiting for the client's */
    const char *close_reason;
    int64_t close_deadline_ms; /* a peer that has not let the close through by then is dropped */
    int64_t last_rx_ms;        /* last frame or pong from the client (keepalive) */
    int64_t last_ping_ms;      /* last WebSocket ping we sent */
    bool ping_due;             /* send a ping at the next WRITEABLE */
    bool hangup;               /* silent peer: drop the socket at the next WRITEABLE */

    auth_claims *claims; /* NULL when authentication is off */
    int64_t created_ms;
    char ip[48];
} conn;

/* A client completed the upgrade: register it and queue hello. */
conn *conn_create(hub *h, struct lws *wsi, auth_claims *claims, const char *ip);
/* The socket closed: unsubscribe everything, drop the queue, free c. */
void conn_destroy(conn *c);

/* Once a second: keepalive, token expiry (4002), the slow-consumer grace
 * (4001), the idle close of a client without subscriptions. */
void conn_tick(conn *c, int64_t now_ms);
/* Keepalive, once a second: ping a connection quiet for heartbeat_ms, hang
 * up one quiet for ping_timeout_ms (a frame or a pong from it counts). */
void conn_keepalive(conn *c, int64_t now_ms);
/* Its id ("c1f"), the close code decided (0: none), whether our close frame is out. */
const char *conn_id(const conn *c);
int conn_close_code(const conn *c);
bool conn_close_sent(const conn *c);
/* The client answered a ping. */
void conn_pong(conn *c);
/* A piece of a client message arrived (LWS_CALLBACK_RECEIVE). Returns what
 * the lws callback returns, which is always 0: a message too big or a bad
 * client is closed through conn_close, with a close frame. */
int conn_receive(conn *c, const void *in, size_t len);
/* The socket can take more (LWS_CALLBACK_SERVER_WRITEABLE): write queued
 * frames, a ping or the close frame. Returns what the lws callback returns:
 * 0, or -1 to close (hung up, or the socket failed). */
int conn_writable(conn *c);
/* End of a dispatch round: write what the round queued for c now, with one
 * send, outside WRITEABLE; ask for WRITEABLE only for what the socket refuses
 * (or for a close or ping, which go through WRITEABLE). */
void conn_flush(conn *c);
/* The same in two halves, for a round sent on several threads (sendpool):
 * when c can be written with a plain send now (else false: conn_flush it),
 * point iov (room for max) at c's next frames, straight in the shared
 * frames, which stay queued; then, back on the service thread, what the
 * send made of them (bytes taken, or -errno): the frames written leave the
 * queue, counted as written at now_ns. */
bool conn_flush_take(conn *c, struct iovec *iov, int max, int *iovcnt, int *fd);
void conn_flush_done(conn *c, ssize_t sent, int64_t now_ns);

/* Queue a server frame (takes a new reference) and ask for WRITEABLE.
 * `live` frames count toward the slow-consumer bound and may conflate. */
void conn_send(conn *c, wsg_frame *f, bool live);
/* Queue a replayed frame: it counts toward the slow-consumer bound but never conflates. */
void conn_send_replay(conn *c, wsg_frame *f);
/* Has c's queue room for replayed frames (under half of --queue-bytes, not closing)? */
bool conn_has_room(const conn *c);
/* Deliver a live event frame matched through subscription s (fan-out). */
void conn_deliver(conn_sub *s, wsg_frame *f, uint64_t gen);
/* Apply the slow-consumer bound to a queue of `bytes`: close with 4001 and
 * return true when the client is slow (also called once a second). */
bool conn_check_slow(conn *c, size_t bytes, int64_t now_ms);
/* Close with code after (or, when !after_queue, ahead of) what is queued. */
void conn_close(conn *c, int code, const char *reason, bool after_queue);

/* Queue a frame and drop the caller's reference to it. */
void conn_send_owned(conn *c, wsg_frame *f, bool live);
/* Send an err frame; the (err_limit+1)-th within err_window closes with 4003 after it. */
void conn_error(conn *c, const char *id, enum proto_err code, const char *message);
/* Unsubscribe and free s, one of c's subscriptions. */
void conn_sub_remove(conn *c, conn_sub *s);

#endif
