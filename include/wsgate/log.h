/* log.h: structured logs, one JSON object per line (plain text when stderr is a terminal). */
#ifndef WSGATE_LOG_H
#define WSGATE_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_AUTO = 0, LOG_FORMAT_JSON, LOG_FORMAT_TEXT };

/* Configure the logger: lines below `level` are dropped. AUTO means text on a
 * terminal, JSON otherwise. Also routes libwebsockets' own log lines through
 * log_event (lws errors as "error", warnings as "warn", notices as "debug"). */
void log_init(enum log_level level, enum log_format format);

/* Parse "debug"/"info"/"warn"/"error" (log_level_parse) or
 * "auto"/"json"/"text" (log_format_parse) into *out: 0, or -EINVAL for any
 * other string or NULL (*out untouched). */
int log_level_parse(const char *s, enum log_level *out);
int log_format_parse(const char *s, enum log_format *out);

/* Emit one event. After `event` come key/value pairs ended by NULL. Each key
 * starts with a type letter and a colon:
 *   "s:name", const char *   (string, JSON-escaped; NULL prints null)
 *   "i:name", int
 *   "l:name", long long
 *   "u:name", unsigned long long
 *   "f:name", double
 *   "b:name", int (true/false)
 * Example:
 *   log_event(LOG_INFO, "conn_close", "s:conn", id, "i:code", 4001, NULL);
 * prints
 * {"ts":"2026-11-27T07:40:12.118Z","level":"info","event":"conn_close","conn":"c1","code":4001}
 * Thread-safe: one write(2) per line. Never fails; an over-long line is truncated. */
void log_event(enum log_level level, const char *event, ...);

/* Redact a secret for logs: writes "abcd…(N bytes)" style text to out (never the secret itself). */
const char *log_redact(const char *secret, char *out, unsigned outlen);

#endif
