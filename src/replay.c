/* replay.c: resume with `since`: windows from the ring or JetStream as the client drains, then
 * live.
 *
 * ok.seq is the last sequence the gateway had when the subscription was made
 * (`to`), and ok.replayed counts the matching messages with since < seq <= to.
 * That count comes from the ring when the ring reaches back to since + 1,
 * else from a count-only pass over JetStream (headers only, in windows), and
 * ok goes out as soon as it is known. The frames follow in windows: a
 * cursor walks the stream from since + 1, through `to`, on to the newest
 * sequence the gateway has, taking frames from the ring while it holds the
 * cursor and from JetStream otherwise, and only while the connection's
 * queue has room. Meanwhile the subscription's live frames are not queued
 * (conn_deliver skips a subscription with a replay): the cursor reaches them
 * through the ring instead, which makes the hand-over to live exact. Past
 * `to`, a frame another live subscription of the connection already
 * delivered is not sent twice. */
#include "wsgate/replay.h"

#include "conn_internal.h"

#include "wsgate/client.h"
#include "wsgate/log.h"
#include "wsgate/metrics.h"
#include "wsgate/xmalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_COUNT_WINDOW 20000 /* messages looked at per count-only JetStream window */
#define REPLAY_DATA_WINDOW  512   /* frames per JetStream window (bytes: half the queue bound) */

struct replay {
    struct replay *next; /* in its set's running or waiting list */
    conn_sub *sub;
    uint64_t id;
    uint64_t since, to; /* the replay is (since, to]; after it, (to, last_seq] catches up */
    uint64_t cursor;    /* next sequence to look at */
    uint64_t count;     /* matching messages in (since, to]: ok.replayed */
    bool recovered;
    bool running;  /* holds a slot (else waiting) */
    bool counting; /* the JetStream count pass runs; ok not sent yet */
    bool window;   /* a JetStream window was asked for and has not ended */
    bool used_js;  /* the bridge keeps a cursor for it until cancelled */
    bool has_req_id;
    char req_id[PROTOCOL_ID_MAX + 1];
};

/* The replays of a hub: running (at most --max-replays) and waiting their turn, oldest first. */
struct replay_set {
    replay *running;
    replay *waiting, *waiting_tail;
    uint32_t nrunning;
    uint64_t next_id; /* the bridge's requests carry it: stale answers are ignored */
};

replay_set *replay_set_create(void)
{
    return xcalloc(1, sizeof(replay_set));
}

static uint32_t replay_running_of(const conn *c)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->nsubs; i++)
        n += c->subs[i]->replay && c->subs[i]->replay->running;
    return n;
}

/* Unlink r from a singly linked list; returns whether it was there. */
static bool replay_unlink(replay **head, replay **tail, replay *r)
{
    replay *prev = NULL;
    for (replay **p = head; *p; prev = *p, p = &(*p)->next) {
        if (*p != r)
            continue;
        *p = r->next;
        if (tail && *tail == r)
            *tail = prev;
        return true;
    }
    return false;
}

static const char *replay_pattern(const replay *r)
{
    return sublist_entry_pattern(r->sub->entry);
}

/* Ask the bridge for the next JetStream window of r: 0, -ENOTCONN (no bridge,
 * or not attached to the stream), -EBUSY (c already has a data window out), or
 * the negative errno of nats_bridge_replay. */
static int replay_ask(hub *h, replay *r, uint64_t upto, bool count_only)
{
    nb_replay_req req = {
        .id = r->id,
        .filter = replay_pattern(r),
        .from_seq = r->cursor,
        .upto_seq = upto,
        .max_msgs = count_only ? REPLAY_COUNT_WINDOW : REPLAY_DATA_WINDOW,
        .max_bytes = count_only ? 0 : h->cfg->queue_bytes / 2,
        .count_only = count_only,
    };
    if (!h->bridge || !h->attached)
        return -ENOTCONN;
    conn *c = r->sub->conn;
    if (!count_only && c->replay_window)
        return -EBUSY; /* one data window per connection at a time: the queue stays bounded */
    c->replay_window = c->replay_window || !count_only;
    r->window = r->used_js = true;
    return nats_bridge_replay(h->bridge, &req);
}

static void replay_free(replay *r)
{
    conn_sub *s = r->sub;
    hub *h = s->conn->hub;
    if (r->window && !r->counting)
        s->conn->replay_window = false;
    if (r->running) {
        replay_unlink(&h->replay_set->running, NULL, r);
        h->replay_set->nrunning--;
        metrics.replays_running--;
        if (r->used_js)
            nats_bridge_replay_cancel(h->bridge, r->id);
    } else {
        replay_unlink(&h->replay_set->waiting, &h->replay_set->waiting_tail, r);
        metrics.replays_waiting--;
    }
    s->replay = NULL;
    s->conn->nreplays--;
    free(r);
}

static void replay_send_ok(replay *r)
{
    conn_send_owned(r->sub->conn,
                    protocol_ok_resume(r->has_req_id ? r->req_id : NULL, replay_pattern(r), r->to,
                                       r->count, r->recovered),
                    false);
}

/* The replay cannot go on. Before ok: err internal and the subscription goes.
 * After ok (frames were promised): close 1001, the client resumes elsewhere. */
static void replay_fail(replay *r)
{
    conn_sub *s = r->sub;
    conn *c = s->conn;
    if (r->counting) {
        client_error(c, r->has_req_id ? r->req_id : NULL, PERR_INTERNAL,
                     "the stream could not be read for the replay; resubscribe");
        conn_sub_remove(c, s); /* frees r through replay_cancel */
        return;
    }
    replay_free(r);
    conn_close(c, 1001, "replay interrupted; resume with since", false);
}

static void replay_start_waiting(hub *h);

/* The cursor has caught up with live: the subscription goes live. */
static void replay_done(replay *r)
{
    conn_sub *s = r->sub;
    hub *h = s->conn->hub;
    s->min_seq = r->cursor - 1;
    replay_free(r);
    replay_start_waiting(h);
}

/* Is f matched by another live subscription of c that has delivered it? */
static bool replay_other_live_match(conn *c, conn_sub *s, const wsg_frame *f)
{
    for (uint32_t i = 0; i < c->nsubs; i++) {
        conn_sub *o = c->subs[i];
        if (o != s && !o->replay && f->seq > o->min_seq &&
            subject_matches(sublist_entry_pattern(o->entry), f->subject))
            return true;
    }
    return false;
}

/* The frame at the cursor, from the ring or a JetStream window: send it if it
 * is r's, and move the cursor past it. */
static void replay_offer(replay *r, wsg_frame *f)
{
    conn *c = r->sub->conn;
    if (f->seq < r->cursor)
        return;
    r->cursor = f->seq + 1;
    if (!subject_matches(replay_pattern(r), f->subject))
        return;
    if (f->seq <= r->to) {
        conn_send_replay(c, f);
        metrics.replayed++;
    } else if (!replay_other_live_match(c, r->sub, f)) {
        conn_send_replay(c, f);
    }
}

/* Feed r from the ring while the queue has room; ask JetStream for the next
 * window when the ring does not hold the cursor. */
static void replay_feed(replay *r)
{
    conn *c = r->sub->conn;
    hub *h = c->hub;
    while (!r->window && !r->counting && conn_has_room(c)) {
        if (r->cursor > h->last_seq) {
            replay_done(r);
            return;
        }
        size_t n = ring_count(h->ring);
        if (!n || ring_first_seq(h->ring) > r->cursor) {
            uint64_t upto = r->cursor <= r->to ? r->to : h->last_seq;
            int rc = replay_ask(h, r, upto, false);
            if (rc != 0 && rc != -EBUSY) /* busy: asked again when the other window ends */
                replay_fail(r);
            return;
        }
        size_t i = ring_find_after(h->ring, r->cursor - 1);
        if (i == n) /* the ring holds every valid frame from its first on: none left */
            r->cursor = h->last_seq + 1;
        for (; i < n && conn_has_room(c); i++)
            replay_offer(r, ring_at(h->ring, i));
    }
}

void replay_pump(conn *c)
{
    if (!c->nreplays)
        return; /* the common case, on every write: nothing to look at */
    for (uint32_t i = 0; i < c->nsubs && conn_has_room(c);) {
        conn_sub *s = c->subs[i];
        if (s->replay && s->replay->running)
            replay_feed(s->replay); /* may end it or, on failure, remove s (swapped out) */
        if (i < c->nsubs && c->subs[i] == s)
            i++; /* else subs[i] is another subscription now: look at it */
    }
}

/* Give r a slot: count what it will replay, send ok, start feeding. */
static void replay_run(hub *h, replay *r)
{
    r->running = true;
    r->next = h->replay_set->running;
    h->replay_set->running = r;
    h->replay_set->nrunning++;
    metrics.replays_running++;
    size_t n = ring_count(h->ring);
    if (r->since < r->to && n && ring_first_seq(h->ring) <= r->since + 1) {
        for (size_t i = ring_find_after(h->ring, r->since); i < n; i++) {
            wsg_frame *f = ring_at(h->ring, i);
            if (f->seq > r->to)
                break;
            r->count += subject_matches(replay_pattern(r), f->subject);
        }
        replay_send_ok(r);
        replay_feed(r);
        return;
    }
    /* JetStream counts (since, to], and says whether it holds since + 1 at all
     * (since beyond the stream's end is recovered: false too). */
    r->counting = true;
    if (replay_ask(h, r, r->to, true) == 0)
        return;
    if (r->since < r->to) {
        replay_fail(r);
        return;
    }
    r->counting = false; /* beyond what we have and no stream to ask: unverified */
    r->recovered = false;
    replay_send_ok(r);
    replay_feed(r);
}

/* Start waiting replays while slots are free (oldest first, those whose
 * connection already runs REPLAY_PER_CONN wait on). */
static void replay_start_waiting(hub *h)
{
    replay *r = h->replay_set->waiting;
    while (r && h->replay_set->nrunning < (uint32_t)h->cfg->max_replays) {
        replay *next = r->next;
        if (!r->sub->conn->gone && replay_running_of(r->sub->conn) < REPLAY_PER_CONN) {
            replay_unlink(&h->replay_set->waiting, &h->replay_set->waiting_tail, r);
            metrics.replays_waiting--;
            replay_run(h, r);
        }
        r = next;
    }
}

void replay_resume(conn *c, conn_sub *s, const proto_cmd *cmd)
{
    hub *h = c->hub;
    const char *id = cmd->has_id ? cmd->id : NULL;
    uint64_t to = h->last_seq, since = cmd->since;
    bool recovered = true;
    if (cmd->has_epoch && strcmp(cmd->epoch, h->epoch) != 0) {
        recovered = false; /* another stream: its sequence numbers mean nothing here */
        since = 0;
    }
    if (since == to) { /* nothing missed */
        s->min_seq = to;
        conn_send_owned(c, protocol_ok_resume(id, cmd->subject, to, 0, recovered), false);
        return;
    }
    replay *r = xcalloc(1, sizeof(*r));
    r->sub = s;
    r->id = replay_next_id(h);
    r->since = since;
    r->to = to;
    r->cursor = since + 1; /* since > to: nothing to replay, live frames after since */
    r->recovered = recovered;
    r->has_req_id = cmd->has_id;
    memcpy(r->req_id, cmd->id, sizeof(r->req_id));
    s->replay = r;
    c->nreplays++;
    if (h->replay_set->waiting_tail)
        h->replay_set->waiting_tail->next = r;
    else
        h->replay_set->waiting = r;
    h->replay_set->waiting_tail = r;
    metrics.replays_waiting++;
    metrics.resumes++;
    replay_start_waiting(h);
}

static replay *replay_find(hub *h, uint64_t id)
{
    for (replay *r = h->replay_set->running; r; r = r->next)
        if (r->id == id)
            return r;
    return NULL;
}

/* The count pass ended a window: go on, or send ok and start the frames. */
static void replay_counted(replay *r, const nb_event *ev)
{
    hub *h = r->sub->conn->hub;
    r->count += ev->count;
    if (ev->next_seq <= r->to) {
        r->cursor = ev->next_seq;
        if (replay_ask(h, r, r->to, true) != 0)
            replay_fail(r);
        return;
    }
    if (ev->first_seq > r->since + 1 || r->since > ev->last_seq)
        r->recovered = false; /* the stream does not hold all of it */
    r->counting = false;
    r->cursor = r->since + 1;
    replay_send_ok(r);
    replay_feed(r);
}

void replay_on_event(hub *h, const nb_event *ev)
{
    HUB_ON_SERVICE_THREAD(h);
    replay *r = replay_find(h, ev->replay_id);
    if (!r || !r->window)
        return; /* cancelled */
    if (ev->kind == NB_REPLAY_MSG) {
        if (!r->counting && ev->frame)
            replay_offer(r, ev->frame);
        return;
    }
    r->window = false;
    if (!r->counting)
        r->sub->conn->replay_window = false;
    if (!ev->replay_ok) {
        replay_fail(r);
        return;
    }
    if (r->counting) {
        replay_counted(r, ev);
        return;
    }
    if (ev->next_seq > r->cursor)
        r->cursor = ev->next_seq;
    replay_pump(r->sub->conn); /* this replay, or another waiting for the window */
}

void replay_cancel(conn_sub *s)
{
    if (!s->replay)
        return;
    hub *h = s->conn->hub;
    metrics.resumes_cancelled++;
    replay_free(s->replay);
    replay_start_waiting(h);
}

uint64_t replay_next_id(hub *h)
{
    return ++h->replay_set->next_id;
}

uint32_t replay_running(const hub *h)
{
    return h->replay_set->nrunning;
}

uint32_t replay_waiting(const hub *h)
{
    uint32_t n = 0;
    for (const replay *r = h->replay_set->waiting; r; r = r->next)
        n++;
    return n;
}

void replay_fini(hub *h)
{
    if (!h->replay_set)
        return;
    while (h->replay_set->running)
        replay_free(h->replay_set->running);
    while (h->replay_set->waiting)
        replay_free(h->replay_set->waiting);
    free(h->replay_set);
    h->replay_set = NULL;
}
