/* conn.h: one WebSocket connection: its outgoing queue, subscriptions, keepalive, close codes. */
#ifndef WSGATE_CONN_H
#define WSGATE_CONN_H

#include "wsgate/auth.h"
#include "wsgate/frame.h"
#include "wsgate/hub.h"
#include "wsgate/pmd.h"
#include "wsgate/protocol.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct iovec;

struct lws;

/* A connection and one of its subscriptions (the sublist entry's owner):
 * opaque outside conn.c and its friend replay.c (conn_internal.h). */
typedef struct conn conn;
typedef struct conn_sub conn_sub;

/* The writes of dispatch rounds (one per hub): frames queued during a round
 * are written at its end, one send per connection, on the sender threads. */
typedef struct conn_round conn_round;

/* Start the sender threads (threads of them). NULL when they cannot start. */
conn_round *conn_round_create(int threads);
void conn_round_destroy(conn_round *r);
/* The sender threads in use. */
int conn_round_threads(const conn_round *r);
/* A dispatch round begins: frames queued from now on wait for its end
 * instead of asking for WRITEABLE (no epoll change per delivery). */
void conn_round_begin(conn_round *r);
/* The round ends: write what it queued, one send per connection straight
 * from the shared frames, the sends of plain sockets spread over the sender
 * threads (in slices of at most CONN_IOV_MAX frames), the others (TLS,
 * closing, ...) here. */
void conn_round_end(conn_round *r);

/* A client completed the upgrade: register it and queue hello. pmd: what
 * permessage-deflate negotiated, NULL when it did not. */
conn *conn_create(hub *h, struct lws *wsi, auth_claims *claims, const char *ip,
                  const pmd_params *pmd);
/* The socket closed: unsubscribe everything, drop the queue, free c. */
void conn_destroy(conn *c);

/* Once a second: keepalive, token expiry (4002), the slow-consumer grace
 * (4001), the idle close of a client without subscriptions. */
void conn_tick(conn *c, int64_t now_ms);
/* Keepalive, once a second: ping a connection quiet for heartbeat_ms, hang
 * up one quiet for ping_timeout_ms (a frame or a pong from it counts). */
void conn_keepalive(conn *c, int64_t now_ms);
/* The next connection of the hub's list (hub->conns), or NULL. */
conn *conn_next(const conn *c);
/* Its id ("c1f"), the close code decided (0: none), whether our close frame is out. */
const char *conn_id(const conn *c);
int conn_close_code(const conn *c);
bool conn_close_sent(const conn *c);
/* The client answered a ping. */
void conn_pong(conn *c);
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
 * return true when the client is slow (also called once a second). now_ms 0:
 * read the clock only if the queue is over the bound (the fan-out passes 0,
 * so a delivery to a client within its bound reads no clock). */
bool conn_check_slow(conn *c, size_t bytes, int64_t now_ms);
/* Close with code after (or, when !after_queue, ahead of) what is queued. */
void conn_close(conn *c, int code, const char *reason, bool after_queue);

/* Queue a frame and drop the caller's reference to it. */
void conn_send_owned(conn *c, wsg_frame *f, bool live);
/* Unsubscribe and free s, one of c's subscriptions. */
void conn_sub_remove(conn *c, conn_sub *s);

#endif
