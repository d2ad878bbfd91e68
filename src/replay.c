/* replay.c: resume with `since`: the ring first, JetStream beyond it, a seamless hand-over to live.
 *
 * ok.seq is the last sequence the gateway had when the subscription was made
 * (`to`). From the ring the answer is immediate: ok, the matching frames with
 * since < seq <= to, and live frames (seq > to) follow in the same queue. From
 * JetStream the subscription is live at once but its live frames are held;
 * when the stream's answer is complete, ok goes out with the exact count,
 * then the replay, then what was held (less what another live subscription
 * of the connection already delivered). */
#include "wsgate/replay.h"

#include "wsgate/metrics.h"
#include "wsgate/xmalloc.h"

#include <stdlib.h>
#include <string.h>

/* Append a reference to f to a frame list. */
static void replay_list_push(wsg_frame ***list, size_t *n, size_t *cap, wsg_frame *f)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *list = xrealloc(*list, *cap * sizeof(**list));
    }
    (*list)[(*n)++] = frame_ref(f);
}

static void replay_list_free(wsg_frame ***list, size_t *n, size_t *cap)
{
    for (size_t i = 0; i < *n; i++)
        frame_unref((*list)[i]);
    free(*list);
    *list = NULL;
    *n = *cap = 0;
}

void replay_resume(conn *c, conn_sub *s, const proto_cmd *cmd)
{
    hub *h = c->hub;
    const char *pattern = cmd->subject;
    const char *id = cmd->has_id ? cmd->id : NULL;
    uint64_t to = h->last_seq, since = cmd->since;
    bool recovered = true;
    if (cmd->has_epoch && strcmp(cmd->epoch, h->epoch) != 0) {
        recovered = false; /* another stream: its sequence numbers mean nothing here */
        since = 0;
    }
    if (since == to) { /* nothing missed */
        s->min_seq = to;
        conn_send_owned(c, protocol_ok_resume(id, pattern, to, 0, recovered), false);
        return;
    }
    size_t i = ring_find_after(h->ring, since);
    if (since < to && ring_count(h->ring) && ring_first_seq(h->ring) <= since + 1) {
        size_t n = 0, count = ring_count(h->ring);
        for (size_t k = i; k < count && ring_at(h->ring, k)->seq <= to; k++)
            n += subject_matches(pattern, ring_at(h->ring, k)->subject);
        s->min_seq = to;
        conn_send_owned(c, protocol_ok_resume(id, pattern, to, n, recovered), false);
        for (size_t k = i; k < count && ring_at(h->ring, k)->seq <= to; k++)
            if (subject_matches(pattern, ring_at(h->ring, k)->subject))
                conn_send(c, ring_at(h->ring, k), false);
        metrics.replayed += n;
        return;
    }
    /* From JetStream: the ring does not reach back to `since`, or `since` is
     * ahead of what this gateway has received yet (then the stream tells
     * whether it holds `since` at all: beyond its end is recovered: false). */
    s->min_seq = since > to ? since : to;
    s->replay_from = since + 1;
    s->replay_to = to;
    s->replay_recovered = recovered;
    s->replay_has_req_id = cmd->has_id;
    memcpy(s->replay_req_id, cmd->id, sizeof(s->replay_req_id));
    s->replay_id = hub_replay_start(h, s, pattern, since + 1, to);
    if (!s->replay_id && since > to) /* no stream to ask: nothing to replay, unverified */
        conn_send_owned(c, protocol_ok_resume(id, pattern, to, 0, false), false);
    else if (!s->replay_id)
        replay_end(s, false);
}

void replay_frame(conn_sub *s, wsg_frame *f)
{
    if (f->seq <= s->replay_to)
        replay_list_push(&s->replayed, &s->nreplayed, &s->capreplayed, f);
}

/* Is f matched by another subscription of c that was live when f went out? */
static bool replay_other_live_match(conn *c, conn_sub *s, const wsg_frame *f)
{
    for (uint32_t i = 0; i < c->nsubs; i++) {
        conn_sub *o = c->subs[i];
        if (o != s && !o->replay_id && f->seq > o->min_seq &&
            subject_matches(sublist_entry_pattern(o->entry), f->subject))
            return true;
    }
    return false;
}

void replay_end(conn_sub *s, bool ok)
{
    conn *c = s->conn;
    size_t n = s->nreplayed;
    s->replay_id = 0;
    if (!ok) {
        conn_error(c, s->replay_has_req_id ? s->replay_req_id : NULL, PERR_INTERNAL,
                   "the stream could not be read for the replay; resubscribe");
        conn_sub_remove(c, s);
        return;
    }
    conn_send_owned(c,
                    protocol_ok_resume(s->replay_has_req_id ? s->replay_req_id : NULL,
                                       sublist_entry_pattern(s->entry), s->replay_to, n,
                                       s->replay_recovered),
                    false);
    for (size_t i = 0; i < n; i++)
        conn_send(c, s->replayed[i], false);
    for (size_t i = 0; i < s->nheld; i++) /* live frames that came during the replay */
        if (!replay_other_live_match(c, s, s->held[i]))
            conn_send(c, s->held[i], false);
    metrics.replayed += n;
    if (s->nheld && s->held[s->nheld - 1]->seq > s->min_seq)
        s->min_seq = s->held[s->nheld - 1]->seq;
    replay_list_free(&s->replayed, &s->nreplayed, &s->capreplayed);
    replay_list_free(&s->held, &s->nheld, &s->capheld);
}

void replay_hold(conn_sub *s, wsg_frame *f)
{
    replay_list_push(&s->held, &s->nheld, &s->capheld, f);
}

void replay_clear(conn_sub *s)
{
    replay_list_free(&s->replayed, &s->nreplayed, &s->capreplayed);
    replay_list_free(&s->held, &s->nheld, &s->capheld);
}
