/* admit.c: upgrade admission (PROTOCOL.md "Authentication") and per-IP connection counts. */
#include "wsgate/admit.h"

#include "wsgate/clock.h"
#include "wsgate/hmap.h"
#include "wsgate/hub.h"
#include "wsgate/metrics.h"
#include "wsgate/xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Open connections from one address; the map's key is its ip. */
typedef struct admit_ip {
    int count;
    char ip[]; /* the key */
} admit_ip;

struct admit {
    hmap ips; /* address -> admit_ip, only while it has connections */
};

admit *admit_create(void)
{
    admit *a = xcalloc(1, sizeof(admit));
    hmap_init(&a->ips);
    return a;
}

void admit_destroy(admit *a)
{
    if (!a)
        return;
    hmap_slot *s;
    for (size_t i = 0; (s = hmap_next(&a->ips, &i));)
        free(s->value);
    hmap_fini(&a->ips);
    free(a);
}

void admit_release(hub *h, const char *ip)
{
    admit_ip *e = hmap_get(&h->admit->ips, ip);
    if (e && --e->count <= 0)
        free(hmap_del(&h->admit->ips, ip));
}

/* The host part of an origin ("http://localhost:8080" -> "localhost"). */
static void admit_origin_host(const char *origin, char *out, size_t outlen)
{
    const char *p = strstr(origin, "://");
    p = p ? p + 3 : origin;
    size_t n = 0;
    if (*p == '[') { /* [::1]:8080 */
        const char *end = strchr(p, ']');
        n = end ? (size_t)(end - p + 1) : strlen(p);
    } else {
        n = strcspn(p, ":/");
    }
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

/* Is the host part of an Origin (a name, an IPv4 literal or "[v6]") loopback?
 * Only the name localhost and address literals: "127.evil.example" is a name
 * like any other (its owner decides where it points). */
static bool admit_loopback(const char *oh)
{
    struct in_addr v4;
    return strcasecmp(oh, "localhost") == 0 || strcmp(oh, "[::1]") == 0 ||
           (inet_pton(AF_INET, oh, &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127);
}

bool admit_origin_allowed(const char *origin, char *const *hosts, size_t nhosts,
                          char *const *allowed, size_t count)
{
    if (count) {
        for (size_t i = 0; i < count; i++)
            if (strcmp(allowed[i], "*") == 0 || strcasecmp(allowed[i], origin) == 0)
                return true;
        return false;
    }
    if (!strstr(origin, "://"))
        return false; /* "null" (a sandboxed page, a file) or garbage */
    char oh[256];
    admit_origin_host(origin, oh, sizeof(oh));
    if (!oh[0])
        return false;
    if (admit_loopback(oh))
        return true;
    /* Same host: one of the gateway's own names or addresses. Never the Host
     * header, which the page's author chooses (DNS rebinding). */
    for (size_t i = 0; i < nhosts; i++)
        if (hosts[i] && strcasecmp(hosts[i], oh) == 0)
            return true;
    return false;
}

/* The local address the client connected to, as an Origin would spell its
 * host ("10.0.0.5", "[2001:db8::1]"); "" when unknown. */
static void admit_local_address(struct lws *wsi, char *out, size_t outlen)
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

bool admit_origin_ok(hub *h, struct lws *wsi, const char *origin)
{
    const wsg_config *cfg = h->cfg;
    if (cfg->allowed_origin_count)
        return admit_origin_allowed(origin, NULL, 0, cfg->allowed_origins,
                                    cfg->allowed_origin_count);
    char local[INET6_ADDRSTRLEN + 2], listen[260];
    admit_local_address(wsi, local, sizeof(local));
    snprintf(listen, sizeof(listen), strchr(cfg->listen_host, ':') ? "[%s]" : "%s",
             cfg->listen_host);
    size_t n = cfg->public_host_count;
    char **hosts = xcalloc(n + 2, sizeof(*hosts));
    if (n)
        memcpy(hosts, cfg->public_hosts, n * sizeof(*hosts));
    hosts[n] = local;
    hosts[n + 1] = listen;
    bool ok = admit_origin_allowed(origin, hosts, n + 2, NULL, 0);
    free(hosts);
    return ok;
}

/* Copy a request header into buf ("" when absent). */
static void admit_header(struct lws *wsi, enum lws_token_indexes t, char *buf, int len)
{
    buf[0] = '\0';
    if (lws_hdr_total_length(wsi, t) > 0 && lws_hdr_total_length(wsi, t) < len)
        lws_hdr_copy(wsi, buf, len, t);
}

int admit_token(struct lws *wsi, char *buf, int len)
{
    char authz[AUTH_TOKEN_MAX + 16];
    admit_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, authz, (int)sizeof(authz));
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

int admit_check(hub *h, struct lws *wsi, auth_claims **claims, char *ip, size_t iplen,
                const char **why)
{
    const wsg_config *cfg = h->cfg;
    char path[256], origin[512];
    if (claims)
        *claims = NULL;
    admit_header(wsi, WSI_TOKEN_GET_URI, path, (int)sizeof(path));
    if (strcmp(path, "/ws") != 0) {
        *why = "WebSocket endpoint is /ws";
        return 404;
    }
    if (h->draining || !h->started) {
        *why = h->draining ? "draining" : "starting: rebuilding state from the stream";
        return 503;
    }
    admit_header(wsi, WSI_TOKEN_ORIGIN, origin, (int)sizeof(origin));
    /* An Origin too long to copy is refused, not taken for an absent one. */
    if ((!origin[0] && lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0) ||
        (origin[0] && !admit_origin_ok(h, wsi, origin))) {
        *why = "origin not allowed";
        return 403;
    }
    if (metrics.connections >= h->max_conns) {
        *why = "too many connections";
        return 503;
    }
    lws_get_peer_simple(wsi, ip, iplen);
    admit_ip *e = hmap_get(&h->admit->ips, ip);
    if (cfg->max_conns_per_ip > 0 && e && e->count >= cfg->max_conns_per_ip) {
        *why = "too many connections from this address";
        return 503;
    }
    if (h->auth) {
        char token[AUTH_TOKEN_MAX + 16];
        int n = admit_token(wsi, token, (int)sizeof(token));
        if (n <= 0) {
            *why = n < 0 ? "token too long" : "missing token";
            return 401;
        }
        auth_claims *c = xcalloc(1, sizeof(*c));
        if (auth_verify(h->auth, token, (size_t)n, clock_now_ms() / 1000, c, why) != 0) {
            free(c);
            return 401;
        }
        if (claims) {
            *claims = c;
        } else {
            auth_claims_clear(c);
            free(c);
        }
    }
    if (!claims)
        return 0; /* a check only: nothing is kept or counted */
    if (!e) {
        e = xcalloc(1, sizeof(admit_ip) + strlen(ip) + 1);
        memcpy(e->ip, ip, strlen(ip) + 1);
        hmap_put(&h->admit->ips, e->ip, e);
    }
    e->count++;
    return 0;
}
