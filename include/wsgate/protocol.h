/* protocol.h: the client protocol of PROTOCOL.md: parse client ops, encode server frames. */
#ifndef WSGATE_PROTOCOL_H
#define WSGATE_PROTOCOL_H

#include "wsgate/frame.h"
#include "wsgate/subject.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTOCOL_VERSION   1
#define PROTOCOL_ID_MAX    64
#define PROTOCOL_TOKEN_MAX 8192 /* a refresh token's most bytes (AUTH_TOKEN_MAX) */

enum proto_op { PROTO_SUB = 1, PROTO_UNSUB, PROTO_PING, PROTO_REFRESH };

/* Client error codes, in the order of PROTOCOL.md. */
enum proto_err {
    PERR_NONE = 0,
    PERR_BAD_REQUEST,
    PERR_BAD_SUBJECT,
    PERR_FORBIDDEN,
    PERR_TOO_MANY_SUBSCRIPTIONS,
    PERR_RATE_LIMITED,
    PERR_INTERNAL,
    PERR_COUNT
};

typedef struct proto_cmd {
    enum proto_op op;
    bool has_id;
    char id[PROTOCOL_ID_MAX + 1];
    char subject[SUBJECT_MAX_LEN + 1]; /* sub/unsub */
    bool has_since;
    uint64_t since;
    bool has_epoch;
    char epoch[64];
    size_t token_len; /* refresh: the new token (NUL-terminated), last: parse clears only its first
                         byte */
    char token[PROTOCOL_TOKEN_MAX + 1];
} proto_cmd;

/* Parse one client text frame. Returns PERR_NONE and fills cmd, or an error
 * code with a human message in *msg (static string). On error cmd->id is
 * still filled when the frame had a valid id, so the reply can echo it. */
enum proto_err protocol_parse(const char *buf, size_t len, proto_cmd *cmd, const char **msg);

/* The wire name of an error code ("bad_request", ...). */
const char *protocol_err_name(enum proto_err e);

/* Server frames, each a new frame with one reference. id may be NULL. */
/* hello; with exp > 0 (authentication on) it also carries "exp" (the token's,
 * seconds since the epoch) and "refresh_in_ms" (when the refresh hint is due,
 * >= 0). */
wsg_frame *protocol_hello(const char *conn_id, const char *epoch, int64_t heartbeat_ms,
                          size_t max_frame, int64_t exp, int64_t refresh_in_ms);
/* The answer to a refresh that took: {"op":"ok","id":..,"exp":E}. */
wsg_frame *protocol_ok_refresh(const char *id, int64_t exp);
/* A subscription the server ended: {"op":"unsub","subject":P,"reason":R}. */
wsg_frame *protocol_unsub(const char *subject, const char *reason);
/* The refresh hint: {"op":"refresh","exp":E}, the token expires at E. */
wsg_frame *protocol_refresh_hint(int64_t exp);
wsg_frame *protocol_ok(const char *id, const char *subject, uint64_t seq);
wsg_frame *protocol_ok_resume(const char *id, const char *subject, uint64_t seq, uint64_t replayed,
                              bool recovered);
wsg_frame *protocol_err(const char *id, enum proto_err code, const char *message);
wsg_frame *protocol_pong(const char *id);
/* The msg frame of one event: data embedded as JSON when the payload is valid
 * JSON, else as a JSON string (plus "encoding":"base64" when not UTF-8).
 * Sets f->seq and f->subject. Safe on any thread. */
wsg_frame *protocol_msg(const char *subject, uint64_t seq, const void *data, size_t len);

#endif
