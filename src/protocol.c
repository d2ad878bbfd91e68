/* protocol.c: parse client ops and encode server frames (PROTOCOL.md, version 1). */
#include "wsgate/protocol.h"

#include "wsgate/jsonscan.h"
#include "wsgate/utf8.h"
#include "wsgate/xmalloc.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

static const char *const protocol_err_names[PERR_COUNT] = {
    [PERR_NONE] = "none",
    [PERR_BAD_REQUEST] = "bad_request",
    [PERR_BAD_SUBJECT] = "bad_subject",
    [PERR_FORBIDDEN] = "forbidden",
    [PERR_TOO_MANY_SUBSCRIPTIONS] = "too_many_subscriptions",
    [PERR_RATE_LIMITED] = "rate_limited",
    [PERR_INTERNAL] = "internal",
};

const char *protocol_err_name(enum proto_err e)
{
    return (e >= 0 && e < PERR_COUNT) ? protocol_err_names[e] : "internal";
}

/* Read the optional "since" (integer >= 0) and "epoch" (string) of a sub. */
static enum proto_err protocol_parse_resume(json_t *root, proto_cmd *cmd, const char **msg)
{
    json_t *since = json_object_get(root, "since");
    if (since && !json_is_null(since)) {
        if (json_is_integer(since) && json_integer_value(since) >= 0) {
            cmd->since = (uint64_t)json_integer_value(since);
        } else if (json_is_real(since) && json_real_value(since) >= 0 &&
                   json_real_value(since) < 9007199254740992.0 &&
                   floor(json_real_value(since)) == json_real_value(since)) {
            cmd->since = (uint64_t)json_real_value(since);
        } else {
            *msg = "since must be an integer >= 0";
            return PERR_BAD_REQUEST;
        }
        cmd->has_since = true;
    }
    json_t *epoch = json_object_get(root, "epoch");
    if (epoch && !json_is_null(epoch)) {
        if (!json_is_string(epoch) || json_string_length(epoch) >= sizeof(cmd->epoch)) {
            *msg = "epoch must be a string of at most 63 bytes";
            return PERR_BAD_REQUEST;
        }
        memcpy(cmd->epoch, json_string_value(epoch), json_string_length(epoch) + 1);
        cmd->has_epoch = true;
    }
    return PERR_NONE;
}

/* Read the "subject" of a sub/unsub and check its pattern syntax. */
static enum proto_err protocol_parse_subject(json_t *root, proto_cmd *cmd, const char **msg)
{
    json_t *subject = json_object_get(root, "subject");
    if (!subject) {
        *msg = "missing subject";
        return PERR_BAD_REQUEST;
    }
    if (!json_is_string(subject)) {
        *msg = "subject must be a string";
        return PERR_BAD_REQUEST;
    }
    size_t n = json_string_length(subject);
    const char *s = json_string_value(subject);
    if (n > SUBJECT_MAX_LEN || strlen(s) != n || !subject_pattern_valid(s)) {
        *msg = "invalid subject pattern";
        return PERR_BAD_SUBJECT;
    }
    memcpy(cmd->subject, s, n + 1);
    return PERR_NONE;
}

/* Read the "token" of a refresh: a non-empty string of at most PROTOCOL_TOKEN_MAX bytes. */
static enum proto_err protocol_parse_token(json_t *root, proto_cmd *cmd, const char **msg)
{
    json_t *token = json_object_get(root, "token");
    size_t n = json_is_string(token) ? json_string_length(token) : 0;
    if (!token || !json_is_string(token) || n == 0 || n > PROTOCOL_TOKEN_MAX ||
        strlen(json_string_value(token)) != n) {
        *msg = "token must be a non-empty string of at most 8192 bytes";
        return PERR_BAD_REQUEST;
    }
    memcpy(cmd->token, json_string_value(token), n + 1);
    cmd->token_len = n;
    return PERR_NONE;
}

static enum proto_err protocol_parse_root(json_t *root, proto_cmd *cmd, const char **msg)
{
    if (!json_is_object(root)) {
        *msg = "frame must be a JSON object";
        return PERR_BAD_REQUEST;
    }
    json_t *id = json_object_get(root, "id");
    if (id) {
        if (!json_is_string(id) || json_string_length(id) > PROTOCOL_ID_MAX ||
            strlen(json_string_value(id)) != json_string_length(id)) {
            *msg = "id must be a string of at most 64 bytes";
            return PERR_BAD_REQUEST;
        }
        memcpy(cmd->id, json_string_value(id), json_string_length(id) + 1);
        cmd->has_id = true;
    }
    json_t *op = json_object_get(root, "op");
    if (!op || !json_is_string(op)) {
        *msg = op ? "op must be a string" : "missing op";
        return PERR_BAD_REQUEST;
    }
    const char *name = json_string_value(op);
    if (strcmp(name, "ping") == 0) {
        cmd->op = PROTO_PING;
        return PERR_NONE;
    }
    if (strcmp(name, "refresh") == 0) {
        cmd->op = PROTO_REFRESH;
        return protocol_parse_token(root, cmd, msg);
    }
    if (strcmp(name, "sub") == 0)
        cmd->op = PROTO_SUB;
    else if (strcmp(name, "unsub") == 0)
        cmd->op = PROTO_UNSUB;
    else {
        *msg = "unknown op";
        return PERR_BAD_REQUEST;
    }
    enum proto_err e = protocol_parse_subject(root, cmd, msg);
    if (e == PERR_NONE && cmd->op == PROTO_SUB)
        e = protocol_parse_resume(root, cmd, msg);
    return e;
}

enum proto_err protocol_parse(const char *buf, size_t len, proto_cmd *cmd, const char **msg)
{
    memset(cmd, 0, offsetof(proto_cmd, token)); /* not the token's 8 KiB on every op */
    cmd->token[0] = '\0';
    *msg = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_DECODE_ANY, &jerr);
    if (!root) {
        *msg = "frame is not valid JSON";
        return PERR_BAD_REQUEST;
    }
    enum proto_err e = protocol_parse_root(root, cmd, msg);
    json_decref(root);
    return e;
}

/* Start a server frame: {"op":"<op>" and, when given, ,"id":"<id>". */
static void protocol_begin(sbuf *b, const char *op, const char *id)
{
    sbuf_init(b, FRAME_PRE);
    sbuf_printf(b, "{\"op\":\"%s\"", op);
    if (id) {
        sbuf_puts(b, ",\"id\":");
        sbuf_json_str(b, id, strlen(id));
    }
}

static wsg_frame *protocol_end(sbuf *b)
{
    sbuf_putc(b, '}');
    return frame_from_sbuf(b);
}

wsg_frame *protocol_hello(const char *conn_id, const char *epoch, int64_t heartbeat_ms,
                          size_t max_frame, int64_t exp, int64_t refresh_in_ms)
{
    sbuf b;
    protocol_begin(&b, "hello", NULL);
    sbuf_printf(&b, ",\"version\":%d,\"server\":\"wsgate/%s\",\"conn\":", PROTOCOL_VERSION,
                WSGATE_VERSION);
    sbuf_json_str(&b, conn_id, strlen(conn_id));
    sbuf_puts(&b, ",\"epoch\":");
    sbuf_json_str(&b, epoch, strlen(epoch));
    sbuf_printf(&b, ",\"heartbeat_ms\":%lld,\"max_frame\":%zu", (long long)heartbeat_ms, max_frame);
    if (exp > 0)
        sbuf_printf(&b, ",\"exp\":%lld,\"refresh_in_ms\":%lld", (long long)exp,
                    (long long)(refresh_in_ms > 0 ? refresh_in_ms : 0));
    return protocol_end(&b);
}

wsg_frame *protocol_ok_refresh(const char *id, int64_t exp)
{
    sbuf b;
    protocol_begin(&b, "ok", id);
    sbuf_printf(&b, ",\"exp\":%lld", (long long)exp);
    return protocol_end(&b);
}

wsg_frame *protocol_unsub(const char *subject, const char *reason)
{
    sbuf b;
    protocol_begin(&b, "unsub", NULL);
    sbuf_puts(&b, ",\"subject\":");
    sbuf_json_str(&b, subject, strlen(subject));
    sbuf_puts(&b, ",\"reason\":");
    sbuf_json_str(&b, reason, strlen(reason));
    return protocol_end(&b);
}

wsg_frame *protocol_refresh_hint(int64_t exp)
{
    sbuf b;
    protocol_begin(&b, "refresh", NULL);
    sbuf_printf(&b, ",\"exp\":%lld", (long long)exp);
    return protocol_end(&b);
}

wsg_frame *protocol_ok(const char *id, const char *subject, uint64_t seq)
{
    sbuf b;
    protocol_begin(&b, "ok", id);
    sbuf_puts(&b, ",\"subject\":");
    sbuf_json_str(&b, subject, strlen(subject));
    sbuf_printf(&b, ",\"seq\":%llu", (unsigned long long)seq);
    return protocol_end(&b);
}

wsg_frame *protocol_ok_resume(const char *id, const char *subject, uint64_t seq, uint64_t replayed,
                              bool recovered)
{
    sbuf b;
    protocol_begin(&b, "ok", id);
    sbuf_puts(&b, ",\"subject\":");
    sbuf_json_str(&b, subject, strlen(subject));
    sbuf_printf(&b, ",\"seq\":%llu,\"replayed\":%llu,\"recovered\":%s", (unsigned long long)seq,
                (unsigned long long)replayed, recovered ? "true" : "false");
    return protocol_end(&b);
}

wsg_frame *protocol_err(const char *id, enum proto_err code, const char *message)
{
    sbuf b;
    protocol_begin(&b, "err", id);
    sbuf_printf(&b, ",\"code\":\"%s\",\"message\":", protocol_err_name(code));
    sbuf_json_str(&b, message, strlen(message));
    return protocol_end(&b);
}

wsg_frame *protocol_pong(const char *id)
{
    sbuf b;
    protocol_begin(&b, "pong", id);
    return protocol_end(&b);
}

wsg_frame *protocol_msg(const char *subject, uint64_t seq, const void *data, size_t len)
{
    sbuf b;
    size_t slen = strlen(subject);
    sbuf_init(&b, FRAME_PRE);
    sbuf_puts(&b, "{\"op\":\"msg\",\"subject\":");
    sbuf_json_str(&b, subject, slen);
    sbuf_printf(&b, ",\"seq\":%llu,\"data\":", (unsigned long long)seq);
    if (jsonscan_valid(data, len)) {
        sbuf_put(&b, data, len);
    } else if (utf8_valid(data, len)) {
        sbuf_json_str(&b, data, len);
    } else {
        sbuf_putc(&b, '"');
        sbuf_base64(&b, data, len);
        sbuf_puts(&b, "\",\"encoding\":\"base64\"");
    }
    wsg_frame *f = protocol_end(&b);
    f->seq = seq;
    f->subject = xstrndup(subject, slen);
    return f;
}
