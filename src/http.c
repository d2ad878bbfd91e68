/* http.c: routes for the plain HTTP endpoints (PROTOCOL.md "Endpoints"); the lws plumbing is in
 * server.c. */
#include "wsgate/http.h"

#include "wsgate/auth.h"
#include "wsgate/batches.h"
#include "wsgate/clock.h"
#include "wsgate/failures.h"
#include "wsgate/hmap.h"
#include "wsgate/hub.h"
#include "wsgate/metrics.h"
#include "wsgate/subject.h"
#include "wsgate/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The open descriptor of `path` under --web-root, or a negative errno:
 * -ENAMETOOLONG, -ENOENT (no such file, or its real path leaves the root),
 * -EISDIR/-EINVAL (a directory or anything else not a regular file), or what
 * realpath/open/fstat set. Only a regular file whose real path stays inside
 * the root: a symlink may point elsewhere in the root, never out of it. Opened
 * non-blocking, so a FIFO cannot stall the service thread (it is then refused
 * as not a regular file). */
static int http_open_file(const char *root, const char *path, struct stat *st)
{
    char file[PATH_MAX], real_root[PATH_MAX], real[PATH_MAX];
    if (snprintf(file, sizeof(file), "%s%s", root, path) >= (int)sizeof(file))
        return -ENAMETOOLONG;
    if (!realpath(root, real_root) || !realpath(file, real))
        return -errno;
    size_t n = strlen(real_root);
    if (strncmp(real, real_root, n) != 0 || (real[n] != '/' && real_root[n - 1] != '/'))
        return -ENOENT;
    int fd = open(real, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, st) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd); /* a directory, a FIFO, a device: not a file to serve */
        return S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
    }
    return fd;
}

/* May a body of this content type be compressed (text; not images that are already)? */
static bool http_compressible(const char *type)
{
    return strncmp(type, "text/", 5) == 0 || strcmp(type, "application/json") == 0 ||
           strcmp(type, "image/svg+xml") == 0 || strcmp(type, "image/x-icon") == 0;
}

/* Does If-None-Match `inm` (NULL: absent) name etag, by the weak comparison
 * (RFC 9110 §13.1.2: W/ aside, the quoted tags are equal), or is it `*`? */
static bool http_etag_match(const char *inm, const char *etag)
{
    if (!inm || !etag || !etag[0])
        return false;
    const char *want = strncmp(etag, "W/", 2) == 0 ? etag + 2 : etag;
    size_t n = strlen(want);
    for (const char *p = inm; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        const char *end = *p == '"' ? strchr(p + 1, '"') : NULL;
        if (!end) { /* not an entity-tag: skip to the next element */
            p += strcspn(p, ",");
            continue;
        }
        if ((size_t)(end + 1 - p) == n && memcmp(p, want, n) == 0)
            return true;
        p = end + 1;
    }
    return false;
}

/* The embedded files in their codings, like http_assets (http_prepare). */
static httpz_set *http_asset_sets;
static pthread_once_t http_prepared = PTHREAD_ONCE_INIT;

static void http_prepare_once(void)
{
    size_t n = 0;
    while (http_assets[n].path)
        n++;
    http_asset_sets = xcalloc(n ? n : 1, sizeof(*http_asset_sets));
    for (size_t i = 0; i < n; i++)
        httpz_set_init(&http_asset_sets[i], http_assets[i].data, http_assets[i].len,
                       http_assets[i].etag,
                       http_compressible(http_content_type(http_assets[i].path)));
}

void http_prepare(void)
{
    pthread_once(&http_prepared, http_prepare_once);
}

/* A file of --web-root as last read, in its codings; the key is its path. */
typedef struct http_file {
    httpz_set set;
    char path[];
} http_file;

struct http_files {
    hmap map; /* request path -> http_file */
};

void http_files_destroy(struct http_files *files)
{
    if (!files)
        return;
    hmap_slot *slot;
    for (size_t i = 0; (slot = hmap_next(&files->map, &i));) {
        http_file *f = slot->value;
        httpz_set_fini(&f->set);
        free(f);
    }
    hmap_fini(&files->map);
    free(files);
}

/* The codings of --web-root file `path`, read now as data[0..len) with
 * ETag etag: the cached ones when the content is what it was last time,
 * else made now (once per version of the file) and cached. */
static const httpz_set *http_file_set(hub *h, const char *path, const unsigned char *data,
                                      size_t len, const char *etag, bool compress)
{
    if (!h->files)
        h->files = xcalloc(1, sizeof(*h->files)); /* a zeroed hmap is an empty one */
    http_file *f = hmap_get(&h->files->map, path);
    if (f && f->set.len[HTTPZ_IDENTITY] == len && strcmp(f->set.etag[HTTPZ_IDENTITY], etag) == 0)
        return &f->set;
    if (f) {
        httpz_set_fini(&f->set);
    } else {
        size_t n = strlen(path);
        f = xmalloc(sizeof(*f) + n + 1);
        memcpy(f->path, path, n + 1);
        hmap_put(&h->files->map, f->path, f);
    }
    httpz_set_init(&f->set, data, len, etag, compress);
    return &f->set;
}

/* The ETag of a file from disk: the first 64 bits of its SHA-1, quoted, as
 * cmake/embed.cmake makes those of the embedded files. */
static void http_sha1_etag(const unsigned char *data, size_t len, char out[HTTPZ_ETAG_MAX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(data, len, md, &n, EVP_sha1(), NULL) || n < 8)
        memset(md, 0, 8);
    snprintf(out, HTTPZ_ETAG_MAX, "\"%02x%02x%02x%02x%02x%02x%02x%02x\"", md[0], md[1], md[2],
             md[3], md[4], md[5], md[6], md[7]);
}

/* Status and headers for the representation of s that req accepts: 200,
 * or 304 when If-None-Match names that representation's ETag; Vary when the
 * type is one that is compressed. Returns its coding: the caller sets the
 * body (identity: the file itself) and the ETag, s->etag[coding]. */
static httpz_coding http_pick(const httpz_set *s, const char *type, const http_request *req,
                              http_response *resp)
{
    httpz_coding c = httpz_choose(req->accept_encoding, s->offered);
    bool fresh = http_etag_match(req->if_none_match, s->etag[c]);
    http_init(resp, fresh ? 304 : 200, type, "no-cache");
    resp->vary = http_compressible(type) ? "Accept-Encoding" : NULL;
    resp->content_encoding = fresh ? NULL : httpz_name(c);
    return c;
}

/* GET of a file of --web-root: read each time (a development root changes
 * under the gateway), compressed once per content. */
static void http_disk(hub *h, const char *path, const http_request *req, http_response *resp)
{
    struct stat st;
    int fd = http_open_file(h->cfg->web_root, path, &st);
    if (fd < 0) {
        http_error(resp, 404, "not found");
        return;
    }
    sbuf file;
    sbuf_init(&file, 0);
    char chunk[16384];
    ssize_t n;
    while (file.len < HTTP_FILE_MAX && (n = read(fd, chunk, sizeof(chunk))) > 0)
        sbuf_put(&file, chunk, (size_t)n);
    close(fd);
    const unsigned char *data = (const unsigned char *)sbuf_str(&file);
    char etag[HTTPZ_ETAG_MAX];
    http_sha1_etag(data, file.len, etag);
    const char *type = http_content_type(path);
    const httpz_set *s = http_file_set(h, path, data, file.len, etag, http_compressible(type));
    httpz_coding c = http_pick(s, type, req, resp);
    snprintf(resp->etag_buf, sizeof(resp->etag_buf), "%s", s->etag[c]);
    resp->etag = resp->etag_buf;
    if (c == HTTPZ_IDENTITY) {
        sbuf_free(&resp->body);
        resp->body = file;
        return;
    }
    sbuf_put(&resp->body, s->data[c], s->len[c]);
    sbuf_free(&file);
}

/* A file of the dashboard: from --web-root when set, else embedded. Paths are
 * limited to [A-Za-z0-9/._-], and no component may start with a dot (no
 * "..", no /.env, no /.git/). */
static void http_static(hub *h, const char *path, const http_request *req, http_response *resp)
{
    for (const char *p = path; *p; p++) {
        if (!(*p == '/' || *p == '.' || *p == '-' || *p == '_' || (*p >= 'a' && *p <= 'z') ||
              (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) ||
            (p[0] == '/' && p[1] == '.')) {
            http_error(resp, 404, "not found");
            return;
        }
    }
    if (h->cfg->web_root) {
        http_disk(h, path, req, resp);
        return;
    }
    http_prepare();
    for (size_t i = 0; http_assets[i].path; i++) {
        const struct http_asset *a = &http_assets[i];
        if (strcmp(a->path, path) != 0)
            continue;
        const httpz_set *s = &http_asset_sets[i];
        httpz_coding c = http_pick(s, http_content_type(path), req, resp);
        resp->etag = s->etag[c];
        resp->data = c == HTTPZ_IDENTITY ? a->data : s->data[c];
        resp->len = s->len[c];
        return;
    }
    http_error(resp, 404, "not found");
}

void http_compress(const char *accept_encoding, http_response *resp)
{
    if (resp->status != 200 || resp->data)
        return;
    resp->vary = resp->vary && strcmp(resp->vary, "Origin") == 0 ? "Accept-Encoding, Origin"
                                                                 : "Accept-Encoding";
    if (resp->body.len < HTTP_COMPRESS_MIN)
        return;
    httpz_coding c = httpz_choose(accept_encoding, HTTPZ_BIT(HTTPZ_GZIP) | HTTPZ_BIT(HTTPZ_BR));
    if (c == HTTPZ_IDENTITY)
        return;
    sbuf z;
    sbuf_init(&z, 0);
    if (httpz_compress(c, HTTPZ_DYNAMIC, sbuf_str(&resp->body), resp->body.len, &z) == 0 &&
        z.len < resp->body.len) {
        sbuf_free(&resp->body);
        resp->body = z;
        resp->content_encoding = httpz_name(c);
        return;
    }
    sbuf_free(&z);
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
                 {"cancelled", BATCHES_CANCELLED},
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
static void http_api_batches(hub *h, const char *query, int64_t now, batches_filter filter,
                             void *arg, http_response *resp)
{
    char state[128] = "", limit[24] = "", cursor[BATCHES_CURSOR_MAX] = "";
    char search[API_SEARCH_MAX + 1] = "", next[BATCHES_CURSOR_MAX];
    batches_query q = {.limit = API_LIMIT_DEFAULT,
                       .search = search,
                       .cursor = cursor,
                       .filter = filter,
                       .filter_arg = arg};
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

/* May the token's subs read one of the subjects <prefix>.<id>.<last> for
 * the n last tokens? */
static bool http_allows_any(const auth_claims *c, const char *prefix, const char *id,
                            const char *const *last, size_t n)
{
    char subject[256];
    for (size_t i = 0; i < n; i++) {
        snprintf(subject, sizeof(subject), "%s.%s.%s", prefix, id, last[i]);
        if (auth_claims_allow(c, subject))
            return true;
    }
    return false;
}

/* A batch is shown when the token may subscribe to one of the subjects its
 * state is made of (EVENTS.md). */
static bool http_batch_visible(void *arg, const char *id)
{
    static const char *const batch[] = {"started", "progress", "completed", "cancelled"};
    static const char *const license[] = {"assigned", "failed"};
    return http_allows_any(arg, "batch", id, batch, 4) ||
           http_allows_any(arg, "license", id, license, 2);
}

/* A country's verification counts are shown when the token may subscribe to
 * all of them: verification.<CC>.* */
static bool http_country_visible(void *arg, const char *cc)
{
    static const char *const any[] = {"*"};
    return http_allows_any(arg, "verification", cc, any, 1);
}

/* GET /api/batches/{id}/failures?limit=&cursor=: start reading the page
 * from the stream (failures.c); resp stays pending until it is read. An id
 * the token may not see is unknown (404), like /api/batches/{id}; an id the
 * gateway does not know is served from the stream all the same. */
static void http_api_failures(hub *h, const http_request *req, const char *id,
                              batches_filter filter, void *arg, http_response *resp)
{
    char limit[24], cursor[24];
    int lrc = http_arg(req->query, "limit", limit, sizeof(limit));
    int crc = http_arg(req->query, "cursor", cursor, sizeof(cursor));
    const char *why = "";
    failures_query q;
    int rc = failures_parse(id,
                            lrc == 0        ? limit
                            : lrc == -E2BIG ? "x"
                                            : NULL,
                            crc == 0        ? cursor
                            : crc == -E2BIG ? "x"
                                            : NULL,
                            &q, &why);
    if (rc == -ENOENT || (rc == 0 && filter && !filter(arg, q.batch))) {
        http_error(resp, 404, "unknown batch");
        return;
    }
    if (rc != 0) {
        http_error(resp, 400, why);
        return;
    }
    uint64_t page;
    rc = failures_start(h, &q, req->sock, req->accept_encoding, &page);
    if (rc == -EBUSY) {
        http_error(resp, 503, "too many failure pages being read; retry");
        return;
    }
    if (rc != 0) {
        http_error(resp, 503, "the stream is not available");
        return;
    }
    http_init(resp, 0, "application/json", "no-store");
    resp->pending = page;
}

/* The /api/ routes; claims NULL (auth off) shows everything. */
static void http_api(hub *h, const http_request *req, const auth_claims *claims,
                     http_response *resp)
{
    const char *path = req->path, *query = req->query;
    char fid[SUBJECT_MAX_TOKEN + 1];
    int64_t now = clock_now_ms();
    void *arg = (void *)claims;
    batches_filter batch_filter = claims ? http_batch_visible : NULL;
    /* A token allowed all of verification.> gets the unfiltered view, whose
     * totals also count what has no country in AA..ZZ. */
    batches_filter country_filter =
        claims && !auth_claims_allow(claims, "verification.>") ? http_country_visible : NULL;
    if (!h->started) { /* the state is being rebuilt from the stream: not an answer yet */
        http_error(resp, 503, "starting: rebuilding state from the stream");
        return;
    }
    if (failures_path(path, fid)) {
        http_api_failures(h, req, fid, batch_filter, arg, resp);
    } else if (strcmp(path, "/api/batches") == 0 || strcmp(path, "/api/batches/") == 0) {
        http_api_batches(h, query, now, batch_filter, arg, resp);
    } else if (strcmp(path, "/api/summary") == 0) {
        http_init(resp, 200, "application/json", "no-store");
        batches_summary_json(h->batches, now, batch_filter, arg, &resp->body);
    } else if (strncmp(path, "/api/batches/", 13) == 0) {
        const char *id = path + 13;
        http_init(resp, 200, "application/json", "no-store");
        if (!subject_valid(id) || strchr(id, '.') ||
            batches_get_json(h->batches, id, now, batch_filter, arg, &resp->body) != 0) {
            http_response_free(resp);
            http_error(resp, 404, "unknown batch");
        }
    } else if (strcmp(path, "/api/verifications") == 0) {
        http_init(resp, 200, "application/json", "no-store");
        batches_verifications_json(h->batches, country_filter, arg, &resp->body);
    } else {
        http_error(resp, 404, "not found");
    }
}

/* The auth gate of a protected route: 0 with *claims filled from a valid
 * token, or -EACCES with a 401 in resp. */
static int http_authenticate(hub *h, const http_request *req, auth_claims *claims,
                             http_response *resp)
{
    const char *why = req->token_too_long ? "token too long" : "missing token";
    if (req->token && req->token[0] &&
        auth_verify(h->auth, req->token, strlen(req->token), clock_now_ms() / 1000, claims, &why) ==
            0)
        return 0;
    http_error(resp, 401, why);
    resp->www_authenticate = "Bearer";
    return -EACCES;
}

static void http_route(hub *h, const http_request *req, const auth_claims *claims,
                       http_response *resp)
{
    const char *path = req->path;
    const char *why;
    if (strcmp(path, "/healthz") == 0) {
        http_init(resp, 200, "application/json", "no-store");
        sbuf_puts(&resp->body, "{\"status\":\"ok\"}");
    } else if (strcmp(path, "/readyz") == 0) {
        bool ready = hub_ready(h, &why);
        http_init(resp, ready ? 200 : 503, "application/json", "no-store");
        if (ready) {
            /* Serving, with a warning: a stream that does not hold every
             * --stream-subjects still serves the others, so not 503. */
            sbuf_printf(&resp->body, "{\"status\":\"ready\",\"seq\":%llu",
                        (unsigned long long)h->last_seq);
            if (h->stream_warning[0]) {
                sbuf_puts(&resp->body, ",\"warning\":");
                sbuf_json_str(&resp->body, h->stream_warning, strlen(h->stream_warning));
            }
            sbuf_putc(&resp->body, '}');
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
        metrics_stats_json(&resp->body, clock_now_ms());
    } else if (strncmp(path, "/api/", 5) == 0) {
        http_api(h, req, claims, resp);
    } else if (strcmp(path, "/") == 0) {
        http_static(h, "/index.html", req, resp);
    } else {
        http_static(h, path, req, resp);
    }
}

/* A GET or HEAD: the auth gate of the protected routes, the route, the
 * compression of the dynamic bodies. */
static void http_get(hub *h, const http_request *req, http_response *resp)
{
    bool api = strncmp(req->path, "/api/", 5) == 0;
    bool protected = api || (h->cfg->metrics_auth && strcmp(req->path, "/metrics") == 0);
    bool dynamic = api || strcmp(req->path, "/metrics") == 0;
    if (!h->auth || !protected) {
        http_route(h, req, NULL, resp);
    } else {
        auth_claims claims;
        if (http_authenticate(h, req, &claims, resp) != 0)
            return;
        http_route(h, req, &claims, resp);
        auth_claims_clear(&claims);
    }
    if (dynamic)
        http_compress(req->accept_encoding, resp);
}

/* CORS (the Fetch standard's "CORS protocol"). The resources a page of
 * another origin may read: the REST API, the client library (a module
 * script is fetched in CORS mode) and /metrics (which, with --metrics-auth,
 * takes the API's token). Not the dashboard's own files, /healthz or
 * /readyz: those are for the gateway's page and for probes, not browsers
 * elsewhere. */
static bool http_cors_resource(const char *path)
{
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/wsgate.js") == 0 ||
           strcmp(path, "/metrics") == 0;
}

/* Add Origin to resp's Vary (whose values are static strings). */
static void http_vary_origin(http_response *resp)
{
    if (!resp->vary)
        resp->vary = "Origin";
    else if (strcmp(resp->vary, "Accept-Encoding") == 0)
        resp->vary = "Accept-Encoding, Origin";
}

/* Is path one of the /api/ routes (whatever the batch id: OPTIONS does not
 * look it up, it needs no token)? */
static bool http_api_route(const char *path)
{
    static const char *const routes[] = {"/api/batches", "/api/batches/", "/api/summary",
                                         "/api/stats", "/api/verifications"};
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strcmp(path, routes[i]) == 0)
            return true;
    const char *id = path + 13;
    char fid[SUBJECT_MAX_TOKEN + 1];
    if (failures_path(path, fid))
        return subject_valid(fid) && !strchr(fid, '.');
    return strncmp(path, "/api/batches/", 13) == 0 && subject_valid(id) && !strchr(id, '.');
}

/* OPTIONS: 404 when the path does not exist (for GET); 403 for a preflight
 * of a CORS resource from an Origin not allowed (the Fetch standard fails a
 * preflight whose status is not ok: 403 says why to whoever reads the
 * logs); else 204 with Allow. http_cors adds the preflight's headers. */
static void http_options(hub *h, const http_request *req, http_response *resp)
{
    bool exists;
    if (strncmp(req->path, "/api/", 5) == 0) {
        exists = http_api_route(req->path);
    } else {
        http_route(h, req, NULL, resp); /* a file, /metrics, /healthz, /readyz: cheap */
        exists = resp->status != 404;
        http_response_free(resp);
    }
    if (!exists) {
        http_error(resp, 404, "not found");
    } else if (http_cors_resource(req->path) && req->origin && !req->origin_allowed) {
        http_error(resp, 403, "origin not allowed");
    } else {
        http_init(resp, 204, NULL, "no-store");
        http_add_header(resp, "allow:", "GET, HEAD, OPTIONS");
    }
}

/* The CORS headers of resp, the answer to req (see http_handle). */
static void http_cors(const http_request *req, http_response *resp)
{
    if (!http_cors_resource(req->path))
        return;
    http_vary_origin(resp);
    if (!req->origin || !req->origin_allowed || (req->options && resp->status != 204))
        return;
    http_add_header(resp, "access-control-allow-origin:", req->origin);
    if (req->options) {
        http_add_header(resp, "access-control-allow-methods:", "GET, HEAD, OPTIONS");
        /* A fetch that sets only Authorization (Accept, and the cache
         * headers the browser adds itself, need no permission). */
        http_add_header(resp, "access-control-allow-headers:", "Authorization");
        http_add_header(resp, "access-control-max-age:", HTTP_CORS_MAX_AGE);
    } else if (strncmp(req->path, "/api/", 5) == 0) {
        http_add_header(resp,
                        "access-control-expose-headers:", "X-Total-Count, X-Next-Cursor, Link");
    }
}

void http_handle(hub *h, const http_request *req, http_response *resp)
{
    if (req->options)
        http_options(h, req, resp);
    else
        http_get(h, req, resp);
    http_cors(req, resp);
}
