/* log.c: structured log lines (JSON or text) on stderr, one write(2) each. */
#include "wsgate/log.h"

#include "wsgate/jsonesc.h"
#include "wsgate/timefmt.h"

#include <libwebsockets.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set by log_init, read by any thread. */
static atomic_int log_min_level = LOG_INFO;
static atomic_int log_format = LOG_FORMAT_AUTO;

static const char *const log_level_names[] = {"debug", "info", "warn", "error"};
static const char *const log_format_names[] = {"auto", "json", "text"};

#define LOG_LINE_MAX 4096
/* Always kept free for the end of a line: `,"truncated":true}\n` or
 * ` truncated=true\n`, plus a closing quote. */
#define LOG_TAIL_ROOM 32

/* One line under construction. `limit` is where field text must stop so the
 * line can always be finished; `full` stops further fields once one did not fit. */
struct log_line {
    char buf[LOG_LINE_MAX];
    size_t len;
    size_t limit;
    bool json;
    bool full;
};

/* Append n bytes if they fit below the limit; otherwise append nothing and
 * return false. */
static bool log_put(struct log_line *l, const char *s, size_t n)
{
    if (l->len + n > l->limit)
        return false;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return true;
}

static bool log_puts(struct log_line *l, const char *s)
{
    return log_put(l, s, strlen(s));
}

/* Append s inside double quotes, JSON-escaped, with invalid UTF-8 bytes as
 * \ufffd. Returns false (appending nothing) if not even the opening quote
 * fits. If the whole string does not fit, it is cut at a character boundary,
 * the quote is closed (in the tail room) and the line is marked full. */
static bool log_put_quoted(struct log_line *l, const char *str)
{
    size_t n = strnlen(str, LOG_LINE_MAX); /* more would not fit anyway */

    if (!log_put(l, "\"", 1))
        return false;
    for (size_t i = 0; i < n;) {
        char esc[JSONESC_MAX];
        size_t outlen, k = jsonesc_char(str + i, n - i, esc, &outlen);
        if (!log_put(l, esc, outlen)) {
            l->full = true;
            break;
        }
        i += k;
    }
    l->buf[l->len++] = '"';
    return true;
}

/* Does a text-format value need quotes to stay one readable token? */
static bool log_text_needs_quotes(const char *s)
{
    if (*s == '\0')
        return true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p >= 0x7f)
            return true;
    return false;
}

/* Start a field: `,"key":` in JSON, ` key=` in text. False if it did not
 * fit whole (the caller rolls back). */
static bool log_put_key(struct log_line *l, const char *key)
{
    if (l->json)
        return log_put(l, ",", 1) && log_put_quoted(l, key) && !l->full && log_put(l, ":", 1);
    return log_put(l, " ", 1) && log_puts(l, key) && log_put(l, "=", 1);
}

/* Append a string value (NULL as null); false if nothing of it fit. */
static bool log_put_string(struct log_line *l, const char *s)
{
    if (!s)
        return log_puts(l, "null");
    if (l->json || log_text_needs_quotes(s))
        return log_put_quoted(l, s);
    /* Plain ASCII without spaces: may be cut anywhere. */
    size_t room = l->limit - l->len, n = strlen(s);
    if (n > room) {
        n = room;
        l->full = true;
    }
    return n > 0 && log_put(l, s, n);
}

/* Append one key/value pair whose value text is already formatted. A field
 * whose key or value does not fit at all is dropped whole and the line is
 * marked full; a long string value may be cut short. */
static void log_put_field(struct log_line *l, const char *key, const char *value, bool is_string)
{
    size_t start = l->len;
    bool ok = log_put_key(l, key) && (is_string ? log_put_string(l, value) : log_puts(l, value));

    if (!ok) {
        l->len = start;
        l->full = true;
    }
}

static bool log_use_json(void)
{
    int f = atomic_load(&log_format);
    if (f == LOG_FORMAT_AUTO)
        return !isatty(STDERR_FILENO);
    return f == LOG_FORMAT_JSON;
}

/* Format the value of one typed key from the argument list into val.
 * Returns 1 for a string (in *str), 0 for other values, -EINVAL for an
 * unknown type. */
static int log_format_value(char type, va_list *ap, char *val, size_t vallen, const char **str)
{
    switch (type) {
    case 's':
        *str = va_arg(*ap, const char *);
        return 1;
    case 'i':
        snprintf(val, vallen, "%d", va_arg(*ap, int));
        return 0;
    case 'l':
        snprintf(val, vallen, "%lld", va_arg(*ap, long long));
        return 0;
    case 'u':
        snprintf(val, vallen, "%llu", va_arg(*ap, unsigned long long));
        return 0;
    case 'f': {
        double d = va_arg(*ap, double);
        if (isfinite(d))
            snprintf(val, vallen, "%.15g", d);
        else
            snprintf(val, vallen, "null");
        return 0;
    }
    case 'b':
        snprintf(val, vallen, "%s", va_arg(*ap, int) ? "true" : "false");
        return 0;
    default:
        return -EINVAL;
    }
}

static void log_write_all(const char *buf, size_t len)
{
    ssize_t n;

    do
        n = write(STDERR_FILENO, buf, len);
    while (n < 0 && errno == EINTR);
}

/* Map libwebsockets' log lines onto our events. */
static void log_lws_emit(int lws_level, const char *line)
{
    char msg[1024];
    enum log_level level = LOG_DEBUG;

    if (lws_level & LLL_ERR)
        level = LOG_ERROR;
    else if (lws_level & LLL_WARN)
        level = LOG_WARN;
    snprintf(msg, sizeof(msg), "%s", line ? line : "");
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_event(level, "lws", "s:msg", msg, NULL);
}

void log_init(enum log_level level, enum log_format format)
{
    if (format == LOG_FORMAT_AUTO)
        format = isatty(STDERR_FILENO) ? LOG_FORMAT_TEXT : LOG_FORMAT_JSON;
    atomic_store(&log_min_level, level);
    atomic_store(&log_format, format);
    lws_set_log_level(LLL_ERR | LLL_WARN | (level == LOG_DEBUG ? LLL_NOTICE | LLL_INFO : 0),
                      log_lws_emit);
}

/* The index of s in names[0..count), -ENOENT if absent (or s is NULL). */
static int log_lookup(const char *s, const char *const *names, int count)
{
    for (int i = 0; s && i < count; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -ENOENT;
}

int log_level_parse(const char *s, enum log_level *out)
{
    int i = log_lookup(s, log_level_names, 4);
    if (i < 0)
        return -EINVAL;
    *out = (enum log_level)i;
    return 0;
}

int log_format_parse(const char *s, enum log_format *out)
{
    int i = log_lookup(s, log_format_names, 3);
    if (i < 0)
        return -EINVAL;
    *out = (enum log_format)i;
    return 0;
}

void log_event(enum log_level level, const char *event, ...)
{
    struct log_line l;
    char ts[TIMEFMT_MAX];
    va_list ap;

    if ((int)level < atomic_load(&log_min_level) || (int)level < LOG_DEBUG ||
        (int)level > LOG_ERROR)
        return;
    l.len = 0;
    l.limit = sizeof(l.buf) - LOG_TAIL_ROOM;
    l.json = log_use_json();
    l.full = false;
    timefmt_now(ts);

    if (l.json) {
        log_puts(&l, "{\"ts\":\"");
        log_puts(&l, ts);
        log_puts(&l, "\",\"level\":\"");
        log_puts(&l, log_level_names[level]);
        log_puts(&l, "\",\"event\":");
        log_put_quoted(&l, event ? event : "");
    } else {
        char head[64];
        snprintf(head, sizeof(head), "%s %-5s ", ts, log_level_names[level]);
        log_puts(&l, head);
        log_put_string(&l, event ? event : "");
    }

    va_start(ap, event);
    for (const char *key; !l.full && (key = va_arg(ap, const char *)) != NULL;) {
        char val[64];
        const char *str = NULL;
        if (key[0] == '\0' || key[1] != ':') {
            /* Without a valid type we cannot read the value: stop here. */
            log_put_field(&l, "bad_key", key, true);
            break;
        }
        int kind = log_format_value(key[0], &ap, val, sizeof(val), &str);
        if (kind < 0) {
            log_put_field(&l, "bad_key", key, true);
            break;
        }
        log_put_field(&l, key + 2, kind ? str : val, kind == 1);
    }
    va_end(ap);

    /* Finish the line in the tail room that was kept free. */
    l.limit = sizeof(l.buf);
    if (l.full)
        log_puts(&l, l.json ? ",\"truncated\":true" : " truncated=true");
    if (l.json)
        log_puts(&l, "}");
    log_puts(&l, "\n");
    log_write_all(l.buf, l.len);
}

const char *log_redact(const char *secret, char *out, unsigned outlen)
{
    if (outlen == 0)
        return "";
    if (!secret) {
        snprintf(out, outlen, "(none)");
        return out;
    }
    size_t len = strlen(secret);
    /* Show a prefix only when it is a small part of the secret, and only
     * printable ASCII of it. */
    int shown = 0;
    if (len >= 16)
        while (shown < 4 && secret[shown] > ' ' && secret[shown] < 0x7f)
            shown++;
    snprintf(out, outlen, "%.*s\xe2\x80\xa6(%zu bytes)", shown, secret, len);
    return out;
}
