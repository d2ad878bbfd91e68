/* http.c: routes for the plain HTTP endpoints (PROTOCOL.md "Endpoints"); the lws plumbing is in
 * server.c. */
#include "wsgate/http.h"

#include "wsgate/batches.h"
#include "wsgate/hub.h"
#include "wsgate/metrics.h"
#include "wsgate/subject.h"
#include "wsgate/xmalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HTTP_FILE_MAX     (16 * 1024 * 1024)
#define HTTP_PATH_MAX     1024
#define API_LIMIT_DEFAULT 100 /* batches on a page of GET /api/batches */
#define API_LIMIT_MAX     1000
#define API_SEARCH_MAX    64 /* a batch id is at most 64 bytes */

static const struct {
    const char *ext;
    const char *type;
} http_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".md", "text/markdown; charset=utf-8"},
};

const char *http_content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(http_types) / sizeof(http_types[0]); i++)
        if (strcmp(dot, http_types[i].ext) == 0)
            return http_types[i].type;
    return "application/octet-stream";
}

static void http_init(http_response *resp, int status, const char *type, const char *cache)
{
    memset(resp, 0, sizeof(*resp));
    resp->status = status;
    resp->content_type = type;
    resp->cache_control = cache;
    sbuf_init(&resp->body, 0);
}

void http_error(http_response *resp, int status, const char *message)
{
    http_init(resp, status, "application/json", "no-store");
    sbuf_puts(&resp->body, "{\"error\":");
    sbuf_json_str(&resp->body, message, strlen(message));
    sbuf_putc(&resp->body, '}');
}

void http_response_free(http_response *resp)
{
    for (size_t i = 0; i < resp->nheaders; i++)
        free(resp->headers[i].value);
    resp->nheaders = 0;
    sbuf_free(&resp->body);
}

void http_add_header(http_response *resp, const char *name, const char *value)
{
    if (resp->nheaders == HTTP_HEADERS_MAX)
        return;
    resp->headers[resp->nheaders].name = name;
    resp->headers[resp->nheaders].value = xstrdup(value);
    resp->nheaders++;
}

const unsigned char *http_body(const http_response *resp, size_t *len)
{
    if (resp->data) {
        *len = resp->len;
        return resp->data;
    }
    *len = resp->body.len;
    return (const unsigned char *)sbuf_str(&resp->body);
}

/* A file of the dashboard: from --web-root when set, else embedded. */
static void http_static(hub *h, const char *path, const char *if_none_match, http_response *resp)
{
    for (const char *p = path; *p; p++) {
        if (!(*p == '/' || *p == '.' || *p == '-' || *p == '_' || (*p >= 'a' && *p <= 'z') ||
              (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) ||
            (p[0] == '.' && p[1] == '.')) {
            http_error(resp, 404, "not found");
            return;
        }
    }
    if (h->cfg->web_root) {
        char file[4096];
        snprintf(file, sizeof(file), "%s%s", h->cfg->web_root, path);
        FILE *fp = fopen(file, "rb");
        struct stat st;
        if (fp && (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode))) {
            fclose(fp); /* a directory, a device: not a file to serve */
            fp = NULL;
        }
        if (!fp) {
            http_error(resp, 404, "not found");
            return;
        }
        http_init(resp, 200, http_content_type(path), "no-cache");
        char chunk[16384];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0 && resp->body.len < HTTP_FILE_MAX)
            sbuf_put(&resp->body, chunk, n);
        fclose(fp);
        return;
    }
    for (const struct http_asset *a = http_assets; a->path; a++) {
        if (strcmp(a->path, path) != 0)
            continue;
        bool fresh = if_none_match && strcmp(if_none_match, a->etag) == 0;
        http_init(resp, fresh ? 304 : 200, http_content_type(path), "no-cache");
        resp->etag = a->etag;
        if (!fresh) {
            resp->data = a->data;
            resp->len = a->len;
        }
        return;
    }
    http_error(resp, 404, "not found");
}

/* Copy the value of argument `name` of the query (may be NULL) into buf:
 * 0, -ENOENT when absent, -E2BIG when longer than len - 1. */
static int http_arg(const char *query, const char *name, char *buf, size_t len)
{
    size_t n = strlen(name);
    for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, n) != 0 || p[n] != '=')
            continue;
        const char *v = p + n + 1, *end = strchr(v, '&');
        size_t vlen = end ? (size_t)(end - v) : strlen(v);
        if (vlen >= len)
            return -E2BIG;
        memcpy(buf, v, vlen);
        buf[vlen] = '\0';
        return 0;
    }
    return -ENOENT;
}

/* The `state` argument: comma-separated names into BATCHES_* bits; -EINVAL on others. */
static int http_states(char *list, unsigned *bits)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"running", BATCHES_RUNNING},
                 {"stalled", BATCHES_STALLED},
                 {"completed", BATCHES_COMPLETED},
                 {"failed", BATCHES_FAILED}};
    *bits = 0;
    for (char *save = NULL, *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < sizeof(names) / sizeof(names[0]) && strcmp(s, names[i].name) != 0)
            i++;
        if (i == sizeof(names) / sizeof(names[0]))
            return -EINVAL;
        *bits |= names[i].bit;
    }
    return 0;
}

/* Append s percent-encoded (RFC 3986 unreserved characters stay). */
static void http_pct(sbuf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            sbuf_putc(out, (char)c);
        else
            sbuf_printf(out, "%%%02X", c);
    }
}

/* GET /api/batches?state=&q=&limit=&cursor=: one page (PROTOCOL.md), its
 * size in X-Total-Count, the next page in X-Next-Cursor and Link. */
static void http_api_batches(hub *h, const char *query, int64_t now, http_response *resp)
{
    char state[128] = "", limit[24] = "", cursor[BATCHES_CURSOR_MAX] = "";
    char search[API_SEARCH_MAX + 1] = "", next[BATCHES_CURSOR_MAX];
    batches_query q = {.limit = API_LIMIT_DEFAULT, .search = search, .cursor = cursor};
    int rc = http_arg(query, "state", state, sizeof(state));
    char states[sizeof(state)];
    memcpy(states, state, sizeof(state));
    if (rc == -E2BIG || (rc == 0 && http_states(states, &q.states) < 0)) {
        http_error(resp, 400,
                   "state: a comma-separated list of running, stalled, completed, failed");
        return;
    }
    rc = http_arg(query, "limit", limit, sizeof(limit));
    if (rc != -ENOENT) {
        char *end;
        unsigned long long v = rc == 0 ? strtoull(limit, &end, 10) : 0;
        if (v == 0 || limit[0] < '0' || limit[0] > '9' || *end != '\0') {
            http_error(resp, 400, "limit: a positive integer (at most 1000 are returned)");
            return;
        }
        q.limit = v > API_LIMIT_MAX ? API_LIMIT_MAX : (size_t)v;
    }
    if (http_arg(query, "q", search, sizeof(search)) == -E2BIG) {
        http_error(resp, 400, "q: at most 64 characters (a batch id is no longer)");
        return;
    }
    size_t total;
    http_init(resp, 200, "application/json", "no-store");
    if (http_arg(query, "cursor", cursor, sizeof(cursor)) == -E2BIG ||
        batches_page_json(h->batches, &q, now, &resp->body, &total, next) < 0) {
        http_response_free(resp);
        http_error(resp, 400, "cursor: not a cursor from X-Next-Cursor");
        return;
    }
    char n[32];
    snprintf(n, sizeof(n), "%zu", total);
    http_add_header(resp, "x-total-count:", n);
    if (!next[0])
        return;
    http_add_header(resp, "x-next-cursor:", next);
    sbuf link;
    sbuf_init(&link, 0);
    sbuf_puts(&link, "</api/batches?");
    if (state[0]) {
        sbuf_puts(&link, "state=");
        http_pct(&link, state);
        sbuf_putc(&link, '&');
    }
    if (search[0]) {
        sbuf_puts(&link, "q=");
        http_pct(&link, search);
        sbuf_putc(&link, '&');
    }
    sbuf_printf(&link, "limit=%zu&cursor=", q.limit);
    http_pct(&link, next);
    sbuf_puts(&link, ">; rel=\"next\"");
    http_add_header(resp, "link:", sbuf_str(&link));
    sbuf_free(&link);
}

static void http_api(hub *h, const char *path, const char *query, http_response *resp)
{
    int64_t now = hub_now_ms();
    if (!h->started) { /* the state is being rebuilt from the stream: not an answer yet */
        http_error(resp, 503, "starting: rebuilding state from the stream");
        return;
    }
    if (strcmp(path, "/api/batches") == 0 || strcmp(path, "/api/batches/") == 0) {
        http_api_batches(h, query, now, resp);
    } else if (strcmp(path, "/api/summary") == 0) {
        http_init(resp, 200, "application/json", "no-store");
        batches_summary_json(h->batches, now, &resp->body);
    } else if (strncmp(path, "/api/batches/", 13) == 0) {
        const char *id = path + 13;
        http_init(resp, 200, "application/json", "no-store");
        if (!subject_valid(id) || strchr(id, '.') ||
            batches_get_json(h->batches, id, now, &resp->body) != 0) {
            http_response_free(resp);
            http_error(resp, 404, "unknown batch");
        }
    } else if (strcmp(path, "/api/verifications") == 0) {
        http_init(resp, 200, "application/json", "no-store");
        batches_verifications_json(h->batches, &resp->body);
    } else {
        http_error(resp, 404, "not found");
    }
}

void http_handle(hub *h, const char *target, const char *if_none_match, http_response *resp)
{
    const char *why, *mark = strchr(target, '?'), *query = mark ? mark + 1 : NULL;
    size_t n = mark ? (size_t)(mark - target) : strlen(target);
    char path[HTTP_PATH_MAX];
    if (n >= sizeof(path)) {
        http_error(resp, 414, "URI too long");
        return;
    }
    memcpy(path, target, n);
    path[n] = '\0';
    if (strcmp(path, "/healthz") == 0) {
        http_init(resp, 200, "application/json", "no-store");
        sbuf_puts(&resp->body, "{\"status\":\"ok\"}");
    } else if (strcmp(path, "/readyz") == 0) {
        bool ready = hub_ready(h, &why);
        http_init(resp, ready ? 200 : 503, "application/json", "no-store");
        if (ready) {
            sbuf_printf(&resp->body, "{\"status\":\"ready\",\"seq\":%llu}",
                        (unsigned long long)h->last_seq);
        } else {
            sbuf_puts(&resp->body, "{\"status\":\"unavailable\",\"reason\":");
            sbuf_json_str(&resp->body, why, strlen(why));
            sbuf_putc(&resp->body, '}');
        }
    } else if (strcmp(path, "/metrics") == 0) {
        http_init(resp, 200, "text/plain; version=0.0.4; charset=utf-8", "no-store");
        metrics_render(&resp->body);
    } else if (strcmp(path, "/api/stats") == 0) {
        http_init(resp, 200, "application/json", "no-store");
        metrics_stats_json(&resp->body, hub_now_ms());
    } else if (strncmp(path, "/api/", 5) == 0) {
        http_api(h, path, query, resp);
    } else if (strcmp(path, "/") == 0) {
        http_static(h, "/index.html", if_none_match, resp);
    } else {
        http_static(h, path, if_none_match, resp);
    }
}
