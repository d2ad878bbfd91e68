/* server.c: the lws context and its one callback, which only dispatches to conn, http and hub. */
#include "wsgate/server.h"

#include "wsgate/admit.h"
#include "wsgate/client.h"
#include "wsgate/clock.h"
#include "wsgate/conn.h"
#include "wsgate/failures.h"
#include "wsgate/http.h"
#include "wsgate/hub.h"
#include "wsgate/log.h"
#include "wsgate/metrics.h"
#include "wsgate/pmd.h"
#include "wsgate/xmalloc.h"

#include <errno.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <ev.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define SERVER_HTTP_CHUNK 16384
#define SERVER_TLS12_CIPHERS                                                                       \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* Per-socket data: an HTTP exchange or a WebSocket client. */
typedef struct server_pss {
    conn *conn;          /* WebSocket client, after ESTABLISHED */
    http_response *resp; /* HTTP response being written */
    size_t sent;
    uint64_t pending; /* resp waits for this failures page (failures_take), or 0 */
    bool head;        /* resp answers a HEAD: no body */
    bool admitted;
    bool deflate; /* permessage-deflate negotiated (with pmd's parameters) */
    pmd_params pmd;
    char ip[48];
} server_pss;

static struct lws_context *server_ctx;
static lws_sorted_usec_list_t server_tick_sul;

/* SIGTERM / SIGINT (a libev watcher: runs on the service thread). */
static void server_on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    log_event(LOG_INFO, "signal", "i:signal", w->signum, NULL);
    hub_shutdown(lws_context_user(server_ctx));
}

/* SIGHUP (a libev watcher: the service thread): reload the JWT keys. */
static void server_on_sighup(struct ev_loop *loop, ev_signal *w, int revents)
{
    log_event(LOG_INFO, "signal", "i:signal", w->signum, NULL);
    hub_reload_auth(lws_context_user(server_ctx));
}

/* Before the loop sleeps: leave it once the hub is done. */
static void server_on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    hub *h = lws_context_user(server_ctx);
    if (h->done)
        ev_break(loop, EVBREAK_ALL);
}

static void server_wake(void *arg)
{
    lws_cancel_service(arg);
}

static hub *server_hub(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* Refuse an upgrade with an HTTP status and the reason as a JSON body,
 * {"error":"<why>"} (the REST errors' form, http_error). Returns what the lws
 * callback returns: 1 (response written, no upgrade) or -1 (the headers did
 * not fit, or the write failed: close). */
static int server_refuse(struct lws *wsi, int status, const char *why)
{
    unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);
    http_response r;
    size_t len;
    http_error(&r, status, why);
    const unsigned char *body = http_body(&r, &len);
    int rc = -1;
    if (len <= 256 && !lws_add_http_header_status(wsi, (unsigned int)status, &p, end) &&
        !(status == 401 && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE,
                                                        (unsigned char *)"Bearer", 6, &p, end)) &&
        !lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                      (unsigned char *)r.content_type, (int)strlen(r.content_type),
                                      &p, end) &&
        !lws_add_http_header_content_length(wsi, len, &p, end) &&
        !lws_finalize_http_header(wsi, &p, end)) {
        /* Headers and body in one write: lws may not take a second one here. */
        memcpy(p, body, len);
        p += len;
        size_t n = (size_t)lws_ptr_diff(p, start);
        rc = lws_write(wsi, start, n, LWS_WRITE_HTTP_HEADERS) == (int)n ? 1 : -1;
    }
    http_response_free(&r);
    return rc;
}

/* The local address the client connected to, as an Origin would spell its
 * host ("10.0.0.5", "[2001:db8::1]"); "" when unknown. */
static void server_local_address(struct lws *wsi, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char addr[INET6_ADDRSTRLEN] = "";
    out[0] = '\0';
    int fd = (int)lws_get_socket_fd(wsi);
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET &&
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr)))
        snprintf(out, outlen, "%s", addr);
    else if (ss.ss_family == AF_INET6 &&
             inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr)))
        snprintf(out, outlen, "[%s]", addr);
}

/* Copy a request header into buf ("" when absent). */
static void server_header(struct lws *wsi, enum lws_token_indexes t, char *buf, int len)
{
    buf[0] = '\0';
    if (lws_hdr_total_length(wsi, t) > 0 && lws_hdr_total_length(wsi, t) < len)
        lws_hdr_copy(wsi, buf, len, t);
}

/* The bearer token of a request into buf: the Authorization header first,
 * then ?token=. Returns its length, 0 when there is none, or -E2BIG when the
 * Authorization header is too long to read (buf is then ""). */
static int server_token(struct lws *wsi, char *buf, int len)
{
    char authz[AUTH_TOKEN_MAX + 16];
    server_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, authz, (int)sizeof(authz));
    if (strncasecmp(authz, "Bearer ", 7) == 0) {
        snprintf(buf, (size_t)len, "%s", authz + 7);
        return (int)strlen(buf);
    }
    /* lws copies the whole "token=<value>" fragment into buf and returns a
     * pointer to the value inside it. */
    const char *v = lws_get_urlarg_by_name(wsi, "token=", buf, len);
    if (v) {
        memmove(buf, v, strlen(v) + 1);
        return (int)strlen(buf);
    }
    buf[0] = '\0';
    return lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) >= (int)sizeof(authz) ? -E2BIG
                                                                                         : 0;
}

/* The admission request of an upgrade (wsi's headers, its peer and local
 * address) into req, with its strings in the caller's buffers. */
typedef struct server_admit_buf {
    char path[256], origin[512], token[AUTH_TOKEN_MAX + 16], ip[48], local[INET6_ADDRSTRLEN + 2];
} server_admit_buf;

static void server_admit_request(struct lws *wsi, server_admit_buf *b, admit_request *req)
{
    server_header(wsi, WSI_TOKEN_GET_URI, b->path, (int)sizeof(b->path));
    server_header(wsi, WSI_TOKEN_ORIGIN, b->origin, (int)sizeof(b->origin));
    int n = server_token(wsi, b->token, (int)sizeof(b->token));
    lws_get_peer_simple(wsi, b->ip, sizeof(b->ip));
    server_local_address(wsi, b->local, sizeof(b->local));
    *req = (admit_request){
        .path = b->path,
        .origin = b->origin[0] ? b->origin : NULL,
        .origin_unreadable = !b->origin[0] && lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0,
        .token = n > 0 ? b->token : NULL,
        .token_too_long = n < 0,
        .ip = b->ip,
        .local = b->local,
    };
}

/* May a page from origin read the CORS resources (admit_origin_ok)? */
static bool server_origin_ok(struct lws *wsi, const char *origin)
{
    char local[INET6_ADDRSTRLEN + 2];
    server_local_address(wsi, local, sizeof(local));
    return admit_origin_ok(server_hub(wsi)->admit, origin, local);
}

/* The hub's side of an admission now. */
static admit_gate server_admit_gate(const hub *h)
{
    return (admit_gate){.started = h->started,
                        .draining = h->draining,
                        .connections = metrics.connections,
                        .max_conns = h->max_conns,
                        .auth = h->auth,
                        .now_s = clock_now_ms() / 1000};
}

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: returns what the lws callback returns:
 * 0 lets the upgrade go on, nonzero refuses it (server_refuse). */
static int server_upgrade(struct lws *wsi, const char *in)
{
    hub *h = server_hub(wsi);
    const char *why = "only WebSocket upgrades";
    server_admit_buf b;
    admit_request req;
    server_admit_request(wsi, &b, &req);
    admit_gate gate = server_admit_gate(h);
    int status =
        strcmp(in, "websocket") == 0 ? admit_check(h->admit, &req, &gate, NULL, &why) : 400;
    if (status == 0)
        return 0;
    metrics.connections_refused++;
    log_event(LOG_INFO, "upgrade_refused", "i:status", status, "s:reason", why, "s:ip", b.ip, NULL);
    return server_refuse(wsi, status, why);
}

/* The upgrade completed: admit for real (count the peer, keep its claims).
 * Returns what the lws callback returns: 0, or -1 to close a refused peer. */
static int server_established(struct lws *wsi, server_pss *pss)
{
    hub *h = server_hub(wsi);
    const char *why;
    auth_claims *claims;
    server_admit_buf b;
    admit_request req;
    server_admit_request(wsi, &b, &req);
    admit_gate gate = server_admit_gate(h);
    snprintf(pss->ip, sizeof(pss->ip), "%s", b.ip);
    if (admit_check(h->admit, &req, &gate, &claims, &why) != 0) {
        log_event(LOG_INFO, "upgrade_refused", "s:reason", why, NULL);
        return -1;
    }
    pss->admitted = true;
    pss->conn = conn_create(h, wsi, claims, pss->ip, pss->deflate ? &pss->pmd : NULL);
    return 0;
}

/* LWS_CALLBACK_CONFIRM_EXTENSION_OKAY: lws found `name` in the client's
 * offer; we take permessage-deflate when one of its offers can be honoured
 * (pmd_negotiate reads the whole header: lws looks at the first offer only).
 * Returns what the lws callback returns: 0 takes the extension, 1 declines. */
static int server_extension(struct lws *wsi, server_pss *pss, const char *name)
{
    char offer[1024];
    if (!pss || strcmp(name, "permessage-deflate") != 0 ||
        lws_hdr_total_length(wsi, WSI_TOKEN_EXTENSIONS) >= (int)sizeof(offer) ||
        lws_hdr_copy(wsi, offer, sizeof(offer), WSI_TOKEN_EXTENSIONS) < 0)
        return 1;
    pss->deflate = pmd_negotiate(offer, &pss->pmd) == 0;
    return pss->deflate ? 0 : 1;
}

/* LWS_CALLBACK_ADD_HEADERS of an upgrade: lws has just written
 * "Sec-WebSocket-Extensions: permessage-deflate" and its line end (it cannot
 * write parameters with values); put ours on that line (pmd_answer: always
 * client_no_context_takeover). Returns what the lws callback returns: 0, or
 * -1 to fail the handshake when the line is not where lws 4.1 puts it. */
static int server_add_headers(server_pss *pss, struct lws_process_html_args *args)
{
    static const char line_end[] = "permessage-deflate\r\n";
    size_t n = sizeof(line_end) - 1;
    if (!pss || !pss->deflate)
        return 0;
    if (memcmp(args->p - n, line_end, n) != 0) {
        log_event(LOG_ERROR, "deflate_handshake", "s:error", "extension line not found", NULL);
        return -1;
    }
    char answer[128];
    int len = pmd_answer(&pss->pmd, answer, sizeof(answer));
    if (len < 0 || len + 2 > args->max_len + 2)
        return -1;
    memcpy(args->p - 2, answer, (size_t)len);
    memcpy(args->p - 2 + len, "\r\n", 2);
    args->p += len;
    args->max_len -= len;
    return 0;
}

/* Free the response of this socket, if any (one per request on a keep-alive connection). */
static void server_http_free(server_pss *pss)
{
    if (!pss->resp)
        return;
    http_response_free(pss->resp);
    free(pss->resp);
    pss->resp = NULL;
}

/* A socket closed: release what its upgrade took, free its client. */
static void server_closed(struct lws *wsi, server_pss *pss)
{
    hub *h = server_hub(wsi);
    if (!pss)
        return; /* closed before lws gave it per-session memory (e.g. headers too big) */
    if (pss->admitted)
        admit_release(h->admit, pss->ip);
    pss->admitted = false;
    if (pss->conn) {
        int code = conn_close_code(pss->conn);
        log_event(LOG_INFO, "conn_close", "s:conn", conn_id(pss->conn), "i:code",
                  code ? code : 1000, NULL);
        conn_destroy(pss->conn);
        pss->conn = NULL;
        if (h->draining && !h->conns)
            h->done = true;
    }
    if (pss->pending)
        failures_forget(h, pss->pending); /* its answer, if it comes, finds no page */
    pss->pending = 0;
    server_http_free(pss);
}

/* The response is out: free it, then let lws keep the connection for the
 * next request. Returns what the lws callback returns: 0, or -1 to close
 * (lws will not keep the connection). */
static int server_http_done(struct lws *wsi, server_pss *pss)
{
    server_http_free(pss);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* "arg&arg" from lws's (percent-decoded) query arguments ("" when none);
 * arguments that do not fit are left out. */
static void server_http_query(struct lws *wsi, char *out, size_t outlen)
{
    size_t n = 0;
    char arg[512];
    out[0] = '\0';
    for (int i = 0; lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++) {
        int len = lws_hdr_copy_fragment(wsi, arg, sizeof(arg), WSI_TOKEN_HTTP_URI_ARGS, i);
        if (len > 0 && n + 1 + (size_t)len < outlen) /* else too long (a token): left out */
            n += (size_t)snprintf(out + n, outlen - n, "%s%s", n ? "&" : "", arg);
    }
}

/* The extra headers of a response: 0, or -ENOSPC when they do not fit. */
static int server_http_headers(struct lws *wsi, const http_response *r, unsigned char **p,
                               unsigned char *end)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)r->headers[i].name,
                                        (const unsigned char *)r->headers[i].value,
                                        (int)strlen(r->headers[i].value), p, end))
            return -ENOSPC;
    return 0;
}

/* The status line, Content-Type and Content-Length of a response (a 204 has
 * neither: RFC 9110 §8.6): 0, or nonzero when they do not fit. */
static int server_http_status(struct lws *wsi, const http_response *r, size_t len,
                              unsigned char **p, unsigned char *end)
{
    if (r->status == 204)
        return lws_add_http_header_status(wsi, 204, p, end);
    return lws_add_http_common_headers(wsi, (unsigned int)r->status, r->content_type, len, p, end);
}

/* Write the headers of pss->resp, the body on WRITEABLE. Returns what the
 * lws callback returns: 0, nonzero closes (the headers did not fit, or the
 * connection is not kept). */
static int server_http_begin(struct lws *wsi, server_pss *pss)
{
    http_response *r = pss->resp;
    size_t len;
    http_body(r, &len);
    unsigned char buf[LWS_PRE + 4096], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);
    if (server_http_status(wsi, r, len, &p, end) ||
        lws_add_http_header_by_name(
            wsi, (unsigned char *)"cache-control:", (unsigned char *)r->cache_control,
            (int)strlen(r->cache_control), &p, end) ||
        lws_add_http_header_by_name(wsi, (unsigned char *)"x-content-type-options:",
                                    (unsigned char *)"nosniff", 7, &p, end) ||
        (r->etag && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_ETAG, (unsigned char *)r->etag,
                                                 (int)strlen(r->etag), &p, end)) ||
        (r->content_encoding &&
         lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_ENCODING,
                                      (unsigned char *)r->content_encoding,
                                      (int)strlen(r->content_encoding), &p, end)) ||
        (r->vary && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_VARY, (unsigned char *)r->vary,
                                                 (int)strlen(r->vary), &p, end)) ||
        (r->www_authenticate &&
         lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE,
                                      (unsigned char *)r->www_authenticate,
                                      (int)strlen(r->www_authenticate), &p, end)) ||
        server_http_headers(wsi, r, &p, end) || lws_finalize_write_http_header(wsi, start, &p, end))
        return 1;
    if (pss->head || len == 0 || r->status == 304)
        return server_http_done(wsi, pss); /* no body: nothing for WRITEABLE */
    lws_callback_on_writable(wsi);
    return 0;
}

/* Start an HTTP response: route it, then write it (server_http_begin), or
 * wait for the failures page it needs (WRITEABLE comes when it is read).
 * Returns what the lws callback returns: 0, nonzero closes. */
static int server_http(struct lws *wsi, server_pss *pss, const char *path)
{
    bool head = lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
    bool options = lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0;
    server_http_free(pss);
    pss->resp = xcalloc(1, sizeof(*pss->resp));
    pss->sent = 0;
    if (!head && !options && lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
        http_error(pss->resp, 405, "method not allowed");
    } else {
        char inm[512] = "", ae[256] = "", origin[512] = "", token[AUTH_TOKEN_MAX + 16];
        /* Absent or too long Origin: no CORS headers. */
        if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) < (int)sizeof(origin))
            lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH) < (int)sizeof(inm))
            lws_hdr_copy(wsi, inm, sizeof(inm), WSI_TOKEN_HTTP_IF_NONE_MATCH);
        /* Absent, empty or too long Accept-Encoding: identity. */
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_ACCEPT_ENCODING) < (int)sizeof(ae))
            lws_hdr_copy(wsi, ae, sizeof(ae), WSI_TOKEN_HTTP_ACCEPT_ENCODING);
        char query[2048];
        server_http_query(wsi, query, sizeof(query));
        int n = server_token(wsi, token, (int)sizeof(token));
        http_request req = {.path = path,
                            .options = options,
                            .origin = origin[0] ? origin : NULL,
                            .origin_allowed = origin[0] && server_origin_ok(wsi, origin),
                            .query = query[0] ? query : NULL,
                            .if_none_match = inm[0] ? inm : NULL,
                            .accept_encoding = ae[0] ? ae : NULL,
                            .token = n > 0 ? token : NULL,
                            .token_too_long = n < 0,
                            .sock = wsi};
        http_handle(server_hub(wsi), &req, pss->resp);
    }
    pss->head = head;
    pss->pending = pss->resp->pending;
    if (pss->pending && failures_take(server_hub(wsi), pss->pending, pss->resp) == -EAGAIN) {
        lws_callback_on_writable(wsi); /* server_http_hold, once lws has armed its timeout */
        return 0;                      /* answered from WRITEABLE (server_http_write) once read */
    }
    pss->pending = 0;
    return server_http_begin(wsi, pss);
}

/* A request waiting for its failures page: lws closes a request that has
 * not been answered within --handshake-timeout; give it until the page has
 * surely been answered (504 at the latest). Returns what the lws callback
 * returns: 0. */
static int server_http_hold(struct lws *wsi)
{
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, FAILURES_TIMEOUT_MS / 1000 + 5);
    return 0;
}

/* Write the next chunk of the response body. Returns what the lws callback
 * returns: 0, or -1 to close (a failed write, or the connection is not kept). */
static int server_http_write(struct lws *wsi, server_pss *pss)
{
    if (!pss || !pss->resp)
        return 0;
    if (pss->pending) { /* a failures page: its headers go first, once it is read */
        int rc = failures_take(server_hub(wsi), pss->pending, pss->resp);
        if (rc == -EAGAIN) /* lws armed --handshake-timeout after the request: ours is longer */
            return server_http_hold(wsi);
        if (rc != 0)
            return -1; /* cannot happen: the page lives until taken or forgotten */
        pss->pending = 0;
        return server_http_begin(wsi, pss);
    }
    size_t len;
    const unsigned char *body = http_body(pss->resp, &len);
    size_t n = len - pss->sent > SERVER_HTTP_CHUNK ? SERVER_HTTP_CHUNK : len - pss->sent;
    unsigned char buf[LWS_PRE + SERVER_HTTP_CHUNK];
    memcpy(buf + LWS_PRE, body + pss->sent, n);
    bool last = pss->sent + n == len;
    if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
        return -1;
    pss->sent += n;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    return server_http_done(wsi, pss);
}

static lws_sorted_usec_list_t server_poll_sul;

/* Apply the next slice of the inbox; if more is left, come back after the loop
 * has had a turn to write to sockets. */
static void server_poll(lws_sorted_usec_list_t *sul)
{
    if (hub_poll(lws_context_user(server_ctx)))
        lws_sul_schedule(server_ctx, 0, &server_poll_sul, server_poll, 1);
}

/* Another thread (NATS) woke the loop: apply what it brought. */
static void server_cancelled(struct lws *wsi)
{
    server_poll(NULL);
}

/* The one lws callback: returns what lws expects of it for `reason` (for
 * most, 0 goes on and -1 closes the connection). */
static int server_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len)
{
    server_pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return server_upgrade(wsi, in);
    case LWS_CALLBACK_HTTP:
        return server_http(wsi, pss, in);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return server_http_write(wsi, pss);
    case LWS_CALLBACK_CLOSED_HTTP:
        server_closed(wsi, pss);
        break;
    case LWS_CALLBACK_CONFIRM_EXTENSION_OKAY:
        return server_extension(wsi, pss, in);
    case LWS_CALLBACK_ADD_HEADERS:
        return server_add_headers(pss, in);
    case LWS_CALLBACK_ESTABLISHED:
        return server_established(wsi, pss);
    case LWS_CALLBACK_RECEIVE:
        return pss && pss->conn ? client_receive(pss->conn, in, len) : -1;
    case LWS_CALLBACK_RECEIVE_PONG:
        if (pss && pss->conn)
            conn_pong(pss->conn);
        break;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss && pss->conn ? conn_writable(pss->conn) : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return pss && pss->conn && conn_close_sent(pss->conn); /* 1: our close went out, no echo */
    case LWS_CALLBACK_CLOSED:
        server_closed(wsi, pss);
        break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        server_cancelled(wsi);
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols server_protocols[] = {
    {"wsgate", server_callback, sizeof(server_pss), 1024, 0, NULL, 65536},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* The permessage-deflate extension as lws sees it: registering it makes lws
 * negotiate it and let RSV1 through on the connections that took it. It
 * changes nothing itself: what we send is compressed already (zgroup.c) and
 * written raw; what clients send reaches client_receive as it came, and is
 * inflated there (pmd.c). Returns 0 for every reason: "not handled". */
static int server_ext_callback(struct lws_context *ctx, const struct lws_extension *ext,
                               struct lws *wsi, enum lws_extension_callback_reasons reason,
                               void *user, void *in, size_t len)
{
    static const struct lws_ext_options no_options[] = {{NULL, 0}};
    if (reason == LWS_EXT_CB_CONSTRUCT)
        *(const struct lws_ext_options **)in = no_options; /* lws then echoes no option */
    return 0;
}

static const struct lws_extension server_extensions[] = {
    {"permessage-deflate", server_ext_callback, NULL},
    {NULL, NULL, NULL},
};

static void server_tick(lws_sorted_usec_list_t *sul)
{
    hub *h = lws_context_user(server_ctx);
    hub_tick(h, clock_now_ms());
    lws_sul_schedule(server_ctx, 0, &server_tick_sul, server_tick, 1000 * LWS_US_PER_MS);
}

static struct lws_context *server_context(const wsg_config *cfg, hub *h, lws_retry_bo_t *retry,
                                          void **foreign_loops)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = foreign_loops;
    if (strchr(cfg->listen_host, ':'))
        info.options &= ~(uint64_t)LWS_SERVER_OPTION_DISABLE_IPV6;
    info.port = cfg->listen_port;
    info.iface = strcmp(cfg->listen_host, "0.0.0.0") == 0 ? NULL : cfg->listen_host;
    info.protocols = server_protocols;
    if (cfg->compression)
        info.extensions = server_extensions;
    info.user = h;
    info.vhost_name = "wsgate";
    info.server_string = "wsgate/" WSGATE_VERSION;
    info.timeout_secs = (unsigned int)((cfg->handshake_timeout_ms + 999) / 1000);
    /* A new socket waits for its request headers with a header table held
     * (PENDING_TIMEOUT_HOLDING_AH), which lws times with this, not timeout_secs
     * (0 means 10 s): without it --handshake-timeout does not bound that wait. */
    info.timeout_secs_ah_idle = info.timeout_secs;
    info.max_http_header_data = AUTH_TOKEN_MAX + 4096;
    /* Keepalive is ours (conn_keepalive, from the 1 s tick): lws's own puts a
     * timer per connection in a sorted list walked on every insertion, which
     * made opening N connections cost O(N^2) (3.1 s of CPU for 16,000). */
    retry->secs_since_valid_ping = 0;
    retry->secs_since_valid_hangup = 0;
    info.retry_and_idle_policy = retry;
    if (cfg->tls_cert) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_cert;
        info.ssl_private_key_filepath = cfg->tls_key;
        info.alpn = "http/1.1";
        /* TLS 1.2 at least; in 1.2 only ECDHE suites with AEAD (forward
         * secrecy; 1.3's suites all have it). */
        info.ssl_options_set = SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 |
                               SSL_OP_NO_TLSv1_1 | SSL_OP_CIPHER_SERVER_PREFERENCE;
        info.ssl_cipher_list = SERVER_TLS12_CIPHERS;
    }
    return lws_create_context(&info);
}

int server_run(const wsg_config *cfg)
{
    static hub h;
    char err[512] = "";
    int rc = 1;
    if (hub_init(&h, cfg, err, sizeof(err)) != 0) {
        log_event(LOG_ERROR, "startup_failed", "s:error", err, NULL);
        return 2;
    }
    h.admit = admit_create(cfg);
    lws_retry_bo_t retry = {0};
    struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
    void *foreign_loops[] = {loop};
    server_ctx = server_context(cfg, &h, &retry, foreign_loops);
    if (!server_ctx) {
        log_event(LOG_ERROR, "startup_failed", "s:error", "cannot listen (see lws errors above)",
                  "s:listen", cfg->listen_host, "i:port", cfg->listen_port, NULL);
        rc = 2;
        goto out;
    }
    h.ctx = server_ctx;
    h.bridge = nats_bridge_create(cfg, server_wake, server_ctx, err, sizeof(err));
    if (!h.bridge) {
        log_event(LOG_ERROR, "startup_failed", "s:error", err, NULL);
        rc = 2;
        goto out;
    }
    ev_signal sigterm, sigint, sighup;
    ev_prepare prepare;
    ev_signal_init(&sigterm, server_on_signal, SIGTERM);
    ev_signal_init(&sigint, server_on_signal, SIGINT);
    ev_signal_init(&sighup, server_on_sighup, SIGHUP);
    ev_prepare_init(&prepare, server_on_prepare);
    ev_signal_start(loop, &sigterm);
    ev_signal_start(loop, &sigint);
    ev_signal_start(loop, &sighup);
    ev_prepare_start(loop, &prepare);
    signal(SIGPIPE, SIG_IGN);
    lws_sul_schedule(server_ctx, 0, &server_tick_sul, server_tick, 1000 * LWS_US_PER_MS);
    /* The port bound, which --listen HOST:0 leaves to the kernel. */
    struct lws_vhost *vh = lws_get_vhost_by_name(server_ctx, "wsgate");
    int port = vh ? lws_get_vhost_listen_port(vh) : cfg->listen_port;
    log_event(LOG_INFO, "listening", "s:host", cfg->listen_host, "i:port", port, "b:tls",
              cfg->tls_cert != NULL, "b:auth", h.auth != NULL, NULL);
    ev_run(loop, 0);
    ev_signal_stop(loop, &sigterm);
    ev_signal_stop(loop, &sigint);
    ev_signal_stop(loop, &sighup);
    ev_prepare_stop(loop, &prepare);
    rc = 0;
    log_event(LOG_INFO, "stopping", NULL);
out:
    /* The bridge first: no nats.c callback may wake a destroyed context. */
    nats_bridge_destroy(h.bridge, 1000);
    h.bridge = NULL;
    if (server_ctx) {
        lws_sul_cancel(&server_tick_sul);
        lws_sul_cancel(&server_poll_sul);
        lws_context_destroy(server_ctx); /* closes what is left; CLOSED frees each client */
    }
    admit_destroy(h.admit);
    hub_fini(&h);
    server_ctx = NULL;
    log_event(LOG_INFO, "stopped", "i:code", rc, NULL);
    return rc;
}
