/* test_http.c: unit tests for the plain HTTP routes: health, readiness, metrics, API, dashboard. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/batches.h"
#include "wsgate/config.h"
#include "wsgate/http.h"
#include "wsgate/hub.h"
#include "wsgate/log.h"
#include "wsgate/metrics.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fixture {
    wsg_config cfg;
    hub h;
} fixture;

/* A hub built from the default configuration plus extra flags (argv[1..]). */
static fixture *fixture_create(char **extra, int nextra)
{
    fixture *fx = calloc(1, sizeof(*fx));
    char *argv[8] = {"wsgate"};
    assert_true(nextra < 7);
    for (int i = 0; i < nextra; i++)
        argv[1 + i] = extra[i];
    char *envp[] = {NULL};
    char err[256];
    if (config_load(&fx->cfg, 1 + nextra, argv, envp, err, sizeof(err)) != CONFIG_OK)
        fail_msg("config_load: %s", err);
    if (hub_init(&fx->h, &fx->cfg, err, sizeof(err)) != 0)
        fail_msg("hub_init: %s", err);
    fx->h.started = true; /* serving, unless a test says otherwise */
    return fx;
}

static void fixture_destroy(fixture *fx)
{
    hub_fini(&fx->h);
    config_free(&fx->cfg);
    free(fx);
}

static int setup(void **state)
{
    memset(&metrics, 0, sizeof(metrics));
    *state = fixture_create(NULL, 0);
    return 0;
}

static int teardown(void **state)
{
    fixture_destroy(*state);
    return 0;
}

/* GET path; returns the status and leaves the response in resp (caller frees). */
static int get(fixture *fx, const char *path, const char *inm, http_response *resp)
{
    http_handle(&fx->h, path, inm, resp);
    return resp->status;
}

/* The body of a JSON response, decoded. */
static json_t *body_json(const http_response *resp)
{
    size_t len;
    const unsigned char *body = http_body(resp, &len);
    json_error_t err;
    json_t *j = json_loadb((const char *)body, len, JSON_DECODE_ANY, &err);
    if (!j)
        fail_msg("body is not JSON (%s): %.*s", err.text, (int)len, body);
    assert_string_equal(resp->content_type, "application/json");
    return j;
}

static void expect_404(fixture *fx, const char *path)
{
    http_response resp;
    if (get(fx, path, NULL, &resp) != 404)
        fail_msg("GET %s: %d, want 404", path, resp.status);
    json_t *j = body_json(&resp);
    assert_true(json_is_string(json_object_get(j, "error")));
    json_decref(j);
    http_response_free(&resp);
}

static void test_healthz(void **state)
{
    fixture *fx = *state;
    http_response resp;
    assert_int_equal(get(fx, "/healthz", NULL, &resp), 200);
    json_t *j = body_json(&resp);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    json_decref(j);
    http_response_free(&resp);
}

/* /readyz: expect `status` and, when 503, a non-empty reason; returns the reason (static copy). */
static const char *readyz(fixture *fx, int want)
{
    static char reason[128];
    http_response resp;
    int status = get(fx, "/readyz", NULL, &resp);
    if (status != want)
        fail_msg("/readyz: %d, want %d", status, want);
    json_t *j = body_json(&resp);
    reason[0] = '\0';
    if (want == 503) {
        assert_string_equal(json_string_value(json_object_get(j, "status")), "unavailable");
        const char *r = json_string_value(json_object_get(j, "reason"));
        assert_non_null(r);
        assert_true(strlen(r) > 0);
        snprintf(reason, sizeof(reason), "%s", r);
    } else {
        assert_string_equal(json_string_value(json_object_get(j, "status")), "ready");
    }
    json_decref(j);
    http_response_free(&resp);
    return reason;
}

static void test_readyz(void **state)
{
    fixture *fx = *state;
    hub *h = &fx->h;
    assert_non_null(strstr(readyz(fx, 503), "nats"));

    h->nats_connected = true;
    assert_non_null(strstr(readyz(fx, 503), "attached"));

    h->attached = true;
    h->stream_last_seq = 10;
    h->last_seq = 5;
    assert_non_null(strstr(readyz(fx, 503), "catching up"));

    h->last_seq = 10;
    readyz(fx, 200);
    h->last_seq = 11;
    readyz(fx, 200);

    h->draining = true;
    assert_non_null(strstr(readyz(fx, 503), "draining"));
    h->draining = false;

    h->nats_connected = false;
    readyz(fx, 503);
}

static void test_metrics_route(void **state)
{
    fixture *fx = *state;
    metrics.deliveries = 31337;
    http_response resp;
    assert_int_equal(get(fx, "/metrics", NULL, &resp), 200);
    assert_string_equal(resp.content_type, "text/plain; version=0.0.4; charset=utf-8");
    size_t len;
    const char *body = (const char *)http_body(&resp, &len);
    assert_int_equal(strlen(body), len);
    assert_non_null(strstr(body, "# TYPE wsgate_connections gauge\n"));
    assert_non_null(strstr(body, "\nwsgate_deliveries_total 31337\n"));
    assert_non_null(strstr(body, "wsgate_delivery_latency_seconds_bucket{le=\"+Inf\"}"));
    http_response_free(&resp);
}

static void feed(fixture *fx, const char *subject, const char *payload, uint64_t seq)
{
    int rc = batches_feed(fx->h.batches, subject, payload, strlen(payload), seq, hub_now_ms());
    assert_int_equal(rc, 0);
}

static void test_api_batches(void **state)
{
    fixture *fx = *state;
    http_response resp;
    assert_int_equal(get(fx, "/api/batches", NULL, &resp), 200);
    json_t *j = body_json(&resp);
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    http_response_free(&resp);

    feed(fx, "batch.b1.started",
         "{\"batch_id\":\"b1\",\"total\":10,\"workers\":2,\"kind\":\"license_assignment\","
         "\"ts\":\"2026-11-27T05:40:12.118Z\"}",
         1);
    assert_int_equal(get(fx, "/api/batches", NULL, &resp), 200);
    j = body_json(&resp);
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "id")), "b1");
    json_decref(j);
    http_response_free(&resp);

    assert_int_equal(get(fx, "/api/batches/b1", NULL, &resp), 200);
    j = body_json(&resp);
    assert_true(json_is_object(j));
    assert_string_equal(json_string_value(json_object_get(j, "id")), "b1");
    json_decref(j);
    http_response_free(&resp);

    expect_404(fx, "/api/batches/unknown");
    expect_404(fx, "/api/batches/b1.x");
    expect_404(fx, "/api/batches/b1/x");
    expect_404(fx, "/api/batches/..");
    expect_404(fx, "/api/nope");
}

/* The value of an extra header of resp, or NULL. */
static const char *header(const http_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->nheaders; i++)
        if (strcmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    return NULL;
}

static void expect_400(fixture *fx, const char *path)
{
    http_response resp;
    if (get(fx, path, NULL, &resp) != 400)
        fail_msg("GET %s: %d, want 400", path, resp.status);
    json_t *j = body_json(&resp);
    assert_true(json_is_string(json_object_get(j, "error")));
    json_decref(j);
    http_response_free(&resp);
}

/* GET /api/batches pages: limit (default 100, at most 1000), state, q, cursor. */
static void test_api_batches_pages(void **state)
{
    fixture *fx = *state;
    for (int i = 0; i < 1205; i++) {
        char subject[64];
        snprintf(subject, sizeof subject, "batch.p%d.%s", i, i % 5 ? "started" : "completed");
        feed(fx, subject, "{\"total\":1}", (uint64_t)i + 1);
    }
    http_response resp;
    assert_int_equal(get(fx, "/api/batches", NULL, &resp), 200);
    json_t *j = body_json(&resp);
    assert_int_equal(json_array_size(j), 100);
    assert_string_equal(header(&resp, "x-total-count:"), "1205");
    assert_non_null(header(&resp, "x-next-cursor:"));
    json_decref(j);
    http_response_free(&resp);

    assert_int_equal(get(fx, "/api/batches?limit=5000", NULL, &resp), 200);
    j = body_json(&resp);
    assert_int_equal(json_array_size(j), 1000);
    json_decref(j);
    http_response_free(&resp);

    /* follow the Link header through every completed batch, 100 at a time */
    char path[512] = "/api/batches?state=completed&limit=100";
    size_t seen = 0;
    for (int pages = 0; pages < 10; pages++) {
        assert_int_equal(get(fx, path, NULL, &resp), 200);
        assert_string_equal(header(&resp, "x-total-count:"), "241");
        j = body_json(&resp);
        for (size_t i = 0; i < json_array_size(j); i++)
            assert_string_equal(json_string_value(json_object_get(json_array_get(j, i), "state")),
                                "completed");
        seen += json_array_size(j);
        json_decref(j);
        const char *link = header(&resp, "link:");
        if (!link) {
            assert_null(header(&resp, "x-next-cursor:"));
            http_response_free(&resp);
            break;
        }
        const char *lt = strchr(link, '<'), *gt = strchr(link, '>');
        assert_non_null(lt);
        assert_non_null(gt);
        assert_non_null(strstr(gt, "rel=\"next\""));
        snprintf(path, sizeof path, "%.*s", (int)(gt - lt - 1), lt + 1);
        assert_non_null(strstr(path, "state=completed"));
        http_response_free(&resp);
    }
    assert_int_equal(seen, 241);

    assert_int_equal(get(fx, "/api/batches?q=P120&state=running,stalled", NULL, &resp), 200);
    assert_string_equal(header(&resp, "x-total-count:"), "4"); /* p1201..p1204 */
    http_response_free(&resp);

    expect_400(fx, "/api/batches?state=sleeping");
    expect_400(fx, "/api/batches?limit=0");
    expect_400(fx, "/api/batches?limit=-1");
    expect_400(fx, "/api/batches?limit=ten");
    expect_400(fx, "/api/batches?limit=");
    expect_400(fx, "/api/batches?cursor=garbage");
    expect_400(fx, "/api/batches?q="
                   "0123456789012345678901234567890123456789012345678901234567890123456789");

    assert_int_equal(get(fx, "/api/summary", NULL, &resp), 200);
    j = body_json(&resp);
    assert_int_equal(json_integer_value(json_object_get(j, "batches")), 1205);
    assert_int_equal(json_integer_value(json_object_get(j, "completed")), 241);
    json_decref(j);
    http_response_free(&resp);
}

/* Before the state is rebuilt from the stream, the API answers 503, not stale data. */
static void test_api_before_start(void **state)
{
    fixture *fx = *state;
    fx->h.started = false;
    http_response resp;
    assert_int_equal(get(fx, "/api/batches", NULL, &resp), 503);
    http_response_free(&resp);
    assert_int_equal(get(fx, "/api/verifications", NULL, &resp), 503);
    http_response_free(&resp);
    assert_int_equal(get(fx, "/healthz", NULL, &resp), 200); /* the process itself is fine */
    http_response_free(&resp);
    fx->h.started = true;
    assert_int_equal(get(fx, "/api/batches", NULL, &resp), 200);
    http_response_free(&resp);
}

static void test_api_verifications(void **state)
{
    fixture *fx = *state;
    http_response resp;
    assert_int_equal(get(fx, "/api/verifications", NULL, &resp), 200);
    json_t *j = body_json(&resp);
    assert_true(json_is_object(j));
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 0);
    assert_true(json_is_object(json_object_get(j, "by_status")));
    assert_true(json_is_object(json_object_get(j, "by_country")));
    json_decref(j);
    http_response_free(&resp);

    feed(fx, "verification.FR.verified",
         "{\"hcp_id\":\"h1\",\"country\":\"FR\",\"status\":\"verified\",\"source\":\"rpps\","
         "\"ts\":\"2026-11-27T05:40:12.118Z\"}",
         1);
    assert_int_equal(get(fx, "/api/verifications", NULL, &resp), 200);
    j = body_json(&resp);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "by_status"), "verified")), 1);
    json_t *fr = json_object_get(json_object_get(j, "by_country"), "FR");
    assert_true(json_is_object(fr));
    assert_int_equal(json_integer_value(json_object_get(fr, "verified")), 1);
    json_decref(j);
    http_response_free(&resp);
}

static const struct http_asset *find_asset(const char *path)
{
    for (const struct http_asset *a = http_assets; a->path; a++)
        if (strcmp(a->path, path) == 0)
            return a;
    return NULL;
}

static void test_index_and_etag(void **state)
{
    fixture *fx = *state;
    const struct http_asset *a = find_asset("/index.html");
    http_response resp;
    if (!a) { /* web/ has no index.html (yet) */
        expect_404(fx, "/");
        return;
    }
    assert_int_equal(get(fx, "/", NULL, &resp), 200);
    assert_string_equal(resp.content_type, "text/html; charset=utf-8");
    assert_non_null(resp.etag);
    assert_string_equal(resp.etag, a->etag);
    assert_int_equal(resp.etag[0], '"');
    assert_int_equal(resp.etag[strlen(resp.etag) - 1], '"');
    size_t len;
    const unsigned char *body = http_body(&resp, &len);
    assert_int_equal(len, a->len);
    assert_memory_equal(body, a->data, len);
    assert_non_null(memmem(body, len, "<html", 5));
    http_response_free(&resp);

    /* The same file by its own name. */
    assert_int_equal(get(fx, "/index.html", NULL, &resp), 200);
    assert_string_equal(resp.etag, a->etag);
    http_response_free(&resp);

    /* A matching If-None-Match: 304, no body, the ETag again. */
    assert_int_equal(get(fx, "/", a->etag, &resp), 304);
    assert_string_equal(resp.etag, a->etag);
    http_body(&resp, &len);
    assert_int_equal(len, 0);
    http_response_free(&resp);

    /* A different one: the full file. */
    assert_int_equal(get(fx, "/", "\"0000000000000000\"", &resp), 200);
    http_body(&resp, &len);
    assert_int_equal(len, a->len);
    http_response_free(&resp);

    /* Every embedded asset is served with its content type. */
    for (const struct http_asset *x = http_assets; x->path; x++) {
        assert_int_equal(get(fx, x->path, NULL, &resp), 200);
        assert_string_equal(resp.content_type, http_content_type(x->path));
        http_body(&resp, &len);
        assert_int_equal(len, x->len);
        http_response_free(&resp);
    }
}

static void test_not_found_and_traversal(void **state)
{
    fixture *fx = *state;
    expect_404(fx, "/../x");
    expect_404(fx, "/..");
    expect_404(fx, "/../index.html");
    expect_404(fx, "/a/../index.html");
    expect_404(fx, "/..%2findex.html");
    expect_404(fx, "/%2e%2e/index.html");
    expect_404(fx, "/index.html%00");
    expect_404(fx, "/nope.html");
    expect_404(fx, "/index.htm");
    expect_404(fx, "//index.html");
    expect_404(fx, "/index.html/");
    expect_404(fx, "/etc/passwd");
}

/* --web-root: files from disk, still nothing outside the root. */
static void test_web_root(void **state)
{
    char dir[] = "/tmp/wsgate-http-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char root[128], path[192];
    snprintf(root, sizeof(root), "%s/root", dir);
    assert_int_equal(mkdir(root, 0700), 0);
    snprintf(path, sizeof(path), "%s/page.css", root);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("body{color:red}", fp);
    fclose(fp);
    char secret[192];
    snprintf(secret, sizeof(secret), "%s/secret.txt", dir);
    fp = fopen(secret, "w");
    assert_non_null(fp);
    fputs("secret", fp);
    fclose(fp);

    char *flags[] = {"--web-root", root};
    fixture *fx = fixture_create(flags, 2);
    http_response resp;
    assert_int_equal(get(fx, "/page.css", NULL, &resp), 200);
    assert_string_equal(resp.content_type, "text/css; charset=utf-8");
    size_t len;
    const unsigned char *body = http_body(&resp, &len);
    assert_int_equal(len, 15);
    assert_memory_equal(body, "body{color:red}", 15);
    http_response_free(&resp);
    expect_404(fx, "/../secret.txt");
    expect_404(fx, "/missing.css");
    fixture_destroy(fx);

    unlink(secret);
    unlink(path);
    rmdir(root);
    rmdir(dir);
}

static void test_helpers(void **state)
{
    http_response resp;
    http_error(&resp, 405, "method \"not\" allowed");
    assert_int_equal(resp.status, 405);
    json_t *j = body_json(&resp);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "method \"not\" allowed");
    json_decref(j);
    http_response_free(&resp);

    assert_string_equal(http_content_type("/a.html"), "text/html; charset=utf-8");
    assert_string_equal(http_content_type("/a.js"), "text/javascript; charset=utf-8");
    assert_string_equal(http_content_type("/a.css"), "text/css; charset=utf-8");
    assert_string_equal(http_content_type("/a.svg"), "image/svg+xml");
    assert_string_equal(http_content_type("/a.json"), "application/json");
    assert_string_equal(http_content_type("/a"), "application/octet-stream");
    assert_string_equal(http_content_type("/a.tar.gz"), "application/octet-stream");
}

int main(void)
{
    log_init(LOG_ERROR, LOG_FORMAT_JSON);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readyz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_route, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_batches_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_before_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_verifications, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_and_etag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_and_traversal, setup, teardown),
        cmocka_unit_test(test_web_root),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
