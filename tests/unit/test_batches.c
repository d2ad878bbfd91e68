/* test_batches.c: unit tests for batch and verification state built from events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/batches.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define T0 1795765200000LL /* 2026-11-27T07:40:00.000Z, in ms */

static batches *make(int64_t stall_ms, int64_t retention_ms, int64_t window_ms)
{
    batches_config cfg = {
        .stall_ms = stall_ms, .retention_ms = retention_ms, .rate_window_ms = window_ms};
    return batches_create(&cfg);
}

static int feed(batches *b, const char *subject, uint64_t seq, int64_t ts_ms, const char *json)
{
    return batches_feed(b, subject, json, strlen(json), seq, ts_ms);
}

static int feedf(batches *b, const char *subject, uint64_t seq, int64_t ts_ms, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int feedf(batches *b, const char *subject, uint64_t seq, int64_t ts_ms, const char *fmt, ...)
{
    char json[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(json, sizeof json, fmt, ap);
    va_end(ap);
    return feed(b, subject, seq, ts_ms, json);
}

/* A license event ("assigned" or "failed") on a worker (-1: no worker field). */
static int license(batches *b, const char *batch, const char *state, const char *id, int worker,
                   uint64_t seq, int64_t ts_ms)
{
    char subject[128], workerf[32] = "";
    snprintf(subject, sizeof subject, "license.%s.%s", batch, state);
    if (worker >= 0)
        snprintf(workerf, sizeof workerf, ",\"worker\":%d", worker);
    return feedf(b, subject, seq, ts_ms,
                 "{\"batch_id\":\"%s\",\"license_id\":\"%s\",\"hcp_id\":\"H-%s\",\"product\":"
                 "\"P\"%s,\"duration_ms\":12%s}",
                 batch, id, id, workerf,
                 strcmp(state, "failed") == 0 ? ",\"error\":\"registry timeout\"" : "");
}

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j)
        fail_msg("not JSON (%s): %s", err.text, text);
    return j;
}

/* One batch as parsed JSON; the test fails when it is unknown. */
static json_t *get(batches *b, const char *id, int64_t now_ms)
{
    sbuf s;
    sbuf_init(&s, 0);
    assert_int_equal(batches_get_json(b, id, now_ms, NULL, NULL, &s), 0);
    json_t *j = parse(sbuf_str(&s));
    sbuf_free(&s);
    assert_true(json_is_object(j));
    return j;
}

static json_t *list(batches *b, int64_t now_ms)
{
    sbuf s;
    sbuf_init(&s, 0);
    batches_list_json(b, now_ms, NULL, NULL, &s);
    json_t *j = parse(sbuf_str(&s));
    sbuf_free(&s);
    assert_true(json_is_array(j));
    return j;
}

/* The whole observable state, as text (to check that nothing changed). */
static char *snapshot(batches *b, int64_t now_ms)
{
    sbuf s;
    sbuf_init(&s, 0);
    batches_list_json(b, now_ms, NULL, NULL, &s);
    batches_verifications_json(b, NULL, NULL, &s);
    char *text = strdup(sbuf_str(&s));
    sbuf_free(&s);
    return text;
}

static json_int_t num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", key);
    return json_integer_value(v);
}

static double real(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("%s is not a number", key);
    return json_number_value(v);
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("%s is not a string", key);
    return json_string_value(v);
}

static void assert_null_field(json_t *o, const char *key)
{
    if (!json_is_null(json_object_get(o, key)))
        fail_msg("%s is not null", key);
}

static void assert_counts(batches *b, const char *id, json_int_t done, json_int_t failed)
{
    json_t *j = get(b, id, 0);
    assert_int_equal(num(j, "done"), done);
    assert_int_equal(num(j, "failed"), failed);
    assert_int_equal(num(j, "processed"), done + failed);
    json_decref(j);
}

static void assert_worker(json_t *batch, size_t w, json_int_t done, json_int_t failed)
{
    json_t *e = json_array_get(json_object_get(batch, "per_worker"), w);
    assert_non_null(e);
    assert_int_equal(num(e, "worker"), w);
    assert_int_equal(num(e, "done"), done);
    assert_int_equal(num(e, "failed"), failed);
}

static void test_started_and_licenses(void **state)
{
    batches *b = make(0, 0, 0);
    assert_int_equal(feed(b, "batch.b42.started", 1, T0,
                          "{\"batch_id\":\"b42\",\"total\":10,\"workers\":3,"
                          "\"kind\":\"license_assignment\",\"ts\":\"2026-11-27T07:40:00.000Z\"}"),
                     0);
    assert_int_equal(license(b, "b42", "assigned", "L1", 0, 2, T0 + 100), 0);
    assert_int_equal(license(b, "b42", "assigned", "L2", 1, 3, T0 + 200), 0);
    assert_int_equal(license(b, "b42", "assigned", "L3", 2, 4, T0 + 300), 0);
    assert_int_equal(license(b, "b42", "assigned", "L4", 0, 5, T0 + 400), 0);
    assert_int_equal(license(b, "b42", "failed", "L5", 1, 6, T0 + 500), 0);

    json_t *j = get(b, "b42", T0 + 500);
    assert_string_equal(str(j, "state"), "running");
    assert_string_equal(str(j, "kind"), "license_assignment");
    assert_int_equal(num(j, "total"), 10);
    assert_int_equal(num(j, "done"), 4);
    assert_int_equal(num(j, "failed"), 1);
    assert_int_equal(num(j, "processed"), 5);
    assert_float_equal(real(j, "percent"), 50.0, 1e-9);
    assert_int_equal(num(j, "workers"), 3);
    assert_int_equal(num(j, "seq"), 6);
    assert_int_equal(json_array_size(json_object_get(j, "per_worker")), 3);
    assert_worker(j, 0, 2, 0);
    assert_worker(j, 1, 1, 1);
    assert_worker(j, 2, 1, 0);
    json_decref(j);
    batches_destroy(b);
}

static void test_progress_only(void **state)
{
    batches *b = make(0, 0, 0);
    assert_int_equal(feed(b, "batch.p1.started", 1, T0,
                          "{\"batch_id\":\"p1\",\"total\":1000,\"workers\":15,"
                          "\"kind\":\"license_assignment\"}"),
                     0);
    assert_int_equal(
        feed(b, "batch.p1.progress", 2, T0 + 1000, "{\"total\":1000,\"done\":100,\"failed\":5}"),
        0);
    assert_int_equal(
        feed(b, "batch.p1.progress", 3, T0 + 2000, "{\"total\":1000,\"done\":150,\"failed\":6}"),
        0);
    json_t *j = get(b, "p1", T0 + 2000);
    assert_int_equal(num(j, "done"), 150);
    assert_int_equal(num(j, "failed"), 6);
    assert_int_equal(num(j, "processed"), 156);
    assert_float_equal(real(j, "percent"), 15.6, 1e-9);
    assert_int_equal(num(j, "workers"), 15);
    /* No per-license events: no per-worker counts to show. */
    assert_int_equal(json_array_size(json_object_get(j, "per_worker")), 0);
    assert_int_equal(json_array_size(json_object_get(j, "failures")), 0);
    json_decref(j);
    batches_destroy(b);
}

static void test_license_only(void **state)
{
    batches *b = make(0, 0, 0);
    /* No started event: the batch is created on the fly, total unknown. */
    assert_int_equal(license(b, "lo", "assigned", "L1", 4, 7, T0 + 5000), 0);
    assert_int_equal(license(b, "lo", "failed", "L2", 2, 8, T0 + 6000), 0);
    json_t *j = get(b, "lo", T0 + 6000);
    assert_string_equal(str(j, "state"), "running");
    assert_null_field(j, "kind");
    assert_null_field(j, "total");
    assert_null_field(j, "percent");
    assert_null_field(j, "eta_s");
    assert_int_equal(num(j, "done"), 1);
    assert_int_equal(num(j, "failed"), 1);
    assert_int_equal(num(j, "workers"), 5); /* highest worker index + 1 */
    assert_string_equal(str(j, "started_at"), "2026-11-27T07:40:05.000Z");
    assert_string_equal(str(j, "updated_at"), "2026-11-27T07:40:06.000Z");
    json_decref(j);

    /* A total in a license payload is taken. */
    assert_int_equal(feedf(b, "license.lo.assigned", 9, T0 + 7000,
                           "{\"license_id\":\"L3\",\"worker\":0,\"total\":40}"),
                     0);
    j = get(b, "lo", T0 + 7000);
    assert_int_equal(num(j, "total"), 40);
    assert_float_equal(real(j, "percent"), 7.5, 1e-9);
    json_decref(j);

    /* A started event arriving late fills in what was missing. */
    assert_int_equal(feed(b, "batch.lo.started", 10, T0 + 8000,
                          "{\"total\":40,\"workers\":8,\"kind\":\"k\","
                          "\"ts\":\"2026-11-27T07:40:01.000Z\"}"),
                     0);
    j = get(b, "lo", T0 + 8000);
    assert_string_equal(str(j, "kind"), "k");
    assert_int_equal(num(j, "workers"), 8);
    assert_string_equal(str(j, "started_at"), "2026-11-27T07:40:01.000Z");
    assert_int_equal(num(j, "done"), 2);
    json_decref(j);
    batches_destroy(b);
}

static void test_both_sources_no_double_count(void **state)
{
    batches *b = make(0, 0, 0);
    feed(b, "batch.x.started", 1, T0, "{\"total\":10,\"workers\":2}");
    license(b, "x", "assigned", "L1", 0, 2, T0 + 1);
    license(b, "x", "assigned", "L2", 1, 3, T0 + 2);
    license(b, "x", "assigned", "L3", 0, 4, T0 + 3);
    feed(b, "batch.x.progress", 5, T0 + 4, "{\"total\":10,\"done\":3,\"failed\":0}");
    assert_counts(b, "x", 3, 0);
    license(b, "x", "failed", "L4", 1, 6, T0 + 5);
    assert_counts(b, "x", 3, 1);
    feed(b, "batch.x.progress", 7, T0 + 6, "{\"total\":10,\"done\":3,\"failed\":1}");
    assert_counts(b, "x", 3, 1);
    /* The progress publisher runs ahead of the license events: take it. */
    feed(b, "batch.x.progress", 8, T0 + 7, "{\"total\":10,\"done\":5,\"failed\":1}");
    assert_counts(b, "x", 5, 1);
    /* The license events catch up: still no double count. */
    license(b, "x", "assigned", "L5", 1, 9, T0 + 8);
    license(b, "x", "assigned", "L6", 0, 10, T0 + 9);
    assert_counts(b, "x", 5, 1);
    license(b, "x", "assigned", "L7", 0, 11, T0 + 10);
    assert_counts(b, "x", 6, 1);
    batches_destroy(b);
}

static void test_duplicate_license_events(void **state)
{
    batches *b = make(0, 0, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(license(b, "d", "assigned", "L1", 0, (uint64_t)i + 1, T0 + i), 0);
        assert_int_equal(license(b, "d", "failed", "L2", 1, (uint64_t)i + 10, T0 + i), 0);
    }
    assert_counts(b, "d", 1, 1);
    json_t *j = get(b, "d", T0);
    assert_int_equal(json_array_size(json_object_get(j, "failures")), 1);
    assert_worker(j, 0, 1, 0);
    assert_worker(j, 1, 0, 1);
    assert_int_equal(num(j, "seq"), 12);
    json_decref(j);
    batches_destroy(b);
}

/* Issue 10 item 14: 20,000 license ids in one batch, each seen three times
 * (failed or assigned, then assigned: retries, then failed: late), count once. */
static void test_many_licenses_counted_once(void **state)
{
    enum { N = 20000, WORKERS = 4 };
    batches *b = make(0, 0, 0);
    char id[32];
    uint64_t seq = 1;
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "LIC-%06d", i);
        assert_int_equal(
            license(b, "big", i % 10 ? "assigned" : "failed", id, i % WORKERS, seq++, T0 + i), 0);
    }
    assert_counts(b, "big", N - N / 10, N / 10);
    json_t *j = get(b, "big", T0);
    for (int w = 0; w < WORKERS; w++) /* i % 10 == 0 falls on the even workers */
        assert_worker(j, (size_t)w, N / WORKERS - (w % 2 ? 0 : N / 20), w % 2 ? 0 : N / 20);
    json_decref(j);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = N; i-- > 0;) {
            snprintf(id, sizeof id, "LIC-%06d", i);
            assert_int_equal(license(b, "big", pass ? "failed" : "assigned", id, (i + 1) % WORKERS,
                                     seq++, T0 + N),
                             0);
        }
        assert_counts(b, "big", N, 0);
    }
    j = get(b, "big", T0);
    for (int w = 0; w < WORKERS; w++) /* retries moved to the next worker */
        assert_worker(j, (size_t)w, N / WORKERS - (w % 2 ? 0 : N / 20) + (w % 2 ? N / 20 : 0), 0);
    json_decref(j);
    batches_destroy(b);
}

/* License ids of every length up to the longest EVENTS.md allows (longer
 * than the first block of license records), each seen twice, count once. */
static void test_license_ids_of_every_length(void **state)
{
    batches *b = make(0, 0, 0);
    char id[257];
    uint64_t seq = 1;
    for (int pass = 0; pass < 2; pass++) {
        for (int n = 256; n >= 1; n--) { /* the longest first */
            memset(id, 'a' + n % 26, (size_t)n);
            id[n] = '\0';
            assert_int_equal(license(b, "long", "assigned", id, n % 3, seq++, T0), 0);
        }
        assert_counts(b, "long", 256, 0);
    }
    batches_destroy(b);
}

static void test_out_of_order_progress(void **state)
{
    batches *b = make(0, 0, 0);
    feed(b, "batch.o.progress", 1, T0, "{\"total\":100,\"done\":50,\"failed\":2}");
    feed(b, "batch.o.progress", 2, T0 + 1, "{\"total\":100,\"done\":40,\"failed\":1}");
    assert_counts(b, "o", 50, 2);
    /* Lower processed with the same done: late too. */
    feed(b, "batch.o.progress", 3, T0 + 2, "{\"total\":100,\"done\":50,\"failed\":1}");
    assert_counts(b, "o", 50, 2);
    /* A failed license was retried: done up, failed down, processed kept. */
    feed(b, "batch.o.progress", 4, T0 + 3, "{\"total\":100,\"done\":51,\"failed\":1}");
    assert_counts(b, "o", 51, 1);
    /* Fields left out keep their values. */
    feed(b, "batch.o.progress", 5, T0 + 4, "{\"done\":60}");
    assert_counts(b, "o", 60, 1);
    json_t *j = get(b, "o", T0);
    assert_int_equal(num(j, "total"), 100);
    json_decref(j);
    batches_destroy(b);
}

static void test_retry_failed_then_assigned(void **state)
{
    batches *b = make(0, 0, 0);
    license(b, "r", "failed", "L1", 2, 1, T0);
    assert_counts(b, "r", 0, 1);
    license(b, "r", "assigned", "L1", 3, 2, T0 + 10);
    assert_counts(b, "r", 1, 0);
    json_t *j = get(b, "r", T0);
    assert_worker(j, 2, 0, 0);
    assert_worker(j, 3, 1, 0);
    /* The failure stays in the log of recent failures. */
    assert_int_equal(json_array_size(json_object_get(j, "failures")), 1);
    json_decref(j);
    /* A failure reported after the assignment is late: assigned wins. */
    license(b, "r", "failed", "L1", 2, 3, T0 + 20);
    assert_counts(b, "r", 1, 0);
    j = get(b, "r", T0);
    assert_worker(j, 2, 0, 0);
    assert_worker(j, 3, 1, 0);
    json_decref(j);
    batches_destroy(b);
}

static void test_completion_and_late_events(void **state)
{
    batches *b = make(0, 0, 0);
    feed(b, "batch.c.started", 1, T0, "{\"total\":10,\"workers\":2}");
    for (int i = 0; i < 8; i++) {
        char id[16];
        snprintf(id, sizeof id, "L%d", i);
        license(b, "c", "assigned", id, i % 2, (uint64_t)i + 2, T0 + 1000 * (i + 1));
    }
    assert_int_equal(feed(b, "batch.c.completed", 20, T0 + 60000,
                          "{\"batch_id\":\"c\",\"total\":10,\"done\":9,\"failed\":1,"
                          "\"duration_ms\":60000}"),
                     0);
    json_t *j = get(b, "c", T0 + 60000);
    assert_string_equal(str(j, "state"), "completed");
    assert_int_equal(num(j, "done"), 9);
    assert_int_equal(num(j, "failed"), 1);
    assert_float_equal(real(j, "percent"), 100.0, 1e-9);
    assert_string_equal(str(j, "completed_at"), "2026-11-27T07:41:00.000Z");
    assert_int_equal(num(j, "duration_ms"), 60000);
    assert_float_equal(real(j, "rate"), 0.17, 1e-9); /* 10 in 60 s */
    assert_float_equal(real(j, "eta_s"), 0.0, 1e-9);
    json_decref(j);

    /* Late events: counts never go down, the batch stays completed. */
    feed(b, "batch.c.progress", 21, T0 + 61000, "{\"total\":10,\"done\":5,\"failed\":0}");
    license(b, "c", "assigned", "L3", 1, 22, T0 + 62000);
    license(b, "c", "failed", "L0", 0, 23, T0 + 63000);
    j = get(b, "c", T0 + 999999);
    assert_string_equal(str(j, "state"), "completed");
    assert_int_equal(num(j, "done"), 9);
    assert_int_equal(num(j, "failed"), 1);
    assert_string_equal(str(j, "completed_at"), "2026-11-27T07:41:00.000Z");
    assert_int_equal(num(j, "seq"), 23);
    json_decref(j);

    /* Completed with smaller counts than known, and no duration_ms. */
    feed(b, "batch.c2.started", 1, T0, "{\"total\":4}");
    feed(b, "batch.c2.progress", 2, T0 + 1000, "{\"done\":3,\"failed\":1}");
    feed(b, "batch.c2.completed", 3, T0 + 2500, "{\"done\":2,\"failed\":0}");
    j = get(b, "c2", T0 + 2500);
    assert_string_equal(str(j, "state"), "completed");
    assert_int_equal(num(j, "done"), 3);
    assert_int_equal(num(j, "failed"), 1);
    assert_int_equal(num(j, "duration_ms"), 2500);
    assert_float_equal(real(j, "rate"), 1.6, 1e-9); /* 4 in 2.5 s */
    json_decref(j);
    batches_destroy(b);
}

static void test_rate_and_eta(void **state)
{
    batches *b = make(0, 0, 30000);
    /* The payload ts is the event time; the stream timestamp (5) is ignored. */
    feed(b, "batch.r.started", 1, 5, "{\"total\":1000,\"ts\":\"2026-11-27T07:40:00.000Z\"}");
    json_t *j = get(b, "r", T0);
    assert_float_equal(real(j, "rate"), 0.0, 1e-9);
    assert_null_field(j, "eta_s");
    json_decref(j);

    feed(b, "batch.r.progress", 2, 5, "{\"done\":20,\"ts\":\"2026-11-27T07:40:10.000Z\"}");
    j = get(b, "r", T0);
    assert_float_equal(real(j, "rate"), 2.0, 1e-9); /* 20 in 10 s */
    assert_float_equal(real(j, "eta_s"), 490.0, 1e-9);
    json_decref(j);

    feed(b, "batch.r.progress", 3, 5, "{\"done\":40,\"ts\":\"2026-11-27T07:40:20.000Z\"}");
    feed(b, "batch.r.progress", 4, 5, "{\"done\":100,\"ts\":\"2026-11-27T07:40:40.000Z\"}");
    j = get(b, "r", T0);
    /* Over the last 30 s of event time: 80 from 07:40:10 to 07:40:40. */
    assert_float_equal(real(j, "rate"), 2.67, 1e-9);
    assert_float_equal(real(j, "eta_s"), 337.5, 1e-9); /* 900 / (80/30) */
    assert_string_equal(str(j, "updated_at"), "2026-11-27T07:40:40.000Z");
    json_decref(j);

    /* A late event (older ts) neither lowers updated_at nor breaks the rate. */
    feed(b, "batch.r.progress", 5, 5, "{\"done\":90,\"ts\":\"2026-11-27T07:40:30.000Z\"}");
    j = get(b, "r", T0);
    assert_float_equal(real(j, "rate"), 2.67, 1e-9);
    assert_string_equal(str(j, "updated_at"), "2026-11-27T07:40:40.000Z");
    json_decref(j);

    /* The pace picks up: only the last window counts. */
    feed(b, "batch.r.progress", 6, 5, "{\"done\":400,\"ts\":\"2026-11-27T07:41:40.000Z\"}");
    feed(b, "batch.r.progress", 7, 5, "{\"done\":700,\"ts\":\"2026-11-27T07:42:10.000Z\"}");
    j = get(b, "r", T0);
    assert_float_equal(real(j, "rate"), 10.0, 1e-9); /* 300 in 30 s */
    assert_float_equal(real(j, "eta_s"), 30.0, 1e-9);
    json_decref(j);

    /* A ts with an offset, and an unparsable ts (falls back to the stream timestamp). */
    feed(b, "batch.z.started", 1, T0 + 7, "{\"total\":5,\"ts\":\"2026-11-27T09:40:00.250+02:00\"}");
    j = get(b, "z", T0);
    assert_string_equal(str(j, "started_at"), "2026-11-27T07:40:00.250Z");
    json_decref(j);
    feed(b, "batch.z2.started", 1, T0 + 7, "{\"total\":5,\"ts\":\"yesterday\"}");
    j = get(b, "z2", T0);
    assert_string_equal(str(j, "started_at"), "2026-11-27T07:40:00.007Z");
    json_decref(j);
    batches_destroy(b);
}

static void test_stalled(void **state)
{
    batches *b = make(60000, 0, 0);
    feed(b, "batch.s.started", 1, T0, "{\"total\":10}");
    json_t *j = get(b, "s", T0 + 59999);
    assert_string_equal(str(j, "state"), "running");
    json_decref(j);
    batches_tick(b, T0 + 60000);
    j = get(b, "s", T0 + 60000);
    assert_string_equal(str(j, "state"), "stalled");
    assert_true(json_real_value(json_object_get(j, "rate")) == 0.0); /* not progressing */
    assert_true(json_is_null(json_object_get(j, "eta_s")));
    json_decref(j);
    /* The next event brings it back. */
    license(b, "s", "assigned", "L1", 0, 2, T0 + 70000);
    j = get(b, "s", T0 + 70000);
    assert_string_equal(str(j, "state"), "running");
    json_decref(j);
    /* A completed batch is never stalled. */
    feed(b, "batch.s.completed", 3, T0 + 71000, "{\"done\":10,\"failed\":0}");
    j = get(b, "s", T0 + 999999);
    assert_string_equal(str(j, "state"), "completed");
    json_decref(j);
    /* Without a stream timestamp, the payload's ts stands for the wall clock. */
    feed(b, "batch.s2.started", 1, 0, "{\"ts\":\"2026-11-27T07:40:00.000Z\"}");
    j = get(b, "s2", T0 + 1000);
    assert_string_equal(str(j, "state"), "running");
    json_decref(j);
    j = get(b, "s2", T0 + 60000);
    assert_string_equal(str(j, "state"), "stalled");
    json_decref(j);
    batches_destroy(b);
}

/* batches_stalled: the count the wsgate_batches_stalled gauge shows. */
static void test_stalled_count(void **state)
{
    batches *b = make(60000, 600000, 0);
    uint64_t total = 99;
    assert_int_equal(batches_stalled(b, T0, &total), 0);
    assert_int_equal(total, 0);
    feed(b, "batch.a.started", 1, T0, "{\"total\":10}");
    feed(b, "batch.b.started", 2, T0 + 30000, "{\"total\":10}");
    feed(b, "batch.c.started", 3, T0, "{\"total\":1}");
    feed(b, "batch.c.completed", 4, T0 + 1000, "{\"done\":1,\"failed\":0}");
    assert_int_equal(batches_stalled(b, T0 + 59999, &total), 0);
    assert_int_equal(total, 3);
    assert_int_equal(batches_stalled(b, T0 + 60000, &total), 1); /* a; c is completed */
    assert_int_equal(batches_stalled(b, T0 + 90000, &total), 2);
    license(b, "a", "assigned", "L1", 0, 5, T0 + 90000);
    assert_int_equal(batches_stalled(b, T0 + 90000, &total), 1);
    assert_int_equal(total, 3);
    batches_destroy(b);
}

static void test_expiry_after_retention(void **state)
{
    batches *b = make(1000, 300000, 0);
    feed(b, "batch.e.started", 1, T0, "{\"total\":1}");
    feed(b, "batch.e.completed", 2, T0 + 1000, "{\"total\":1,\"done\":1,\"failed\":0}");
    feed(b, "batch.keep.started", 3, T0, "{\"total\":1}");
    batches_tick(b, T0 + 1000 + 299999);
    json_decref(get(b, "e", T0));
    batches_tick(b, T0 + 1000 + 300000);
    sbuf s;
    sbuf_init(&s, 0);
    assert_int_equal(batches_get_json(b, "e", T0, NULL, NULL, &s), -ENOENT);
    assert_int_equal(s.len, 0);
    sbuf_free(&s);
    /* A running (even stalled) batch is kept. */
    batches_tick(b, T0 + 100000000);
    json_t *all = list(b, T0 + 100000000);
    assert_int_equal(json_array_size(all), 1);
    assert_string_equal(str(json_array_get(all, 0), "id"), "keep");
    json_decref(all);
    batches_destroy(b);
}

static void test_failures_keep_newest_20(void **state)
{
    batches *b = make(0, 0, 0);
    for (int i = 0; i < 25; i++) {
        char id[16];
        snprintf(id, sizeof id, "F%d", i);
        license(b, "f", "failed", id, i % 3, (uint64_t)i + 1, T0 + 1000 * i);
    }
    json_t *j = get(b, "f", T0);
    assert_int_equal(num(j, "failed"), 25);
    json_t *failures = json_object_get(j, "failures");
    assert_int_equal(json_array_size(failures), 20);
    json_t *newest = json_array_get(failures, 0), *oldest = json_array_get(failures, 19);
    assert_string_equal(str(newest, "license_id"), "F24");
    assert_string_equal(str(newest, "hcp_id"), "H-F24");
    assert_int_equal(num(newest, "worker"), 0);
    assert_string_equal(str(newest, "error"), "registry timeout");
    assert_string_equal(str(newest, "ts"), "2026-11-27T07:40:24.000Z");
    assert_string_equal(str(oldest, "license_id"), "F5");
    json_decref(j);

    /* Unknown worker, hcp_id and error are null. */
    feed(b, "license.f2.failed", 1, T0, "{\"license_id\":\"X\"}");
    j = get(b, "f2", T0);
    json_t *f = json_array_get(json_object_get(j, "failures"), 0);
    assert_string_equal(str(f, "license_id"), "X");
    assert_null_field(f, "hcp_id");
    assert_null_field(f, "worker");
    assert_null_field(f, "error");
    assert_int_equal(json_array_size(json_object_get(j, "per_worker")), 0);
    json_decref(j);
    batches_destroy(b);
}

static void test_per_worker(void **state)
{
    batches *b = make(0, 0, 0);
    feed(b, "batch.w.started", 1, T0, "{\"total\":100,\"workers\":4}");
    license(b, "w", "assigned", "L1", 0, 2, T0);
    license(b, "w", "assigned", "L2", 0, 3, T0);
    license(b, "w", "failed", "L3", 3, 4, T0);
    json_t *j = get(b, "w", T0);
    assert_int_equal(num(j, "workers"), 4);
    assert_int_equal(json_array_size(json_object_get(j, "per_worker")), 4);
    assert_worker(j, 0, 2, 0);
    assert_worker(j, 1, 0, 0);
    assert_worker(j, 2, 0, 0);
    assert_worker(j, 3, 0, 1);
    json_decref(j);
    /* A worker beyond the announced count widens the batch. */
    license(b, "w", "assigned", "L4", 6, 5, T0);
    j = get(b, "w", T0);
    assert_int_equal(num(j, "workers"), 7);
    assert_int_equal(json_array_size(json_object_get(j, "per_worker")), 7);
    assert_worker(j, 6, 1, 0);
    json_decref(j);
    /* An event without a worker counts for the batch only. */
    license(b, "w", "assigned", "L5", -1, 6, T0);
    j = get(b, "w", T0);
    assert_int_equal(num(j, "done"), 4);
    assert_int_equal(json_array_size(json_object_get(j, "per_worker")), 7);
    json_decref(j);
    batches_destroy(b);
}

static char *verifications(batches *b)
{
    sbuf s;
    sbuf_init(&s, 0);
    batches_verifications_json(b, NULL, NULL, &s);
    char *text = strdup(sbuf_str(&s));
    sbuf_free(&s);
    return text;
}

static void test_verifications(void **state)
{
    batches *b = make(0, 0, 0);
    char *text = verifications(b);
    assert_string_equal(text, "{\"total\":0,\"by_status\":{\"verified\":0,\"rejected\":0,"
                              "\"pending\":0},\"by_country\":{}}");
    free(text);

    const char *fr = "{\"hcp_id\":\"H1\",\"country\":\"FR\",\"status\":\"verified\"}";
    assert_int_equal(feed(b, "verification.FR.verified", 1, T0, fr), 0);
    assert_int_equal(feed(b, "verification.FR.verified", 2, T0, fr), 0);
    assert_int_equal(feed(b, "verification.FR.rejected", 3, T0, "{\"status\":\"rejected\"}"), 0);
    /* Status from the subject token, country from the payload. */
    assert_int_equal(feed(b, "verification.xx.pending", 4, T0, "{\"country\":\"DE\"}"), 0);
    /* The payload's status wins over the subject's. */
    assert_int_equal(
        feed(b, "verification.BE.verified", 5, T0, "{\"status\":\"rejected\",\"source\":\"r\"}"),
        0);
    /* A country that is not two uppercase letters falls back to the subject. */
    assert_int_equal(
        feed(b, "verification.IT.pending", 6, T0, "{\"country\":\"italy\",\"status\":\"pending\"}"),
        0);

    char *before = verifications(b);
    assert_int_equal(feed(b, "verification.FR.verified", 7, T0, "{\"status\":\"bogus\"}"), -EINVAL);
    assert_int_equal(feed(b, "verification.FR.unknown", 8, T0, "{}"), -EINVAL);
    assert_int_equal(feed(b, "verification.FR.verified", 9, T0, "{\"status\":3}"), -EINVAL);
    assert_int_equal(feed(b, "verification.FR.verified", 10, T0, "{\"country\":7}"), -EINVAL);
    assert_int_equal(feed(b, "verification.fr.verified", 11, T0, "{}"), -EINVAL);
    assert_int_equal(feed(b, "verification.FRA.verified", 12, T0, "{\"country\":\"F\"}"), -EINVAL);
    assert_int_equal(feed(b, "verification.FR.verified", 13, T0, "[]"), -EINVAL);
    text = verifications(b);
    assert_string_equal(text, before);
    free(text);
    free(before);

    json_t *j = parse(text = verifications(b));
    free(text);
    assert_int_equal(num(j, "total"), 6);
    json_t *by_status = json_object_get(j, "by_status");
    assert_int_equal(json_object_size(by_status), 3);
    assert_int_equal(num(by_status, "verified"), 2);
    assert_int_equal(num(by_status, "rejected"), 2);
    assert_int_equal(num(by_status, "pending"), 2);
    json_t *by_country = json_object_get(j, "by_country");
    assert_int_equal(json_object_size(by_country), 4);
    json_t *c = json_object_get(by_country, "FR");
    assert_int_equal(num(c, "verified"), 2);
    assert_int_equal(num(c, "rejected"), 1);
    assert_int_equal(num(c, "pending"), 0);
    c = json_object_get(by_country, "DE");
    assert_int_equal(num(c, "pending"), 1);
    c = json_object_get(by_country, "BE");
    assert_int_equal(num(c, "rejected"), 1);
    assert_int_equal(num(c, "verified"), 0);
    c = json_object_get(by_country, "IT");
    assert_int_equal(num(c, "pending"), 1);
    json_decref(j);

    /* Countries come sorted. */
    text = verifications(b);
    char *be = strstr(text, "\"BE\""), *de = strstr(text, "\"DE\""), *frp = strstr(text, "\"FR\""),
         *it = strstr(text, "\"IT\"");
    assert_true(be && de && frp && it && be < de && de < frp && frp < it);
    free(text);
    batches_destroy(b);
}

static void test_bad_payloads_change_nothing(void **state)
{
    batches *b = make(1000, 1000, 0);
    feed(b, "batch.b.started", 1, T0, "{\"total\":10,\"workers\":2}");
    license(b, "b", "assigned", "L1", 0, 2, T0);
    license(b, "b", "failed", "L2", 1, 3, T0);
    feed(b, "verification.FR.verified", 4, T0, "{}");
    char *before = snapshot(b, T0);

    /* One of each kind (test_events.c has the decoder's full list): not JSON,
     * a bad type, out of range, a missing license_id, an unknown status. */
    static const struct {
        const char *subject, *payload;
    } bad[] = {
        {"batch.b.progress", "not json"},
        {"batch.b.progress", "[1,2]"},
        {"batch.b.progress", "{\"done\":\"5\"}"},
        {"batch.b.progress", "{\"done\":100000001}"},
        {"batch.b.started", "{\"workers\":1000000}"},
        {"batch.new.started", "{\"total\":100000001}"},
        {"batch.b.completed", "{\"duration_ms\":-5}"},
        {"license.b.assigned", "{\"worker\":0}"},
        {"license.b.assigned", "{\"license_id\":\"L9\",\"worker\":5000}"},
        {"license.b.failed", "{\"license_id\":\"L9\",\"error\":[]}"},
        {"license.new.failed", "{\"license_id\":\"L9\",\"total\":-1}"},
        {"verification.DE.verified", "{\"status\":\"maybe\"}"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (feed(b, bad[i].subject, 100 + i, T0 + 5, bad[i].payload) != -EINVAL)
            fail_msg("accepted %s %s", bad[i].subject, bad[i].payload);
    }
    assert_int_equal(batches_feed(b, "batch.b.progress", NULL, 0, 99, T0), -EINVAL);
    assert_int_equal(batches_feed(b, "batch.b.progress", "{\"done\":1}", 5, 99, T0), -EINVAL);
    char longid[400];
    memset(longid, 'x', 300);
    longid[300] = '\0';
    assert_int_equal(feedf(b, "license.b.assigned", 98, T0, "{\"license_id\":\"%s\"}", longid),
                     -EINVAL);

    char *after = snapshot(b, T0);
    assert_string_equal(after, before);
    free(after);
    free(before);
    batches_destroy(b);
}

static void test_ignored_subjects(void **state)
{
    batches *b = make(0, 0, 0);
    char longtok[100], subject[200];
    memset(longtok, 'a', 65);
    longtok[65] = '\0';
    snprintf(subject, sizeof subject, "batch.%s.started", longtok);
    /* test_events.c has the full list of subjects that carry no state. */
    const char *ignored[] = {"foo.b.started", "", subject, "batch.b.started.x"};
    for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++)
        assert_int_equal(feed(b, ignored[i], 1, T0, "garbage"), 0);
    assert_int_equal(batches_feed(b, NULL, "x", 1, 1, T0), 0);
    /* Events under batch. and license. that EVENTS.md lacks are refused (and
     * counted by the hub), with no state either. */
    const char *unknown[] = {"batch.b.unknown", "license.b.done", "batch.b.paused"};
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++)
        assert_int_equal(feed(b, unknown[i], 1, T0, "{}"), -EINVAL);
    json_t *all = list(b, T0);
    assert_int_equal(json_array_size(all), 0);
    json_decref(all);
    /* A 64-byte token is fine. */
    longtok[64] = '\0';
    snprintf(subject, sizeof subject, "batch.%s.started", longtok);
    assert_int_equal(feed(b, subject, 1, T0, "{}"), 0);
    json_decref(get(b, longtok, T0));
    batches_destroy(b);
}

/* The shape the dashboard depends on, field by field. */
static void test_json_shape(void **state)
{
    batches *b = make(60000, 0, 30000);
    feed(b, "batch.b42.started", 2040, T0 + 1,
         "{\"batch_id\":\"b42\",\"total\":1000,\"workers\":15,\"kind\":\"license_assignment\","
         "\"ts\":\"2026-11-27T07:40:12.118Z\"}");
    license(b, "b42", "assigned", "L1", 0, 2041, T0 + 20000);
    /* The payload's batch_id disagrees with the subject: refused, nothing changes. */
    char *before = snapshot(b, T0 + 22000);
    assert_int_equal(feed(b, "license.b42.failed", 2050, T0 + 22000,
                          "{\"batch_id\":\"other\",\"license_id\":\"L3\",\"worker\":3}"),
                     -EINVAL);
    char *after = snapshot(b, T0 + 22000);
    assert_string_equal(before, after);
    free(before);
    free(after);
    feed(b, "license.b42.failed", 2051, T0 + 22000,
         "{\"batch_id\":\"b42\",\"license_id\":\"L\\\"2\",\"hcp_id\":\"H9\",\"worker\":3,"
         "\"error\":\"registry \\\"timeout\\\"\\n\",\"ts\":\"2026-11-27T07:40:22.000Z\"}");

    json_t *j = get(b, "b42", T0 + 22000);
    const char *keys[] = {"id",           "kind",
                          "state",        "total",
                          "done",         "failed",
                          "processed",    "percent",
                          "workers",      "started_at",
                          "updated_at",   "completed_at",
                          "cancelled_at", "cancel_reason",
                          "duration_ms",  "rate",
                          "eta_s",        "seq",
                          "per_worker",   "per_worker_others",
                          "failures",     "history_step_ms",
                          "history"};
    assert_int_equal(json_object_size(j), sizeof keys / sizeof *keys);
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        assert_non_null(json_object_get(j, keys[i]));
    assert_string_equal(str(j, "id"), "b42");
    assert_string_equal(str(j, "kind"), "license_assignment");
    assert_string_equal(str(j, "state"), "running");
    assert_int_equal(num(j, "total"), 1000);
    assert_int_equal(num(j, "done"), 1);
    assert_int_equal(num(j, "failed"), 1);
    assert_int_equal(num(j, "processed"), 2);
    assert_float_equal(real(j, "percent"), 0.2, 1e-9);
    assert_int_equal(num(j, "workers"), 15);
    assert_string_equal(str(j, "started_at"), "2026-11-27T07:40:12.118Z");
    assert_string_equal(str(j, "updated_at"), "2026-11-27T07:40:22.000Z");
    assert_null_field(j, "completed_at");
    assert_null_field(j, "cancelled_at");
    assert_null_field(j, "cancel_reason");
    assert_null_field(j, "duration_ms");
    /* 2 processed between 07:40:12.118 and 07:40:22.000 (9.882 s). */
    assert_float_equal(real(j, "rate"), 0.20, 1e-9);
    assert_float_equal(real(j, "eta_s"), 998.0 * 9.882 / 2.0, 0.05);
    assert_int_equal(num(j, "seq"), 2051);

    json_t *per_worker = json_object_get(j, "per_worker");
    assert_int_equal(json_array_size(per_worker), 15);
    for (size_t w = 0; w < 15; w++) {
        json_t *e = json_array_get(per_worker, w);
        assert_int_equal(json_object_size(e), 3);
        assert_worker(j, w, w == 0, w == 3);
    }
    assert_null_field(j, "per_worker_others");
    json_t *failures = json_object_get(j, "failures");
    assert_int_equal(json_array_size(failures), 1);
    json_t *f = json_array_get(failures, 0);
    assert_int_equal(json_object_size(f), 5);
    assert_string_equal(str(f, "license_id"), "L\"2");
    assert_string_equal(str(f, "hcp_id"), "H9");
    assert_int_equal(num(f, "worker"), 3);
    assert_string_equal(str(f, "error"), "registry \"timeout\"\n");
    assert_string_equal(str(f, "ts"), "2026-11-27T07:40:22.000Z");
    json_decref(j);

    /* No batch "other" was created. */
    sbuf s;
    sbuf_init(&s, 0);
    assert_int_equal(batches_get_json(b, "other", T0, NULL, NULL, &s), -ENOENT);
    assert_int_equal(batches_get_json(b, NULL, T0, NULL, NULL, &s), -ENOENT);
    sbuf_free(&s);
    batches_destroy(b);
}

static void test_list_order_and_many_batches(void **state)
{
    batches *b = make(0, 0, 0);
    feed(b, "batch.old.started", 1, T0, "{}");
    feed(b, "batch.new.started", 2, T0 + 2000, "{}");
    feed(b, "batch.mid.started", 3, T0 + 1000, "{}");
    json_t *all = list(b, T0);
    assert_int_equal(json_array_size(all), 3);
    assert_string_equal(str(json_array_get(all, 0), "id"), "new");
    assert_string_equal(str(json_array_get(all, 1), "id"), "mid");
    assert_string_equal(str(json_array_get(all, 2), "id"), "old");
    json_decref(all);
    batches_destroy(b);

    b = make(0, 0, 0);
    enum { N = 5000 };
    for (int i = 0; i < N; i++) {
        char subject[64];
        snprintf(subject, sizeof subject, "batch.b%d.progress", i);
        assert_int_equal(feedf(b, subject, (uint64_t)i + 1, T0 + i, "{\"done\":%d}", i), 0);
    }
    for (int i = 0; i < N; i += 7) {
        char id[16];
        snprintf(id, sizeof id, "b%d", i);
        json_t *j = get(b, id, T0);
        assert_int_equal(num(j, "done"), i);
        json_decref(j);
    }
    all = list(b, T0);
    assert_int_equal(json_array_size(all), N);
    assert_string_equal(str(json_array_get(all, 0), "id"), "b4999");
    json_decref(all);
    batches_destroy(b);
}

static void test_reset(void **state)
{
    batches *b = make(0, 0, 0);
    feed(b, "batch.a.started", 1, T0, "{\"total\":3}");
    license(b, "a", "assigned", "L1", 0, 2, T0);
    feed(b, "verification.FR.verified", 3, T0, "{}");
    batches_reset(b);
    json_t *all = list(b, T0);
    assert_int_equal(json_array_size(all), 0);
    json_decref(all);
    char *text = verifications(b);
    assert_string_equal(text, "{\"total\":0,\"by_status\":{\"verified\":0,\"rejected\":0,"
                              "\"pending\":0},\"by_country\":{}}");
    free(text);
    sbuf s;
    sbuf_init(&s, 0);
    assert_int_equal(batches_get_json(b, "a", T0, NULL, NULL, &s), -ENOENT);
    sbuf_free(&s);
    /* Usable again; the old license ids are forgotten. */
    license(b, "a", "assigned", "L1", 0, 1, T0);
    assert_counts(b, "a", 1, 0);
    batches_destroy(b);
}

/* A batches with max_batches and idle_ms set (no stall, no retention). */
static batches *make_capped(size_t max_batches, int64_t idle_ms)
{
    batches_config cfg = {.max_batches = max_batches, .idle_ms = idle_ms, .retention_ms = 3600000};
    return batches_create(&cfg);
}

static size_t list_size(batches *b, int64_t now_ms)
{
    json_t *all = list(b, now_ms);
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}

static int exists(batches *b, const char *id)
{
    sbuf s;
    sbuf_init(&s, 0);
    int rc = batches_get_json(b, id, T0, NULL, NULL, &s);
    sbuf_free(&s);
    return rc == 0;
}

/* Issue 10 item 5: 20k distinct batch ids (one license event each) no longer
 * make 20k batches: the default cap keeps the 10,000 most recently updated. */
static void test_distinct_ids_are_capped(void **state)
{
    batches *b = make(0, 3600000, 0);
    for (int i = 0; i < 20000; i++) {
        char id[16];
        snprintf(id, sizeof id, "L%d", i);
        assert_int_equal(license(b, id, "assigned", "X", 0, (uint64_t)i + 1, T0 + i), 0);
    }
    assert_int_equal(list_size(b, T0 + 20000), 10000);
    assert_int_equal(batches_count(b), 10000);
    assert_int_equal(batches_evicted(b), 10000);
    assert_false(exists(b, "L9999"));
    assert_true(exists(b, "L10000"));
    assert_true(exists(b, "L19999"));
    batches_destroy(b);
}

static void test_cap_evicts_least_recently_updated(void **state)
{
    batches *b = make_capped(3, 0);
    feed(b, "batch.a.started", 1, T0, "{}");
    feed(b, "batch.b.started", 2, T0 + 1, "{}");
    feed(b, "batch.c.started", 3, T0 + 2, "{}");
    feed(b, "batch.a.progress", 4, T0 + 3, "{\"done\":1}"); /* a is now the most recent */
    feed(b, "batch.d.started", 5, T0 + 4, "{}");            /* evicts b */
    assert_true(exists(b, "a"));
    assert_false(exists(b, "b"));
    assert_true(exists(b, "c"));
    assert_true(exists(b, "d"));
    feed(b, "batch.e.started", 6, T0 + 5, "{}"); /* evicts c */
    assert_false(exists(b, "c"));
    assert_int_equal(batches_count(b), 3);
    assert_int_equal(batches_evicted(b), 2);
    /* An evicted batch that comes back starts again from its new events. */
    feed(b, "batch.b.progress", 7, T0 + 6, "{\"done\":5}");
    assert_counts(b, "b", 5, 0);
    assert_false(exists(b, "a"));
    /* A bad payload for a new id creates nothing and evicts nothing. */
    assert_int_equal(feed(b, "batch.z.progress", 8, T0 + 7, "{\"done\":-1}"), -EINVAL);
    assert_int_equal(batches_count(b), 3);
    assert_true(exists(b, "d"));
    batches_destroy(b);
}

static void test_idle_running_batches_age_out(void **state)
{
    batches *b = make_capped(0, 3600000);
    feed(b, "batch.quiet.started", 1, T0, "{\"total\":10}");
    feed(b, "batch.busy.started", 2, T0, "{\"total\":10}");
    feed(b, "batch.done.completed", 3, T0, "{\"total\":1,\"done\":1}");
    feed(b, "batch.busy.progress", 4, T0 + 1800000, "{\"done\":1}");
    batches_tick(b, T0 + 3600000 - 1);
    assert_true(exists(b, "quiet"));
    batches_tick(b, T0 + 3600000);
    assert_false(exists(b, "quiet")); /* silent for idle_ms */
    assert_true(exists(b, "busy"));   /* heard from 30 minutes ago */
    assert_false(exists(b, "done"));  /* completed: retention (1 h) */
    batches_tick(b, T0 + 1800000 + 3600000);
    assert_false(exists(b, "busy"));
    assert_int_equal(batches_count(b), 0);
    /* idle_ms 0: running batches stay. */
    batches_destroy(b);
    b = make_capped(0, 0);
    feed(b, "batch.quiet.started", 1, T0, "{}");
    batches_tick(b, T0 + 100LL * 86400000);
    assert_true(exists(b, "quiet"));
    batches_destroy(b);
}

/* Issue 10 item 14: the table of batches grows, evicts and deletes (aging)
 * many times over; afterwards every id is found exactly when it was kept. */
static void test_many_batches_grow_evict_delete(void **state)
{
    enum { N = 10000, CAP = 3000, NEW = 1500 };
    batches_config cfg = {.max_batches = CAP, .retention_ms = 1000};
    batches *b = batches_create(&cfg);
    char subject[64], id[16];
    for (int i = 0; i < N; i++) {
        snprintf(subject, sizeof subject, "batch.b%d.started", i);
        assert_int_equal(feed(b, subject, (uint64_t)i + 1, T0 + i, "{}"), 0);
    }
    assert_int_equal(batches_count(b), CAP);
    assert_int_equal(batches_evicted(b), N - CAP);
    /* Every third batch kept completes, then ages out. */
    for (int i = N - CAP; i < N; i += 3) {
        snprintf(subject, sizeof subject, "batch.b%d.completed", i);
        assert_int_equal(feed(b, subject, (uint64_t)(N + i), T0 + N, "{}"), 0);
    }
    batches_tick(b, T0 + N + 1000);
    assert_int_equal(batches_count(b), CAP - CAP / 3);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "b%d", i);
        assert_int_equal(exists(b, id), i >= N - CAP && (i - (N - CAP)) % 3 != 0);
    }
    /* New batches fill the cap again, then evict the least recently updated. */
    for (int i = 0; i < NEW; i++) {
        snprintf(subject, sizeof subject, "batch.n%d.started", i);
        assert_int_equal(feed(b, subject, (uint64_t)(2 * N + i), T0 + 2 * N + i, "{}"), 0);
    }
    size_t evicted_now = NEW - CAP / 3;
    assert_int_equal(batches_count(b), CAP);
    assert_int_equal(batches_evicted(b), N - CAP + evicted_now);
    size_t rank = 0;
    for (int i = N - CAP; i < N; i++) {
        snprintf(id, sizeof id, "b%d", i);
        bool kept = (i - (N - CAP)) % 3 != 0;
        assert_int_equal(exists(b, id), kept && rank >= evicted_now);
        rank += kept;
    }
    for (int i = 0; i < NEW; i++) {
        snprintf(id, sizeof id, "n%d", i);
        assert_true(exists(b, id));
    }
    assert_int_equal(list_size(b, T0), CAP);
    uint64_t total = 0;
    batches_stalled(b, T0, &total);
    assert_int_equal(total, CAP);
    batches_destroy(b);
}

/* Issue 10 item 5: `workers: 1024` and one license made a 36 KB view. */
static void test_many_workers_bounded_view(void **state)
{
    batches *b = make(0, 0, 0);
    feed(b, "batch.wide.started", 1, T0, "{\"total\":5000,\"workers\":1024}");
    license(b, "wide", "assigned", "L1", 700, 2, T0);
    license(b, "wide", "failed", "L2", 1023, 3, T0);
    license(b, "wide", "assigned", "L3", 5, 4, T0);
    sbuf s;
    sbuf_init(&s, 0);
    assert_int_equal(batches_get_json(b, "wide", T0, NULL, NULL, &s), 0);
    assert_true(s.len < 4096);
    sbuf_free(&s);
    json_t *j = get(b, "wide", T0);
    assert_int_equal(num(j, "workers"), 1024);
    assert_int_equal(json_array_size(json_object_get(j, "per_worker")), 64);
    assert_worker(j, 5, 1, 0);
    assert_worker(j, 63, 0, 0);
    json_t *others = json_object_get(j, "per_worker_others");
    assert_true(json_is_object(others));
    assert_int_equal(num(others, "workers"), 1024 - 64);
    assert_int_equal(num(others, "done"), 1);
    assert_int_equal(num(others, "failed"), 1);
    json_decref(j);
    batches_destroy(b);
}

/* Every page of a query, concatenated; checks each page's size and total. */
static json_t *all_pages(batches *b, batches_query q, int64_t now_ms, size_t expect_total)
{
    json_t *all = json_array();
    char cursor[BATCHES_CURSOR_MAX] = "";
    for (int pages = 0;; pages++) {
        assert_true(pages < 1000);
        sbuf s;
        sbuf_init(&s, 0);
        size_t total = 0;
        char next[BATCHES_CURSOR_MAX];
        q.cursor = cursor;
        assert_int_equal(batches_page_json(b, &q, now_ms, &s, &total, next), 0);
        assert_int_equal(total, expect_total);
        json_t *page = parse(sbuf_str(&s));
        sbuf_free(&s);
        assert_true(json_array_size(page) <= q.limit);
        if (next[0])
            assert_int_equal(json_array_size(page), q.limit);
        json_array_extend(all, page);
        json_decref(page);
        if (!next[0])
            break;
        strcpy(cursor, next);
    }
    return all;
}

static void test_pages(void **state)
{
    batches *b = make(60000, 3600000, 0);
    /* 120 completed (c0..c119), 90 running (r0..r89), 40 stalled (s0..s39) */
    uint64_t seq = 1;
    for (int i = 0; i < 120; i++) {
        char subject[64];
        snprintf(subject, sizeof subject, "batch.c%d.completed", i);
        feedf(b, subject, seq++, T0 + (i % 7) * 1000, "{\"total\":2,\"done\":1,\"failed\":%d}",
              i % 2);
    }
    for (int i = 0; i < 40; i++) {
        char subject[64];
        snprintf(subject, sizeof subject, "batch.s%d.started", i);
        feed(b, subject, seq++, T0, "{}");
    }
    for (int i = 0; i < 90; i++) {
        char subject[64];
        snprintf(subject, sizeof subject, "batch.r%d.started", i);
        feed(b, subject, seq++, T0 + 100000 + (i % 5) * 1000, "{}");
    }
    int64_t now = T0 + 100000 + 10000; /* the s* are stalled (60 s silent), the r* are not */
    json_t *every = list(b, now);
    assert_int_equal(json_array_size(every), 250);
    for (size_t limit = 1; limit <= 300; limit = limit * 3 + 1) {
        json_t *paged = all_pages(b, (batches_query){.limit = limit}, now, 250);
        assert_true(json_equal(paged, every)); /* each batch once, in list order */
        json_decref(paged);
    }
    /* list order: running and stalled first (newest started first), completed newest first */
    for (size_t i = 0; i < 250; i++) {
        const char *st = str(json_array_get(every, i), "state");
        assert_string_equal(st, i < 90 ? "running" : i < 130 ? "stalled" : "completed");
    }
    assert_string_equal(str(json_array_get(every, 130), "completed_at"),
                        "2026-11-27T07:40:06.000Z");
    json_decref(every);

    json_t *p = all_pages(b, (batches_query){.limit = 7, .states = BATCHES_STALLED}, now, 40);
    assert_int_equal(json_array_size(p), 40);
    json_decref(p);
    p = all_pages(b, (batches_query){.limit = 50, .states = BATCHES_RUNNING | BATCHES_STALLED}, now,
                  130);
    json_decref(p);
    p = all_pages(b, (batches_query){.limit = 50, .states = BATCHES_FAILED}, now, 60);
    for (size_t i = 0; i < json_array_size(p); i++)
        assert_int_equal(num(json_array_get(p, i), "failed"), 1);
    json_decref(p);
    p = all_pages(b, (batches_query){.limit = 5, .search = "R8"}, now, 11); /* r8, r80..r89 */
    json_decref(p);
    p = all_pages(b, (batches_query){.limit = 5, .search = "nope"}, now, 0);
    assert_int_equal(json_array_size(p), 0);
    json_decref(p);

    /* bad cursors: -EINVAL, nothing written */
    const char *bad[] = {"x", "2.1.a", "0..a", "0.1.", "0.1.a.b", "0.1234567890123456.a", "0.1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sbuf s;
        sbuf_init(&s, 0);
        size_t total;
        char next[BATCHES_CURSOR_MAX];
        batches_query q = {.limit = 10, .cursor = bad[i]};
        assert_int_equal(batches_page_json(b, &q, now, &s, &total, next), -EINVAL);
        assert_int_equal(s.len, 0);
        sbuf_free(&s);
    }
    batches_destroy(b);
}

/* batch.<id>.cancelled ends a batch: state "cancelled", never stalled, no
 * rate or ETA, kept retention_ms after it like a completed one, listed with
 * the ended ones; the first terminal event wins. */
static void test_cancelled(void **state)
{
    batches *b = make(60000, 300000, 0);
    feed(b, "batch.x.started", 1, T0, "{\"total\":100,\"workers\":2}");
    license(b, "x", "assigned", "L1", 0, 2, T0 + 1000);
    license(b, "x", "assigned", "L2", 1, 3, T0 + 2000);
    assert_int_equal(feed(b, "batch.x.cancelled", 4, T0 + 3000,
                          "{\"batch_id\":\"x\",\"reason\":\"operator abort\","
                          "\"ts\":\"2026-11-27T07:40:03.000Z\"}"),
                     0);
    json_t *j = get(b, "x", T0 + 3000);
    assert_string_equal(str(j, "state"), "cancelled");
    assert_string_equal(str(j, "cancelled_at"), "2026-11-27T07:40:03.000Z");
    assert_string_equal(str(j, "cancel_reason"), "operator abort");
    assert_null_field(j, "completed_at");
    assert_null_field(j, "duration_ms");
    assert_null_field(j, "eta_s");
    assert_true(real(j, "rate") == 0.0);
    assert_int_equal(num(j, "done"), 2);
    json_decref(j);

    /* Long silent: not stalled, not in the stalled gauge. */
    uint64_t total;
    feed(b, "batch.y.started", 5, T0, "{\"total\":10}");
    assert_int_equal(batches_stalled(b, T0 + 200000, &total), 1); /* y only */
    assert_int_equal(total, 2);
    j = get(b, "x", T0 + 200000);
    assert_string_equal(str(j, "state"), "cancelled");
    json_decref(j);

    /* Later events raise counts but do not bring it back; completed does not
     * override it. */
    license(b, "x", "assigned", "L3", 0, 6, T0 + 4000);
    feed(b, "batch.x.completed", 7, T0 + 5000, "{\"total\":100,\"done\":3,\"failed\":0}");
    feed(b, "batch.x.cancelled", 8, T0 + 6000, "{\"reason\":\"again\"}");
    j = get(b, "x", T0 + 6000);
    assert_string_equal(str(j, "state"), "cancelled");
    assert_string_equal(str(j, "cancel_reason"), "operator abort");
    assert_string_equal(str(j, "cancelled_at"), "2026-11-27T07:40:03.000Z");
    assert_int_equal(num(j, "done"), 3);
    json_decref(j);
    /* ... nor does a cancel override a completion. */
    feed(b, "batch.z.completed", 9, T0 + 1000, "{\"total\":1,\"done\":1,\"failed\":0}");
    feed(b, "batch.z.cancelled", 10, T0 + 2000, "{}");
    j = get(b, "z", T0 + 2000);
    assert_string_equal(str(j, "state"), "completed");
    assert_null_field(j, "cancelled_at");
    json_decref(j);

    /* The state filter, the summary and the list order (ended ones after the
     * running, newest ended first: x at +3 s before z at +1 s). */
    json_t *p =
        all_pages(b, (batches_query){.limit = 10, .states = BATCHES_CANCELLED}, T0 + 10000, 1);
    assert_string_equal(str(json_array_get(p, 0), "id"), "x");
    json_decref(p);
    json_t *all = list(b, T0 + 10000);
    assert_string_equal(str(json_array_get(all, 0), "id"), "y");
    assert_string_equal(str(json_array_get(all, 1), "id"), "x");
    assert_string_equal(str(json_array_get(all, 2), "id"), "z");
    json_decref(all);
    sbuf s;
    sbuf_init(&s, 0);
    batches_summary_json(b, T0 + 10000, NULL, NULL, &s);
    j = parse(sbuf_str(&s));
    sbuf_free(&s);
    assert_int_equal(num(j, "cancelled"), 1);
    assert_int_equal(num(j, "completed"), 1);
    assert_int_equal(num(j, "running"), 1);
    json_decref(j);

    /* Retention counts from cancelled_at. */
    batches_tick(b, T0 + 3000 + 299999);
    json_decref(get(b, "x", T0));
    batches_tick(b, T0 + 3000 + 300000);
    sbuf_init(&s, 0);
    assert_int_equal(batches_get_json(b, "x", T0, NULL, NULL, &s), -ENOENT);
    sbuf_free(&s);
    batches_destroy(b);
}

static void test_summary(void **state)
{
    batches *b = make(60000, 3600000, 10000);
    feed(b, "batch.c.completed", 1, T0, "{\"total\":10,\"done\":8,\"failed\":2}");
    feed(b, "batch.s.started", 2, T0, "{\"total\":10}");
    feed(b, "batch.r.started", 3, T0 + 60000, "{\"total\":100}");
    feed(b, "batch.r.progress", 4, T0 + 70000, "{\"done\":10,\"failed\":0}");
    sbuf s;
    sbuf_init(&s, 0);
    batches_summary_json(b, T0 + 70000, NULL, NULL, &s);
    json_t *j = parse(sbuf_str(&s));
    sbuf_free(&s);
    assert_int_equal(num(j, "batches"), 3);
    assert_int_equal(num(j, "running"), 1);
    assert_int_equal(num(j, "stalled"), 1);
    assert_int_equal(num(j, "completed"), 1);
    assert_int_equal(num(j, "cancelled"), 0);
    assert_int_equal(num(j, "done"), 18);
    assert_int_equal(num(j, "failed"), 2);
    assert_float_equal(real(j, "rate"), 1.0, 1e-9);   /* 10 in 10 s */
    assert_float_equal(real(j, "eta_s"), 90.0, 1e-9); /* 90 left at 1/s */
    assert_int_equal(num(j, "max_batches"), 10000);
    assert_int_equal(num(j, "evicted"), 0);
    json_decref(j);
    batches_destroy(b);
}

/* Issue 8: GET /api/batches/{id} carries the history of done/failed at a
 * bounded number of points; lists do not. */
static void test_history(void **state)
{
    batches *b = make(0, 3600000, 0);
    feed(b, "batch.h.started", 1, T0, "{\"total\":100000}");
    /* 100 s, one progress a second: one point per 5 s step */
    for (int i = 1; i <= 100; i++)
        feedf(b, "batch.h.progress", (uint64_t)i + 1, T0 + i * 1000LL,
              "{\"done\":%d,\"failed\":%d}", i * 10, i);
    json_t *j = get(b, "h", T0 + 100000);
    json_t *hist = json_object_get(j, "history");
    assert_int_equal(num(j, "history_step_ms"), 5000);
    assert_int_equal(json_array_size(hist), 21); /* steps 0..20 of 5 s */
    json_t *first = json_array_get(hist, 0), *last = json_array_get(hist, 20);
    assert_int_equal(json_integer_value(json_array_get(first, 0)), T0 + 4000);
    assert_int_equal(json_integer_value(json_array_get(last, 0)), T0 + 100000);
    assert_int_equal(json_integer_value(json_array_get(last, 1)), 1000);
    assert_int_equal(json_integer_value(json_array_get(last, 2)), 100);
    json_decref(j);

    /* 10,000 s: at most 200 points, in time order, from start to end */
    for (int i = 101; i <= 10000; i++)
        feedf(b, "batch.h.progress", (uint64_t)i + 1, T0 + i * 1000LL,
              "{\"done\":%d,\"failed\":%d}", i * 10, i);
    feed(b, "batch.h.completed", 20000, T0 + 10000000,
         "{\"total\":100000,\"done\":100000,\"failed\":0}");
    j = get(b, "h", T0 + 10000000);
    hist = json_object_get(j, "history");
    size_t n = json_array_size(hist);
    assert_true(n > 50 && n <= 200);
    assert_true(num(j, "history_step_ms") > 5000);
    assert_true(json_integer_value(json_array_get(json_array_get(hist, 0), 0)) <
                T0 + num(j, "history_step_ms"));
    for (size_t i = 1; i < n; i++) {
        json_t *a = json_array_get(hist, i - 1), *c = json_array_get(hist, i);
        assert_true(json_integer_value(json_array_get(a, 0)) <
                    json_integer_value(json_array_get(c, 0)));
        assert_true(json_integer_value(json_array_get(a, 1)) <=
                    json_integer_value(json_array_get(c, 1)));
    }
    last = json_array_get(hist, n - 1);
    assert_int_equal(json_integer_value(json_array_get(last, 0)), T0 + 10000000);
    assert_int_equal(json_integer_value(json_array_get(last, 1)), 100000);
    json_decref(j);

    /* lists stay light: no history */
    json_t *all = list(b, T0);
    assert_null(json_object_get(json_array_get(all, 0), "history"));
    json_decref(all);
    batches_destroy(b);
}

/* Deterministic garbage: never crash, always valid JSON out. */
static void test_garbage_never_crashes(void **state)
{
    static const char *subjects[] = {"batch.g.started",        "batch.g.progress",
                                     "batch.g.completed",      "license.g.assigned",
                                     "license.g.failed",       "verification.FR.verified",
                                     "verification.ZZ.pending"};
    static const char *pieces[] = {"{",
                                   "}",
                                   "\"total\":",
                                   "\"done\":",
                                   "\"failed\":",
                                   "\"worker\":",
                                   "\"license_id\":",
                                   "\"ts\":",
                                   "\"L1\"",
                                   "\"2026-02-30T00:00:00Z\"",
                                   "1",
                                   "-1",
                                   "1e3",
                                   "null",
                                   ",",
                                   "[",
                                   "]",
                                   "\"\\u00e9\"",
                                   "99999999999",
                                   "\"status\":",
                                   "\"pending\"",
                                   "\"country\":",
                                   "\"FR\"",
                                   "\"workers\":",
                                   "1023",
                                   "1024"};
    batches *b = make(10, 10, 10);
    uint32_t seed = 12345;
    for (int round = 0; round < 20000; round++) {
        char payload[512] = "";
        size_t n = 0;
        int npieces = 1 + (int)(seed % 12);
        for (int i = 0; i < npieces; i++) {
            seed = seed * 1103515245u + 12345u;
            const char *p = pieces[(seed >> 8) % (sizeof pieces / sizeof *pieces)];
            if (n + strlen(p) + 1 < sizeof payload) {
                strcat(payload, p);
                n += strlen(p);
            }
        }
        seed = seed * 1103515245u + 12345u;
        const char *subject = subjects[(seed >> 8) % (sizeof subjects / sizeof *subjects)];
        int rc = feed(b, subject, (uint64_t)round, (int64_t)seed * 977, payload);
        assert_true(rc == 0 || rc == -EINVAL);
        if (round % 1000 == 0)
            batches_tick(b, (int64_t)seed * 1000);
    }
    /* Extreme times from the caller are clamped, not overflowed. */
    feed(b, "batch.g.progress", 1, INT64_MIN, "{\"done\":1}");
    feed(b, "batch.g.progress", 2, INT64_MAX, "{\"done\":2}");
    batches_tick(b, INT64_MIN);
    json_decref(list(b, INT64_MAX));
    json_decref(list(b, INT64_MIN));
    char *text = verifications(b);
    json_decref(parse(text));
    free(text);
    batches_destroy(b);
    batches_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_started_and_licenses),
        cmocka_unit_test(test_progress_only),
        cmocka_unit_test(test_license_only),
        cmocka_unit_test(test_both_sources_no_double_count),
        cmocka_unit_test(test_duplicate_license_events),
        cmocka_unit_test(test_many_licenses_counted_once),
        cmocka_unit_test(test_license_ids_of_every_length),
        cmocka_unit_test(test_out_of_order_progress),
        cmocka_unit_test(test_retry_failed_then_assigned),
        cmocka_unit_test(test_completion_and_late_events),
        cmocka_unit_test(test_rate_and_eta),
        cmocka_unit_test(test_stalled),
        cmocka_unit_test(test_stalled_count),
        cmocka_unit_test(test_expiry_after_retention),
        cmocka_unit_test(test_failures_keep_newest_20),
        cmocka_unit_test(test_per_worker),
        cmocka_unit_test(test_verifications),
        cmocka_unit_test(test_bad_payloads_change_nothing),
        cmocka_unit_test(test_ignored_subjects),
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_list_order_and_many_batches),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_garbage_never_crashes),
        cmocka_unit_test(test_distinct_ids_are_capped),
        cmocka_unit_test(test_cap_evicts_least_recently_updated),
        cmocka_unit_test(test_idle_running_batches_age_out),
        cmocka_unit_test(test_many_batches_grow_evict_delete),
        cmocka_unit_test(test_many_workers_bounded_view),
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_cancelled),
        cmocka_unit_test(test_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
