/* client.c: what a WebSocket client says: its messages assembled (and inflated), the ops
 * (sub, unsub, ping, refresh) and their rate and error limits.
 *
 * A friend of conn.c (conn_internal.h): the limiter state and the message
 * being assembled live in the connection. */
#include "wsgate/client.h"

#include "conn_internal.h"

#include "wsgate/clock.h"
#include "wsgate/lastvalue.h"
#include "wsgate/log.h"
#include "wsgate/metrics.h"
#include "wsgate/pmd.h"
#include "wsgate/replay.h"
#include "wsgate/xmalloc.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

/* Take one token of the ops rate limiter; false when the client is over its rate. */
static bool client_rate_take(conn *c)
{
    const wsg_config *cfg = c->hub->cfg;
    int64_t now = clock_now_ms();
    c->tokens += (double)(now - c->tokens_ms) * cfg->ops_rate / 1000.0;
    c->tokens_ms = now;
    if (c->tokens > cfg->ops_burst)
        c->tokens = cfg->ops_burst;
    if (c->tokens < 1.0)
        return false;
    c->tokens -= 1.0;
    return true;
}

void client_error(conn *c, const char *id, enum proto_err code, const char *message)
{
    const wsg_config *cfg = c->hub->cfg;
    metrics.client_errors[code]++;
    wsg_frame *f = protocol_err(id, code, message);
    conn_send(c, f, false);
    frame_unref(f);
    uint32_t slots = (uint32_t)cfg->err_limit + 1;
    if (!c->err_times)
        c->err_times = xcalloc(slots, sizeof(*c->err_times));
    int64_t now = clock_now_ms();
    c->err_times[c->err_next] = now;
    c->err_next = (c->err_next + 1) % slots;
    if (c->err_count < slots)
        c->err_count++;
    /* err_next now indexes the oldest of the last `slots` errors */
    if (c->err_count == slots && now - c->err_times[c->err_next] <= cfg->err_window_ms)
        conn_close(c, 4003, "too many errors", true);
}

static void client_send_lastvalue(wsg_frame *f, void *arg)
{
    conn_send(arg, f, true);
}

static void client_op_sub(conn *c, const proto_cmd *cmd)
{
    hub *h = c->hub;
    const char *id = cmd->has_id ? cmd->id : NULL;
    if (c->claims && !auth_claims_allow(c->claims, cmd->subject)) {
        client_error(c, id, PERR_FORBIDDEN, "subject not allowed by token");
        return;
    }
    if (conn_sub_find(c, cmd->subject, NULL)) {
        conn_send_owned(c, protocol_ok(id, cmd->subject, h->last_seq), false);
        return;
    }
    if (c->nsubs >= (uint32_t)h->cfg->max_subs) {
        client_error(c, id, PERR_TOO_MANY_SUBSCRIPTIONS, "subscription limit reached");
        return;
    }
    conn_sub *s = conn_sub_add(c, cmd->subject);
    if (cmd->has_since) {
        replay_resume(c, s, cmd);
        return;
    }
    s->min_seq = h->last_seq;
    conn_send_owned(c, protocol_ok(id, cmd->subject, h->last_seq), false);
    lastvalue_each_match(h->lv, cmd->subject, client_send_lastvalue, c);
}

static void client_op_unsub(conn *c, const proto_cmd *cmd)
{
    conn_sub *s = conn_sub_find(c, cmd->subject, NULL);
    if (s)
        conn_sub_remove(c, s);
    conn_send_owned(c, protocol_ok(cmd->has_id ? cmd->id : NULL, cmd->subject, c->hub->last_seq),
                    false);
}

_Static_assert(PROTOCOL_TOKEN_MAX == AUTH_TOKEN_MAX, "a refresh token is bounded like the first");

#define CLIENT_UNSUB_REASON "not allowed by the refreshed token"

/* refresh: verify the new token like the upgrade's (keys, aud, iss, exp, nbf)
 * and put its claims in place of the old ones. A token for another `sub`
 * (client id) is refused. Subscriptions the new `subs` do not allow end with
 * an unsub frame each; the others go on untouched. On any refusal the old
 * claims stay, with their exp (and the 4002 close it brings). */
static void client_op_refresh(conn *c, const proto_cmd *cmd)
{
    hub *h = c->hub;
    const char *id = cmd->has_id ? cmd->id : NULL;
    if (!h->auth || !c->claims) {
        client_error(c, id, PERR_BAD_REQUEST, "authentication is off: nothing to refresh");
        return;
    }
    auth_claims *n = xcalloc(1, sizeof(*n));
    const char *reason = NULL;
    if (auth_verify(h->auth, cmd->token, cmd->token_len, clock_now_ms() / 1000, n, &reason) != 0) {
        free(n);
        client_error(c, id, PERR_FORBIDDEN, reason ? reason : "token refused");
        return;
    }
    if (strcmp(n->sub, c->claims->sub) != 0) {
        auth_claims_clear(n);
        free(n);
        client_error(c, id, PERR_FORBIDDEN, "token is for another client (sub differs)");
        return;
    }
    for (uint32_t i = c->nsubs; i-- > 0;) { /* backwards: removal moves the last one here */
        const char *pattern = sublist_entry_pattern(c->subs[i]->entry);
        if (auth_claims_allow(n, pattern))
            continue;
        conn_send_owned(c, protocol_unsub(pattern, CLIENT_UNSUB_REASON), false);
        conn_sub_remove(c, c->subs[i]);
    }
    auth_claims_clear(c->claims);
    free(c->claims);
    c->claims = n;
    c->refresh_hinted = false;
    log_event(LOG_DEBUG, "conn_refresh", "s:conn", c->id, "l:exp", (long long)n->exp, NULL);
    conn_send_owned(c, protocol_ok_refresh(id, n->exp), false);
}

/* One complete client message. */
static void client_message(conn *c, const char *buf, size_t len, bool binary)
{
    proto_cmd cmd;
    const char *msg;
    if (binary) {
        client_error(c, NULL, PERR_BAD_REQUEST, "binary frames are not accepted");
        return;
    }
    enum proto_err e = protocol_parse(buf, len, &cmd, &msg);
    const char *id = cmd.has_id ? cmd.id : NULL;
    if (!client_rate_take(c)) {
        client_error(c, id, PERR_RATE_LIMITED, "too many operations; slow down");
        return;
    }
    if (e != PERR_NONE) {
        client_error(c, id, e, msg);
        return;
    }
    switch (cmd.op) {
    case PROTO_SUB:
        client_op_sub(c, &cmd);
        break;
    case PROTO_UNSUB:
        client_op_unsub(c, &cmd);
        break;
    case PROTO_PING:
        conn_send_owned(c, protocol_pong(id), false);
        break;
    case PROTO_REFRESH:
        client_op_refresh(c, &cmd);
        break;
    }
}

/* A complete compressed client message: inflate it (bounded by --max-frame) and handle it. */
static void client_message_deflated(conn *c, const void *buf, size_t len, bool binary)
{
    sbuf out;
    sbuf_init(&out, 0);
    int rc = pmd_inflate(buf, len, c->hub->cfg->max_frame, &out);
    if (rc == -EMSGSIZE)
        conn_close(c, 1009, "message too big", false);
    else if (rc != 0)
        conn_close(c, 1007, "invalid compressed data", false);
    else
        client_message(c, sbuf_str(&out), out.len, binary);
    sbuf_free(&out);
}

/* A whole client message, compressed (RSV1) or not. */
static void client_complete(conn *c, const void *buf, size_t len, bool deflated, bool binary)
{
    if (deflated)
        client_message_deflated(c, buf, len, binary);
    else
        client_message(c, buf, len, binary);
}

int client_receive(conn *c, const void *in, size_t len)
{
    c->last_rx_ms = clock_now_ms();
    size_t remaining = lws_remaining_packet_payload(c->wsi);
    bool complete = lws_is_final_fragment(c->wsi) && remaining == 0;
    size_t have = c->rx ? c->rx->len : 0;
    /* a new message: its first frame says whether it is compressed */
    bool deflated = c->rx ? c->rx_deflated : (lws_get_reserved_bits(c->wsi) & PMD_RSV1) != 0;
    if (have + len + remaining > c->hub->cfg->max_frame) {
        conn_rx_free(c);
        conn_close(c, 1009, "message too big", false);
    }
    if (c->close_code)
        return 0; /* closing: ignore what the client still says */
    bool binary = lws_frame_is_binary(c->wsi);
    if (complete && !c->rx) {
        client_complete(c, in, len, deflated, binary);
        return 0;
    }
    if (!c->rx) {
        c->rx = xmalloc(sizeof(*c->rx));
        sbuf_init(c->rx, 0);
        c->rx_deflated = deflated;
    }
    sbuf_put(c->rx, in, len);
    if (complete) {
        client_complete(c, sbuf_str(c->rx), c->rx->len, deflated, binary);
        conn_rx_free(c);
    }
    return 0;
}
