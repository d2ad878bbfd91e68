/* nats_bridge.h: the NATS side: connection, the JetStream stream, its live consumer, and the inbox.
 *
 * The bridge runs its own thread (plus nats.c's). Everything it learns
 * reaches the lws service thread as events in one inbox; when an append finds
 * the inbox empty it calls the wake function (lws_cancel_service), the only
 * cross-thread call: the service thread takes the whole inbox on a wake-up. */
#ifndef WSGATE_NATS_BRIDGE_H
#define WSGATE_NATS_BRIDGE_H

#include "wsgate/config.h"
#include "wsgate/events.h"
#include "wsgate/frame.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nats_bridge nats_bridge;

enum nb_kind {
    NB_MSG = 1,    /* an event of the stream, in stream order */
    NB_STATE,      /* NATS connectivity changed, or the stream was (re)attached */
    NB_REPLAY_MSG, /* a message of a replay window */
    NB_REPLAY_END, /* a replay window finished (ok or failed) */
};

typedef struct nb_event {
    struct nb_event *next;
    enum nb_kind kind;
    /* NB_MSG, NB_REPLAY_MSG */
    uint64_t seq;         /* NB_MSG: the stream sequence, always set */
    wsg_frame *frame;     /* encoded msg frame with one reference, handed to the taker;
                             NB_MSG: NULL when the subject is not subject_valid (only seq counts) */
    int event_rc;         /* NB_MSG with a frame: events_decode's result (0: `event` is set,
                             -EINVAL: a bad payload, EVENTS_NOT_STATE: no batch state) */
    events_reject reject; /* event_rc -EINVAL: which field and why */
    events_event event;   /* NB_MSG: the payload decoded for batch state (owned) */
    int64_t ts_ms;        /* the stream's timestamp of the message */
    /* NB_STATE */
    bool connected;     /* connected to NATS */
    bool attached;      /* stream ensured and live consumer running */
    char epoch[64];     /* attached: the stream's creation time, RFC 3339 */
    uint64_t first_seq; /* attached: the stream's first and last sequence at attach time */
    uint64_t last_seq;
    char warning[256]; /* attached: "" or what is wrong with the stream as found, e.g. "stream
                          subjects do not cover license.>" (an existing stream made with
                          other subjects than --stream-subjects) */
    /* NB_REPLAY_* */
    uint64_t replay_id;
    bool replay_ok;    /* NB_REPLAY_END: false when JetStream could not be read */
    uint64_t count;    /* NB_REPLAY_END: matching messages the window read */
    uint64_t next_seq; /* NB_REPLAY_END: where the next window starts (> upto: none left) */
                       /* NB_REPLAY_END of a count_only window: first_seq, last_seq = the
                        * stream's bounds then */
} nb_event;

/* One window of a replay: the stored messages matching `filter` with
 * from_seq <= seq <= upto_seq, at most max_msgs of them and (when max_bytes is
 * not 0) about max_bytes of payload. */
typedef struct nb_replay_req {
    uint64_t id;
    const char *filter; /* copied */
    uint64_t from_seq, upto_seq;
    uint32_t max_msgs;
    size_t max_bytes;
    bool count_only; /* count them (headers only), deliver nothing */
} nb_replay_req;

typedef void (*nats_bridge_wake_fn)(void *arg);

/* Create the bridge and start connecting in the background (reconnecting
 * forever). The live consumer reads the stream from its first sequence (the
 * state is rebuilt from everything retained), later from the sequence after
 * the last one put in the inbox. wake(wake_arg) is called from NATS threads
 * when the inbox goes from empty to non-empty. Returns NULL with a message in
 * err on bad options. */
nats_bridge *nats_bridge_create(const wsg_config *cfg, nats_bridge_wake_fn wake, void *wake_arg,
                                char *err, size_t errlen);
/* Drain the NATS connection (bounded by timeout_ms), stop the thread, free
 * everything, including events never taken. */
void nats_bridge_destroy(nats_bridge *nb, int64_t timeout_ms);

/* Take every pending event, oldest first (a list linked by ->next), or NULL. */
nb_event *nats_bridge_take(nats_bridge *nb);
/* Free one event (and the references it still holds). */
void nats_bridge_event_free(nb_event *ev);

/* Ask for one replay window: its messages come as NB_REPLAY_MSG events in
 * order (none for count_only), then one NB_REPLAY_END, all with req->id
 * (with replay_ok false when NATS is not reachable: the request itself
 * never fails). Windows of different replays are served in turn, so a long
 * replay does not hold up the others. Returns 0. */
int nats_bridge_replay(nats_bridge *nb, const nb_replay_req *req);
/* Forget replay `id`: its queued windows are dropped, its consumer deleted. */
void nats_bridge_replay_cancel(nats_bridge *nb, uint64_t id);

#endif
