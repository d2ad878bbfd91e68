/* replay.h: resume with `since`: the ring first, JetStream beyond it, a seamless hand-over to live.
 */
#ifndef WSGATE_REPLAY_H
#define WSGATE_REPLAY_H

#include "wsgate/conn.h"

#include <stdbool.h>

/* Answer a sub with since (s is already in the index): ok with replayed and
 * recovered, then the matching messages with since < seq <= ok.seq, then live.
 * From the ring at once when it reaches back far enough; else from JetStream,
 * live frames being held meanwhile (replay_hold). */
void replay_resume(conn *c, conn_sub *s, const proto_cmd *cmd);
/* A live frame for s while its JetStream replay runs: kept until replay_end. */
void replay_hold(conn_sub *s, wsg_frame *f);
/* A message JetStream returned for s's replay. */
void replay_frame(conn_sub *s, wsg_frame *f);
/* s's JetStream replay finished: send ok, the replay, then what was held. On
 * failure the client gets err internal and s is removed. */
void replay_end(conn_sub *s, bool ok);
/* Drop the frames s holds (it is going away). */
void replay_clear(conn_sub *s);

#endif
