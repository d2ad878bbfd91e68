/* test_metrics.c: unit tests for the Prometheus text rendering of the gateway's metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/metrics.h"
#include "wsgate/protocol.h"
#include "wsgate/sbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int reset(void **state)
{
    memset(&metrics, 0, sizeof(metrics));
    return 0;
}

static char *render(void)
{
    sbuf b;
    sbuf_init(&b, 0);
    metrics_render(&b);
    char *s = strdup(sbuf_str(&b));
    sbuf_free(&b);
    return s;
}

/* The value of the sample line that starts with `series` followed by a space, or fail. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        if (!end)
            fail_msg("last line not terminated");
        if (line[0] != '#' && strncmp(line, series, n) == 0 && line[n] == ' ') {
            char *stop;
            double v = strtod(line + n + 1, &stop);
            assert_ptr_equal(stop, end);
            return v;
        }
        line = end + 1;
    }
    fail_msg("no sample for %s", series);
    return 0;
}

/* Does a "# TYPE name type" line exist? */
static bool has_type(const char *text, const char *name, const char *type)
{
    char want[256];
    snprintf(want, sizeof(want), "# TYPE %s %s\n", name, type);
    return strstr(text, want) != NULL;
}

static void test_every_metric_named(void **state)
{
    char *text = render();
    static const struct {
        const char *name, *type;
    } names[] = {
        {"wsgate_connections", "gauge"},
        {"wsgate_subscriptions", "gauge"},
        {"wsgate_messages_received_total", "counter"},
        {"wsgate_deliveries_total", "counter"},
        {"wsgate_bytes_sent_total", "counter"},
        {"wsgate_slow_consumer_closes_total", "counter"},
        {"wsgate_conflated_total", "counter"},
        {"wsgate_replayed_total", "counter"},
        {"wsgate_client_errors_total", "counter"},
        {"wsgate_bad_events_total", "counter"},
        {"wsgate_nats_connected", "gauge"},
        {"wsgate_delivery_latency_seconds", "histogram"},
        {"wsgate_delivery_stored_latency_seconds", "histogram"},
        {"wsgate_ready", "gauge"},
        {"wsgate_batches", "gauge"},
        {"wsgate_batches_stalled", "gauge"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!has_type(text, names[i].name, names[i].type))
            fail_msg("no # TYPE %s %s", names[i].name, names[i].type);
        char help[256];
        snprintf(help, sizeof(help), "# HELP %s ", names[i].name);
        if (!strstr(text, help))
            fail_msg("no # HELP for %s", names[i].name);
    }
    /* Every line is a comment or "series value", and the text ends with a newline. */
    assert_int_equal(text[strlen(text) - 1], '\n');
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        assert_non_null(end);
        if (line[0] != '#') {
            assert_true(strncmp(line, "wsgate_", 7) == 0);
            char *sp = memchr(line, ' ', (size_t)(end - line));
            assert_non_null(sp);
            char *stop;
            strtod(sp + 1, &stop);
            assert_ptr_equal(stop, end);
        }
        line = end + 1;
    }
    free(text);
}

static void test_values(void **state)
{
    metrics.connections = 3;
    metrics.subscriptions = 17;
    metrics.connections_total = 1001;
    metrics.connections_refused = 4;
    metrics.messages_received = 123456789012ULL;
    metrics.deliveries = 555;
    metrics.bytes_sent = 98765;
    metrics.slow_consumer_closes = 6;
    metrics.conflated = 7;
    metrics.replayed = 8;
    metrics.nats_connected = 1;
    metrics.stream_last_seq = 4242;
    for (int e = PERR_BAD_REQUEST; e < PERR_COUNT; e++)
        metrics.client_errors[e] = 100 + (uint64_t)e;
    for (int r = 0; r < EVENTS_REASONS; r++)
        metrics.bad_events[r] = 200 + (uint64_t)r;

    char *text = render();
    assert_true(sample(text, "wsgate_connections") == 3);
    assert_true(sample(text, "wsgate_subscriptions") == 17);
    assert_true(sample(text, "wsgate_messages_received_total") == 123456789012.0);
    assert_true(sample(text, "wsgate_deliveries_total") == 555);
    assert_true(sample(text, "wsgate_bytes_sent_total") == 98765);
    assert_true(sample(text, "wsgate_slow_consumer_closes_total") == 6);
    assert_true(sample(text, "wsgate_conflated_total") == 7);
    assert_true(sample(text, "wsgate_replayed_total") == 8);
    assert_true(sample(text, "wsgate_nats_connected") == 1);
    assert_non_null(strstr(text, "wsgate_messages_received_total 123456789012\n"));
    for (int e = PERR_BAD_REQUEST; e < PERR_COUNT; e++) {
        char series[128];
        snprintf(series, sizeof(series), "wsgate_client_errors_total{code=\"%s\"}",
                 protocol_err_name((enum proto_err)e));
        if (sample(text, series) != 100 + e)
            fail_msg("%s wrong", series);
    }
    for (int r = 0; r < EVENTS_REASONS; r++) { /* every reason, each its own series */
        char series[128];
        snprintf(series, sizeof(series), "wsgate_bad_events_total{reason=\"%s\"}",
                 events_reason_name(r));
        if (sample(text, series) != 200 + r)
            fail_msg("%s wrong", series);
    }
    assert_true(sample(text, "wsgate_bad_events_total{reason=\"batch_id_mismatch\"}") == 206);
    free(text);

    /* The values follow the global as it changes. */
    metrics.nats_connected = 0;
    metrics.connections = 0;
    metrics.client_errors[PERR_RATE_LIMITED] = 0;
    text = render();
    assert_true(sample(text, "wsgate_nats_connected") == 0);
    assert_true(sample(text, "wsgate_connections") == 0);
    assert_true(sample(text, "wsgate_client_errors_total{code=\"rate_limited\"}") == 0);
    free(text);
}

/* Parse every histogram bucket: bounds in order, counts cumulative, +Inf == _count. */
static void check_histogram(const char *text, uint64_t want_count, double want_sum)
{
    const char *prefix = "wsgate_delivery_latency_seconds_bucket{le=\"";
    double last_le = -1, last_count = 0;
    int buckets = 0;
    bool inf = false;
    for (const char *p = strstr(text, prefix); p; p = strstr(p + 1, prefix)) {
        const char *le = p + strlen(prefix);
        const char *close = strchr(le, '"');
        assert_non_null(close);
        assert_false(inf); /* +Inf comes last */
        double bound;
        if (strncmp(le, "+Inf", 4) == 0) {
            inf = true;
            bound = INFINITY;
        } else {
            char *stop;
            bound = strtod(le, &stop);
            assert_ptr_equal(stop, close);
        }
        assert_true(bound > last_le);
        assert_memory_equal(close, "\"} ", 3);
        double count = strtod(close + 3, NULL);
        assert_true(count >= last_count);
        last_le = bound;
        last_count = count;
        buckets++;
    }
    assert_true(inf);
    assert_int_equal(buckets, METRICS_BUCKETS + 1);
    assert_true(last_count == (double)want_count);
    assert_true(sample(text, "wsgate_delivery_latency_seconds_count") == (double)want_count);
    double got_sum = sample(text, "wsgate_delivery_latency_seconds_sum");
    assert_true(fabs(got_sum - want_sum) <= 1e-9 * fmax(1.0, fabs(want_sum)));
}

static void test_histogram(void **state)
{
    char *text = render();
    check_histogram(text, 0, 0);
    free(text);

    /* Bucket boundaries are inclusive (le = "less or equal"). */
    metrics_latency_observe(0.001);
    text = render();
    assert_true(sample(text, "wsgate_delivery_latency_seconds_bucket{le=\"0.0005\"}") == 0);
    assert_true(sample(text, "wsgate_delivery_latency_seconds_bucket{le=\"0.001\"}") == 1);
    check_histogram(text, 1, 0.001);
    free(text);

    static const double obs[] = {0,   0.00005, 0.0002, 0.003, 0.003, 0.04, 0.2,
                                 0.9, 2,       4.9,    5,     7,     60,   1e9};
    double sum = 0.001;
    for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++) {
        metrics_latency_observe(obs[i]);
        sum += obs[i];
    }
    uint64_t n = 1 + sizeof(obs) / sizeof(obs[0]);
    assert_int_equal(metrics.latency_count, n);
    text = render();
    assert_true(sample(text, "wsgate_delivery_latency_seconds_bucket{le=\"0.0001\"}") == 2);
    assert_true(sample(text, "wsgate_delivery_latency_seconds_bucket{le=\"0.001\"}") == 4);
    assert_true(sample(text, "wsgate_delivery_latency_seconds_bucket{le=\"0.005\"}") == 6);
    assert_true(sample(text, "wsgate_delivery_latency_seconds_bucket{le=\"1\"}") == 9);
    assert_true(sample(text, "wsgate_delivery_latency_seconds_bucket{le=\"5\"}") == 12);
    assert_true(sample(text, "wsgate_delivery_latency_seconds_bucket{le=\"+Inf\"}") == (double)n);
    check_histogram(text, n, sum);
    free(text);
}

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The stored-to-write histogram: a frame stored 2 s ago lands in le=2.5 (not
 * in le=1), one from the future counts as 0, one without a timestamp is skipped. */
static void test_stored_histogram(void **state)
{
    metrics_stored_observe(metrics_stored_age(realtime_ns() - 2000000000LL));
    metrics_stored_observe(metrics_stored_age(realtime_ns() + 3600000000000LL));
    metrics_stored_observe(metrics_stored_age(0));
    assert_int_equal(metrics.stored_count, 2);
    assert_int_equal(metrics.latency_count, 0);
    char *text = render();
    const char *h = "wsgate_delivery_stored_latency_seconds";
    char series[128];
    snprintf(series, sizeof(series), "%s_bucket{le=\"0.0001\"}", h);
    assert_true(sample(text, series) == 1);
    snprintf(series, sizeof(series), "%s_bucket{le=\"1\"}", h);
    assert_true(sample(text, series) == 1);
    snprintf(series, sizeof(series), "%s_bucket{le=\"2.5\"}", h);
    assert_true(sample(text, series) == 2);
    snprintf(series, sizeof(series), "%s_bucket{le=\"+Inf\"}", h);
    assert_true(sample(text, series) == 2);
    snprintf(series, sizeof(series), "%s_count", h);
    assert_true(sample(text, series) == 2);
    snprintf(series, sizeof(series), "%s_sum", h);
    double sum = sample(text, series);
    assert_true(sum >= 2.0 && sum < 2.5);
    free(text);
}

static void test_quantile(void **state)
{
    uint64_t counts[METRICS_BUCKETS + 1] = {0};
    assert_true(metrics_quantile(counts, 0.5) == -1);
    /* 100 in (0.001, 0.0025]: p50 halfway, p99 near the top */
    counts[4] = 100;
    assert_true(fabs(metrics_quantile(counts, 0.5) - 0.00175) < 1e-12);
    assert_true(fabs(metrics_quantile(counts, 0.99) - (0.001 + 0.0015 * 0.99)) < 1e-12);
    /* 99 in the first bucket (0, 0.0001], 1 above 5 s: p99 still in the first */
    memset(counts, 0, sizeof(counts));
    counts[0] = 99;
    counts[METRICS_BUCKETS] = 1;
    assert_true(fabs(metrics_quantile(counts, 0.99) - 0.0001) < 1e-12);
    /* most above the last bound: the highest finite bound, as histogram_quantile */
    counts[METRICS_BUCKETS] = 1000;
    assert_true(metrics_quantile(counts, 0.99) == 5);
}

/* /api/stats: since the start until a minute of snapshots exists, then the last minute only. */
static void test_stats_window(void **state)
{
    sbuf b;
    sbuf_init(&b, 0);
    metrics_stats_json(&b, 1000);
    assert_string_equal(sbuf_str(&b),
                        "{\"window_s\":0,"
                        "\"delivery_latency_seconds\":{\"count\":0,\"p50\":null,\"p99\":null},"
                        "\"delivery_stored_latency_seconds\":{\"count\":0,\"p50\":null,\"p99\":"
                        "null},\"compression\":{\"connections\":0,\"groups\":0,\"members\":0,"
                        "\"bytes_sent\":0,\"deflate_in_bytes\":0,\"deflate_out_bytes\":0,"
                        "\"saved\":null}}");
    sbuf_free(&b);

    /* 1000 bytes sent: 200 of them compressed from 800, so 1600 would have gone: 600 saved */
    metrics.bytes_sent = 1000;
    metrics.deflate_in_bytes = 800;
    metrics.deflate_out_bytes = 200;
    sbuf_init(&b, 0);
    metrics_stats_json(&b, 1000);
    assert_non_null(strstr(sbuf_str(&b), "\"deflate_out_bytes\":200,\"saved\":0.3750}"));
    sbuf_free(&b);
    metrics.bytes_sent = metrics.deflate_in_bytes = metrics.deflate_out_bytes = 0;

    for (int i = 0; i < 10; i++)
        metrics_latency_observe(3.0); /* old: in (2.5, 5] */
    int64_t t = 1000000;
    for (int i = 0; i < METRICS_SNAPS; i++, t += 5000)
        metrics_tick(t);
    metrics_tick(t - 1); /* under 5 s since the last one: no snapshot */
    for (int i = 0; i < 4; i++)
        metrics_latency_observe(0.00175);

    sbuf_init(&b, 0);
    metrics_stats_json(&b, t);
    /* the window starts at the oldest snapshot, after the ten old ones */
    assert_non_null(strstr(sbuf_str(&b), "\"window_s\":65,"));
    assert_non_null(strstr(sbuf_str(&b), "\"delivery_latency_seconds\":{\"count\":4,"
                                         "\"p50\":0.001750,\"p99\":0.002485}"));
    sbuf_free(&b);

    /* A minute later, without new deliveries: nothing in the window. */
    for (int i = 0; i < METRICS_SNAPS; i++, t += 5000)
        metrics_tick(t);
    sbuf_init(&b, 0);
    metrics_stats_json(&b, t);
    assert_non_null(strstr(sbuf_str(&b), "\"delivery_latency_seconds\":{\"count\":0,\"p50\":null"));
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_every_metric_named, reset),
        cmocka_unit_test_setup(test_values, reset),
        cmocka_unit_test_setup(test_histogram, reset),
        cmocka_unit_test_setup(test_stored_histogram, reset),
        cmocka_unit_test_setup(test_quantile, reset),
        cmocka_unit_test_setup(test_stats_window, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
