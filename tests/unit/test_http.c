/* test_http.c: unit tests for the plain HTTP routes: health, readiness, metrics, API, dashboard. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/batches.h"
#include "wsgate/clock.h"
#include "wsgate/config.h"
#include "wsgate/http.h"
#include "wsgate/hub.h"
#include "wsgate/log.h"
#include "wsgate/metrics.h"

#include "unz.h"

#include <errno.h>
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

/* GET target ("path" or "path?args"); returns the status and leaves the
 * response in resp (caller frees). */
static int get(fixture *fx, const char *target, const char *inm, http_response *resp)
{
    char path[2048];
    snprintf(path, sizeof(path), "%s", target);
    char *mark = strchr(path, '?');
    if (mark)
        *mark++ = '\0';
    http_request req = {.path = path, .query = mark, .if_none_match = inm};
    http_handle(&fx->h, &req, resp);
    return resp->status;
}

/* get with an Accept-Encoding header (NULL: none). */
static int get_ae(fixture *fx, const char *path, const char *inm, const char *ae,
                  http_response *resp)
{
    http_request req = {.path = path, .if_none_match = inm, .accept_encoding = ae};
    http_handle(&fx->h, &req, resp);
    return resp->status;
}

/* The coding resp's Content-Encoding names (identity when absent). */
static httpz_coding coding_of(const http_response *resp)
{
    if (!resp->content_encoding)
        return HTTPZ_IDENTITY;
    if (strcmp(resp->content_encoding, "gzip") == 0)
        return HTTPZ_GZIP;
    if (strcmp(resp->content_encoding, "br") == 0)
        return HTTPZ_BR;
    fail_msg("Content-Encoding: %s", resp->content_encoding);
    return HTTPZ_IDENTITY;
}

/* resp's body decoded from its Content-Encoding equals want[0..len)
 * (skipped for br without libbrotlidec). */
static void expect_body(const http_response *resp, const void *want, size_t len)
{
    size_t n, declen;
    const unsigned char *body = http_body(resp, &n);
    httpz_coding c = coding_of(resp);
    if (!unz_can(c))
        return;
    unsigned char *dec = unz_decode(c, body, n, len, &declen);
    if (!dec)
        fail_msg("a %s body of %zu bytes does not decode", resp->content_encoding, n);
    assert_int_equal(declen, len);
    assert_memory_equal(dec, want, len);
    free(dec);
}

/* resp's body decodes from its Content-Encoding: 0, or -EINVAL (for a body
 * that may change between two requests, such as /metrics). */
static int expect_decodes(const http_response *resp)
{
    size_t n, declen;
    const unsigned char *body = http_body(resp, &n);
    httpz_coding c = coding_of(resp);
    if (!unz_can(c))
        return 0;
    unsigned char *dec = unz_decode(c, body, n, 16 * 1024 * 1024, &declen);
    int rc = dec ? 0 : -EINVAL;
    free(dec);
    return rc;
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
    int rc = batches_feed(fx->h.batches, subject, payload, strlen(payload), seq, clock_now_ms());
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

    /* A matching If-None-Match: 304, the ETag again; the body of the 200 it
     * stands for stays in resp (server.c announces its length, sends nothing). */
    assert_int_equal(get(fx, "/", a->etag, &resp), 304);
    assert_string_equal(resp.etag, a->etag);
    http_body(&resp, &len);
    assert_int_equal(len, a->len);
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

/* Every embedded file in each coding a client may ask for: the coding
 * chosen, its ETag, Vary, a body that decodes to the file, 304 for that
 * coding's ETag only (also weak, in a list, or `*`). */
static void test_assets_compressed(void **state)
{
    fixture *fx = *state;
    static const struct {
        const char *ae;
        httpz_coding want; /* when the file has that variant */
    } asks[] = {
        {NULL, HTTPZ_IDENTITY},          {"gzip", HTTPZ_GZIP},         {"br", HTTPZ_BR},
        {"gzip, deflate, br", HTTPZ_BR}, {"br;q=0, gzip", HTTPZ_GZIP}, {"gzip;q=0", HTTPZ_IDENTITY},
        {"*;q=0", HTTPZ_IDENTITY},       {"identity", HTTPZ_IDENTITY}};
    size_t compressed = 0;
    for (const struct http_asset *a = http_assets; a->path; a++) {
        bool text = strncmp(http_content_type(a->path), "text/", 5) == 0 ||
                    strcmp(http_content_type(a->path), "image/svg+xml") == 0;
        for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
            http_response resp;
            assert_int_equal(get_ae(fx, a->path, NULL, asks[i].ae, &resp), 200);
            httpz_coding c = coding_of(&resp);
            if (c != asks[i].want && !(c == HTTPZ_IDENTITY && a->len < 1024))
                fail_msg("%s with Accept-Encoding %s: coding %d, want %d", a->path,
                         asks[i].ae ? asks[i].ae : "(none)", c, asks[i].want);
            compressed += c != HTTPZ_IDENTITY;
            if (text) /* the client library is a CORS resource too */
                assert_string_equal(resp.vary, strcmp(a->path, "/wsgate.js") == 0
                                                   ? "Accept-Encoding, Origin"
                                                   : "Accept-Encoding");
            char etag[HTTPZ_ETAG_MAX];
            assert_int_equal(httpz_etag(a->etag, c, etag), 0);
            assert_string_equal(resp.etag, etag);
            size_t len;
            http_body(&resp, &len);
            if (c != HTTPZ_IDENTITY)
                assert_true(len < a->len);
            expect_body(&resp, a->data, a->len);
            http_response_free(&resp);

            /* 304 for this coding's ETag, in every form; none for another coding's. */
            char weak[HTTPZ_ETAG_MAX + 2], list[3 * HTTPZ_ETAG_MAX];
            snprintf(weak, sizeof(weak), "W/%s", etag);
            snprintf(list, sizeof(list), "\"nope\", W/\"x,y\" ,%s", etag);
            const char *fresh[] = {etag, weak, list, "*"};
            for (size_t k = 0; k < 4; k++) {
                assert_int_equal(get_ae(fx, a->path, fresh[k], asks[i].ae, &resp), 304);
                assert_string_equal(resp.etag, etag);
                assert_null(resp.content_encoding);
                if (text)
                    assert_string_equal(resp.vary, strcmp(a->path, "/wsgate.js") == 0
                                                       ? "Accept-Encoding, Origin"
                                                       : "Accept-Encoding");
                size_t n304;
                http_body(&resp, &n304);
                assert_int_equal(n304, len); /* the length of the 200's body, announced */
                http_response_free(&resp);
            }
            for (httpz_coding other = HTTPZ_IDENTITY; other <= HTTPZ_BR; other++) {
                char oe[HTTPZ_ETAG_MAX];
                assert_int_equal(httpz_etag(a->etag, other, oe), 0);
                if (other == c)
                    continue;
                assert_int_equal(get_ae(fx, a->path, oe, asks[i].ae, &resp), 200);
                http_response_free(&resp);
            }
        }
    }
    assert_true(compressed > 0);
}

/* /api/ and /metrics: compressed per response above HTTP_COMPRESS_MIN
 * bytes, Vary on every 200; /healthz never. */
static void test_api_compressed(void **state)
{
    fixture *fx = *state;
    for (int i = 0; i < 300; i++) {
        char subject[64];
        snprintf(subject, sizeof subject, "batch.z%d.started", i);
        feed(fx, subject, "{\"total\":100,\"workers\":3}", (uint64_t)i + 1);
    }
    const char *paths[] = {"/api/batches", "/api/batches?limit=1000", "/api/summary",
                           "/api/stats",   "/api/verifications",      "/api/batches/z7",
                           "/metrics"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        http_response plain, resp;
        assert_int_equal(get(fx, paths[i], NULL, &plain), 200);
        assert_null(plain.content_encoding);
        assert_string_equal(plain.vary, "Accept-Encoding, Origin"); /* CORS resources */
        size_t len;
        const unsigned char *body = http_body(&plain, &len);
        const char *aes[] = {"gzip",    "br", "gzip, br", "br;q=0.5, gzip", "gzip;q=0, br;q=0",
                             "identity"};
        const httpz_coding want[] = {HTTPZ_GZIP, HTTPZ_BR,       HTTPZ_BR,
                                     HTTPZ_GZIP, HTTPZ_IDENTITY, HTTPZ_IDENTITY};
        for (size_t k = 0; k < sizeof(aes) / sizeof(aes[0]); k++) {
            char target[128];
            snprintf(target, sizeof(target), "%s", paths[i]);
            char *mark = strchr(target, '?');
            if (mark)
                *mark++ = '\0';
            http_request req = {.path = target, .query = mark, .accept_encoding = aes[k]};
            http_handle(&fx->h, &req, &resp);
            assert_int_equal(resp.status, 200);
            assert_string_equal(resp.vary, "Accept-Encoding, Origin");
            httpz_coding c = coding_of(&resp);
            if (c != (len >= HTTP_COMPRESS_MIN ? want[k] : HTTPZ_IDENTITY))
                fail_msg("%s (%zu bytes), Accept-Encoding %s: coding %d", paths[i], len, aes[k], c);
            size_t n;
            http_body(&resp, &n);
            if (c != HTTPZ_IDENTITY)
                assert_true(n < len);
            if (strcmp(paths[i], "/api/stats") != 0 && strcmp(paths[i], "/metrics") != 0)
                expect_body(&resp, body, len); /* the same state: the same JSON */
            else
                assert_int_equal(expect_decodes(&resp), 0);
            http_response_free(&resp);
        }
        http_response_free(&plain);
    }
    /* A big /api/ page is compressed; /healthz and errors never carry Vary. */
    http_response resp;
    assert_int_equal(get_ae(fx, "/api/batches", NULL, "gzip", &resp), 200);
    assert_string_equal(resp.content_encoding, "gzip");
    http_response_free(&resp);
    assert_int_equal(get_ae(fx, "/healthz", NULL, "gzip", &resp), 200);
    assert_null(resp.vary);
    assert_null(resp.content_encoding);
    http_response_free(&resp);
    assert_int_equal(get_ae(fx, "/api/batches/none", NULL, "gzip", &resp), 404);
    assert_null(resp.content_encoding);
    http_response_free(&resp);
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
    assert_string_equal(resp.etag, "\"a9d94d6a080456e3\""); /* SHA-1, as embed.cmake makes them */
    assert_string_equal(resp.vary, "Accept-Encoding");
    http_response_free(&resp);
    expect_404(fx, "/../secret.txt");
    expect_404(fx, "/missing.css");

    /* Compressed once per content: a new content, new variants and ETags. */
    char big[2][8192], first[HTTPZ_ETAG_MAX] = "";
    for (int v = 0; v < 2; v++) {
        size_t n = 0;
        for (int i = 0; n + 64 < sizeof(big[v]); i++)
            n += (size_t)snprintf(big[v] + n, sizeof(big[v]) - n, ".c%d{color:#%06x}\n", i,
                                  v ? i * 7919 : i);
        fp = fopen(path, "w");
        assert_non_null(fp);
        fputs(big[v], fp);
        fclose(fp);
        char etag[2][HTTPZ_ETAG_MAX];
        for (int again = 0; again < 2; again++) { /* the second time from the cache */
            assert_int_equal(get_ae(fx, "/page.css", NULL, "br, gzip", &resp), 200);
            assert_string_equal(resp.content_encoding, "br");
            assert_string_equal(resp.vary, "Accept-Encoding");
            expect_body(&resp, big[v], strlen(big[v]));
            snprintf(etag[again], sizeof(etag[again]), "%s", resp.etag);
            assert_non_null(strstr(resp.etag, "-br\""));
            http_response_free(&resp);
            assert_int_equal(get_ae(fx, "/page.css", etag[again], "br", &resp), 304);
            http_response_free(&resp);
            assert_int_equal(get_ae(fx, "/page.css", etag[again], "gzip", &resp), 200);
            assert_string_equal(resp.content_encoding, "gzip");
            expect_body(&resp, big[v], strlen(big[v]));
            http_response_free(&resp);
        }
        assert_string_equal(etag[0], etag[1]);
        assert_string_not_equal(etag[0], first);
        snprintf(first, sizeof(first), "%s", etag[0]);
    }
    fixture_destroy(fx);

    unlink(secret);
    unlink(path);
    rmdir(root);
    rmdir(dir);
}

/* A request of method (GET or OPTIONS) for path from origin (NULL: no
 * Origin header), which the gateway's policy allows or not. */
static int cors_req(fixture *fx, bool options, const char *path, const char *origin, bool allowed,
                    const char *token, http_response *resp)
{
    http_request req = {.path = path,
                        .options = options,
                        .origin = origin,
                        .origin_allowed = origin && allowed,
                        .token = token};
    http_handle(&fx->h, &req, resp);
    return resp->status;
}

/* resp has no Access-Control-* header. */
static void expect_no_cors(const http_response *resp, const char *what)
{
    for (size_t i = 0; i < resp->nheaders; i++)
        if (strncmp(resp->headers[i].name, "access-control-", 15) == 0)
            fail_msg("%s: unexpected %s %s", what, resp->headers[i].name, resp->headers[i].value);
}

static void test_cors_responses(void **state)
{
    fixture *fx = *state;
    const char *o = "http://app.example:3000";
    http_response resp;
    /* The CORS resources, from an allowed origin: ACAO is that origin, Vary
     * has Origin (with Accept-Encoding where the body may be compressed). */
    const char *cors[] = {"/api/batches",       "/api/summary", "/api/stats",
                          "/api/verifications", "/wsgate.js",   "/metrics"};
    for (size_t i = 0; i < sizeof(cors) / sizeof(cors[0]); i++) {
        assert_int_equal(cors_req(fx, false, cors[i], o, true, NULL, &resp), 200);
        const char *acao = header(&resp, "access-control-allow-origin:");
        if (!acao || strcmp(acao, o) != 0)
            fail_msg("GET %s: Access-Control-Allow-Origin %s", cors[i], acao ? acao : "(none)");
        assert_non_null(resp.vary);
        assert_string_equal(resp.vary, "Accept-Encoding, Origin");
        assert_null(header(&resp, "access-control-allow-credentials:"));
        bool api = strncmp(cors[i], "/api/", 5) == 0;
        const char *expose = header(&resp, "access-control-expose-headers:");
        if (api != (expose != NULL))
            fail_msg("GET %s: Access-Control-Expose-Headers %s", cors[i],
                     expose ? expose : "(none)");
        if (api)
            assert_string_equal(expose, "X-Total-Count, X-Next-Cursor, Link");
        http_response_free(&resp);
        /* From an origin not allowed, or with none: no CORS header, still Vary. */
        assert_int_equal(cors_req(fx, false, cors[i], "http://evil.example", false, NULL, &resp),
                         200);
        expect_no_cors(&resp, cors[i]);
        assert_string_equal(resp.vary, "Accept-Encoding, Origin");
        http_response_free(&resp);
        assert_int_equal(cors_req(fx, false, cors[i], NULL, false, NULL, &resp), 200);
        expect_no_cors(&resp, cors[i]);
        http_response_free(&resp);
    }
    /* A 404 of the API is readable from an allowed origin too (Vary alone). */
    assert_int_equal(cors_req(fx, false, "/api/batches/nope", o, true, NULL, &resp), 404);
    assert_string_equal(header(&resp, "access-control-allow-origin:"), o);
    assert_string_equal(resp.vary, "Origin");
    http_response_free(&resp);
    /* The dashboard's own files, /healthz, /readyz: never CORS. */
    const char *own[] = {"/", "/index.html", "/app.js", "/style.css", "/healthz", "/readyz"};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        cors_req(fx, false, own[i], o, true, NULL, &resp);
        expect_no_cors(&resp, own[i]);
        if (resp.vary && strstr(resp.vary, "Origin"))
            fail_msg("GET %s: Vary %s", own[i], resp.vary);
        http_response_free(&resp);
    }
    /* A paged answer keeps its paging headers with the CORS ones. */
    for (int i = 0; i < 3; i++) {
        char subject[64], payload[128];
        snprintf(subject, sizeof(subject), "batch.c%d.started", i);
        snprintf(payload, sizeof(payload), "{\"batch_id\":\"c%d\",\"total\":10}", i);
        feed(fx, subject, payload, (uint64_t)i + 1);
    }
    http_request req = {
        .path = "/api/batches", .query = "limit=1", .origin = o, .origin_allowed = true};
    http_handle(&fx->h, &req, &resp);
    assert_int_equal(resp.status, 200);
    assert_non_null(header(&resp, "x-total-count:"));
    assert_non_null(header(&resp, "x-next-cursor:"));
    assert_non_null(header(&resp, "link:"));
    assert_string_equal(header(&resp, "access-control-allow-origin:"), o);
    assert_non_null(header(&resp, "access-control-expose-headers:"));
    http_response_free(&resp);
}

static void test_cors_preflight(void **state)
{
    fixture *fx = *state;
    const char *o = "http://app.example:3000";
    http_response resp;
    const char *cors[] = {"/api/batches", "/api/batches/",      "/api/batches/b42", "/api/summary",
                          "/api/stats",   "/api/verifications", "/wsgate.js",       "/metrics"};
    for (size_t i = 0; i < sizeof(cors) / sizeof(cors[0]); i++) {
        /* Allowed: 204, the origin, the methods, Authorization, a max age. */
        if (cors_req(fx, true, cors[i], o, true, NULL, &resp) != 204)
            fail_msg("OPTIONS %s: %d, want 204", cors[i], resp.status);
        size_t len;
        http_body(&resp, &len);
        assert_int_equal(len, 0);
        assert_string_equal(header(&resp, "access-control-allow-origin:"), o);
        assert_string_equal(header(&resp, "access-control-allow-methods:"), "GET, HEAD, OPTIONS");
        assert_string_equal(header(&resp, "access-control-allow-headers:"), "Authorization");
        assert_string_equal(header(&resp, "access-control-max-age:"), HTTP_CORS_MAX_AGE);
        assert_string_equal(header(&resp, "allow:"), "GET, HEAD, OPTIONS");
        assert_string_equal(resp.vary, "Origin");
        http_response_free(&resp);
        /* Not allowed: 403, no CORS header. */
        if (cors_req(fx, true, cors[i], "http://evil.example", false, NULL, &resp) != 403)
            fail_msg("OPTIONS %s from a refused origin: %d, want 403", cors[i], resp.status);
        expect_no_cors(&resp, cors[i]);
        http_response_free(&resp);
        /* No Origin (not a preflight): 204 with Allow only. */
        assert_int_equal(cors_req(fx, true, cors[i], NULL, false, NULL, &resp), 204);
        expect_no_cors(&resp, cors[i]);
        assert_string_equal(header(&resp, "allow:"), "GET, HEAD, OPTIONS");
        http_response_free(&resp);
    }
    /* A path that does not exist: 404, allowed origin or not. */
    const char *missing[] = {"/api/nope", "/api/batches/b1.x", "/nope.js", "/.env", "/api/"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        if (cors_req(fx, true, missing[i], o, true, NULL, &resp) != 404)
            fail_msg("OPTIONS %s: %d, want 404", missing[i], resp.status);
        expect_no_cors(&resp, missing[i]);
        http_response_free(&resp);
    }
    /* A file of the dashboard exists, but is no CORS resource: Allow only. */
    assert_int_equal(cors_req(fx, true, "/app.js", o, true, NULL, &resp), 204);
    expect_no_cors(&resp, "/app.js");
    http_response_free(&resp);
    assert_int_equal(cors_req(fx, true, "/", o, true, NULL, &resp), 204);
    http_response_free(&resp);
    /* Before the state is rebuilt a preflight still passes (no data in it). */
    fx->h.started = false;
    assert_int_equal(cors_req(fx, true, "/api/summary", o, true, NULL, &resp), 204);
    http_response_free(&resp);
}

/* With auth on, a 401 carries the CORS headers (the page can read it) and
 * a preflight needs no token. */
static void test_cors_auth(void **state)
{
    char dir[] = "/tmp/wsgate-test-http-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[64];
    snprintf(file, sizeof(file), "%s/secret", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("0123456789abcdef0123456789abcdef\n", f);
    fclose(f);
    char *flags[] = {"--jwt-secret", file};
    fixture *fx = fixture_create(flags, 2);
    const char *o = "http://app.example:3000";
    http_response resp;
    assert_int_equal(cors_req(fx, false, "/api/batches", o, true, NULL, &resp), 401);
    assert_string_equal(resp.www_authenticate, "Bearer");
    assert_string_equal(header(&resp, "access-control-allow-origin:"), o);
    assert_string_equal(resp.vary, "Origin");
    http_response_free(&resp);
    assert_int_equal(cors_req(fx, false, "/api/batches", o, true, "not.a.token", &resp), 401);
    assert_string_equal(header(&resp, "access-control-allow-origin:"), o);
    http_response_free(&resp);
    assert_int_equal(cors_req(fx, true, "/api/batches", o, true, NULL, &resp), 204);
    assert_string_equal(header(&resp, "access-control-allow-headers:"), "Authorization");
    http_response_free(&resp);
    assert_int_equal(cors_req(fx, false, "/api/batches", "http://evil.example", false, NULL, &resp),
                     401);
    expect_no_cors(&resp, "401 to a refused origin");
    http_response_free(&resp);
    fixture_destroy(fx);
    unlink(file);
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
        cmocka_unit_test_setup_teardown(test_assets_compressed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_compressed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_and_traversal, setup, teardown),
        cmocka_unit_test(test_web_root),
        cmocka_unit_test_setup_teardown(test_cors_responses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cors_preflight, setup, teardown),
        cmocka_unit_test(test_cors_auth),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
