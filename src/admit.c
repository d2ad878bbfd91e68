/* admit.c: upgrade admission (PROTOCOL.md "Authentication") and per-IP connection counts. */
#include "wsgate/admit.h"

#include "wsgate/hmap.h"
#include "wsgate/config.h"
#include "wsgate/xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
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
    const wsg_config *cfg;
    hmap ips; /* address -> admit_ip, only while it has connections */
};

admit *admit_create(const wsg_config *cfg)
{
    admit *a = xcalloc(1, sizeof(admit));
    a->cfg = cfg;
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

void admit_release(admit *a, const char *ip)
{
    admit_ip *e = hmap_get(&a->ips, ip);
    if (e && --e->count <= 0)
        free(hmap_del(&a->ips, ip));
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

bool admit_origin_ok(const admit *a, const char *origin, const char *local)
{
    const wsg_config *cfg = a->cfg;
    if (cfg->allowed_origin_count)
        return admit_origin_allowed(origin, NULL, 0, cfg->allowed_origins,
                                    cfg->allowed_origin_count);
    char listen[260];
    snprintf(listen, sizeof(listen), strchr(cfg->listen_host, ':') ? "[%s]" : "%s",
             cfg->listen_host);
    size_t n = cfg->public_host_count;
    char **hosts = xcalloc(n + 2, sizeof(*hosts));
    if (n)
        memcpy(hosts, cfg->public_hosts, n * sizeof(*hosts));
    hosts[n] = (char *)local;
    hosts[n + 1] = listen;
    bool ok = admit_origin_allowed(origin, hosts, n + 2, NULL, 0);
    free(hosts);
    return ok;
}

int admit_check(admit *a, const admit_request *req, const admit_gate *gate, auth_claims **claims,
                const char **why)
{
    const wsg_config *cfg = a->cfg;
    if (claims)
        *claims = NULL;
    if (strcmp(req->path ? req->path : "", "/ws") != 0) {
        *why = "WebSocket endpoint is /ws";
        return 404;
    }
    if (gate->draining || !gate->started) {
        *why = gate->draining ? "draining" : "starting: rebuilding state from the stream";
        return 503;
    }
    /* An Origin too long to read is refused, not taken for an absent one. */
    if (req->origin_unreadable || (req->origin && !admit_origin_ok(a, req->origin, req->local))) {
        *why = "origin not allowed";
        return 403;
    }
    if (gate->connections >= gate->max_conns) {
        *why = "too many connections";
        return 503;
    }
    admit_ip *e = hmap_get(&a->ips, req->ip);
    if (cfg->max_conns_per_ip > 0 && e && e->count >= cfg->max_conns_per_ip) {
        *why = "too many connections from this address";
        return 503;
    }
    if (gate->auth) {
        if (!req->token || req->token_too_long) {
            *why = req->token_too_long ? "token too long" : "missing token";
            return 401;
        }
        auth_claims *c = xcalloc(1, sizeof(*c));
        if (auth_verify(gate->auth, req->token, strlen(req->token), gate->now_s, c, why) != 0) {
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
        size_t n = strlen(req->ip);
        e = xcalloc(1, sizeof(admit_ip) + n + 1);
        memcpy(e->ip, req->ip, n + 1);
        hmap_put(&a->ips, e->ip, e);
    }
    e->count++;
    return 0;
}
