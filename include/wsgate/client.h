/* client.h: what a WebSocket client says: messages (compressed or not), the ops, their limits. */
#ifndef WSGATE_CLIENT_H
#define WSGATE_CLIENT_H

#include "wsgate/conn.h"
#include "wsgate/protocol.h"

#include <stddef.h>

/* A piece of a client message arrived (LWS_CALLBACK_RECEIVE): join the
 * pieces (bounded by --max-frame: 1009 above), inflate a compressed message
 * (RSV1 on its first frame; 1009 when it inflates to more than --max-frame,
 * 1007 when it is not deflate), then apply the op under the rate limit.
 * Returns what the lws callback returns, which is always 0: a bad client is
 * closed through conn_close, with a close frame. */
int client_receive(conn *c, const void *in, size_t len);
/* Send an err frame; the (err_limit+1)-th within err_window closes with 4003 after it. */
void client_error(conn *c, const char *id, enum proto_err code, const char *message);

#endif
