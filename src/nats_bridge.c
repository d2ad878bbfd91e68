/* nats_bridge.c: NATS connection, JetStream stream and consumers, and the inbox to the service
 * thread.
 *
 * Threads: nats.c calls msg_cb on a delivery thread and the connection
 * callbacks on its own thread; both only touch the inbox and a few flags
 * under `lock`. The bridge thread does everything that blocks: connecting,
 * ensuring the stream, (re)creating the live ordered consumer from the next
 * sequence we need, and serving replay requests. The live consumer is
 * recreated on every reconnect and on heartbeat or sequence trouble, always
 * from last_seq + 1. The inbox takes from the current consumer only the
 * exact next stream sequence, last_seq + 1, or a skip over sequences the
 * stream had deleted when the consumer was made: anything else marks the
 * consumer broken and it is recreated, so the service thread sees every
 * stored event exactly once, in order, and a gap only where the stream
 * deleted messages. */
#include "wsgate/nats_bridge.h"

#include "wsgate/inbox.h"

#include "wsgate/log.h"
#include "wsgate/protocol.h"
#include "wsgate/seqrule.h"
#include "wsgate/subject.h"
#include "wsgate/timefmt.h"
#include "wsgate/xmalloc.h"

#include <errno.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NB_JS_STREAM_NOT_FOUND 10059 /* JetStream API error code */

/* The closure of one live consumer: its messages count only while `gen` is current. */
typedef struct nb_live {
    struct nb_live *next;
    struct nats_bridge *nb;
    uint64_t gen;
} nb_live;

/* A replay window waiting to be served (nb_replay_req with its own filter). */
typedef struct nb_replay {
    struct nb_replay *next;
    nb_replay_req req;
    char *filter;
} nb_replay;

/* A replay's pull consumer, kept between its windows (bridge thread only). */
typedef struct nb_cursor {
    struct nb_cursor *next;
    uint64_t id;
    natsSubscription *sub;
    uint64_t next_seq; /* the sequence its next message can have */
    bool count_only;
    bool fresh; /* not fetched from yet */
} nb_cursor;

#define NB_REPLAY_BATCH 256 /* messages per fetch */

struct nats_bridge {
    const wsg_config *cfg;

    inbox *inbox; /* to the service thread (its own lock) */

    pthread_mutex_t lock; /* guards everything below up to `thread`, and `live` */
    pthread_cond_t cond;
    nb_replay *replays, *replays_tail; /* windows to serve, oldest first */
    uint64_t *cancels;                 /* replay ids whose cursors go */
    size_t ncancels, capcancels;
    bool stop;
    bool connected;
    bool need_attach;              /* (re)create the live consumer */
    bool closed;                   /* nats.c closed the connection for good: make a new one */
    uint64_t last_seq;             /* last stream sequence put in the inbox */
    uint64_t live_gen;             /* generation of the current live consumer */
    seqrule live_rule;             /* what it was made with, where it is (its sequence rule) */
    uint64_t *live_del;            /* the stream's deleted sequences then, sorted (live_rule.del) */
    bool live_broken;              /* it skipped or reordered messages: ignore it until recreated */
    struct nb_live *lives;         /* closures of every live consumer created */
    char epoch[64];                /* epoch of the attached stream, "" before the first attach */
    char servers[512];             /* --nats as logged: host:port each, no credentials */
    int64_t unreachable_logged_ms; /* when the last nats_unreachable line was written */
    int unreachable_seen;          /* highest attempt reported since the last connection */
    bool ever_connected;           /* else nats_bridge_connect's failed pass counts as attempt 1 */

    pthread_t thread;
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *live; /* set and cleared under lock; the bridge thread uses it */
    nb_cursor *cursors;     /* bridge thread only */
};

/* Append an event to the inbox, under the bridge's lock, so events leave in
 * the order the bridge decided them (the inbox has its own lock; the bridge
 * lock is always taken first). Caller holds lock. */
static void nats_bridge_push_locked(nats_bridge *nb, nb_event *ev)
{
    inbox_push(nb->inbox, ev);
}

static void nats_bridge_push(nats_bridge *nb, nb_event *ev)
{
    pthread_mutex_lock(&nb->lock);
    nats_bridge_push_locked(nb, ev);
    pthread_mutex_unlock(&nb->lock);
}

nb_event *nats_bridge_take(nats_bridge *nb)
{
    return inbox_take(nb->inbox);
}

void nats_bridge_event_free(nb_event *ev)
{
    frame_unref(ev->frame);
    events_clear(&ev->event);
    free(ev);
}

static void nats_bridge_state(nats_bridge *nb, bool connected, bool attached, const char *epoch,
                              uint64_t first_seq, uint64_t last_seq, const char *warning)
{
    nb_event *ev = xcalloc(1, sizeof(*ev));
    ev->kind = NB_STATE;
    ev->connected = connected;
    ev->attached = attached;
    snprintf(ev->epoch, sizeof(ev->epoch), "%s", epoch ? epoch : "");
    ev->first_seq = first_seq;
    ev->last_seq = last_seq;
    snprintf(ev->warning, sizeof(ev->warning), "%s", warning ? warning : "");
    nats_bridge_push(nb, ev);
}

/* Flag a change for the bridge thread and wake it. */
static void nats_bridge_poke(nats_bridge *nb, bool connected, bool attach)
{
    pthread_mutex_lock(&nb->lock);
    nb->connected = connected;
    nb->ever_connected = nb->ever_connected || connected;
    if (connected)
        nb->unreachable_seen = 0; /* a new outage counts from 1 */
    nb->need_attach = nb->need_attach || attach;
    pthread_cond_signal(&nb->cond);
    pthread_mutex_unlock(&nb->lock);
}

static void nats_bridge_on_connected(natsConnection *nc, void *arg)
{
    log_event(LOG_INFO, "nats_connected", NULL);
    nats_bridge_poke(arg, true, true);
}

static void nats_bridge_on_disconnected(natsConnection *nc, void *arg)
{
    log_event(LOG_WARN, "nats_disconnected", NULL);
    nats_bridge_poke(arg, false, true);
    nats_bridge_state(arg, false, false, NULL, 0, 0, NULL);
}

/* The host:port of a server URL, without scheme or user info (which can hold
 * a password: "nats://user:password@host:4222" -> "host:4222"). */
static void nats_bridge_url_host(const char *url, char *out, size_t outlen)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *at = strrchr(p, '@');
    if (at)
        p = at + 1;
    snprintf(out, outlen, "%.*s", (int)strcspn(p, "/?#"), p);
}

#define NB_UNREACHABLE_LOG_MS 10000 /* past the first attempts, one line per this at most */
#define NB_RECONNECT_WAIT_MS  500   /* between passes over the server list, plus a jitter */

/* A pass over every server failed (before the first connection, or after a
 * disconnection): log it at warn, rate-limited: attempts 1 to 3, then at
 * most one line per NB_UNREACHABLE_LOG_MS, each with the attempt count and
 * the servers without credentials. Caller holds no lock. */
static void nats_bridge_unreachable(nats_bridge *nb, int attempt, const char *error)
{
    int64_t now = nats_Now();
    /* Under the lock, in attempt order: nats.c's reconnect thread may report
     * attempt 2 before nats_bridge_connect has reported attempt 1 (then 1 is
     * written first, without its error, and its late report is dropped). */
    pthread_mutex_lock(&nb->lock);
    for (int a = nb->unreachable_seen + 1; a <= attempt; a++) {
        if (a <= 3 || now - nb->unreachable_logged_ms >= NB_UNREACHABLE_LOG_MS) {
            nb->unreachable_logged_ms = now;
            const char *why = a == attempt ? error : NULL;
            log_event(LOG_WARN, "nats_unreachable", "s:servers", nb->servers, "i:attempt", a,
                      "i:retry_ms", NB_RECONNECT_WAIT_MS, why && why[0] ? "s:error" : NULL, why,
                      NULL);
        }
    }
    if (attempt > nb->unreachable_seen)
        nb->unreachable_seen = attempt;
    pthread_mutex_unlock(&nb->lock);
}

/* nats.c's reconnect thread, after every failed pass over the server list:
 * returns the milliseconds to wait before the next (NB_RECONNECT_WAIT_MS and
 * up to 100 ms of jitter, what SetReconnectWait and nats.c's default jitter
 * gave). attempts counts nats.c's passes since the connection was lost; before
 * the first connection nats_bridge_connect's pass came first. */
static int64_t nats_bridge_reconnect_delay(natsConnection *nc, int attempts, void *arg)
{
    nats_bridge *nb = arg;
    pthread_mutex_lock(&nb->lock);
    int attempt = nb->ever_connected ? attempts : attempts + 1;
    pthread_mutex_unlock(&nb->lock);
    nats_bridge_unreachable(nb, attempt, NULL);
    return NB_RECONNECT_WAIT_MS + nats_Now() % 100;
}

static void nats_bridge_on_reconnected(natsConnection *nc, void *arg)
{
    char url[256] = "", host[256];
    natsConnection_GetConnectedUrl(nc, url, sizeof(url));
    nats_bridge_url_host(url, host, sizeof(host));
    log_event(LOG_INFO, "nats_reconnected", "s:server", host, NULL);
    nats_bridge_poke(arg, true, true);
}

/* nats.c gives up on a connection it cannot authenticate (bad credentials,
 * a refused certificate): the bridge thread then starts a new one. */
static void nats_bridge_on_closed(natsConnection *nc, void *arg)
{
    nats_bridge *nb = arg;
    log_event(LOG_INFO, "nats_closed", NULL);
    pthread_mutex_lock(&nb->lock);
    nb->closed = true;
    nb->connected = false;
    pthread_cond_signal(&nb->cond);
    pthread_mutex_unlock(&nb->lock);
}

/* Asynchronous errors: trouble on the live consumer means recreate it. */
static void nats_bridge_on_error(natsConnection *nc, natsSubscription *sub, natsStatus s, void *arg)
{
    nats_bridge *nb = arg;
    log_event(LOG_WARN, "nats_error", "s:error", natsStatus_GetText(s), NULL);
    pthread_mutex_lock(&nb->lock);
    if (sub && sub == nb->live) {
        nb->need_attach = true;
        pthread_cond_signal(&nb->cond);
    }
    pthread_mutex_unlock(&nb->lock);
}

/* Live consumer callback (nats delivery thread): encode and decode once, hand over. */
static void nats_bridge_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
    nb_live *live = arg;
    nats_bridge *nb = live->nb;
    jsMsgMetaData *md = NULL;
    if (natsMsg_GetMetaData(&md, msg) != NATS_OK) {
        log_event(LOG_WARN, "nats_msg_without_metadata", "s:subject", natsMsg_GetSubject(msg),
                  NULL);
        natsMsg_Destroy(msg);
        return;
    }
    uint64_t seq = md->Sequence.Stream, cseq = md->Sequence.Consumer;
    nb_event *ev = xcalloc(1, sizeof(*ev));
    ev->kind = NB_MSG;
    ev->seq = seq;
    ev->ts_ms = md->Timestamp / 1000000;
    const char *data = natsMsg_GetData(msg);
    int len = natsMsg_GetDataLength(msg);
    /* Published data is untrusted: an invalid subject (bad bytes, bad UTF-8)
     * gets no frame, only its seq reaches the service thread (no gap). */
    const char *subject = natsMsg_GetSubject(msg);
    if (subject_valid(subject)) {
        ev->frame = protocol_msg(subject, seq, data ? data : "", (size_t)len);
        ev->frame->stored_ns = md->Timestamp;
        /* decoded here, so the service thread never parses JSON */
        ev->event_rc = events_decode(&ev->event, subject, data ? data : "", (size_t)len, ev->ts_ms,
                                     &ev->reject);
    }
    jsMsgMetaData_Destroy(md);
    natsMsg_Destroy(msg);

    pthread_mutex_lock(&nb->lock);
    if (live->gen == nb->live_gen && !nb->live_broken) {
        /* Within one consumer's life the stream sequence goes up by exactly
         * one, or skips what the stream had deleted when it was made.
         * Anything else (a consumer that skipped messages still in the
         * stream, or went back) is broken: drop what is ahead, read again
         * from last_seq + 1 with a new consumer (which learns what has been
         * deleted since). */
        uint64_t expected;
        if (!seqrule_take(&nb->live_rule, seq, cseq, &expected)) {
            log_event(LOG_WARN, "consumer_gap", "u:expected_cseq",
                      (unsigned long long)nb->live_rule.cseq + 1, "u:cseq",
                      (unsigned long long)cseq, "u:expected_seq", (unsigned long long)expected,
                      "u:seq", (unsigned long long)seq, NULL);
            nb->live_broken = true;
            nb->need_attach = true;
            pthread_cond_signal(&nb->cond);
        } else {
            nb->last_seq = seq;
            nats_bridge_push_locked(nb, ev);
            ev = NULL;
        }
    }
    pthread_mutex_unlock(&nb->lock);
    if (ev) /* from a replaced or broken consumer */
        nats_bridge_event_free(ev);
}

/* Forget the live consumer; delete it on the server when connected (else
 * its inactivity threshold removes it: a delete request would only time out).
 * From here on nothing it still delivers reaches the inbox. */
static void nats_bridge_drop_live(nats_bridge *nb)
{
    natsSubscription *sub;
    pthread_mutex_lock(&nb->lock);
    sub = nb->live;
    nb->live = NULL;
    nb->live_gen++; /* no consumer is current until the next one is made */
    bool connected = nb->connected;
    pthread_mutex_unlock(&nb->lock);
    if (sub) {
        if (connected)
            natsSubscription_Unsubscribe(sub);
        natsSubscription_Destroy(sub);
    }
}

/* Get the stream's info (with the deleted sequences), creating the stream if
 * it does not exist. */
static natsStatus nats_bridge_ensure_stream(nats_bridge *nb, jsStreamInfo **si)
{
    const wsg_config *cfg = nb->cfg;
    jsErrCode jerr = 0;
    jsOptions o;
    jsOptions_Init(&o);
    o.Stream.Info.DeletedDetails = true;
    natsStatus s = js_GetStreamInfo(si, nb->js, cfg->stream, &o, &jerr);
    if (s == NATS_OK || !(s == NATS_NOT_FOUND || jerr == NB_JS_STREAM_NOT_FOUND))
        return s;
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = cfg->stream;
    sc.Subjects = (const char **)cfg->stream_subjects;
    sc.SubjectsLen = (int)cfg->stream_subject_count;
    sc.Storage = js_FileStorage;
    sc.Retention = js_LimitsPolicy;
    sc.MaxMsgs = cfg->stream_max_msgs;
    sc.MaxBytes = cfg->stream_max_bytes;
    sc.MaxAge = cfg->stream_max_age_ms * 1000000;
    sc.Replicas = cfg->stream_replicas;
    sc.AllowDirect = true;
    s = js_AddStream(si, nb->js, &sc, NULL, &jerr);
    if (s == NATS_OK)
        log_event(LOG_INFO, "stream_created", "s:stream", cfg->stream, NULL);
    return s;
}

/* Options of every consumer we create: an ephemeral push consumer reading the
 * stream from start_seq, no acks, flow control and heartbeats. Not nats.c's
 * "ordered" mode: its own reset thread races natsSubscription_Unsubscribe
 * (a use-after-free in nats.c 3.4.1, seen under ASan); we recreate consumers
 * ourselves, from the next sequence we need, on reconnect, missed heartbeats
 * or a sequence gap. */
static void nats_bridge_consumer_options(jsSubOptions *so, const char *stream, uint64_t start_seq)
{
    jsSubOptions_Init(so);
    so->Stream = stream;
    so->Config.AckPolicy = js_AckNone;
    so->Config.DeliverPolicy = js_DeliverByStartSequence;
    so->Config.OptStartSeq = start_seq;
    so->Config.FlowControl = true;
    so->Config.Heartbeat = (int64_t)2000 * 1000000; /* 2 s: notice a dead consumer quickly */
    so->Config.InactiveThreshold = (int64_t)30000 * 1000000; /* orphans vanish after 30 s */
    so->Config.MemoryStorage = true;
}

/* qsort's comparator over sequences: -1, 0 or 1 (its contract, not an error code). */
static int nats_bridge_cmp_seq(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The stream's deleted sequences in si, sorted and distinct; *n gets the count. */
static uint64_t *nats_bridge_deleted_sorted(const jsStreamInfo *si, size_t *n)
{
    const jsStreamState *st = &si->State;
    *n = 0;
    if (st->DeletedLen <= 0)
        return NULL;
    uint64_t *del = xmalloc((size_t)st->DeletedLen * sizeof(*del));
    memcpy(del, st->Deleted, (size_t)st->DeletedLen * sizeof(*del));
    qsort(del, (size_t)st->DeletedLen, sizeof(*del), nats_bridge_cmp_seq);
    for (int i = 0; i < st->DeletedLen; i++)
        if (*n == 0 || del[*n - 1] != del[i])
            del[(*n)++] = del[i];
    return del;
}

/* The --stream-subjects that no subject of the stream (as found: it may
 * have existed with other subjects) contains, as a warning in out ("" when
 * it covers them all; logged at warn on every attach). Their events are not
 * stored, so no client gets them. */
static void nats_bridge_uncovered(nats_bridge *nb, const jsStreamInfo *si, char *out, size_t outlen)
{
    const wsg_config *cfg = nb->cfg;
    const jsStreamConfig *sc = si->Config;
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < cfg->stream_subject_count; i++) {
        bool covered = false;
        for (int j = 0; sc && j < sc->SubjectsLen && !covered; j++)
            covered = subject_contains(sc->Subjects[j], cfg->stream_subjects[i]);
        if (covered)
            continue;
        int w = snprintf(out + n, outlen - n, "%s%s", n ? ", " : "stream subjects do not cover ",
                         cfg->stream_subjects[i]);
        if (w < 0 || (size_t)w >= outlen - n) {
            n = outlen - 1;
            break; /* cut: the log line says it in full */
        }
        n += (size_t)w;
    }
    if (!n)
        return;
    char have[512] = "";
    for (int j = 0, m = 0; sc && j < sc->SubjectsLen && m < (int)sizeof(have) - 1; j++)
        m += snprintf(have + m, sizeof(have) - (size_t)m, "%s%s", j ? "," : "", sc->Subjects[j]);
    log_event(LOG_WARN, "stream_subjects_uncovered", "s:stream", cfg->stream, "s:warning", out,
              "s:stream_subjects", have, NULL);
}

/* Ensure the stream and (re)create the live consumer from last_seq + 1.
 * Returns 0, or -EAGAIN to be retried later. */
static int nats_bridge_attach(nats_bridge *nb)
{
    jsStreamInfo *si = NULL;
    nats_bridge_drop_live(nb);
    natsStatus s = nats_bridge_ensure_stream(nb, &si);
    if (s != NATS_OK) {
        log_event(LOG_WARN, "stream_unavailable", "s:stream", nb->cfg->stream, "s:error",
                  nats_GetLastError(NULL), NULL);
        return -EAGAIN;
    }
    char epoch[64];
    timefmt_ns(si->Created, epoch);
    uint64_t first = si->State.FirstSeq, last = si->State.LastSeq;

    pthread_mutex_lock(&nb->lock);
    if (strcmp(nb->epoch, epoch) != 0) {
        if (nb->epoch[0])
            log_event(LOG_WARN, "stream_epoch_changed", "s:old", nb->epoch, "s:new", epoch, NULL);
        snprintf(nb->epoch, sizeof(nb->epoch), "%s", epoch);
        nb->last_seq = 0;
    }
    uint64_t start = nb->last_seq + 1;
    pthread_mutex_unlock(&nb->lock);
    size_t ndel = 0;
    uint64_t *del = nats_bridge_deleted_sorted(si, &ndel);
    char warning[256];
    nats_bridge_uncovered(nb, si, warning, sizeof(warning));
    jsStreamInfo_Destroy(si);
    nats_bridge_state(nb, true, true, epoch, first, last, warning);

    jsSubOptions so;
    nats_bridge_consumer_options(&so, nb->cfg->stream, start < first ? first : start);
    nb_live *live = xcalloc(1, sizeof(*live));
    live->nb = nb;
    pthread_mutex_lock(&nb->lock);
    live->gen = ++nb->live_gen;
    free(nb->live_del);
    nb->live_del = del;
    nb->live_rule = (seqrule){
        .start = start, .floor = first, .del = del, .ndel = ndel, .last_seq = nb->last_seq};
    nb->live_broken = false;
    live->next = nb->lives;
    nb->lives = live;
    pthread_mutex_unlock(&nb->lock);
    natsSubscription *sub = NULL;
    jsErrCode jerr = 0;
    s = js_Subscribe(&sub, nb->js, ">", nats_bridge_on_msg, live, NULL, &so, &jerr);
    if (s != NATS_OK) {
        log_event(LOG_WARN, "consumer_failed", "s:error", nats_GetLastError(NULL), NULL);
        nats_bridge_state(nb, true, false, epoch, first, last, NULL);
        return -EAGAIN;
    }
    natsSubscription_SetPendingLimits(sub, -1, -1);
    pthread_mutex_lock(&nb->lock);
    nb->live = sub;
    nb->need_attach = false;
    pthread_mutex_unlock(&nb->lock);
    log_event(LOG_INFO, "stream_attached", "s:stream", nb->cfg->stream, "s:epoch", epoch,
              "u:first_seq", (unsigned long long)first, "u:last_seq", (unsigned long long)last,
              "u:start_seq", (unsigned long long)so.Config.OptStartSeq, NULL);
    return 0;
}

static void nats_bridge_replay_end(nats_bridge *nb, const nb_replay_req *req, bool ok,
                                   uint64_t count, uint64_t next_seq, uint64_t first_seq,
                                   uint64_t last_seq)
{
    nb_event *ev = xcalloc(1, sizeof(*ev));
    ev->kind = NB_REPLAY_END;
    ev->replay_id = req->id;
    ev->replay_ok = ok;
    ev->count = count;
    ev->next_seq = next_seq;
    ev->first_seq = first_seq;
    ev->last_seq = last_seq;
    nats_bridge_push(nb, ev);
}

static void nats_bridge_cursor_free(nats_bridge *nb, nb_cursor *cur)
{
    if (nb->nc && natsConnection_Status(nb->nc) == NATS_CONN_STATUS_CONNECTED)
        natsSubscription_Unsubscribe(cur->sub); /* deletes the consumer */
    natsSubscription_Destroy(cur->sub);
    free(cur);
}

/* Drop the cursor of replay `id` (if any). */
static void nats_bridge_cursor_drop(nats_bridge *nb, uint64_t id)
{
    for (nb_cursor **p = &nb->cursors; *p; p = &(*p)->next) {
        if ((*p)->id == id) {
            nb_cursor *cur = *p;
            *p = cur->next;
            nats_bridge_cursor_free(nb, cur);
            return;
        }
    }
}

/* The pull consumer that reads req's window: the replay's own when it stands
 * where the window starts, else a new one (an ephemeral consumer from from_seq,
 * acknowledged per fetch, headers only for a count). NULL on failure. */
static nb_cursor *nats_bridge_cursor(nats_bridge *nb, const nb_replay_req *req)
{
    for (nb_cursor *cur = nb->cursors; cur; cur = cur->next)
        if (cur->id == req->id && cur->next_seq == req->from_seq &&
            cur->count_only == req->count_only)
            return cur;
    nats_bridge_cursor_drop(nb, req->id);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = nb->cfg->stream;
    so.Config.AckPolicy = js_AckAll;
    so.Config.MaxAckPending = 4 * NB_REPLAY_BATCH;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = req->from_seq;
    so.Config.HeadersOnly = req->count_only;
    so.Config.MemoryStorage = true;
    so.Config.InactiveThreshold = (int64_t)30000 * 1000000; /* orphans vanish after 30 s */
    natsSubscription *sub = NULL;
    jsErrCode jerr = 0;
    if (js_PullSubscribe(&sub, nb->js, req->filter, NULL, NULL, &so, &jerr) != NATS_OK)
        return NULL;
    nb_cursor *cur = xcalloc(1, sizeof(*cur));
    cur->id = req->id;
    cur->sub = sub;
    cur->next_seq = req->from_seq;
    cur->count_only = req->count_only;
    cur->fresh = true;
    cur->next = nb->cursors;
    nb->cursors = cur;
    return cur;
}

/* Serve one replay window (see nb_replay_req): fetch from the replay's pull
 * consumer until the window is full or the range is exhausted. Messages on an
 * invalid subject are read past and never counted or delivered. */
static void nats_bridge_serve_replay(nats_bridge *nb, const nb_replay_req *req)
{
    uint64_t count = 0, next = req->from_seq, first_seq = 0, last_seq = 0;
    size_t bytes = 0, avg = 1024;
    bool ok = false, exhausted = false;
    nb_cursor *cur = NULL;
    if (req->count_only) { /* the stream's bounds answer `recovered` */
        jsStreamInfo *si = NULL;
        jsErrCode jerr = 0;
        if (js_GetStreamInfo(&si, nb->js, nb->cfg->stream, NULL, &jerr) != NATS_OK)
            goto out;
        first_seq = si->State.FirstSeq;
        last_seq = si->State.LastSeq;
        jsStreamInfo_Destroy(si);
    }
    if (req->from_seq > req->upto_seq) { /* nothing to read */
        ok = exhausted = true;
        goto out;
    }
    if (!(cur = nats_bridge_cursor(nb, req)))
        goto out;
    if (cur->fresh) { /* nothing stored for it: a fetch would wait until it expires (5 s) */
        jsConsumerInfo *ci = NULL;
        jsErrCode jerr = 0;
        cur->fresh = false;
        if (natsSubscription_GetConsumerInfo(&ci, cur->sub, NULL, &jerr) == NATS_OK) {
            exhausted = ci->NumPending == 0;
            jsConsumerInfo_Destroy(ci);
        }
    }
    while (!exhausted && count < req->max_msgs && (!req->max_bytes || bytes < req->max_bytes)) {
        jsFetchRequest fr;
        jsFetchRequest_Init(&fr);
        uint64_t want = req->max_msgs - count;
        if (req->max_bytes && (req->max_bytes - bytes) / avg + 1 < want)
            want = (req->max_bytes - bytes) / avg + 1;
        fr.Batch = (int)(want < NB_REPLAY_BATCH ? want : NB_REPLAY_BATCH);
        fr.NoWait = true;
        fr.Expires = (int64_t)5000 * 1000000;
        natsMsgList list = {0};
        natsStatus s = natsSubscription_FetchRequest(&list, cur->sub, &fr);
        if (s == NATS_NOT_FOUND || s == NATS_TIMEOUT || (s == NATS_OK && list.Count == 0)) {
            natsMsgList_Destroy(&list);
            exhausted = true; /* nothing more is stored */
            break;
        }
        if (s != NATS_OK)
            goto out;
        for (int i = 0; i < list.Count; i++) {
            natsMsg *msg = list.Msgs[i];
            jsMsgMetaData *md = NULL;
            if (natsMsg_GetMetaData(&md, msg) != NATS_OK) {
                natsMsgList_Destroy(&list);
                goto out;
            }
            uint64_t seq = md->Sequence.Stream;
            const char *subject = natsMsg_GetSubject(msg);
            if (md->NumPending == 0 || seq >= req->upto_seq)
                exhausted = true;
            if (seq > req->upto_seq) {
                cur->next_seq = 0; /* read past the window: not reusable */
                jsMsgMetaData_Destroy(md);
                continue;
            }
            next = cur->next_seq = seq + 1;
            if (subject_valid(subject)) {
                count++;
                if (!req->count_only) {
                    nb_event *ev = xcalloc(1, sizeof(*ev));
                    ev->kind = NB_REPLAY_MSG;
                    ev->replay_id = req->id;
                    ev->ts_ms = md->Timestamp / 1000000;
                    const char *data = natsMsg_GetData(msg);
                    ev->frame = protocol_msg(subject, seq, data ? data : "",
                                             (size_t)natsMsg_GetDataLength(msg));
                    bytes += ev->frame->len;
                    avg = bytes / count + 1;
                    nats_bridge_push(nb, ev);
                }
            }
            jsMsgMetaData_Destroy(md);
        }
        if (list.Count > 0)
            natsMsg_Ack(list.Msgs[list.Count - 1], NULL); /* AckAll: the whole fetch */
        natsMsgList_Destroy(&list);
    }
    ok = true;
out:
    if (!ok) {
        log_event(LOG_WARN, "replay_failed", "s:filter", req->filter, "s:error",
                  nats_GetLastError(NULL), NULL);
        nats_bridge_cursor_drop(nb, req->id);
    }
    if (exhausted)
        next = req->upto_seq + 1;
    nats_bridge_replay_end(nb, req, ok, count, next, first_seq, last_seq);
}

int nats_bridge_replay(nats_bridge *nb, const nb_replay_req *req)
{
    nb_replay *r = xcalloc(1, sizeof(*r));
    r->req = *req;
    r->filter = xstrdup(req->filter);
    r->req.filter = r->filter;
    pthread_mutex_lock(&nb->lock);
    if (nb->replays_tail)
        nb->replays_tail->next = r;
    else
        nb->replays = r;
    nb->replays_tail = r;
    pthread_cond_signal(&nb->cond);
    pthread_mutex_unlock(&nb->lock);
    return 0;
}

void nats_bridge_replay_cancel(nats_bridge *nb, uint64_t id)
{
    if (!nb)
        return;
    pthread_mutex_lock(&nb->lock);
    nb_replay *prev = NULL;
    for (nb_replay *r = nb->replays, *next; r; r = next) {
        next = r->next;
        if (r->req.id != id) {
            prev = r;
            continue;
        }
        if (prev)
            prev->next = next;
        else
            nb->replays = next;
        if (nb->replays_tail == r)
            nb->replays_tail = prev;
        free(r->filter);
        free(r);
    }
    if (nb->ncancels == nb->capcancels) {
        nb->capcancels = nb->capcancels ? 2 * nb->capcancels : 16;
        nb->cancels = xrealloc(nb->cancels, nb->capcancels * sizeof(*nb->cancels));
    }
    nb->cancels[nb->ncancels++] = id;
    pthread_cond_signal(&nb->cond);
    pthread_mutex_unlock(&nb->lock);
}

/* Drop the cursors of cancelled replays (bridge thread; caller holds lock,
 * which is let go meanwhile: deleting a consumer is a request to the server). */
static void nats_bridge_cancels_locked(nats_bridge *nb)
{
    while (nb->ncancels) {
        uint64_t id = nb->cancels[--nb->ncancels];
        pthread_mutex_unlock(&nb->lock);
        nats_bridge_cursor_drop(nb, id);
        pthread_mutex_lock(&nb->lock);
    }
}

/* Connect (nats.c retries in the background when no server answers yet). */
static void nats_bridge_connect(nats_bridge *nb)
{
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 3000; /* bound every JetStream API call */
    natsStatus s = natsConnection_Connect(&nb->nc, nb->opts);
    if (s == NATS_NOT_YET_CONNECTED)
        nats_bridge_unreachable(nb, 1, nats_GetLastError(NULL));
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED)
        log_event(LOG_ERROR, "nats_connect_failed", "s:error", nats_GetLastError(NULL), NULL);
    else if (natsConnection_JetStream(&nb->js, nb->nc, &jo) != NATS_OK)
        log_event(LOG_ERROR, "jetstream_failed", "s:error", nats_GetLastError(NULL), NULL);
    else if (s == NATS_OK) /* connected at once: the connected callback is not called */
        nats_bridge_on_connected(nb->nc, nb);
}

/* Replace a connection nats.c closed for good, after a pause. */
static void nats_bridge_reconnect(nats_bridge *nb)
{
    nats_bridge_drop_live(nb);
    jsCtx_Destroy(nb->js);
    natsConnection_Destroy(nb->nc);
    nb->js = NULL;
    nb->nc = NULL;
    nats_Sleep(2000);
    pthread_mutex_lock(&nb->lock);
    bool stop = nb->stop;
    nb->closed = false;
    nb->need_attach = true;
    pthread_mutex_unlock(&nb->lock);
    if (!stop)
        nats_bridge_connect(nb);
}

static void *nats_bridge_main(void *arg)
{
    nats_bridge *nb = arg;
    nats_bridge_connect(nb);

    int64_t attach_at = 0; /* the next attach: a second after a failure, 100 ms after a success */
    pthread_mutex_lock(&nb->lock);
    while (!nb->stop) {
        if (nb->closed || !nb->nc) {
            pthread_mutex_unlock(&nb->lock);
            nats_bridge_reconnect(nb);
            pthread_mutex_lock(&nb->lock);
            continue;
        }
        nats_bridge_cancels_locked(nb);
        bool attach = nb->js && nb->connected && nb->need_attach && nats_Now() >= attach_at;
        nb_replay *r = nb->js && nb->connected ? nb->replays : NULL;
        if (!attach && !r) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 250 * 1000000L;
            if (until.tv_nsec >= 1000000000L)
                until.tv_sec++, until.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&nb->cond, &nb->lock, &until);
            continue;
        }
        if (r) {
            nb->replays = r->next;
            if (!nb->replays)
                nb->replays_tail = NULL;
        }
        pthread_mutex_unlock(&nb->lock);
        if (attach) /* a broken consumer is made again soon, not in a tight loop */
            attach_at = nats_Now() + (nats_bridge_attach(nb) != 0 ? 1000 : 100);
        if (r) {
            nats_bridge_serve_replay(nb, &r->req);
            free(r->filter);
            free(r);
        }
        pthread_mutex_lock(&nb->lock);
    }
    pthread_mutex_unlock(&nb->lock);
    return NULL;
}

static int nats_bridge_options(nats_bridge *nb, char *err, size_t errlen)
{
    const wsg_config *cfg = nb->cfg;
    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    nb->opts = o;
    if (s == NATS_OK)
        s = natsOptions_SetServers(o, (const char **)cfg->nats_urls, (int)cfg->nats_url_count);
    if (s == NATS_OK)
        s = natsOptions_SetNoRandomize(o, true);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK)
        s = natsOptions_SetCustomReconnectDelay(o, nats_bridge_reconnect_delay, nb);
    if (s == NATS_OK)
        s = natsOptions_SetRetryOnFailedConnect(o, true, nats_bridge_on_connected, nb);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(o, nats_bridge_on_disconnected, nb);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(o, nats_bridge_on_reconnected, nb);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(o, nats_bridge_on_closed, nb);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(o, nats_bridge_on_error, nb);
    if (s == NATS_OK)
        s = natsOptions_SetPingInterval(o, 5000);
    if (s == NATS_OK)
        s = natsOptions_SetName(o, "wsgate");
    if (s == NATS_OK && cfg->nats_user)
        s = natsOptions_SetUserInfo(o, cfg->nats_user, cfg->nats_password);
    if (s == NATS_OK && cfg->nats_token)
        s = natsOptions_SetToken(o, cfg->nats_token);
    if (s == NATS_OK && cfg->nats_creds)
        s = natsOptions_SetUserCredentialsFromFiles(o, cfg->nats_creds, NULL);
    if (s == NATS_OK && cfg->nats_ca)
        s = natsOptions_LoadCATrustedCertificates(o, cfg->nats_ca);
    if (s == NATS_OK && cfg->nats_cert)
        s = natsOptions_LoadCertificatesChain(o, cfg->nats_cert, cfg->nats_key);
    if (s == NATS_OK && (cfg->nats_ca || cfg->nats_cert))
        s = natsOptions_SetSecure(o, true);
    if (s != NATS_OK) {
        snprintf(err, errlen, "NATS options: %s", nats_GetLastError(NULL));
        return -EINVAL;
    }
    return 0;
}

nats_bridge *nats_bridge_create(const wsg_config *cfg, nats_bridge_wake_fn wake, void *wake_arg,
                                char *err, size_t errlen)
{
    nats_bridge *nb = xcalloc(1, sizeof(*nb));
    nb->cfg = cfg;
    nb->inbox = inbox_create(wake, wake_arg);
    pthread_mutex_init(&nb->lock, NULL);
    pthread_cond_init(&nb->cond, NULL);
    for (size_t i = 0, n = 0; i < cfg->nats_url_count && n < sizeof(nb->servers) - 1; i++) {
        char host[256];
        nats_bridge_url_host(cfg->nats_urls[i], host, sizeof(host));
        n += (size_t)snprintf(nb->servers + n, sizeof(nb->servers) - n, "%s%s", i ? "," : "", host);
    }
    if (nats_Open(-1) != NATS_OK || nats_bridge_options(nb, err, errlen) != 0 ||
        pthread_create(&nb->thread, NULL, nats_bridge_main, nb) != 0) {
        if (!err[0])
            snprintf(err, errlen, "cannot start the NATS client");
        natsOptions_Destroy(nb->opts);
        free(nb);
        return NULL;
    }
    return nb;
}

void nats_bridge_destroy(nats_bridge *nb, int64_t timeout_ms)
{
    if (!nb)
        return;
    pthread_mutex_lock(&nb->lock);
    nb->stop = true;
    pthread_cond_signal(&nb->cond);
    pthread_mutex_unlock(&nb->lock);
    pthread_join(nb->thread, NULL);
    nats_bridge_drop_live(nb);
    while (nb->cursors) {
        nb_cursor *cur = nb->cursors;
        nb->cursors = cur->next;
        nats_bridge_cursor_free(nb, cur);
    }
    if (nb->nc) { /* drain: finish what is in flight, then close (the closed callback signals) */
        int64_t until = nats_Now() + (timeout_ms > 0 ? timeout_ms : 1);
        if (natsConnection_DrainTimeout(nb->nc, timeout_ms > 0 ? timeout_ms : 1) == NATS_OK)
            while (!natsConnection_IsClosed(nb->nc) && nats_Now() < until)
                nats_Sleep(10);
        natsConnection_Close(nb->nc);
    }
    jsCtx_Destroy(nb->js);
    natsConnection_Destroy(nb->nc);
    natsOptions_Destroy(nb->opts);
    nats_CloseAndWait(timeout_ms > 0 ? timeout_ms : 1);
    for (nb_event *ev = inbox_take(nb->inbox), *next; ev; ev = next) {
        next = ev->next;
        nats_bridge_event_free(ev);
    }
    inbox_destroy(nb->inbox);
    free(nb->live_del);
    for (nb_live *l = nb->lives, *next; l; l = next) {
        next = l->next;
        free(l);
    }
    for (nb_replay *r = nb->replays, *next; r; r = next) {
        next = r->next;
        free(r->filter);
        free(r);
    }
    free(nb->cancels);
    pthread_mutex_destroy(&nb->lock);
    pthread_cond_destroy(&nb->cond);
    free(nb);
}
