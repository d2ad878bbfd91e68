/* failures.h: GET /api/batches/{id}/failures: a batch's license.<id>.failed events read from
 * the stream, one page at a time, answered when the bridge thread has read them.
 *
 * The HTTP request is held, never the service thread: http_handle starts a
 * page (failures_start) and leaves the response pending; the bridge reads
 * the page as one replay window (nats_bridge_replay: a pull consumer
 * filtered on license.<id>.failed, from the cursor's sequence, at most
 * `limit` messages); its NB_REPLAY_MSG/END events come back through the
 * inbox (failures_on_event); then the socket is asked for WRITEABLE and the
 * response taken (failures_take). A page is found by its id only: the
 * socket may close first (failures_forget), and an answer for a forgotten
 * id is dropped. */
#ifndef WSGATE_FAILURES_H
#define WSGATE_FAILURES_H

#include "wsgate/http.h"
#include "wsgate/nats_bridge.h"
#include "wsgate/subject.h"

#include <stdbool.h>
#include <stdint.h>

struct hub;

#define FAILURES_LIMIT_DEFAULT 100        /* failures on a page */
#define FAILURES_LIMIT_MAX     1000       /* a larger limit gives this many */
#define FAILURES_INFLIGHT_MAX  16         /* pages being read at once; more: 503 */
#define FAILURES_TIMEOUT_MS    5000       /* a page not read by then: 504 */
#define FAILURES_BYTES_MAX     (4u << 20) /* about this much payload per page at most */

/* One page asked for. */
typedef struct failures_query {
    char batch[SUBJECT_MAX_TOKEN + 1]; /* the batch id, one subject token */
    uint32_t limit;                    /* 1..FAILURES_LIMIT_MAX */
    uint64_t cursor;                   /* the first stream sequence to read, >= 1 */
} failures_query;

/* The batch id of a path /api/batches/<id>/failures into id (SUBJECT_MAX_TOKEN
 * + 1 bytes): true when path has that form, whatever the id (an empty or
 * invalid id is failures_parse's to refuse). */
bool failures_path(const char *path, char id[SUBJECT_MAX_TOKEN + 1]);

/* Fill q from the batch id and the `limit` and `cursor` arguments (NULL:
 * absent). Returns 0; -ENOENT when id is not a batch id (a valid subject
 * token without wildcard: 404); -EINVAL with *why set when limit is not a
 * positive integer or cursor not a positive integer (400). A limit above
 * FAILURES_LIMIT_MAX gives FAILURES_LIMIT_MAX. */
int failures_parse(const char *id, const char *limit, const char *cursor, failures_query *q,
                   const char **why);

/* Start reading page q for the socket `sock` (an lws wsi, asked for
 * WRITEABLE when the page is ready; NULL: nobody is asked), compressing the
 * answer for accept_encoding (NULL: identity). Returns 0 with *id set
 * (failures_take answers it), -EBUSY when FAILURES_INFLIGHT_MAX pages are
 * being read, or -ENOTCONN when the stream is not attached. */
int failures_start(struct hub *h, const failures_query *q, void *sock, const char *accept_encoding,
                   uint64_t *id);

/* An NB_REPLAY_MSG or NB_REPLAY_END from the bridge: true when it was a
 * page's (taken into it), false when it is for someone else (replay.c). */
bool failures_on_event(struct hub *h, const nb_event *ev);

/* Once a second: a page still being read after FAILURES_TIMEOUT_MS is
 * answered 504 (and its read cancelled). */
void failures_tick(struct hub *h, int64_t now_ms);

/* The answer of page id into resp (status, body, headers added to those
 * resp has; compressed when it is a 200 and worth it). Returns 0 and
 * forgets the page; -EAGAIN when it is still being read; -ENOENT for an
 * unknown id. */
int failures_take(struct hub *h, uint64_t id, http_response *resp);

/* The socket of page id closed: forget it (its read is cancelled). Unknown ids are ignored. */
void failures_forget(struct hub *h, uint64_t id);

/* Free every page (hub_fini). */
void failures_fini(struct hub *h);

#endif
