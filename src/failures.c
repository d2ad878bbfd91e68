/* failures.c: GET /api/batches/{id}/failures: pages of a batch's license.<id>.failed events
 * from the stream, read by the bridge thread while the HTTP request waits (failures.h). */
#include "wsgate/failures.h"

#include "wsgate/clock.h"
#include "wsgate/hub.h"
#include "wsgate/replay.h"
#include "wsgate/timefmt.h"
#include "wsgate/xmalloc.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A page being read, or read and waiting for its socket to take it. */
typedef struct failures_page {
    struct failures_page *next;
    uint64_t id; /* the bridge's replay id (the hub's replay ids: no clash with replay.c) */
    void *sock;
    int64_t deadline_ms;
    failures_query q;
    uint64_t upto; /* the last sequence read: the gateway's when the page started */
    char *accept_encoding;
    sbuf items; /* the JSON objects, comma-separated */
    uint32_t count;
    int status;           /* 0 while being read; then 200, 502 or 504 */
    uint64_t next_cursor; /* the next page's cursor, 0 when this is the last */
} failures_page;

bool failures_path(const char *path, char id[SUBJECT_MAX_TOKEN + 1])
{
    static const char prefix[] = "/api/batches/", suffix[] = "/failures";
    size_t n = strlen(path), pn = sizeof(prefix) - 1, sn = sizeof(suffix) - 1;
    if (n < pn + sn || strncmp(path, prefix, pn) != 0 || strcmp(path + n - sn, suffix) != 0)
        return false;
    size_t idlen = n - pn - sn;
    if (idlen > SUBJECT_MAX_TOKEN)
        idlen = 0; /* too long for a batch id: "" is refused by failures_parse */
    memcpy(id, path + pn, idlen);
    id[idlen] = '\0';
    return true;
}

/* A positive decimal integer of at most 19 digits into *v: 0, or -EINVAL. */
static int failures_uint(const char *s, uint64_t *v)
{
    size_t n = strlen(s);
    if (n == 0 || n > 19 || strspn(s, "0123456789") != n)
        return -EINVAL;
    *v = strtoull(s, NULL, 10);
    return *v ? 0 : -EINVAL;
}

int failures_parse(const char *id, const char *limit, const char *cursor, failures_query *q,
                   const char **why)
{
    memset(q, 0, sizeof(*q));
    if (strlen(id) > SUBJECT_MAX_TOKEN || !subject_valid(id) || strchr(id, '.'))
        return -ENOENT;
    memcpy(q->batch, id, strlen(id) + 1);
    q->limit = FAILURES_LIMIT_DEFAULT;
    q->cursor = 1;
    uint64_t v;
    if (limit) {
        if (failures_uint(limit, &v) != 0) {
            *why = "limit: a positive integer (at most 1000 are returned)";
            return -EINVAL;
        }
        q->limit = v > FAILURES_LIMIT_MAX ? FAILURES_LIMIT_MAX : (uint32_t)v;
    }
    if (cursor) {
        if (failures_uint(cursor, &v) != 0) {
            *why = "cursor: not a cursor from X-Next-Cursor (a stream sequence)";
            return -EINVAL;
        }
        q->cursor = v;
    }
    return 0;
}

static failures_page *failures_find(hub *h, uint64_t id)
{
    for (failures_page *p = h->failures; p; p = p->next)
        if (p->id == id)
            return p;
    return NULL;
}

static void failures_free(hub *h, failures_page *page)
{
    for (failures_page **p = &h->failures; *p; p = &(*p)->next) {
        if (*p == page) {
            *p = page->next;
            break;
        }
    }
    if (!page->status) {
        h->nfailures--;
        nats_bridge_replay_cancel(h->bridge, page->id);
    }
    sbuf_free(&page->items);
    free(page->accept_encoding);
    free(page);
}

/* The page is read (status), or cannot be: tell its socket; its bridge cursor goes. */
static void failures_done(hub *h, failures_page *p, int status)
{
    if (p->status)
        return;
    p->status = status;
    h->nfailures--;
    nats_bridge_replay_cancel(h->bridge, p->id); /* the pull consumer the window made */
    if (p->sock)
        lws_callback_on_writable(p->sock);
}

int failures_start(hub *h, const failures_query *q, void *sock, const char *accept_encoding,
                   uint64_t *id)
{
    if (!h->attached)
        return -ENOTCONN;
    if (h->nfailures >= FAILURES_INFLIGHT_MAX)
        return -EBUSY;
    failures_page *p = xcalloc(1, sizeof(*p));
    p->id = replay_next_id(h);
    p->sock = sock;
    p->deadline_ms = clock_now_ms() + FAILURES_TIMEOUT_MS;
    p->q = *q;
    p->upto = h->last_seq;
    p->accept_encoding = accept_encoding ? xstrdup(accept_encoding) : NULL;
    sbuf_init(&p->items, 0);
    p->next = h->failures;
    h->failures = p;
    h->nfailures++;
    *id = p->id;
    char filter[SUBJECT_MAX_LEN + 1];
    snprintf(filter, sizeof(filter), "license.%s.failed", q->batch);
    nb_replay_req req = {.id = p->id,
                         .filter = filter,
                         .from_seq = q->cursor,
                         .upto_seq = p->upto,
                         .max_msgs = q->limit,
                         .max_bytes = FAILURES_BYTES_MAX};
    if (q->cursor > p->upto) /* nothing stored there yet: an empty last page */
        failures_done(h, p, 200);
    else if (h->bridge) /* none only in unit tests: the page then times out */
        nats_bridge_replay(h->bridge, &req);
    return 0;
}

/* One failure: {"seq":N,"ts":"<stored>","data":<the event as published>}; the
 * frame is protocol_msg's {"op":"msg","subject":S,"seq":N,"data":...}, whose
 * "data" member (with "encoding" after it, for a payload that is not UTF-8)
 * is copied as it is. */
static void failures_item(failures_page *p, const nb_event *ev)
{
    const wsg_frame *f = ev->frame;
    const char *s = (const char *)frame_data(f), *end = s + f->len;
    static const char key[] = ",\"data\":";
    const char *d = memmem(s, f->len, key, sizeof(key) - 1);
    if (!d || end[-1] != '}')
        return;
    char ts[TIMEFMT_MAX];
    if (timefmt_ms(ev->ts_ms, ts) < 0)
        snprintf(ts, sizeof(ts), "null");
    sbuf_printf(&p->items, "%s{\"seq\":%llu,\"ts\":%s%s%s,", p->count ? "," : "",
                (unsigned long long)f->seq, ts[0] == 'n' ? "" : "\"", ts, ts[0] == 'n' ? "" : "\"");
    sbuf_put(&p->items, d + 1, (size_t)(end - (d + 1)));
    p->count++;
}

bool failures_on_event(hub *h, const nb_event *ev)
{
    failures_page *p = ev->replay_id ? failures_find(h, ev->replay_id) : NULL;
    if (!p)
        return false;
    if (p->status)
        return true; /* timed out meanwhile */
    if (ev->kind == NB_REPLAY_MSG) {
        if (ev->frame && p->count < p->q.limit)
            failures_item(p, ev);
        return true;
    }
    if (!ev->replay_ok) {
        failures_done(h, p, 502);
        return true;
    }
    p->next_cursor = ev->next_seq <= p->upto ? ev->next_seq : 0;
    failures_done(h, p, 200);
    return true;
}

void failures_tick(hub *h, int64_t now_ms)
{
    for (failures_page *p = h->failures; p; p = p->next)
        if (!p->status && now_ms >= p->deadline_ms)
            failures_done(h, p, 504);
}

/* The 200 of page p: the body and the paging headers. */
static void failures_answer(const failures_page *p, http_response *resp)
{
    sbuf *b = &resp->body;
    sbuf_reset(b);
    sbuf_puts(b, "{\"batch_id\":");
    sbuf_json_str(b, p->q.batch, strlen(p->q.batch));
    sbuf_puts(b, ",\"failures\":[");
    sbuf_put(b, sbuf_str(&p->items), p->items.len);
    if (p->next_cursor)
        sbuf_printf(b, "],\"next_cursor\":\"%llu\"}", (unsigned long long)p->next_cursor);
    else
        sbuf_puts(b, "],\"next_cursor\":null}");
    if (!p->next_cursor)
        return;
    char v[32], link[SUBJECT_MAX_TOKEN + 128];
    snprintf(v, sizeof(v), "%llu", (unsigned long long)p->next_cursor);
    http_add_header(resp, "x-next-cursor:", v);
    snprintf(link, sizeof(link), "</api/batches/%s/failures?limit=%u&cursor=%s>; rel=\"next\"",
             p->q.batch, (unsigned)p->q.limit, v);
    http_add_header(resp, "link:", link);
}

int failures_take(hub *h, uint64_t id, http_response *resp)
{
    failures_page *p = failures_find(h, id);
    if (!p)
        return -ENOENT;
    if (!p->status)
        return -EAGAIN;
    resp->status = p->status;
    resp->content_type = "application/json";
    resp->cache_control = "no-store";
    resp->pending = 0;
    if (p->status == 200) {
        failures_answer(p, resp);
        http_compress(p->accept_encoding, resp);
    } else {
        const char *msg =
            p->status == 504 ? "timed out reading the stream" : "the stream could not be read";
        sbuf_reset(&resp->body);
        sbuf_puts(&resp->body, "{\"error\":");
        sbuf_json_str(&resp->body, msg, strlen(msg));
        sbuf_putc(&resp->body, '}');
    }
    failures_free(h, p);
    return 0;
}

void failures_forget(hub *h, uint64_t id)
{
    failures_page *p = failures_find(h, id);
    if (p)
        failures_free(h, p);
}

void failures_fini(hub *h)
{
    while (h->failures)
        failures_free(h, h->failures);
}
