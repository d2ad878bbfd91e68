/* hub.h: the service-thread state every connection shares, and the event path.
 *
 * One hub per process, used only on the lws service thread: the
 * subscription index, the recent-frame ring, last values, batch state, the
 * stream position, the list of connections, replays in flight. */
#ifndef WSGATE_HUB_H
#define WSGATE_HUB_H

#include "wsgate/auth.h"
#include "wsgate/batches.h"
#include "wsgate/config.h"
#include "wsgate/lastvalue.h"
#include "wsgate/nats_bridge.h"
#include "wsgate/ratelimit.h"
#include "wsgate/ring.h"
#include "wsgate/sublist.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct lws_context;
struct conn;
struct conn_sub;

typedef struct hub {
    const wsg_config *cfg;
    struct lws_context *ctx;
    sublist *subs;
    ring *ring;
    lastvalue *lv;
    batches *batches;
    auth *auth; /* NULL when authentication is off */
    nats_bridge *bridge;
    struct admit *admit; /* per-IP connection counts */
    struct zgroups *zg;  /* shared permessage-deflate compressors */

    struct http_files *files; /* --web-root files in their codings (http.c), NULL until used */

    struct conn *conns; /* every open connection (doubly linked) */
    int64_t max_conns;  /* --max-conns, or what the open-file limit allows */
    uint64_t next_serial;
    uint64_t fanout_gen;      /* stamps a fan-out so a connection gets each frame once */
    nb_event *backlog;        /* taken from the inbox, not applied yet */
    pthread_t thread;         /* the service thread (hub_init's): the only one to touch the hub */
    struct conn_round *round; /* the writes of a dispatch round (conn.c) */
    struct replay_set *replay_set;  /* replays running and waiting (replay.c) */
    struct failures_page *failures; /* pages of /api/batches/{id}/failures (failures.c) */
    uint32_t nfailures;             /* of them, those being read */
    ratelimit bad_log;              /* warn lines about refused events (hub_on_msg) */

    char epoch[64];           /* "" until the stream is attached */
    uint64_t last_seq;        /* last stream sequence processed */
    uint64_t stream_last_seq; /* the stream's last sequence when attached */
    char stream_warning[256]; /* "" or what is wrong with the attached stream (nb_event) */
    bool nats_connected;
    bool attached;
    bool started;  /* has been ready once: state rebuilt, clients welcome */
    bool draining; /* shutting down: refuse new clients, close the rest */
    bool done;     /* leave the service loop */
    int64_t drain_deadline_ms;
} hub;

/* Entry points of the service thread assert that they run on it (debug builds). */
#define HUB_ON_SERVICE_THREAD(h) assert(pthread_equal(pthread_self(), (h)->thread))

/* Build the hub's state from cfg (the bridge and context are set by server).
 * Returns 0, or -EINVAL (the JWT keys) or -EAGAIN (no sender threads) with a
 * one-line reason in err and nothing to hub_fini. */
int hub_init(hub *h, const wsg_config *cfg, char *err, size_t errlen);
void hub_fini(hub *h);

/* Events one hub_poll applies at most. */
#define HUB_POLL_BUDGET 256

/* Apply events of the NATS inbox (service thread, after a wake-up), at most
 * a slice of them: HUB_POLL_BUDGET events, and no more once the slice's
 * frames reach half of --queue-bytes (so a client that keeps up gets at most
 * half its queue bound per slice). Returns true when more are left (call
 * again soon), false when the inbox is empty or there is no bridge. */
bool hub_poll(hub *h);
/* Once a second: age batch state, enforce time limits, watch the drain. */
void hub_tick(hub *h, int64_t now_ms);
/* Start a graceful shutdown: close every client with 1001, then stop. */
void hub_shutdown(hub *h);

/* SIGHUP: read the JWT keys again (--jwt-secret / --jwt-public-key, a file
 * or a key directory). On success they replace the old ones for every new
 * token check (open connections keep their claims and their exp); on
 * failure the old keys stay. Logs either way. Returns 0, -ENOENT (auth is
 * off: nothing to reload) or -EINVAL (the keys could not be read). */
int hub_reload_auth(hub *h);

/* Ready for clients: NATS connected, stream attached, caught up, not draining. */
bool hub_ready(const hub *h, const char **why);

#endif
