/* test_conn.c: unit tests for one client connection (src/conn.c) with libwebsockets stubbed out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/client.h"
#include "wsgate/clock.h"
#include "wsgate/config.h"
#include "conn_internal.h"
#include "jwtmint.h"
#include "wsgate/hub.h"
#include "wsgate/lastvalue.h"
#include "wsgate/log.h"
#include "wsgate/metrics.h"
#include "wsgate/protocol.h"
#include "wsgate/replay.h"
#include "wsgate/ring.h"
#include "wsgate/sublist.h"
#include "wsgate/zgroup.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/evp.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

/* ---- libwebsockets stubs: the linker takes these over the shared library's ---- */

typedef struct written {
    char *data;
    size_t len;
} written;

static struct {
    /* inputs the stubs report */
    bool choked;
    size_t remaining;
    int final;
    int binary;
    int short_write_after; /* > 0: the n-th lws_write from now writes one byte short */
    bool plain;            /* a plain socket: data goes with send() to fd */
    int fd;
    /* what conn.c did */
    int writable_calls;
    int close_calls;
    int timeouts; /* lws_set_timeout calls (the close handshake's deadline) */
    int close_status;
    char close_reason[128];
    int write_calls;
    int pings;      /* WebSocket pings written */
    int raw_writes; /* writes of several frames framed by conn.c */
    written *out;   /* every payload lws_write was given, in order */
    size_t nout, capout;
    size_t cursor; /* next payload next_frame() returns */
} stub;

static char fake_wsi_storage;
#define WSI ((struct lws *)&fake_wsi_storage)

int lws_callback_on_writable(struct lws *wsi)
{
    assert_ptr_equal(wsi, WSI);
    stub.writable_calls++;
    return 1;
}

void lws_close_reason(struct lws *wsi, enum lws_close_status status, unsigned char *buf, size_t len)
{
    assert_ptr_equal(wsi, WSI);
    assert_true(len < sizeof(stub.close_reason));
    stub.close_calls++;
    stub.close_status = (int)status;
    memcpy(stub.close_reason, buf, len);
    stub.close_reason[len] = '\0';
}

void lws_set_timeout(struct lws *wsi, enum pending_timeout reason, int secs)
{
    assert_ptr_equal(wsi, WSI);
    stub.timeouts++;
}

/* Keep one payload the connection wrote, in order. */
static void stub_record(const unsigned char *buf, size_t len)
{
    if (stub.nout == stub.capout) {
        stub.capout = stub.capout ? stub.capout * 2 : 64;
        stub.out = realloc(stub.out, stub.capout * sizeof(*stub.out));
    }
    stub.out[stub.nout].data = malloc(len + 1);
    memcpy(stub.out[stub.nout].data, buf, len);
    stub.out[stub.nout].data[len] = '\0';
    stub.out[stub.nout].len = len;
    stub.nout++;
}

int lws_write(struct lws *wsi, unsigned char *buf, size_t len, enum lws_write_protocol protocol)
{
    assert_ptr_equal(wsi, WSI);
    if (protocol == 4) { /* a close frame: 2-byte code, then the reason */
        assert_true(len >= 2 && len - 2 < sizeof(stub.close_reason));
        stub.close_calls++;
        stub.close_status = buf[0] << 8 | buf[1];
        memcpy(stub.close_reason, buf + 2, len - 2);
        stub.close_reason[len - 2] = '\0';
        return (int)len;
    }
    if (protocol == LWS_WRITE_PING) {
        assert_true(len > 0); /* lws 4.1 does not report an empty pong */
        stub.pings++;
        return (int)len;
    }
    stub.write_calls++;
    if (stub.short_write_after > 0 && --stub.short_write_after == 0)
        return (int)len - 1;
    if (protocol == LWS_WRITE_RAW) { /* frames conn.c framed itself: unframe them */
        stub.raw_writes++;
        size_t at = 0;
        while (at < len) {
            assert_int_equal(buf[at], 0x81); /* final text frame */
            size_t n = buf[at + 1], hdr = 2;
            assert_true(n < 128); /* server frames are not masked */
            if (n == 126) {
                n = (size_t)buf[at + 2] << 8 | buf[at + 3];
                hdr = 4;
            } else if (n == 127) {
                n = 0;
                for (int i = 0; i < 8; i++)
                    n = n << 8 | buf[at + 2 + i];
                hdr = 10;
            }
            assert_true(at + hdr + n <= len);
            stub_record(buf + at + hdr, n);
            at += hdr + n;
        }
        return (int)len;
    }
    assert_int_equal(protocol, LWS_WRITE_TEXT);
    memset(buf - LWS_PRE, 0, LWS_PRE); /* lws writes its header there: it must be ours */
    stub_record(buf, len);
    return (int)len;
}

int lws_partial_buffered(struct lws *wsi)
{
    assert_ptr_equal(wsi, WSI);
    return stub.choked;
}

/* TLS unless a test asks for a plain socket (stub.plain, stub.fd): then conn.c
 * writes data frames with send() itself. */
int lws_is_ssl(struct lws *wsi)
{
    return !stub.plain;
}

lws_sockfd_type lws_get_socket_fd(struct lws *wsi)
{
    return stub.fd;
}

int lws_send_pipe_choked(struct lws *wsi)
{
    assert_ptr_equal(wsi, WSI);
    return stub.choked;
}

size_t lws_remaining_packet_payload(struct lws *wsi)
{
    assert_ptr_equal(wsi, WSI);
    return stub.remaining;
}

int lws_is_final_fragment(struct lws *wsi)
{
    assert_ptr_equal(wsi, WSI);
    return stub.final;
}

unsigned char lws_get_reserved_bits(struct lws *wsi)
{
    assert_ptr_equal(wsi, WSI);
    return 0;
}

int lws_frame_is_binary(struct lws *wsi)
{
    assert_ptr_equal(wsi, WSI);
    return stub.binary;
}

static void stub_reset(void)
{
    for (size_t i = 0; i < stub.nout; i++)
        free(stub.out[i].data);
    free(stub.out);
    memset(&stub, 0, sizeof(stub));
    stub.final = 1;
}

/* ---- fixture: a real hub from the default configuration, no NATS bridge ---- */

typedef struct fixture {
    wsg_config cfg;
    hub h;
} fixture;

static fixture *fx;

static int setup(void **state)
{
    memset(&metrics, 0, sizeof(metrics));
    stub_reset();
    fx = calloc(1, sizeof(*fx));
    char *argv[] = {"wsgate", NULL};
    char *envp[] = {NULL};
    char err[256];
    if (config_load(&fx->cfg, 1, argv, envp, err, sizeof(err)) != CONFIG_OK)
        fail_msg("config_load: %s", err);
    /* no test may depend on the clock: make the error window effectively unbounded */
    fx->cfg.err_window_ms = 3600 * 1000;
    if (hub_init(&fx->h, &fx->cfg, err, sizeof(err)) != 0)
        fail_msg("hub_init: %s", err);
    snprintf(fx->h.epoch, sizeof(fx->h.epoch), "%s", "2026-11-27T05:40:12.118Z");
    return 0;
}

static int teardown(void **state)
{
    hub_fini(&fx->h); /* destroys the connections a test left open */
    config_free(&fx->cfg);
    free(fx);
    fx = NULL;
    stub_reset();
    return 0;
}

/* ---- helpers ---- */

static conn *open_conn(void)
{
    conn *c = conn_create(&fx->h, WSI, NULL, "127.0.0.1", NULL);
    assert_non_null(c);
    return c;
}

/* One complete text message from the client. */
static int rx(conn *c, const char *text)
{
    stub.final = 1;
    stub.remaining = 0;
    stub.binary = 0;
    return client_receive(c, text, strlen(text));
}

/* WRITEABLE until the queue is empty (or the connection wants to close); returns the last rc. */
static int flush(conn *c)
{
    int rc = 0;
    for (int i = 0; i < 10000 && rc == 0 && c->qlen; i++)
        rc = conn_writable(c);
    return rc;
}

static size_t unread(void)
{
    return stub.nout - stub.cursor;
}

/* The next written frame, decoded (caller decrefs). */
static json_t *next_frame(void)
{
    if (stub.cursor >= stub.nout)
        fail_msg("no more frames written (%zu so far)", stub.nout);
    written *w = &stub.out[stub.cursor++];
    json_error_t err;
    json_t *j = json_loadb(w->data, w->len, 0, &err);
    if (!j)
        fail_msg("written frame is not JSON (%s): %s", err.text, w->data);
    return j;
}

static const char *jstr(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static long long jint(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", key);
    return json_integer_value(v);
}

/* Expect the next written frame to have op `op` and id `id` (NULL: no id); returns it. */
static json_t *expect_frame(const char *op, const char *id)
{
    json_t *j = next_frame();
    const char *got = jstr(j, "op");
    if (!got || strcmp(got, op) != 0) {
        char *dump = json_dumps(j, 0);
        fail_msg("expected op %s, got %s", op, dump);
    }
    if (id)
        assert_string_equal(jstr(j, "id"), id);
    else
        assert_null(json_object_get(j, "id"));
    return j;
}

static void expect_ok(const char *id, const char *subject, uint64_t seq)
{
    json_t *j = expect_frame("ok", id);
    assert_string_equal(jstr(j, "subject"), subject);
    assert_int_equal(jint(j, "seq"), seq);
    assert_null(json_object_get(j, "replayed"));
    json_decref(j);
}

static void expect_err(const char *id, const char *code)
{
    json_t *j = expect_frame("err", id);
    assert_string_equal(jstr(j, "code"), code);
    assert_non_null(jstr(j, "message"));
    json_decref(j);
}

static void expect_ok_resume(const char *id, uint64_t seq, uint64_t replayed, bool recovered)
{
    json_t *j = expect_frame("ok", id);
    assert_int_equal(jint(j, "seq"), seq);
    if (jint(j, "replayed") != (long long)replayed)
        fail_msg("replayed %lld, want %llu", jint(j, "replayed"), (unsigned long long)replayed);
    assert_true(json_is_boolean(json_object_get(j, "recovered")));
    if (json_is_true(json_object_get(j, "recovered")) != recovered)
        fail_msg("recovered should be %s", recovered ? "true" : "false");
    json_decref(j);
}

static void expect_msg(const char *subject, uint64_t seq)
{
    json_t *j = expect_frame("msg", NULL);
    if (subject)
        assert_string_equal(jstr(j, "subject"), subject);
    if (jint(j, "seq") != (long long)seq)
        fail_msg("msg seq %lld, want %llu", jint(j, "seq"), (unsigned long long)seq);
    json_decref(j);
}

/* A live event frame as the hub builds it. */
static wsg_frame *event(const char *subject, uint64_t seq, size_t payload_len)
{
    char *payload = malloc(payload_len + 3);
    payload[0] = '"';
    memset(payload + 1, 'p', payload_len);
    payload[payload_len + 1] = '"';
    wsg_frame *f = protocol_msg(subject, seq, payload, payload_len + 2);
    free(payload);
    f->lastvalue = lastvalue_is(fx->h.lv, subject);
    return f;
}

/* Fan a frame out the way the hub does: every matching subscription, one generation. */
static void fan_out(wsg_frame *f)
{
    const sublist_result *r = sublist_match(fx->h.subs, f->subject);
    uint64_t gen = ++fx->h.fanout_gen;
    for (size_t i = 0; i < r->count; i++)
        conn_deliver(r->owners[i], f, gen);
}

/* A connection whose hello was already written. */
static conn *open_flushed(void)
{
    conn *c = open_conn();
    assert_int_equal(flush(c), 0);
    json_decref(expect_frame("hello", NULL));
    return c;
}

/* ---- tests ---- */

static void test_hello(void **state)
{
    conn *c = open_conn();
    assert_int_equal(c->qlen, 1);
    assert_int_equal(stub.writable_calls, 1);
    assert_int_equal(metrics.connections, 1);
    assert_int_equal(metrics.connections_total, 1);
    assert_ptr_equal(fx->h.conns, c);
    assert_int_equal(stub.nout, 0); /* nothing written outside WRITEABLE */

    assert_int_equal(conn_writable(c), 0);
    assert_int_equal(c->qlen, 0);
    json_t *j = expect_frame("hello", NULL);
    assert_int_equal(jint(j, "version"), 1);
    assert_string_equal(jstr(j, "conn"), c->id);
    assert_string_equal(jstr(j, "epoch"), fx->h.epoch);
    assert_int_equal(jint(j, "heartbeat_ms"), fx->cfg.heartbeat_ms);
    assert_int_equal(jint(j, "max_frame"), fx->cfg.max_frame);
    assert_non_null(jstr(j, "server"));
    json_decref(j);
    assert_int_equal(metrics.deliveries, 0); /* hello is not a msg */
    assert_true(metrics.bytes_sent > 0);

    /* A second connection: a different id, both in the hub's list. */
    conn *d = open_conn();
    assert_string_not_equal(c->id, d->id);
    assert_ptr_equal(fx->h.conns, d);
    assert_ptr_equal(d->next, c);
    assert_int_equal(metrics.connections, 2);
    conn_destroy(c);
    assert_ptr_equal(fx->h.conns, d);
    assert_null(d->next);
    conn_destroy(d); /* with its hello still queued: released, no leak */
    assert_null(fx->h.conns);
    assert_int_equal(metrics.connections, 0);
}

static void test_sub_unsub_ping(void **state)
{
    fx->h.last_seq = 7;
    conn *c = open_flushed();
    assert_int_equal(rx(c, "{\"op\":\"sub\",\"id\":\"1\",\"subject\":\"a.b\"}"), 0);
    assert_int_equal(sublist_count(fx->h.subs), 1);
    assert_int_equal(c->nsubs, 1);
    assert_int_equal(metrics.subscriptions, 1);
    assert_ptr_equal(sublist_match(fx->h.subs, "a.b")->owners[0], c->subs[0]);

    /* duplicate: ok again, nothing added */
    assert_int_equal(rx(c, "{\"op\":\"sub\",\"id\":\"2\",\"subject\":\"a.b\"}"), 0);
    assert_int_equal(sublist_count(fx->h.subs), 1);
    assert_int_equal(c->nsubs, 1);

    assert_int_equal(rx(c, "{\"op\":\"sub\",\"subject\":\"a.*\"}"), 0);
    assert_int_equal(sublist_count(fx->h.subs), 2);
    assert_int_equal(metrics.subscriptions, 2);

    assert_int_equal(rx(c, "{\"op\":\"unsub\",\"id\":\"3\",\"subject\":\"a.b\"}"), 0);
    assert_int_equal(sublist_count(fx->h.subs), 1);
    assert_int_equal(c->nsubs, 1);
    assert_int_equal(metrics.subscriptions, 1);
    assert_int_equal(sublist_match(fx->h.subs, "a.b")->count, 1); /* a.* still */

    /* unknown pattern: ok too */
    assert_int_equal(rx(c, "{\"op\":\"unsub\",\"id\":\"4\",\"subject\":\"zz\"}"), 0);
    assert_int_equal(sublist_count(fx->h.subs), 1);

    assert_int_equal(rx(c, "{\"op\":\"ping\",\"id\":\"5\"}"), 0);
    assert_int_equal(rx(c, "{\"op\":\"ping\"}"), 0);

    assert_int_equal(flush(c), 0);
    expect_ok("1", "a.b", 7);
    expect_ok("2", "a.b", 7);
    expect_ok(NULL, "a.*", 7);
    expect_ok("3", "a.b", 7);
    expect_ok("4", "zz", 7);
    json_decref(expect_frame("pong", "5"));
    json_decref(expect_frame("pong", NULL));
    assert_int_equal(unread(), 0);
    for (int e = 0; e < PERR_COUNT; e++)
        assert_int_equal(metrics.client_errors[e], 0);

    conn_destroy(c);
    assert_int_equal(sublist_count(fx->h.subs), 0);
    assert_int_equal(metrics.subscriptions, 0);
}

static void test_max_subs(void **state)
{
    fx->cfg.max_subs = 3;
    conn *c = open_flushed();
    rx(c, "{\"op\":\"sub\",\"subject\":\"s1\"}");
    rx(c, "{\"op\":\"sub\",\"subject\":\"s2\"}");
    rx(c, "{\"op\":\"sub\",\"subject\":\"s3\"}");
    rx(c, "{\"op\":\"sub\",\"id\":\"x\",\"subject\":\"s4\"}");
    assert_int_equal(sublist_count(fx->h.subs), 3);
    assert_int_equal(c->nsubs, 3);
    rx(c, "{\"op\":\"sub\",\"id\":\"y\",\"subject\":\"s2\"}"); /* duplicate at the limit: ok */
    rx(c, "{\"op\":\"unsub\",\"subject\":\"s1\"}");
    rx(c, "{\"op\":\"sub\",\"subject\":\"s4\"}"); /* room again */
    assert_int_equal(sublist_count(fx->h.subs), 3);
    flush(c);
    expect_ok(NULL, "s1", 0);
    expect_ok(NULL, "s2", 0);
    expect_ok(NULL, "s3", 0);
    expect_err("x", "too_many_subscriptions");
    expect_ok("y", "s2", 0);
    expect_ok(NULL, "s1", 0);
    expect_ok(NULL, "s4", 0);
    assert_int_equal(unread(), 0);
    assert_int_equal(metrics.client_errors[PERR_TOO_MANY_SUBSCRIPTIONS], 1);
}

static void test_errors(void **state)
{
    conn *c = open_flushed();
    rx(c, "not json");
    rx(c, "{\"op\":\"sub\",\"id\":\"b\",\"subject\":\"a..b\"}");
    rx(c, "{\"op\":\"jump\",\"id\":\"j\"}");
    stub.binary = 1;
    stub.final = 1;
    assert_int_equal(client_receive(c, "{\"op\":\"ping\"}", 13), 0);
    stub.binary = 0;
    assert_int_equal(c->close_code, 0); /* one error does not close */
    flush(c);
    expect_err(NULL, "bad_request");
    expect_err("b", "bad_subject");
    expect_err("j", "bad_request");
    expect_err(NULL, "bad_request");
    assert_int_equal(unread(), 0);
    assert_int_equal(metrics.client_errors[PERR_BAD_REQUEST], 3);
    assert_int_equal(metrics.client_errors[PERR_BAD_SUBJECT], 1);
    assert_int_equal(sublist_count(fx->h.subs), 0);
}

static void test_error_limit_closes_4003(void **state)
{
    assert_int_equal(fx->cfg.err_limit, 50);
    conn *c = open_flushed();
    for (int i = 0; i < 50; i++)
        assert_int_equal(rx(c, "{\"op\":\"sub\",\"subject\":\"\"}"), 0);
    assert_int_equal(c->close_code, 0); /* 50 errors: not yet */
    assert_int_equal(c->qlen, 50);

    assert_int_equal(rx(c, "{\"op\":\"sub\",\"id\":\"last\",\"subject\":\"\"}"), 0);
    assert_int_equal(c->close_code, 4003);
    assert_true(c->close_after_queue);
    assert_int_equal(c->qlen, 51); /* the 51st err frame is queued before the close */
    assert_int_equal(metrics.client_errors[PERR_BAD_SUBJECT], 51);

    /* What the client says now is ignored. */
    assert_int_equal(rx(c, "{\"op\":\"ping\"}"), 0);
    assert_int_equal(c->qlen, 51);

    /* The queue goes out first, then the close. */
    assert_int_equal(conn_writable(c), 0);
    assert_int_equal(stub.close_calls, 0);
    assert_int_equal(c->qlen, 0);
    assert_int_equal(conn_writable(c), 0); /* close frame out; waits for the client's */
    assert_int_equal(stub.close_calls, 1);
    assert_int_equal(stub.close_status, 4003);
    assert_int_equal(stub.timeouts, 1);
    assert_int_equal(conn_writable(c), 0); /* sent once */
    assert_int_equal(stub.close_calls, 1);
    for (int i = 0; i < 50; i++)
        expect_err(NULL, "bad_subject");
    expect_err("last", "bad_subject");
    assert_int_equal(unread(), 0);
}

static void test_error_window(void **state)
{
    /* Errors further apart than the window never add up to a close. (A window of -1 ms puts
     * every pair of errors outside it without waiting for the clock.) */
    fx->cfg.err_window_ms = -1;
    conn *c = open_flushed();
    for (int i = 0; i < 120; i++)
        rx(c, "[]");
    assert_int_equal(c->close_code, 0);
    assert_int_equal(metrics.client_errors[PERR_BAD_REQUEST], 120);

    /* rate_limited errors count toward the limit too */
    fx->cfg.err_window_ms = 3600 * 1000;
    fx->cfg.err_limit = 2;
    fx->cfg.ops_burst = 1;
    fx->cfg.ops_rate = 1e-9;
    conn *d = open_flushed();
    rx(d, "{\"op\":\"ping\"}");
    rx(d, "{\"op\":\"ping\"}");
    rx(d, "{\"op\":\"ping\"}");
    assert_int_equal(d->close_code, 0);
    rx(d, "{\"op\":\"ping\"}");
    assert_int_equal(d->close_code, 4003);
    assert_int_equal(metrics.client_errors[PERR_RATE_LIMITED], 3);
}

static void test_rate_limit(void **state)
{
    fx->cfg.ops_burst = 5;
    fx->cfg.ops_rate = 1e-9; /* no refill while the test runs */
    conn *c = open_flushed();
    for (int i = 0; i < 5; i++)
        rx(c, "{\"op\":\"ping\"}");
    rx(c, "{\"op\":\"sub\",\"id\":\"r\",\"subject\":\"a\"}");
    assert_int_equal(sublist_count(fx->h.subs), 0); /* not carried out */
    rx(c, "not json either"); /* over the rate, a bad frame is rate_limited too */
    flush(c);
    for (int i = 0; i < 5; i++)
        json_decref(expect_frame("pong", NULL));
    expect_err("r", "rate_limited");
    expect_err(NULL, "rate_limited");
    assert_int_equal(unread(), 0);
    assert_int_equal(metrics.client_errors[PERR_RATE_LIMITED], 2);
    assert_int_equal(metrics.client_errors[PERR_BAD_REQUEST], 0);

    /* A fast refill: once the clock moves on by a millisecond the bucket is full again. */
    fx->cfg.ops_rate = 1e9;
    int64_t t0 = clock_now_ms();
    while (clock_now_ms() == t0)
        ;
    for (int i = 0; i < 5; i++)
        rx(c, "{\"op\":\"ping\"}");
    flush(c);
    for (int i = 0; i < 5; i++)
        json_decref(expect_frame("pong", NULL));
    assert_int_equal(unread(), 0);
}

/* Four times the bound is closed at once, grace period or not. */
/* Keepalive: a quiet peer is pinged after heartbeat_ms, hung up after ping_timeout_ms;
 * a frame (or a pong) from it counts as life. */
static void test_keepalive(void **state)
{
    fx->cfg.heartbeat_ms = 1000;
    fx->cfg.ping_timeout_ms = 3000;
    conn *c = open_flushed();
    int64_t t0 = c->last_rx_ms;

    conn_keepalive(c, t0 + 500); /* not quiet long enough */
    assert_false(c->ping_due);
    conn_keepalive(c, t0 + 1000);
    assert_true(c->ping_due);
    assert_int_equal(conn_writable(c), 0);
    assert_int_equal(stub.pings, 1);
    assert_false(c->ping_due);
    conn_keepalive(c, t0 + 1500); /* pinged half a second ago: not again yet */
    assert_false(c->ping_due);

    conn_pong(c); /* it answered: quiet again from now */
    assert_true(c->last_rx_ms >= t0);
    conn_keepalive(c, c->last_rx_ms + 2999);
    assert_false(c->hangup);
    conn_keepalive(c, c->last_rx_ms + 3000); /* silent for ping_timeout: hang up */
    assert_true(c->hangup);
    assert_int_equal(conn_writable(c), -1);
}

static void test_queue_hard_bound(void **state)
{
    fx->cfg.queue_bytes = 1000;
    conn *c = open_flushed();
    wsg_frame *f = event("a.b", 1, 200);
    size_t n = 4 * fx->cfg.queue_bytes / f->len;
    for (size_t i = 0; i < n; i++)
        conn_send(c, f, true);
    assert_int_equal(c->close_code, 0); /* the socket still takes bytes: a burst */
    conn_send(c, f, true);
    assert_int_equal(c->close_code, 4001);
    assert_int_equal(metrics.slow_consumer_closes, 1);
    conn_destroy(c);
    assert_int_equal(f->refs, 1);
    frame_unref(f);
}

static void test_queue_bound_4001(void **state)
{
    fx->cfg.queue_bytes = 1000;
    conn *c = open_flushed();
    wsg_frame *f = event("a.b", 1, 200);
    size_t fit = fx->cfg.queue_bytes / f->len;
    assert_true(fit >= 2);

    /* Replies and replays do not count toward the bound. */
    for (size_t i = 0; i < 3 * fit; i++)
        conn_send(c, f, false);
    assert_int_equal(c->close_code, 0);
    assert_int_equal(c->qbytes, 0);
    flush(c);
    assert_int_equal(unread(), 3 * fit);
    stub.cursor = stub.nout;

    /* A consumer that keeps up is never closed. */
    for (int round = 0; round < 5; round++) {
        for (size_t i = 0; i < fit; i++)
            conn_send(c, f, true);
        assert_int_equal(c->qbytes, fit * f->len);
        flush(c);
        assert_int_equal(c->qbytes, 0);
    }
    assert_int_equal(c->close_code, 0);
    stub.cursor = stub.nout;

    /* Over the bound while the socket still takes bytes: a burst, not slowness. */
    for (size_t i = 0; i < fit; i++)
        conn_send(c, f, true);
    conn_send(c, f, true);
    assert_int_equal(c->close_code, 0);
    flush(c);
    assert_int_equal(c->qbytes, 0);
    stub.cursor = stub.nout;

    /* Over the bound while the socket accepts nothing: a grace period first... */
    stub.choked = true;
    for (size_t i = 0; i < fit; i++)
        conn_send(c, f, true);
    assert_int_equal(c->close_code, 0);
    conn_send(c, f, true);
    assert_int_equal(c->close_code, 0);
    assert_true(c->over_since_ms > 0);
    assert_int_equal(metrics.slow_consumer_closes, 0);
    /* ...then, still over and still not writable, 4001 ahead of the queue (the
     * once-a-second check, with the clock moved past the grace period). */
    assert_true(conn_check_slow(c, c->qbytes, c->over_since_ms + 1000));
    assert_int_equal(c->close_code, 4001);
    assert_false(c->close_after_queue);
    assert_int_equal(metrics.slow_consumer_closes, 1);
    assert_int_equal(c->qlen, 0); /* the queue is freed at once: it will never be written */
    assert_int_equal(c->qbytes, 0);

    /* Nothing more is queued, and the close is counted once, however often
     * the once-a-second check looks again. */
    conn_send(c, f, true);
    conn_send(c, f, false);
    assert_int_equal(c->qlen, 0);
    assert_true(conn_check_slow(c, 8 * fx->cfg.queue_bytes, c->over_since_ms + 5000));
    assert_int_equal(metrics.slow_consumer_closes, 1);
    int writes = stub.write_calls;
    assert_int_equal(conn_writable(c), 0);
    assert_int_equal(stub.write_calls, writes); /* the close frame only, nothing queued */
    assert_int_equal(stub.close_calls, 1);
    assert_int_equal(stub.close_status, 4001);

    conn_destroy(c); /* drops the queued references */
    assert_int_equal(f->refs, 1);
    frame_unref(f);
}

static void test_conflation(void **state)
{
    conn *c = open_flushed();
    wsg_frame *p1 = event("batch.b1.progress", 1, 10);
    wsg_frame *p2 = event("batch.b1.progress", 2, 20);
    wsg_frame *q3 = event("batch.b2.progress", 3, 10);
    wsg_frame *p4 = event("batch.b1.progress", 4, 30);
    wsg_frame *x5 = event("license.b1.assigned", 5, 10);
    assert_true(p1->lastvalue);
    assert_false(x5->lastvalue);

    conn_send(c, p1, true);
    conn_send(c, p2, true);
    assert_int_equal(c->qlen, 1); /* one slot, the newest */
    assert_int_equal(metrics.conflated, 1);
    assert_int_equal(p1->refs, 1); /* released as soon as replaced */
    assert_int_equal(c->qbytes, p2->len);
    conn_send(c, q3, true); /* another subject: its own slot */
    conn_send(c, p4, true); /* p2 goes, p4 is queued after q3: stream order */
    conn_send(c, x5, true);
    assert_int_equal(c->qlen, 3);
    assert_int_equal(metrics.conflated, 2);
    assert_int_equal(p2->refs, 1);
    assert_int_equal(c->qbytes, p4->len + q3->len + x5->len);

    flush(c);
    expect_msg("batch.b2.progress", 3);
    expect_msg("batch.b1.progress", 4);
    expect_msg("license.b1.assigned", 5);
    assert_int_equal(unread(), 0);
    assert_int_equal(p4->refs, 1);

    /* A queued reply or replay is never replaced: only live slots conflate. */
    conn_send(c, p1, false);
    conn_send(c, p2, true);
    assert_int_equal(c->qlen, 2);
    assert_int_equal(metrics.conflated, 2);
    flush(c);
    expect_msg(NULL, 1);
    expect_msg(NULL, 2);

    frame_unref(p1);
    frame_unref(p2);
    frame_unref(q3);
    frame_unref(p4);
    frame_unref(x5);
}

static void test_lastvalue_never_4001(void **state)
{
    fx->cfg.queue_bytes = 1000;
    conn *c = open_flushed();
    char subject[64];
    for (int i = 0; i < 40; i++) { /* 40 different last-value subjects, far over the bound */
        snprintf(subject, sizeof(subject), "batch.b%d.progress", i);
        wsg_frame *f = event(subject, (uint64_t)i + 1, 200);
        conn_send(c, f, true);
        frame_unref(f);
    }
    assert_int_equal(c->close_code, 0);
    assert_int_equal(metrics.slow_consumer_closes, 0);
    assert_int_equal(c->qlen, 40);
    flush(c);
    for (int i = 0; i < 40; i++)
        expect_msg(NULL, (uint64_t)i + 1);
}

static void test_deliver_dedup_and_min_seq(void **state)
{
    fx->h.last_seq = 10;
    conn *c = open_flushed();
    rx(c, "{\"op\":\"sub\",\"subject\":\"a.>\"}");
    rx(c, "{\"op\":\"sub\",\"subject\":\"a.b\"}");
    flush(c);
    expect_ok(NULL, "a.>", 10);
    expect_ok(NULL, "a.b", 10);
    conn_sub *s = c->subs[0];
    assert_int_equal(s->min_seq, 10);

    wsg_frame *old = event("a.b", 10, 1);
    wsg_frame *f11 = event("a.b", 11, 1);
    wsg_frame *f12 = event("a.c", 12, 1);

    /* Matching both subscriptions: delivered once. */
    assert_int_equal(sublist_match(fx->h.subs, "a.b")->count, 2);
    fan_out(old); /* at or before the subscription's seq: filtered out */
    assert_int_equal(c->qlen, 0);
    fan_out(f11);
    assert_int_equal(c->qlen, 1);
    fan_out(f12);
    assert_int_equal(c->qlen, 2);

    /* The same generation twice through one subscription: queued once. */
    wsg_frame *f13 = event("a.b", 13, 1);
    conn_deliver(s, f13, 1000);
    conn_deliver(s, f13, 1000);
    conn_deliver(c->subs[1], f13, 1000);
    assert_int_equal(c->qlen, 3);
    assert_int_equal(f13->refs, 2);

    flush(c);
    expect_msg("a.b", 11);
    expect_msg("a.c", 12);
    expect_msg("a.b", 13);
    assert_int_equal(unread(), 0);
    assert_int_equal(metrics.deliveries, 3);
    frame_unref(old);
    frame_unref(f11);
    frame_unref(f12);
    frame_unref(f13);
}

static void test_writable_order_budget_refs(void **state)
{
    conn *c = open_flushed();
    rx(c, "{\"op\":\"sub\",\"subject\":\"a.b\"}");
    flush(c);
    expect_ok(NULL, "a.b", 0);
    uint64_t bytes0 = metrics.bytes_sent;
    enum { N = 400 }; /* more than one WRITEABLE's budget (256 frames) */
    wsg_frame *f[N];
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        f[i] = event("a.b", (uint64_t)i + 1, (size_t)i);
        if (i % 2)
            f[i]->recv_ns = clock_mono_ns(); /* latency is observed for these */
        total += f[i]->len;
        fan_out(f[i]); /* fan-out deliveries: their latency is measured */
        assert_int_equal(f[i]->refs, 2);
    }
    assert_int_equal(c->qbytes, total);
    int asks = stub.writable_calls;

    /* Choked: nothing written, WRITEABLE asked for again. */
    stub.choked = true;
    assert_int_equal(conn_writable(c), 0);
    assert_int_equal(unread(), 0);
    assert_int_equal(c->qlen, N);
    assert_true(stub.writable_calls > asks);
    stub.choked = false;

    /* A bounded number of frames per WRITEABLE; asks again while more is queued. */
    asks = stub.writable_calls;
    assert_int_equal(conn_writable(c), 0);
    assert_true(unread() > 0 && unread() < N);
    assert_int_equal(c->qlen, N - unread());
    assert_int_equal(stub.writable_calls, asks + 1);
    assert_int_equal(flush(c), 0);
    assert_int_equal(c->qlen, 0);
    assert_int_equal(c->qbytes, 0);
    for (int i = 0; i < N; i++) {
        size_t k = stub.cursor;
        expect_msg("a.b", (uint64_t)i + 1);
        assert_int_equal(stub.out[k].len, f[i]->len);
        assert_memory_equal(stub.out[k].data, frame_data(f[i]), f[i]->len);
        assert_int_equal(f[i]->refs, 1); /* the connection let go */
    }
    assert_int_equal(metrics.deliveries, N);
    assert_true(stub.raw_writes > 0);  /* queued frames went out together... */
    assert_true(stub.write_calls < N); /* ...in fewer writes than frames */
    assert_int_equal(metrics.bytes_sent - bytes0, total);
    assert_int_equal(metrics.latency_count, N / 2);

    /* Nothing queued: WRITEABLE writes nothing and asks for nothing. */
    asks = stub.writable_calls;
    assert_int_equal(conn_writable(c), 0);
    assert_int_equal(stub.writable_calls, asks);

    /* A short write is fatal, and the frame's reference is still released. */
    conn_send(c, f[0], true);
    conn_send(c, f[1], true);
    stub.short_write_after = 1;
    assert_int_equal(conn_writable(c), -1);
    assert_int_equal(f[0]->refs, 1);
    conn_destroy(c);
    for (int i = 0; i < N; i++) {
        assert_int_equal(f[i]->refs, 1);
        frame_unref(f[i]);
    }
}

/* A ping padded with spaces to exactly n bytes. */
static char *padded_ping(size_t n)
{
    const char *core = "{\"op\":\"ping\",\"id\":\"big\"}";
    char *s = malloc(n + 1);
    memset(s, ' ', n);
    memcpy(s, core, strlen(core));
    s[n] = '\0';
    return s;
}

static void test_max_frame_1009(void **state)
{
    fx->cfg.max_frame = 256;
    conn *c = open_flushed();

    char *ok = padded_ping(256); /* exactly max_frame: fine */
    assert_int_equal(rx(c, ok), 0);
    assert_int_equal(stub.close_calls, 0);
    free(ok);

    char *big = padded_ping(257);
    assert_int_equal(rx(c, big), 0); /* ignored; the close goes out at WRITEABLE */
    assert_int_equal(c->close_code, 1009);
    assert_false(c->close_after_queue);
    flush(c);
    assert_int_equal(conn_writable(c), 0);
    assert_int_equal(stub.close_calls, 1);
    assert_int_equal(stub.close_status, 1009);
    assert_int_equal(stub.close_status, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
    free(big);
    conn_destroy(c);
    c = open_flushed();

    /* Known to be too big from the announced remainder, before it arrives. */
    stub.final = 0;
    stub.remaining = 200;
    assert_int_equal(client_receive(c, "{\"op\":", 6), 0); /* 6 + 200 <= 256 */
    stub.remaining = 251;
    assert_int_equal(client_receive(c, "\"ping\"", 6), 0);
    assert_int_equal(c->close_code, 1009);
}

static void test_max_frame_fragments(void **state)
{
    fx->cfg.max_frame = 256;
    conn *c = open_flushed();
    /* 3 fragments of 100 bytes: the third crosses the bound. */
    char chunk[100];
    memset(chunk, ' ', sizeof(chunk));
    stub.final = 0;
    stub.remaining = 0;
    assert_int_equal(client_receive(c, chunk, 100), 0);
    assert_int_equal(client_receive(c, chunk, 100), 0);
    stub.final = 1;
    assert_int_equal(client_receive(c, chunk, 100), 0);
    assert_int_equal(c->close_code, 1009);
    assert_null(c->rx); /* the partial message is dropped at once */
}

static void test_fragments(void **state)
{
    conn *c = open_flushed();
    const char *msg = "{\"op\":\"ping\",\"id\":\"frag\"}";
    size_t n = strlen(msg);
    /* a message in three frames (is_final 0, 0, 1) */
    stub.remaining = 0;
    stub.final = 0;
    assert_int_equal(client_receive(c, msg, 5), 0);
    assert_int_equal(c->qlen, 0);
    assert_int_equal(client_receive(c, msg + 5, 7), 0);
    stub.final = 1;
    assert_int_equal(client_receive(c, msg + 12, n - 12), 0);
    assert_null(c->rx);
    /* one frame delivered in pieces (final fragment, bytes still to come) */
    stub.final = 1;
    stub.remaining = n - 10;
    assert_int_equal(client_receive(c, msg, 10), 0);
    assert_int_equal(c->qlen, 1);
    stub.remaining = 0;
    assert_int_equal(client_receive(c, msg + 10, n - 10), 0);
    assert_int_equal(c->qlen, 2);
    /* a half-received message is freed with the connection */
    stub.final = 0;
    assert_int_equal(client_receive(c, msg, 4), 0);
    assert_non_null(c->rx);
    flush(c);
    json_decref(expect_frame("pong", "frag"));
    json_decref(expect_frame("pong", "frag"));
    assert_int_equal(unread(), 0);
}

/* Fill the ring with seqs first..last, alternating subjects a.x (odd) and b.x (even). */
static void fill_ring(uint64_t first, uint64_t last)
{
    for (uint64_t s = first; s <= last; s++) {
        wsg_frame *f = event(s % 2 ? "a.x" : "b.x", s, 4);
        ring_push(fx->h.ring, f);
        frame_unref(f);
    }
    fx->h.last_seq = last;
    fx->h.stream_last_seq = last;
}

static void test_resume_from_ring(void **state)
{
    fill_ring(1, 10);
    conn *c = open_flushed();
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "{\"op\":\"sub\",\"id\":\"r\",\"subject\":\"a.*\",\"since\":4,\"epoch\":\"%s\"}",
             fx->h.epoch);
    assert_int_equal(rx(c, cmd), 0);
    assert_int_equal(sublist_count(fx->h.subs), 1);
    assert_int_equal(ring_at(fx->h.ring, 4)->refs, 2); /* seq 5: shared with the queue */
    flush(c);
    expect_ok_resume("r", 10, 3, true);
    expect_msg("a.x", 5);
    expect_msg("a.x", 7);
    expect_msg("a.x", 9);
    assert_int_equal(unread(), 0);
    assert_int_equal(metrics.replayed, 3);
    assert_int_equal(metrics.deliveries, 3);
    for (size_t i = 0; i < ring_count(fx->h.ring); i++)
        assert_int_equal(ring_at(fx->h.ring, i)->refs, 1);

    /* The seam: nothing up to ok.seq again, everything after it. */
    wsg_frame *f9 = event("a.x", 9, 1), *f11 = event("a.x", 11, 1);
    fan_out(f9);
    fan_out(f11);
    flush(c);
    expect_msg("a.x", 11);
    assert_int_equal(unread(), 0);
    frame_unref(f9);
    frame_unref(f11);

    /* since 0 with the ring starting at 1: all of it, without epoch. */
    rx(c, "{\"op\":\"sub\",\"subject\":\"b.>\",\"since\":0}");
    flush(c);
    expect_ok_resume(NULL, 10, 5, true);
    for (uint64_t s = 2; s <= 10; s += 2)
        expect_msg("b.x", s);
    assert_int_equal(unread(), 0);
    assert_int_equal(metrics.replayed, 8);
}

/* A dispatch round writes what it queued with one send per connection, with
 * no WRITEABLE round trip (no epoll change); only what the socket refuses
 * goes through WRITEABLE. */
static void test_flush_without_writeable(void **state)
{
    conn *c = open_flushed();
    rx(c, "{\"op\":\"sub\",\"subject\":\"a.>\"}");
    flush(c);
    expect_ok(NULL, "a.>", 0);
    wsg_frame *f1 = event("a.x", 1, 10), *f2 = event("a.y", 2, 10), *f3 = event("a.z", 3, 10);
    int asked = stub.writable_calls, writes = stub.write_calls;

    fx->h.round->dispatching = true; /* as hub_poll does */
    fan_out(f1);
    fan_out(f2);
    assert_int_equal(fx->h.round->nflush, 1); /* queued for the end of the round, once */
    assert_ptr_equal(fx->h.round->flushv[0], c);
    assert_int_equal(stub.writable_calls, asked);
    fx->h.round->dispatching = false;
    fx->h.round->nflush = 0;
    conn_flush(c);
    assert_int_equal(stub.write_calls, writes + 1); /* both frames, one send */
    assert_int_equal(stub.writable_calls, asked);   /* and no WRITEABLE asked for */
    expect_msg("a.x", 1);
    expect_msg("a.y", 2);
    assert_int_equal(c->qlen, 0);

    /* a socket with bytes still pending: the round's frames wait for WRITEABLE */
    stub.choked = true;
    fx->h.round->dispatching = true;
    fan_out(f3);
    fx->h.round->dispatching = false;
    fx->h.round->nflush = 0;
    conn_flush(c);
    assert_int_equal(stub.writable_calls, asked + 1);
    assert_int_equal(c->qlen, 1);
    stub.choked = false;
    flush(c);
    expect_msg("a.z", 3);

    /* a connection closed during the round leaves the round's list */
    conn *c2 = open_flushed();
    rx(c2, "{\"op\":\"sub\",\"subject\":\"a.>\"}");
    flush(c2);
    expect_ok(NULL, "a.>", 0);
    fx->h.round->dispatching = true;
    fan_out(f1);
    assert_int_equal(fx->h.round->nflush, 2);
    conn_destroy(c2);
    assert_null(fx->h.round->flushv[fx->h.round->flushv[0] == c ? 1 : 0]); /* c2's place is empty */
    fx->h.round->dispatching = false;
    fx->h.round->nflush = 0;
    conn_flush(c);
    expect_msg("a.x", 1);
    frame_unref(f1);
    frame_unref(f2);
    frame_unref(f3);
}

/* A client's inflater with context takeover (Chromium's, ws's): it only
 * sees compressed messages; what it inflates goes to the stub's record. */
static z_stream client_z;
static bool client_z_ready;
static size_t client_inflated;

static void client_inflate(const unsigned char *in, size_t len)
{
    static unsigned char out[1 << 20];
    static const unsigned char tail[4] = {0, 0, 0xff, 0xff};
    if (!client_z_ready)
        assert_int_equal(inflateInit2(&client_z, -15), Z_OK);
    client_z_ready = true;
    client_z.next_out = out;
    client_z.avail_out = sizeof(out);
    for (int part = 0; part < 2; part++) {
        client_z.next_in = (unsigned char *)(part ? tail : in);
        client_z.avail_in = part ? 4 : (uInt)len;
        int rc = inflate(&client_z, Z_SYNC_FLUSH);
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            fail_msg("the client cannot inflate a frame: %d", rc);
    }
    stub_record(out, sizeof(out) - client_z.avail_out);
    client_inflated++;
}

static void client_inflate_end(void)
{
    if (client_z_ready)
        inflateEnd(&client_z);
    client_z_ready = false;
    client_inflated = 0;
}

/* Read server frames (unmasked text) from fd into the stub's record, as if lws_write had seen them.
 */
static void drain_socket(int fd, unsigned char *acc, size_t *have)
{
    ssize_t n;
    while ((n = recv(fd, acc + *have, 4 * 1048576 - *have, MSG_DONTWAIT)) > 0)
        *have += (size_t)n;
    size_t at = 0;
    for (;;) {
        if (*have - at < 2)
            break;
        size_t len = acc[at + 1], hdr = 2;
        if (len == 126) {
            if (*have - at < 4)
                break;
            len = (size_t)acc[at + 2] << 8 | acc[at + 3];
            hdr = 4;
        }
        if (*have - at < hdr + len)
            break;
        if (acc[at] == 0xC1) /* permessage-deflate: the client inflates, keeping its window */
            client_inflate(acc + at + hdr, len);
        else
            assert_int_equal(acc[at], 0x81);
        if (acc[at] == 0x81)
            stub_record(acc + at + hdr, len);
        at += hdr + len;
    }
    memmove(acc, acc + at, *have - at);
    *have -= at;
}

/* A connection on a plain socket (a socketpair) whose send buffer takes 4 KiB,
 * its hello already read from sv[1] into acc; pmd: what permessage-deflate
 * negotiated, or NULL. */
static conn *open_on_small_socket(int sv[2], unsigned char *acc, size_t *have,
                                  const pmd_params *pmd)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    stub.plain = true;
    stub.fd = sv[0];
    fx->cfg.queue_bytes = 64 << 20;
    conn *c = conn_create(&fx->h, WSI, NULL, "127.0.0.1", pmd);
    flush(c); /* hello, through send() */
    drain_socket(sv[1], acc, have);
    json_decref(expect_frame("hello", NULL));
    return c;
}

/* On a plain socket data frames go out with send(); what the socket refuses
 * waits in the connection and goes first at the next WRITEABLE, in order. */
static void test_plain_socket_partial_sends(void **state)
{
    int sv[2];
    static unsigned char acc[4 * 1048576];
    size_t have = 0;
    conn *c = open_on_small_socket(sv, acc, &have, NULL);
    rx(c, "{\"op\":\"sub\",\"subject\":\"a.>\"}");
    for (uint64_t s = 1; s <= 300; s++) {
        wsg_frame *f = event("a.x", s, 700);
        fan_out(f);
        frame_unref(f);
    }
    int rounds = 0;
    bool partial = false;
    while (c->qlen || c->pend) {
        assert_int_equal(conn_writable(c), 0);
        partial = partial || c->pend != NULL;
        drain_socket(sv[1], acc, &have);
        assert_true(++rounds < 100000);
    }
    drain_socket(sv[1], acc, &have);
    assert_true(partial); /* the small socket buffer took frames in part */
    assert_int_equal(have, 0);
    expect_ok(NULL, "a.>", 0);
    for (uint64_t s = 1; s <= 300; s++)
        expect_msg("a.x", s);
    assert_int_equal(unread(), 0);
    conn_destroy(c);
    close(sv[0]);
    close(sv[1]);
}

/* permessage-deflate end to end through a real socket: a member of a shared
 * compressor's group (another member keeps the group's compressor alive),
 * replies and last values in between, frames cut by a small socket buffer,
 * conflation of queued group frames while the client does not read: the
 * client's inflater (context takeover) decodes every frame to exactly the
 * events it was sent, in order. */
static void test_compressed_partial_sends_and_conflation(void **state)
{
    int sv[2];
    static unsigned char acc[4 * 1048576];
    size_t have = 0;
    pmd_params pmd = {.server_bits = 15};
    conn *c = open_on_small_socket(sv, acc, &have, &pmd);
    zmember other;
    zmember_init(&other, 15, false);
    static const char *const set[] = {"batch.>"};
    zmember_set(fx->h.zg, &other, set, 1); /* the group now has two members: a compressor */
    rx(c, "{\"op\":\"sub\",\"subject\":\"batch.>\"}");
    flush(c);
    drain_socket(sv[1], acc, &have);
    expect_ok(NULL, "batch.>", 0);
    assert_int_equal(metrics.deflate_groups, 1);
    uint64_t seq = 0;
    bool conflated = false;
    for (int round = 0; round < 60; round++) {
        for (int k = 0; k < 8; k++) {
            seq++;
            /* every third a last value (batch.*.progress): conflated while queued */
            wsg_frame *f = event(seq % 3 ? "batch.b1.assigned" : "batch.b1.progress", seq,
                                 80 + (size_t)(seq * 397 % 1500));
            fan_out(f);
            frame_unref(f);
        }
        if (round % 10 == 3)
            rx(c, "{\"op\":\"ping\",\"id\":\"p\"}"); /* an uncompressed reply in between */
        conflated = conflated || metrics.conflated > 0;
        if (round % 4 == 0) { /* the client reads now and then: the rest waits, or is cut */
            for (int i = 0; i < 3; i++) {
                assert_int_equal(conn_writable(c), 0);
                drain_socket(sv[1], acc, &have);
            }
        }
    }
    for (int i = 0; i < 100000 && (c->qlen || c->pend); i++) {
        assert_int_equal(conn_writable(c), 0);
        drain_socket(sv[1], acc, &have);
    }
    drain_socket(sv[1], acc, &have);
    assert_int_equal(have, 0);
    assert_true(conflated);
    assert_true(client_inflated > 100);
    assert_true(metrics.deflate_leaves > 0); /* conflation of group frames made it leave ... */
    assert_true(metrics.deflate_joins > 1);  /* ... and it came back at a sync point */
    /* every event not conflated, in order; the last value of the subject arrives */
    uint64_t last = 0, pongs = 0, progress = 0;
    while (unread()) {
        json_t *j = next_frame();
        if (strcmp(jstr(j, "op"), "pong") == 0) {
            pongs++;
        } else {
            assert_string_equal(jstr(j, "op"), "msg");
            uint64_t s = (uint64_t)jint(j, "seq");
            assert_true(s > last);
            for (uint64_t miss = last + 1; miss < s; miss++)
                assert_int_equal(miss % 3, 0); /* only last values may be skipped */
            progress = s % 3 == 0 ? s : progress;
            last = s;
        }
        json_decref(j);
    }
    assert_int_equal(last, seq);
    assert_int_equal(progress, seq - seq % 3);
    assert_int_equal(pongs, 6);
    zmember_clear(fx->h.zg, &other);
    conn_destroy(c);
    client_inflate_end();
    close(sv[0]);
    close(sv[1]);
}

/* A round sent in two halves (conn_flush_take on the service thread, the
 * sendmsg on a sender, conn_flush_done back on the service thread) over a
 * socket that takes frames in part: the frames the send did not reach stay
 * queued (they still count toward the bound), the cut frame's rest goes
 * first, and the client reads every frame whole and in order. */
static void test_flush_halves_partial_sends(void **state)
{
    int sv[2];
    static unsigned char acc[4 * 1048576];
    size_t have = 0;
    conn *c = open_on_small_socket(sv, acc, &have, NULL);
    rx(c, "{\"op\":\"sub\",\"subject\":\"a.>\"}");
    flush(c);
    drain_socket(sv[1], acc, &have);
    expect_ok(NULL, "a.>", 0);
    uint64_t seq = 0;
    bool cut = false, left_queued = false;
    for (int round = 0; round < 40; round++) {
        for (int k = 0; k < 10; k++) { /* 10 frames of 60 to 3,000 bytes per round */
            seq++;
            wsg_frame *f = event("a.x", seq, 60 + (size_t)(seq * 397 % 2940));
            fan_out(f);
            frame_unref(f);
        }
        struct iovec iov[300];
        int n, fd;
        uint32_t before = c->qlen;
        if (conn_flush_take(c, iov, 300, &n, &fd)) {
            assert_int_equal(c->qlen, before); /* nothing leaves before the send */
            struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
            ssize_t sent = sendmsg(fd, &m, MSG_DONTWAIT);
            conn_flush_done(c, sent < 0 ? 0 : sent, 0);
            cut = cut || c->pend != NULL;
            left_queued = left_queued || (c->qlen > 0 && c->qbytes > 0);
        } else {
            assert_int_equal(conn_writable(c), 0); /* what must wait: the rest first */
        }
        drain_socket(sv[1], acc, &have);
    }
    for (int i = 0; i < 100000 && (c->qlen || c->pend); i++) {
        assert_int_equal(conn_writable(c), 0);
        drain_socket(sv[1], acc, &have);
    }
    drain_socket(sv[1], acc, &have);
    assert_true(cut);         /* a send cut a frame: its rest waited in pend */
    assert_true(left_queued); /* frames the send did not reach stayed queued, counted */
    assert_int_equal(have, 0);
    for (uint64_t s = 1; s <= seq; s++)
        expect_msg("a.x", s);
    assert_int_equal(unread(), 0);
    conn_destroy(c);
    close(sv[0]);
    close(sv[1]);
}

/* A replay feeds the bounded queue in windows as the client drains, and
 * hands over to live exactly: a live event that came meanwhile follows it once. */
static void test_resume_windows_bounded(void **state)
{
    fx->cfg.queue_bytes = 2000;
    for (uint64_t s = 1; s <= 200; s++) {
        wsg_frame *f = event(s % 2 ? "a.x" : "b.x", s, 100);
        ring_push(fx->h.ring, f);
        frame_unref(f);
    }
    fx->h.last_seq = fx->h.stream_last_seq = 200;
    conn *c = open_flushed();
    rx(c, "{\"op\":\"sub\",\"subject\":\"a.*\",\"since\":0}");
    assert_true(c->qbytes <= fx->cfg.queue_bytes);
    assert_true(c->qlen < 50); /* not the whole replay at once */
    assert_non_null(c->subs[0]->replay);

    /* a live event on the subject arrives mid-replay (the hub rings it first) */
    wsg_frame *live = event("a.x", 201, 100);
    ring_push(fx->h.ring, live);
    fx->h.last_seq = 201;
    fan_out(live);

    int rounds = 0;
    while (c->qlen) {
        assert_int_equal(conn_writable(c), 0);
        assert_true(c->qbytes <= fx->cfg.queue_bytes);
        rounds++;
    }
    assert_true(rounds > 1);
    expect_ok_resume(NULL, 200, 100, true);
    for (uint64_t s = 1; s <= 199; s += 2)
        expect_msg("a.x", s);
    expect_msg("a.x", 201);
    assert_int_equal(unread(), 0);
    assert_null(c->subs[0]->replay); /* gone once caught up */
    assert_int_equal(metrics.replayed, 100);

    /* live again: the next event is delivered directly, once */
    wsg_frame *next = event("a.x", 202, 10);
    fan_out(next);
    flush(c);
    expect_msg("a.x", 202);
    assert_int_equal(unread(), 0);
    frame_unref(live);
    frame_unref(next);
}

/* Replays run at most REPLAY_PER_CONN per connection and --max-replays in
 * all; the others wait, and a cancelled one (unsub) frees its slot. */
static void test_resume_caps(void **state)
{
    fx->cfg.queue_bytes = 400;
    fx->cfg.max_replays = 5;
    for (uint64_t s = 1; s <= 100; s++) {
        wsg_frame *f = event("a.x", s, 100);
        ring_push(fx->h.ring, f);
        frame_unref(f);
    }
    fx->h.last_seq = fx->h.stream_last_seq = 100;
    conn *c1 = open_flushed(), *c2 = open_flushed();
    const char *patterns[] = {"a.x", "a.*", "*.x", "*.*", ">", "a.>"};
    char cmd[128];
    for (int i = 0; i < 6; i++) {
        snprintf(cmd, sizeof(cmd), "{\"op\":\"sub\",\"subject\":\"%s\",\"since\":0}", patterns[i]);
        rx(c1, cmd);
    }
    assert_int_equal(replay_running(&fx->h), 4); /* per connection */
    rx(c2, "{\"op\":\"sub\",\"subject\":\"a.x\",\"since\":0}");
    assert_int_equal(replay_running(&fx->h), 5); /* in all */
    conn *c3 = open_flushed();
    rx(c3, "{\"op\":\"sub\",\"subject\":\"a.x\",\"since\":0}");
    assert_int_equal(replay_running(&fx->h), 5);
    assert_true(replay_waiting(&fx->h) > 0);
    rx(c2, "{\"op\":\"unsub\",\"subject\":\"a.x\"}"); /* cancels: c3's replay starts */
    assert_int_equal(replay_running(&fx->h), 5);
    assert_non_null(c3->subs[0]->replay);
    conn_destroy(c1); /* cancels its 4 running and 2 waiting replays */
    assert_int_equal(replay_running(&fx->h), 1);
    assert_int_equal(replay_waiting(&fx->h), 0);
    while (c3->qlen)
        assert_int_equal(conn_writable(c3), 0);
    assert_null(c3->subs[0]->replay);
    assert_int_equal(replay_running(&fx->h), 0);
}

static void test_resume_edges(void **state)
{
    fill_ring(1, 10);
    conn *c = open_flushed();

    /* since == last: nothing to replay, nothing lost */
    rx(c, "{\"op\":\"sub\",\"id\":\"1\",\"subject\":\"s1.>\",\"since\":10}");
    /* since beyond the last sequence: recovered false, nothing replayed */
    rx(c, "{\"op\":\"sub\",\"id\":\"2\",\"subject\":\"a.*\",\"since\":20}");
    flush(c);
    expect_ok_resume("1", 10, 0, true);
    expect_ok_resume("2", 10, 0, false);
    assert_int_equal(unread(), 0);
    assert_int_equal(metrics.replayed, 0);

    /* another epoch: recovered false, the retained ones are still replayed */
    rx(c, "{\"op\":\"sub\",\"id\":\"3\",\"subject\":\"b.*\",\"since\":6,\"epoch\":\"1999\"}");
    flush(c);
    expect_ok_resume("3", 10, 5, false);
    for (uint64_t s = 2; s <= 10; s += 2)
        expect_msg("b.x", s);
    assert_int_equal(unread(), 0);
    /* the right epoch with nothing new */
    snprintf(fx->h.epoch, sizeof(fx->h.epoch), "E2");
    rx(c, "{\"op\":\"sub\",\"id\":\"4\",\"subject\":\"s4\",\"since\":3,\"epoch\":\"E2\"}");
    flush(c);
    expect_ok_resume("4", 10, 0, true);
    assert_int_equal(unread(), 0);
}

static void test_resume_beyond_ring_without_nats(void **state)
{
    fill_ring(5, 10); /* seqs 1..4 are no longer in the ring */
    conn *c = open_flushed();
    /* The ring cannot serve since 2 and there is no NATS bridge: internal error, no sub. */
    rx(c, "{\"op\":\"sub\",\"id\":\"j\",\"subject\":\"a.*\",\"since\":2}");
    assert_int_equal(sublist_count(fx->h.subs), 0);
    assert_int_equal(c->nsubs, 0);
    assert_int_equal(metrics.subscriptions, 0);
    flush(c);
    expect_err("j", "internal");
    assert_int_equal(unread(), 0);
    assert_int_equal(metrics.client_errors[PERR_INTERNAL], 1);

    /* since 4: the ring starts at 5 = since + 1, so it can. */
    rx(c, "{\"op\":\"sub\",\"id\":\"k\",\"subject\":\"a.*\",\"since\":4}");
    flush(c);
    expect_ok_resume("k", 10, 3, true);
    expect_msg("a.x", 5);
    expect_msg("a.x", 7);
    expect_msg("a.x", 9);
    assert_int_equal(unread(), 0);
}

static void test_lastvalue_on_sub(void **state)
{
    wsg_frame *b1 = event("batch.b1.progress", 3, 2);
    wsg_frame *b2 = event("batch.b2.progress", 2, 2);
    wsg_frame *st = event("batch.b1.started", 1, 2);
    lastvalue_put(fx->h.lv, b1);
    lastvalue_put(fx->h.lv, b2);
    fx->h.last_seq = 3;
    conn *c = open_flushed();
    rx(c, "{\"op\":\"sub\",\"id\":\"p\",\"subject\":\"batch.*.progress\"}");
    flush(c);
    expect_ok("p", "batch.*.progress", 3);
    expect_msg("batch.b2.progress", 2); /* in seq order */
    expect_msg("batch.b1.progress", 3);
    rx(c, "{\"op\":\"sub\",\"subject\":\"batch.b1.*\"}");
    rx(c, "{\"op\":\"sub\",\"subject\":\"license.>\"}");
    flush(c);
    expect_ok(NULL, "batch.b1.*", 3);
    expect_msg("batch.b1.progress", 3); /* only last-value subjects; "started" gets nothing */
    expect_ok(NULL, "license.>", 3);
    assert_int_equal(unread(), 0);
    /* A resume gets a replay, not the last values. */
    rx(c, "{\"op\":\"sub\",\"subject\":\"batch.b2.progress\",\"since\":3}");
    flush(c);
    expect_ok_resume(NULL, 3, 0, true);
    assert_int_equal(unread(), 0);
    assert_int_equal(b1->refs, 2); /* ours and the map's */
    frame_unref(b1);
    frame_unref(b2);
    frame_unref(st);
}

static void test_destroy_releases_everything(void **state)
{
    conn *c = open_conn();
    rx(c, "{\"op\":\"sub\",\"subject\":\"a.>\"}");
    rx(c, "{\"op\":\"sub\",\"subject\":\"b.>\"}");
    wsg_frame *f = event("a.b", 1, 10);
    fan_out(f);
    stub.final = 0;
    client_receive(c, "{\"op\"", 5); /* a partial message */
    assert_int_equal(f->refs, 2);
    conn_destroy(c);
    assert_int_equal(f->refs, 1);
    assert_int_equal(sublist_count(fx->h.subs), 0);
    assert_int_equal(sublist_node_count(fx->h.subs), 0);
    assert_int_equal(metrics.subscriptions, 0);
    assert_int_equal(metrics.connections, 0);
    frame_unref(f);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

/* ---- JWT auth for the refresh tests: an HS256 key and a tiny signer ---- */

static const char REFRESH_SECRET[] = "refresh tests: a secret of 32+ bytes";

/* An HS256 token (REFRESH_SECRET, or `key`) with this payload (caller frees). */
static char *mint_key(const char *key, const char *payload)
{
    char *tok = jwtmint_hs256(key, payload);
    assert_non_null(tok);
    return tok;
}

static char *mint_subs(const char *sub, long long exp, const char *subs_json)
{
    char payload[1024];
    snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"exp\":%lld,\"subs\":%s}", sub, exp,
             subs_json);
    return mint_key(REFRESH_SECRET, payload);
}

/* Turn JWT auth on for the fixture's hub (REFRESH_SECRET). */
static void auth_on(void)
{
    char path[] = "/tmp/wsgate-test-conn-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, REFRESH_SECRET, strlen(REFRESH_SECRET)),
                     (ssize_t)strlen(REFRESH_SECRET));
    close(fd);
    char err[256];
    fx->h.auth = auth_create(path, NULL, err, sizeof(err));
    unlink(path);
    if (!fx->h.auth)
        fail_msg("auth_create: %s", err);
}

/* A connection with these claims (verified from a token), hello written. */
static conn *open_authed(const char *sub, long long exp, const char *subs_json)
{
    char *tok = mint_subs(sub, exp, subs_json);
    auth_claims *cl = calloc(1, sizeof(*cl));
    const char *why;
    assert_int_equal(auth_verify(fx->h.auth, tok, strlen(tok), time(NULL), cl, &why), 0);
    free(tok);
    conn *c = conn_create(&fx->h, WSI, cl, "127.0.0.1", NULL);
    assert_int_equal(flush(c), 0);
    json_t *j = expect_frame("hello", NULL);
    assert_int_equal(jint(j, "exp"), exp);
    json_decref(j);
    return c;
}

/* Send {"op":"refresh","id":id,"token":tok}. */
static void rx_refresh(conn *c, const char *id, const char *tok)
{
    char *buf = malloc(strlen(tok) + 128);
    sprintf(buf, "{\"op\":\"refresh\",\"id\":\"%s\",\"token\":\"%s\"}", id, tok);
    assert_int_equal(rx(c, buf), 0);
    free(buf);
}

static void expect_ok_refresh(const char *id, long long exp)
{
    json_t *j = expect_frame("ok", id);
    assert_int_equal(jint(j, "exp"), exp);
    assert_null(json_object_get(j, "subject"));
    json_decref(j);
}

/* A refresh that narrows subs ends exactly the subscriptions it no longer
 * allows (unsub frames, out of the index), moves exp, and the others keep
 * their live frames. */
static void test_refresh_narrows_subs(void **state)
{
    auth_on();
    long long now = time(NULL);
    conn *c = open_authed("u1", now + 60, "[\"a.>\",\"b.>\",\"c.x\"]");
    rx(c, "{\"op\":\"sub\",\"subject\":\"a.x\"}");
    rx(c, "{\"op\":\"sub\",\"subject\":\"b.*\"}");
    rx(c, "{\"op\":\"sub\",\"subject\":\"b.y\"}");
    rx(c, "{\"op\":\"sub\",\"subject\":\"c.x\"}");
    assert_int_equal(c->nsubs, 4);
    flush(c);
    for (int i = 0; i < 4; i++)
        json_decref(expect_frame("ok", NULL));
    wsg_frame *f = event("a.x", 1, 4);
    fan_out(f);
    frame_unref(f);

    /* now: a.> and b.y only; b.* and c.x end */
    char *tok = mint_subs("u1", now + 120, "[\"a.>\",\"b.y\"]");
    rx_refresh(c, "r1", tok);
    free(tok);
    assert_int_equal(c->nsubs, 2);
    assert_int_equal(metrics.subscriptions, 2);
    assert_int_equal(sublist_count(fx->h.subs), 2);
    assert_int_equal(c->claims->exp, now + 120);
    assert_non_null(conn_sub_find(c, "a.x", NULL));
    assert_non_null(conn_sub_find(c, "b.y", NULL));
    assert_null(conn_sub_find(c, "b.*", NULL));
    assert_null(conn_sub_find(c, "c.x", NULL));
    f = event("a.x", 2, 4);
    fan_out(f);
    frame_unref(f);
    f = event("c.x", 3, 4); /* ended: not delivered */
    fan_out(f);
    frame_unref(f);
    f = event("b.y", 4, 4);
    fan_out(f);
    frame_unref(f);
    flush(c);
    expect_msg("a.x", 1);
    /* unsub frames (in the order the subscriptions are walked), then ok */
    json_t *u1 = expect_frame("unsub", NULL), *u2 = expect_frame("unsub", NULL);
    const char *s1 = jstr(u1, "subject"), *s2 = jstr(u2, "subject");
    assert_true((strcmp(s1, "b.*") == 0 && strcmp(s2, "c.x") == 0) ||
                (strcmp(s1, "c.x") == 0 && strcmp(s2, "b.*") == 0));
    assert_string_equal(jstr(u1, "reason"), "not allowed by the refreshed token");
    json_decref(u1);
    json_decref(u2);
    expect_ok_refresh("r1", now + 120);
    expect_msg("a.x", 2);
    expect_msg("b.y", 4);
    assert_int_equal(unread(), 0);
    /* the new subs decide the next sub */
    rx(c, "{\"op\":\"sub\",\"id\":\"s\",\"subject\":\"c.x\"}");
    flush(c);
    expect_err("s", "forbidden");
    /* a refresh that keeps everything ends nothing */
    tok = mint_subs("u1", now + 180, "[\">\"]");
    rx_refresh(c, "r2", tok);
    free(tok);
    flush(c);
    expect_ok_refresh("r2", now + 180);
    assert_int_equal(c->nsubs, 2);
    assert_int_equal(unread(), 0);
}

/* A refused refresh answers err and keeps the old claims, exp and all: the
 * connection still closes 4002 at the old exp. */
static void test_refresh_bad_token_keeps_claims(void **state)
{
    auth_on();
    fx->cfg.heartbeat_ms = fx->cfg.ping_timeout_ms =
        INT64_MAX / 2; /* ticks far ahead: no keepalive */
    long long now = time(NULL);
    conn *c = open_authed("u1", now + 60, "[\"a.>\"]");
    rx(c, "{\"op\":\"sub\",\"subject\":\"a.x\"}");
    flush(c);
    json_decref(expect_frame("ok", NULL));
    auth_claims *old = c->claims;

    char *expired = mint_subs("u1", now - 10, "[]");
    char *forged =
        mint_key("another secret, also 32 bytes long!", "{\"sub\":\"u1\",\"exp\":9999999999}");
    char *other = mint_subs("u2", now + 600, "[\"a.>\"]");
    rx_refresh(c, "e", expired);
    rx_refresh(c, "f", forged);
    rx_refresh(c, "o", other);
    rx_refresh(c, "g", "garbage");
    free(expired);
    free(forged);
    free(other);
    flush(c);
    expect_err("e", "forbidden");
    expect_err("f", "forbidden");
    expect_err("o", "forbidden");
    expect_err("g", "forbidden");
    assert_int_equal(unread(), 0);
    assert_ptr_equal(c->claims, old);
    assert_int_equal(c->claims->exp, now + 60);
    assert_string_equal(c->claims->sub, "u1");
    assert_int_equal(c->nsubs, 1);
    assert_int_equal(metrics.client_errors[PERR_FORBIDDEN], 4);
    conn_tick(c, (now + 59) * 1000);
    assert_int_equal(c->close_code, 0);
    conn_tick(c, (now + 60) * 1000);
    assert_int_equal(c->close_code, 4002);
}

/* Without authentication refresh is a bad_request; with it, a missing token too. */
static void test_refresh_without_auth(void **state)
{
    conn *c = open_flushed();
    rx_refresh(c, "1", "a.b.c");
    rx(c, "{\"op\":\"refresh\",\"id\":\"2\"}");
    flush(c);
    expect_err("1", "bad_request");
    expect_err("2", "bad_request");
    assert_int_equal(c->close_code, 0);
}

/* refresh counts toward the ops rate limit like any op: over it, not carried out. */
static void test_refresh_rate_limited(void **state)
{
    auth_on();
    fx->cfg.ops_burst = 2;
    fx->cfg.ops_rate = 1e-9; /* no refill while the test runs */
    long long now = time(NULL);
    conn *c = open_authed("u1", now + 60, "[\"a.>\"]");
    char *t1 = mint_subs("u1", now + 100, "[\"a.>\"]"), *t2 = mint_subs("u1", now + 200, "[]");
    rx_refresh(c, "1", t1);
    rx(c, "{\"op\":\"ping\"}");
    rx_refresh(c, "2", t2);
    free(t1);
    free(t2);
    flush(c);
    expect_ok_refresh("1", now + 100);
    json_decref(expect_frame("pong", NULL));
    expect_err("2", "rate_limited");
    assert_int_equal(c->claims->exp, now + 100);
}

/* The hint goes once, --refresh-ahead before exp; a refresh moves both it and the 4002 close. */
static void test_refresh_hint_and_exp_move(void **state)
{
    auth_on();
    fx->cfg.refresh_ahead_ms = 2000;
    fx->cfg.idle_timeout_ms = 0; /* no subscription here */
    fx->cfg.heartbeat_ms = fx->cfg.ping_timeout_ms =
        INT64_MAX / 2; /* ticks far ahead: no keepalive */
    long long now = time(NULL);
    conn *c = open_authed("u1", now + 60, "[\"a.>\"]");
    conn_tick(c, (now + 57) * 1000 + 999);
    flush(c);
    assert_int_equal(unread(), 0);
    conn_tick(c, (now + 58) * 1000);
    conn_tick(c, (now + 58) * 1000 + 500); /* once */
    flush(c);
    json_t *j = expect_frame("refresh", NULL);
    assert_int_equal(jint(j, "exp"), now + 60);
    json_decref(j);
    assert_int_equal(unread(), 0);

    char *tok = mint_subs("u1", now + 120, "[\"a.>\"]");
    rx_refresh(c, "r", tok);
    free(tok);
    flush(c);
    expect_ok_refresh("r", now + 120);
    conn_tick(c, (now + 60) * 1000); /* the old exp: no close now */
    assert_int_equal(c->close_code, 0);
    conn_tick(c, (now + 117) * 1000);
    flush(c);
    assert_int_equal(unread(), 0);
    conn_tick(c, (now + 118) * 1000); /* re-armed for the new token */
    flush(c);
    j = expect_frame("refresh", NULL);
    assert_int_equal(jint(j, "exp"), now + 120);
    json_decref(j);
    conn_tick(c, (now + 120) * 1000);
    assert_int_equal(c->close_code, 4002);

    /* --refresh-ahead 0: no hint ever */
    fx->cfg.refresh_ahead_ms = 0;
    conn *d = open_authed("u1", now + 60, "[]");
    conn_tick(d, (now + 59) * 1000);
    flush(d);
    assert_int_equal(unread(), 0);
}

int main(void)
{
    log_init(LOG_ERROR, LOG_FORMAT_JSON);
    const struct CMUnitTest tests[] = {
        T(test_hello),
        T(test_sub_unsub_ping),
        T(test_max_subs),
        T(test_errors),
        T(test_error_limit_closes_4003),
        T(test_error_window),
        T(test_rate_limit),
        T(test_queue_bound_4001),
        T(test_queue_hard_bound),
        T(test_keepalive),
        T(test_conflation),
        T(test_lastvalue_never_4001),
        T(test_deliver_dedup_and_min_seq),
        T(test_flush_without_writeable),
        T(test_plain_socket_partial_sends),
        T(test_flush_halves_partial_sends),
        T(test_compressed_partial_sends_and_conflation),
        T(test_resume_windows_bounded),
        T(test_resume_caps),
        T(test_writable_order_budget_refs),
        T(test_max_frame_1009),
        T(test_max_frame_fragments),
        T(test_fragments),
        T(test_resume_from_ring),
        T(test_resume_edges),
        T(test_resume_beyond_ring_without_nats),
        T(test_lastvalue_on_sub),
        T(test_destroy_releases_everything),
        T(test_refresh_narrows_subs),
        T(test_refresh_bad_token_keeps_claims),
        T(test_refresh_without_auth),
        T(test_refresh_hint_and_exp_move),
        T(test_refresh_rate_limited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
