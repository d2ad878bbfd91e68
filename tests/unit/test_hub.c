/* test_hub.c: unit tests for the service thread's event path (src/hub.c) against a stubbed inbox.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/clock.h"
#include "wsgate/config.h"
#include "wsgate/events.h"
#include "wsgate/hub.h"
#include "wsgate/metrics.h"
#include "wsgate/nats_bridge.h"
#include "wsgate/protocol.h"
#include "wsgate/ring.h"
#include "wsgate/subject.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- nats_bridge stubs (mosquitto style): every function of nats_bridge.c
 * that the rest links against, so the linker never takes the real one ---- */

static struct {
    nb_event *head, *tail; /* the inbox */
    int takes;             /* nats_bridge_take calls */
    int takes_nonempty;    /* ... that returned events */
    int freed;             /* nats_bridge_event_free calls */
} inbox;

static void inbox_push(nb_event *ev)
{
    ev->next = NULL;
    if (inbox.tail)
        inbox.tail->next = ev;
    else
        inbox.head = ev;
    inbox.tail = ev;
}

nb_event *nats_bridge_take(nats_bridge *nb)
{
    nb_event *ev = inbox.head;
    inbox.head = inbox.tail = NULL;
    inbox.takes++;
    inbox.takes_nonempty += ev != NULL;
    return ev;
}

void nats_bridge_event_free(nb_event *ev)
{
    frame_unref(ev->frame);
    events_clear(&ev->event);
    free(ev);
    inbox.freed++;
}

nats_bridge *nats_bridge_create(const wsg_config *cfg, nats_bridge_wake_fn wake, void *wake_arg,
                                char *err, size_t errlen)
{
    fail_msg("nats_bridge_create is not stubbed");
    return NULL;
}

void nats_bridge_destroy(nats_bridge *nb, int64_t timeout_ms) {}

int nats_bridge_replay(nats_bridge *nb, const nb_replay_req *req)
{
    return 0;
}

void nats_bridge_replay_cancel(nats_bridge *nb, uint64_t id) {}

/* ---- what the bridge thread puts in the inbox ---- */

/* A stored message, as nats_bridge_on_msg hands it over: the frame encoded,
 * the payload decoded; an invalid subject gets neither. */
static void push_msg(const char *subject, uint64_t seq, const char *payload)
{
    nb_event *ev = calloc(1, sizeof(*ev));
    ev->kind = NB_MSG;
    ev->seq = seq;
    ev->ts_ms = 1795765200000LL + (int64_t)seq;
    if (subject_valid(subject)) {
        ev->frame = protocol_msg(subject, seq, payload, strlen(payload));
        ev->event_rc =
            events_decode(&ev->event, subject, payload, strlen(payload), ev->ts_ms, &ev->reject);
    }
    inbox_push(ev);
}

static void push_state(bool connected, bool attached, const char *epoch, uint64_t last_seq)
{
    nb_event *ev = calloc(1, sizeof(*ev));
    ev->kind = NB_STATE;
    ev->connected = connected;
    ev->attached = attached;
    snprintf(ev->epoch, sizeof(ev->epoch), "%s", epoch);
    ev->first_seq = 1;
    ev->last_seq = last_seq;
    inbox_push(ev);
}

#define EPOCH "2026-11-27T05:40:12.118Z"

/* ---- fixture: a real hub from the default configuration ---- */

typedef struct fixture {
    wsg_config cfg;
    hub h;
} fixture;

static fixture *fx;
static char fake_bridge;

static int setup(void **state)
{
    memset(&metrics, 0, sizeof(metrics));
    memset(&inbox, 0, sizeof(inbox));
    fx = calloc(1, sizeof(*fx));
    char *argv[] = {"wsgate", NULL};
    char *envp[] = {NULL};
    char err[256];
    if (config_load(&fx->cfg, 1, argv, envp, err, sizeof(err)) != CONFIG_OK)
        fail_msg("config_load: %s", err);
    if (hub_init(&fx->h, &fx->cfg, err, sizeof(err)) != 0)
        fail_msg("hub_init: %s", err);
    fx->h.bridge = (nats_bridge *)&fake_bridge;
    return 0;
}

static int teardown(void **state)
{
    hub_fini(&fx->h); /* frees a backlog not applied yet */
    for (nb_event *ev = inbox.head, *next; ev; ev = next) {
        next = ev->next;
        nats_bridge_event_free(ev);
    }
    config_free(&fx->cfg);
    free(fx);
    fx = NULL;
    return 0;
}

/* hub_poll until it has nothing left; returns the number of calls. */
static int drain(void)
{
    int calls = 1;
    while (hub_poll(&fx->h))
        calls++;
    return calls;
}

/* The seqs in the ring, oldest first, as "1,2,3". */
static const char *ring_seqs(void)
{
    static char out[4096];
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ring_count(fx->h.ring); i++)
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%llu", i ? "," : "",
                              (unsigned long long)ring_at(fx->h.ring, i)->seq);
    return out;
}

/* ---- tests ---- */

static void test_no_bridge(void **state)
{
    fx->h.bridge = NULL;
    push_msg("a.b", 1, "1");
    assert_false(hub_poll(&fx->h));
    assert_int_equal(inbox.takes, 0);
    assert_int_equal(fx->h.last_seq, 0);
}

static void test_order_and_last_seq(void **state)
{
    assert_false(hub_poll(&fx->h)); /* an empty inbox */
    for (uint64_t seq = 1; seq <= 5; seq++)
        push_msg("a.b", seq, "{}");
    assert_false(hub_poll(&fx->h)); /* all five fit one slice, then the inbox is empty */
    assert_int_equal(fx->h.last_seq, 5);
    assert_int_equal(metrics.stream_last_seq, 5);
    assert_int_equal(metrics.messages_received, 5);
    assert_string_equal(ring_seqs(), "1,2,3,4,5");
    assert_int_equal(inbox.freed, 5);

    /* Seen already (a consumer was recreated): ignored. */
    push_msg("a.b", 4, "{}");
    push_msg("a.b", 5, "{}");
    push_msg("a.b", 6, "{}");
    drain();
    assert_int_equal(fx->h.last_seq, 6);
    assert_int_equal(metrics.messages_received, 6);
    assert_string_equal(ring_seqs(), "1,2,3,4,5,6");
    assert_int_equal(inbox.freed, 8);
}

/* A gap (stream limits discarded messages): the ring starts again, so it
 * only ever holds a run without one. */
static void test_gap_clears_ring(void **state)
{
    push_msg("a.b", 1, "1");
    push_msg("a.b", 2, "2");
    push_msg("a.b", 5, "5");
    push_msg("a.b", 6, "6");
    drain();
    assert_int_equal(fx->h.last_seq, 6);
    assert_string_equal(ring_seqs(), "5,6");
}

/* An invalid subject has no frame: only the stream position moves. */
static void test_frameless_event_advances(void **state)
{
    push_msg("a.b", 1, "1");
    push_msg("bad subject", 2, "2");
    push_msg("a.b", 3, "3");
    drain();
    assert_int_equal(fx->h.last_seq, 3);
    assert_int_equal(metrics.invalid_subjects, 1);
    assert_int_equal(metrics.messages_received, 2);
    /* Not a gap: 2 can never be delivered (replays skip it too), so the run
     * 1, 3 still holds every message after 1. */
    assert_string_equal(ring_seqs(), "1,3");

    /* Frameless across a gap, then frameless and seen already. */
    push_msg("a..b", 7, "7");
    push_msg("a.>", 6, "6");
    drain();
    assert_int_equal(fx->h.last_seq, 7);
    assert_int_equal(metrics.stream_last_seq, 7);
    assert_int_equal(metrics.invalid_subjects, 2);
    assert_int_equal(ring_count(fx->h.ring), 0);
    push_msg("a.b", 8, "8");
    drain();
    assert_string_equal(ring_seqs(), "8");
}

/* Batch state comes from the decoded event; a bad payload is counted and
 * still delivered; other subjects are not state. */
static void test_batch_state(void **state)
{
    push_msg("batch.b1.started", 1, "{\"total\":10,\"workers\":2}");
    push_msg("license.b1.assigned", 2, "{\"license_id\":\"L1\",\"worker\":0}");
    push_msg("batch.b1.progress", 3, "{\"done\":\"many\"}");
    push_msg("verification.FR.verified", 4, "{}");
    push_msg("news.b1.started", 5, "not json");
    push_msg("batch.b2.started", 6, "{\"batch_id\":\"b1\"}");
    push_msg("batch.b1.cancelled", 7, "{\"reason\":\"stop\"}");
    push_msg("batch.b1.paused", 8, "{}");
    drain();
    assert_int_equal(batches_count(fx->h.batches), 1);
    assert_int_equal(metrics.bad_events[EVENTS_WRONG_TYPE], 1);
    assert_int_equal(metrics.bad_events[EVENTS_BATCH_ID_MISMATCH], 1);
    assert_int_equal(metrics.bad_events[EVENTS_UNKNOWN_EVENT], 1);
    assert_int_equal(metrics.bad_events[EVENTS_NOT_JSON], 0); /* news. is not state */
    assert_string_equal(ring_seqs(), "1,2,3,4,5,6,7,8");      /* every one delivered */
    sbuf out;
    sbuf_init(&out, 0);
    assert_int_equal(batches_get_json(fx->h.batches, "b1", clock_now_ms(), NULL, NULL, &out), 0);
    assert_non_null(strstr(sbuf_str(&out), "\"done\":1,"));
    assert_non_null(strstr(sbuf_str(&out), "\"state\":\"cancelled\""));
    assert_non_null(strstr(sbuf_str(&out), "\"seq\":7,"));
    sbuf_free(&out);
    sbuf_init(&out, 0);
    batches_verifications_json(fx->h.batches, NULL, NULL, &out);
    assert_non_null(strstr(sbuf_str(&out), "\"total\":1,"));
    sbuf_free(&out);
}

/* Refusals are counted one by one, but logged at most 10 a second: a burst
 * leaves the rest to the suppressed count hub_tick reports. */
static void test_bad_events_rate_limited(void **state)
{
    for (uint64_t seq = 1; seq <= 40; seq++)
        push_msg("batch.b.progress", seq, seq % 2 ? "{\"done\":-1}" : "[]");
    drain();
    assert_int_equal(metrics.bad_events[EVENTS_OUT_OF_RANGE], 20);
    assert_int_equal(metrics.bad_events[EVENTS_NOT_OBJECT], 20);
    /* 40 refusals within well under 3 s: at most 30 lines, the rest counted */
    assert_true(fx->h.bad_log.suppressed >= 10);
}

/* A slice applies at most HUB_POLL_BUDGET events; the rest wait in the
 * backlog, and the inbox is only looked at again once it runs dry. */
static void test_slice_budget(void **state)
{
    uint64_t n = 2 * HUB_POLL_BUDGET + 10;
    for (uint64_t seq = 1; seq <= n; seq++)
        push_msg("a.b", seq, "1");
    assert_true(hub_poll(&fx->h));
    assert_int_equal(fx->h.last_seq, HUB_POLL_BUDGET);
    assert_int_equal(inbox.takes, 1);
    push_msg("a.b", n + 1, "1"); /* arrives meanwhile */
    assert_true(hub_poll(&fx->h));
    assert_int_equal(fx->h.last_seq, 2 * HUB_POLL_BUDGET);
    assert_int_equal(inbox.takes, 1);
    assert_false(hub_poll(&fx->h)); /* the last 10, then the newcomer, then an empty inbox */
    assert_int_equal(fx->h.last_seq, n + 1);
    assert_int_equal(inbox.takes_nonempty, 2);
    assert_int_equal(inbox.freed, (int)n + 1);
}

/* A slice stops once it has dispatched half of --queue-bytes of frames. */
static void test_slice_bytes(void **state)
{
    char payload[1001];
    memset(payload, '7', 1000);
    payload[1000] = '\0';
    fx->cfg.queue_bytes = 10000;
    for (uint64_t seq = 1; seq <= 40; seq++)
        push_msg("a.b", seq, payload);
    size_t len = inbox.head->frame->len;
    assert_true(len > 1000 && len < 1100);
    uint64_t per_slice = (5000 + len - 1) / len; /* 5 */
    assert_true(hub_poll(&fx->h));
    assert_int_equal(fx->h.last_seq, per_slice);
    assert_true(hub_poll(&fx->h));
    assert_int_equal(fx->h.last_seq, 2 * per_slice);
    /* Frameless events weigh nothing: they do not end a slice. */
    drain();
    for (uint64_t seq = 41; seq <= 60; seq++)
        push_msg("a b", seq, payload);
    assert_false(hub_poll(&fx->h));
    assert_int_equal(fx->h.last_seq, 60);
}

/* Ready: connected, attached, caught up with the stream's last sequence
 * at attach time, not draining. */
static void test_readiness(void **state)
{
    const char *why = NULL;
    assert_false(hub_ready(&fx->h, &why));
    assert_string_equal(why, "nats disconnected");

    push_state(true, false, "", 0);
    drain();
    assert_false(hub_ready(&fx->h, &why));
    assert_string_equal(why, "stream not attached");
    assert_int_equal(metrics.nats_connected, 1);

    push_state(true, true, EPOCH, 3); /* three stored messages to catch up with */
    push_msg("a.b", 1, "1");
    push_msg("a.b", 2, "2");
    assert_false(hub_poll(&fx->h));
    assert_string_equal(fx->h.epoch, EPOCH);
    assert_false(hub_ready(&fx->h, &why));
    assert_string_equal(why, "catching up with the stream");
    assert_false(fx->h.started);

    push_msg("bad subject", 3, "3"); /* the last one catches up too */
    drain();
    assert_true(hub_ready(&fx->h, &why));
    assert_null(why);
    assert_true(fx->h.started);

    push_state(false, false, "", 0);
    drain();
    assert_false(hub_ready(&fx->h, &why));
    assert_string_equal(why, "nats disconnected");
    assert_int_equal(metrics.nats_connected, 0);
    assert_true(fx->h.started); /* once ready, clients stay welcome */

    /* Reattached to the same stream further on: catch up, ready again. */
    push_state(true, true, EPOCH, 4);
    drain();
    assert_false(hub_ready(&fx->h, NULL));
    push_msg("a.b", 4, "4");
    drain();
    assert_true(hub_ready(&fx->h, NULL));
    assert_string_equal(ring_seqs(), "1,2,4");

    fx->h.draining = true;
    assert_false(hub_ready(&fx->h, &why));
    assert_string_equal(why, "draining");
    fx->h.draining = false;
}

/* A new stream epoch: everything remembered belonged to the old stream. */
static void test_new_epoch_resets(void **state)
{
    push_state(true, true, EPOCH, 2);
    push_msg("batch.b1.started", 1, "{}");
    push_msg("a.b", 2, "2");
    drain();
    assert_true(hub_ready(&fx->h, NULL));
    assert_int_equal(batches_count(fx->h.batches), 1);

    push_state(true, true, "2026-12-01T00:00:00.000Z", 1);
    drain();
    assert_string_equal(fx->h.epoch, "2026-12-01T00:00:00.000Z");
    assert_int_equal(fx->h.last_seq, 0);
    assert_int_equal(ring_count(fx->h.ring), 0);
    assert_int_equal(batches_count(fx->h.batches), 0);
    assert_false(hub_ready(&fx->h, NULL));
    push_msg("a.b", 1, "1"); /* seq 1 again: the new stream's */
    drain();
    assert_true(hub_ready(&fx->h, NULL));
    assert_string_equal(ring_seqs(), "1");
}

/* hub_init's errors are negative errnos with a reason, and leave nothing to fini. */
static void test_init_error(void **state)
{
    wsg_config cfg;
    hub h;
    char *argv[] = {"wsgate", NULL};
    char *envp[] = {NULL};
    char err[256] = "";
    if (config_load(&cfg, 1, argv, envp, err, sizeof(err)) != CONFIG_OK)
        fail_msg("config_load: %s", err);
    free(cfg.jwt_secret);
    cfg.jwt_secret = strdup("/nonexistent/wsgate-test-secret");
    assert_int_equal(hub_init(&h, &cfg, err, sizeof(err)), -EINVAL);
    assert_true(err[0] != '\0');
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_error),
        cmocka_unit_test_setup_teardown(test_no_bridge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_and_last_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_clears_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frameless_event_advances, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_events_rate_limited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slice_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slice_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readiness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_epoch_resets, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
