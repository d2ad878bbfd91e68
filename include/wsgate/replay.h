/* replay.h: resume with `since`: windows from the ring or JetStream as the client drains, then
 * live.
 *
 * A replay exists only while it runs. It never holds more than one window of
 * frames: it feeds the connection's bounded queue when the queue has room
 * (conn_has_room), from the ring when the ring holds the next sequence, else
 * a window at a time from JetStream. At most REPLAY_PER_CONN replays of a
 * connection and --max-replays in all run at once; the others wait their
 * turn. A replay whose subscription goes away is cancelled. */
#ifndef WSGATE_REPLAY_H
#define WSGATE_REPLAY_H

#include "wsgate/conn.h"
#include "wsgate/nats_bridge.h"

#define REPLAY_PER_CONN 4 /* replays of one connection running at once */

typedef struct replay replay;
typedef struct replay_set replay_set; /* a hub's replays, running and waiting */

/* An empty set (hub_init); replay_fini frees it with every replay in it. */
replay_set *replay_set_create(void);

/* Answer a sub with since (s is already in the index): ok with replayed and
 * recovered, then the matching messages with since < seq <= ok.seq, then the
 * messages that arrived meanwhile, then live, with no gap and no duplicate. */
void replay_resume(conn *c, conn_sub *s, const proto_cmd *cmd);
/* Feed c's queue from its running replays while it has room. */
void replay_pump(conn *c);
/* A NB_REPLAY_MSG or NB_REPLAY_END event of the bridge (stale ids are ignored). */
void replay_on_event(hub *h, const nb_event *ev);
/* s is going away: cancel its replay, if any. */
void replay_cancel(conn_sub *s);
/* A new id for a bridge request (replays and failures pages share them, so
 * the bridge's answers never go to the wrong one). */
uint64_t replay_next_id(hub *h);
/* Replays running, and waiting for a slot. */
uint32_t replay_running(const hub *h);
uint32_t replay_waiting(const hub *h);
/* Free every replay and the set (shutdown). */
void replay_fini(hub *h);

#endif
