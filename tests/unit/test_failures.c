/* test_failures.c: unit tests for GET /api/batches/{id}/failures: the path and arguments, and
 * a page's life (read from replay events, timed out, forgotten) without a bridge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/clock.h"
#include "wsgate/config.h"
#include "wsgate/failures.h"
#include "wsgate/http.h"
#include "wsgate/hub.h"
#include "wsgate/protocol.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    wsg_config cfg;
    hub h;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    char *argv[] = {"wsgate"}, *envp[] = {NULL};
    char err[256];
    if (config_load(&fx->cfg, 1, argv, envp, err, sizeof(err)) != CONFIG_OK)
        fail_msg("config_load: %s", err);
    if (hub_init(&fx->h, &fx->cfg, err, sizeof(err)) != 0)
        fail_msg("hub_init: %s", err);
    fx->h.started = true;
    fx->h.attached = true; /* no bridge: pages are fed by hand */
    fx->h.last_seq = 1000;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    hub_fini(&fx->h);
    config_free(&fx->cfg);
    free(fx);
    return 0;
}

static void test_path(void **state)
{
    char id[SUBJECT_MAX_TOKEN + 1];
    assert_true(failures_path("/api/batches/b42/failures", id));
    assert_string_equal(id, "b42");
    assert_true(failures_path("/api/batches//failures", id));
    assert_string_equal(id, "");
    assert_false(failures_path("/api/batches/b42", id));
    assert_false(failures_path("/api/batches/b42/failure", id));
    assert_false(failures_path("/api/batches/failures", id));
    char longp[256];
    snprintf(longp, sizeof(longp), "/api/batches/%065d/failures", 0);
    assert_true(failures_path(longp, id));
    assert_string_equal(id, ""); /* too long: refused by failures_parse */
}

static void test_parse(void **state)
{
    failures_query q;
    const char *why = NULL;
    assert_int_equal(failures_parse("b42", NULL, NULL, &q, &why), 0);
    assert_string_equal(q.batch, "b42");
    assert_int_equal(q.limit, FAILURES_LIMIT_DEFAULT);
    assert_int_equal(q.cursor, 1);
    assert_int_equal(failures_parse("b-4_2", "7", "123456", &q, &why), 0);
    assert_int_equal(q.limit, 7);
    assert_int_equal(q.cursor, 123456);
    assert_int_equal(failures_parse("b", "5000", NULL, &q, &why), 0);
    assert_int_equal(q.limit, FAILURES_LIMIT_MAX);
    assert_int_equal(failures_parse("b", "1000", "9999999999999999999", &q, &why), 0);
    assert_int_equal(q.limit, 1000);
    assert_int_equal(q.cursor, 9999999999999999999ull);
    static const char *const bad_ids[] = {"", "a.b", "*", ">", "a b", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++)
        assert_int_equal(failures_parse(bad_ids[i], NULL, NULL, &q, &why), -ENOENT);
    static const char *const bad[] = {
        "", "0", "-1", "+1", "1.5", "abc", "1x", " 1", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        assert_int_equal(failures_parse("b", bad[i], NULL, &q, &why), -EINVAL);
        assert_non_null(strstr(why, "limit"));
        why = NULL;
        assert_int_equal(failures_parse("b", NULL, bad[i], &q, &why), -EINVAL);
        assert_non_null(strstr(why, "cursor"));
    }
}

/* A replay event of page id: a message (seq, payload) or the end. */
static void feed_msg(hub *h, uint64_t id, uint64_t seq, const char *payload)
{
    nb_event ev = {.kind = NB_REPLAY_MSG, .replay_id = id, .ts_ms = 1764229212118};
    ev.frame = protocol_msg("license.b42.failed", seq, payload, strlen(payload));
    assert_true(failures_on_event(h, &ev));
    frame_unref(ev.frame);
}

static void feed_end(hub *h, uint64_t id, bool ok, uint64_t next_seq)
{
    nb_event ev = {.kind = NB_REPLAY_END, .replay_id = id, .replay_ok = ok, .next_seq = next_seq};
    assert_true(failures_on_event(h, &ev));
}

static json_t *take_json(hub *h, uint64_t id, int status, http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    sbuf_init(&resp->body, 0);
    assert_int_equal(failures_take(h, id, resp), 0);
    assert_int_equal(resp->status, status);
    json_error_t err;
    json_t *j = json_loads(sbuf_str(&resp->body), 0, &err);
    if (!j)
        fail_msg("not JSON: %s", sbuf_str(&resp->body));
    return j;
}

static const char *header(const http_response *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static void test_page(void **state)
{
    fixture *fx = *state;
    hub *h = &fx->h;
    failures_query q;
    const char *why;
    uint64_t id, other;
    assert_int_equal(failures_parse("b42", "2", "10", &q, &why), 0);
    assert_int_equal(failures_start(h, &q, NULL, NULL, &id), 0);
    http_response resp;
    assert_int_equal(failures_take(h, id, &resp), -EAGAIN);
    /* An event of someone else's replay is not the page's. */
    nb_event stray = {.kind = NB_REPLAY_END, .replay_id = id + 100};
    assert_false(failures_on_event(h, &stray));
    feed_msg(h, id, 11, "{\"license_id\":\"L1\",\"error\":\"e1\"}");
    feed_msg(h, id, 15, "not json \x01");
    feed_end(h, id, true, 16);
    json_t *j = take_json(h, id, 200, &resp);
    assert_string_equal(json_string_value(json_object_get(j, "batch_id")), "b42");
    assert_string_equal(json_string_value(json_object_get(j, "next_cursor")), "16");
    json_t *items = json_object_get(j, "failures");
    assert_int_equal(json_array_size(items), 2);
    json_t *a = json_array_get(items, 0), *b = json_array_get(items, 1);
    assert_int_equal(json_integer_value(json_object_get(a, "seq")), 11);
    assert_string_equal(json_string_value(json_object_get(a, "ts")), "2025-11-27T07:40:12.118Z");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(a, "data"), "license_id")), "L1");
    assert_int_equal(json_integer_value(json_object_get(b, "seq")), 15);
    assert_string_equal(json_string_value(json_object_get(b, "data")), "not json \x01");
    assert_string_equal(header(&resp, "x-next-cursor:"), "16");
    assert_string_equal(header(&resp, "link:"),
                        "</api/batches/b42/failures?limit=2&cursor=16>; rel=\"next\"");
    json_decref(j);
    http_response_free(&resp);
    assert_int_equal(failures_take(h, id, &resp), -ENOENT); /* taken: gone */

    /* The last page: the end says the range is done (next_seq past upto). */
    assert_int_equal(failures_start(h, &q, NULL, NULL, &other), 0);
    assert_int_not_equal(other, id);
    feed_end(h, other, true, h->last_seq + 1);
    j = take_json(h, other, 200, &resp);
    assert_true(json_is_null(json_object_get(j, "next_cursor")));
    assert_int_equal(json_array_size(json_object_get(j, "failures")), 0);
    assert_null(header(&resp, "x-next-cursor:"));
    json_decref(j);
    http_response_free(&resp);

    /* A cursor past what the gateway has: answered at once, empty. */
    assert_int_equal(failures_parse("b42", NULL, "1001", &q, &why), 0);
    assert_int_equal(failures_start(h, &q, NULL, NULL, &id), 0);
    j = take_json(h, id, 200, &resp);
    assert_int_equal(json_array_size(json_object_get(j, "failures")), 0);
    json_decref(j);
    http_response_free(&resp);

    /* The stream could not be read: 502. */
    assert_int_equal(failures_parse("b42", NULL, NULL, &q, &why), 0);
    assert_int_equal(failures_start(h, &q, NULL, NULL, &id), 0);
    feed_end(h, id, false, 0);
    j = take_json(h, id, 502, &resp);
    assert_non_null(json_object_get(j, "error"));
    json_decref(j);
    http_response_free(&resp);
}

static void test_limits(void **state)
{
    fixture *fx = *state;
    hub *h = &fx->h;
    failures_query q;
    const char *why;
    uint64_t ids[FAILURES_INFLIGHT_MAX], id;
    assert_int_equal(failures_parse("b42", NULL, NULL, &q, &why), 0);
    for (int i = 0; i < FAILURES_INFLIGHT_MAX; i++)
        assert_int_equal(failures_start(h, &q, NULL, NULL, &ids[i]), 0);
    assert_int_equal(failures_start(h, &q, NULL, NULL, &id), -EBUSY);
    /* The socket went: the page is forgotten, its answer dropped, a slot freed. */
    failures_forget(h, ids[0]);
    nb_event end = {.kind = NB_REPLAY_END, .replay_id = ids[0], .replay_ok = true};
    assert_false(failures_on_event(h, &end));
    failures_forget(h, ids[0]); /* twice: ignored */
    assert_int_equal(failures_start(h, &q, NULL, NULL, &ids[0]), 0);
    /* Not read in time: 504, and what comes after is ignored. */
    http_response resp;
    failures_tick(h, clock_now_ms() + FAILURES_TIMEOUT_MS - 1000);
    assert_int_equal(failures_take(h, ids[1], &resp), -EAGAIN);
    failures_tick(h, clock_now_ms() + FAILURES_TIMEOUT_MS + 1);
    feed_end(h, ids[1], true, 5);
    json_t *j = take_json(h, ids[1], 504, &resp);
    json_decref(j);
    http_response_free(&resp);
    assert_int_equal(failures_start(h, &q, NULL, NULL, &id), 0); /* timed out ones freed slots */
    /* Not attached: refused. */
    h->attached = false;
    assert_int_equal(failures_start(h, &q, NULL, NULL, &id), -ENOTCONN);
    /* hub_fini frees what is left (the leak checkers see it). */
}

static void test_http_route(void **state)
{
    fixture *fx = *state;
    struct {
        const char *path, *query;
        int status;
    } cases[] = {
        {"/api/batches/b42/failures", "limit=0", 400},
        {"/api/batches/b42/failures", "cursor=abc", 400},
        {"/api/batches/b42/failures", "limit=99999999999999999999999999", 400},
        {"/api/batches/a.b/failures", NULL, 404},
        {"/api/batches/*/failures", NULL, 404},
        {"/api/batches/b42/failures", NULL, 0}, /* pending */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_request req = {.path = cases[i].path, .query = cases[i].query};
        http_response resp;
        http_handle(&fx->h, &req, &resp);
        assert_int_equal(resp.status, cases[i].status);
        assert_int_equal(resp.pending != 0, cases[i].status == 0);
        http_response_free(&resp);
    }
    fx->h.attached = false;
    http_request req = {.path = "/api/batches/b42/failures"};
    http_response resp;
    http_handle(&fx->h, &req, &resp);
    assert_int_equal(resp.status, 503);
    http_response_free(&resp);
    /* The preflight knows the route. */
    http_request opt = {.path = "/api/batches/b42/failures", .options = true};
    http_handle(&fx->h, &opt, &resp);
    assert_int_equal(resp.status, 204);
    http_response_free(&resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_parse),
        cmocka_unit_test_setup_teardown(test_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_route, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
