/* events.c: EVENTS.md payloads decoded into events_event (see events.h). */
#include "wsgate/events.h"

#include "wsgate/utf8.h"
#include "wsgate/xmalloc.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DURATION_MAX 315360000000LL /* ten years, in ms */

static const char *const status_names[EVENTS_STATUSES] = {"verified", "rejected", "pending"};

const char *events_status_name(int status)
{
    return status >= 0 && status < EVENTS_STATUSES ? status_names[status] : NULL;
}

static int64_t clamp_ms(int64_t t)
{
    return t < 0 ? 0 : t > EVENTS_TS_MAX ? EVENTS_TS_MAX : t;
}

/* ---- time ---- */

/* Read exactly n decimal digits at *p: their value, or -EINVAL when they are not there. */
static int ts_digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -EINVAL;
        v = v * 10 + (**p - '0');
    }
    return v;
}

static bool ts_char(const char **p, const char *accept)
{
    if (**p == '\0' || !strchr(accept, **p))
        return false;
    (*p)++;
    return true;
}

int events_ts_parse(const char *s, int64_t *out)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = ts_digits(&s, 4), mo = -1, d = -1, h = -1, mi = -1, sec = -1, ms = 0;
    if (ts_char(&s, "-"))
        mo = ts_digits(&s, 2);
    if (ts_char(&s, "-"))
        d = ts_digits(&s, 2);
    if (ts_char(&s, "Tt "))
        h = ts_digits(&s, 2);
    if (ts_char(&s, ":"))
        mi = ts_digits(&s, 2);
    if (ts_char(&s, ":"))
        sec = ts_digits(&s, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || sec < 0 || sec > 60)
        return -EINVAL;
    if (mo == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)))
        return -EINVAL;
    if (ts_char(&s, ".")) {
        int scale = 100, ndigits = 0;
        for (; *s >= '0' && *s <= '9'; s++, ndigits++) {
            ms += (*s - '0') * scale;
            scale /= 10;
        }
        if (ndigits == 0)
            return -EINVAL;
    }
    int offset_min = 0;
    if (!ts_char(&s, "Zz")) {
        int sign = *s == '-' ? -1 : 1;
        if (!ts_char(&s, "+-"))
            return -EINVAL;
        int oh = ts_digits(&s, 2), om = ts_char(&s, ":") ? ts_digits(&s, 2) : -EINVAL;
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -EINVAL;
        offset_min = sign * (oh * 60 + om);
    }
    if (*s != '\0')
        return -EINVAL;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec > 59 ? 59 : sec};
    int64_t t = ((int64_t)timegm(&tm) - offset_min * 60LL) * 1000 + ms;
    if (t < 0 || t > EVENTS_TS_MAX)
        return -EINVAL;
    *out = t;
    return 0;
}

/* ---- the subject ---- */

static bool token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Split a subject of exactly three valid tokens. */
static bool subject_split(const char *s, char tok[3][EVENTS_TOKEN_MAX + 1])
{
    for (int i = 0; i < 3; i++) {
        size_t n = 0;
        for (; token_char(*s); s++) {
            if (n == EVENTS_TOKEN_MAX)
                return false;
            tok[i][n++] = *s;
        }
        tok[i][n] = '\0';
        if (n == 0 || *s != (i < 2 ? '.' : '\0'))
            return false;
        s++;
    }
    return true;
}

/* Fill in ev->type and token from the subject, verb gets the last token;
 * false when the subject is not ours. */
static bool events_classify(events_event *ev, const char *subject, char verb[EVENTS_TOKEN_MAX + 1])
{
    static const struct {
        const char *family, *verb;
        events_type type;
    } kinds[] = {
        {"batch", "started", EVENTS_STARTED},     {"batch", "progress", EVENTS_PROGRESS},
        {"batch", "completed", EVENTS_COMPLETED}, {"license", "assigned", EVENTS_ASSIGNED},
        {"license", "failed", EVENTS_FAILED},
    };
    char tok[3][EVENTS_TOKEN_MAX + 1];
    if (!subject || !subject_split(subject, tok))
        return false;
    strcpy(ev->token, tok[1]);
    strcpy(verb, tok[2]);
    if (strcmp(tok[0], "verification") == 0) {
        ev->type = EVENTS_VERIFICATION;
        return true;
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(tok[0], kinds[i].family) == 0 && strcmp(tok[2], kinds[i].verb) == 0) {
            ev->type = kinds[i].type;
            return true;
        }
    }
    return false;
}

/* ---- the payload ---- */

/* An optional string field: *out is NULL when absent or null (borrowed from o). */
static int field_str(json_t *o, const char *key, const char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -EINVAL;
    *out = json_string_value(v);
    return 0;
}

/* An optional integer field in [0, max]: *out is -1 when absent or null. */
static int field_count(json_t *o, const char *key, int64_t max, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    *out = -1;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return -EINVAL;
    *out = json_integer_value(v);
    return 0;
}

/* An owned copy of s (NULL stays NULL) cut to at most max bytes, never inside
 * a UTF-8 character. */
static char *str_clip(const char *s, size_t max)
{
    return s ? xstrndup(s, utf8_clip(s, strlen(s), max)) : NULL;
}

/* EVENTS_VERIFIED.. for a status name, -EINVAL for anything else. */
static int status_index(const char *s)
{
    for (int i = 0; s && i < EVENTS_STATUSES; i++)
        if (strcmp(s, status_names[i]) == 0)
            return i;
    return -EINVAL;
}

/* Index of an ISO 3166-1 alpha-2 code ("FR"), -EINVAL when s is not two uppercase letters. */
static int country_index(const char *s)
{
    if (!s || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' || s[2] != '\0')
        return -EINVAL;
    return (s[0] - 'A') * 26 + (s[1] - 'A');
}

/* status and country from the payload, else from the subject's tokens. */
static int events_parse_verification(events_event *ev, json_t *o, const char *verb)
{
    const char *status, *country;
    if (field_str(o, "status", &status) < 0 || field_str(o, "country", &country) < 0)
        return -EINVAL;
    ev->status = status_index(status ? status : verb);
    ev->country = country_index(country);
    if (ev->country < 0)
        ev->country = country_index(ev->token);
    return ev->status < 0 || ev->country < 0 ? -EINVAL : 0;
}

/* Batch and license events: every field is optional but typed; a license
 * event needs a license_id. The payload's batch_id is checked for type
 * only: the subject names the batch. */
static int events_parse_batch(events_event *ev, json_t *o)
{
    const char *batch_id, *kind, *license_id, *hcp_id, *error;
    if (field_str(o, "batch_id", &batch_id) < 0 || field_str(o, "kind", &kind) < 0 ||
        field_str(o, "license_id", &license_id) < 0 || field_str(o, "hcp_id", &hcp_id) < 0 ||
        field_str(o, "error", &error) < 0 ||
        field_count(o, "total", EVENTS_COUNT_MAX, &ev->total) < 0 ||
        field_count(o, "done", EVENTS_COUNT_MAX, &ev->done) < 0 ||
        field_count(o, "failed", EVENTS_COUNT_MAX, &ev->failed) < 0 ||
        field_count(o, "workers", EVENTS_WORKERS, &ev->workers) < 0 ||
        field_count(o, "worker", EVENTS_WORKERS - 1, &ev->worker) < 0 ||
        field_count(o, "duration_ms", DURATION_MAX, &ev->duration_ms) < 0)
        return -EINVAL;
    if (ev->type == EVENTS_ASSIGNED || ev->type == EVENTS_FAILED) {
        if (!license_id || !license_id[0] || strlen(license_id) > EVENTS_ID_MAX)
            return -EINVAL;
        ev->license_id = xstrdup(license_id);
    }
    if (ev->type == EVENTS_STARTED)
        ev->kind = str_clip(kind, EVENTS_TEXT_MAX);
    if (ev->type == EVENTS_FAILED) {
        ev->hcp_id = str_clip(hcp_id, EVENTS_TEXT_MAX);
        ev->error = str_clip(error, EVENTS_TEXT_MAX);
    }
    return 0;
}

int events_decode(events_event *ev, const char *subject, const void *data, size_t len,
                  int64_t ts_ms)
{
    char verb[EVENTS_TOKEN_MAX + 1];
    memset(ev, 0, sizeof(*ev));
    if (!events_classify(ev, subject, verb)) {
        memset(ev, 0, sizeof(*ev));
        return EVENTS_NOT_STATE;
    }
    if (!data)
        return -EINVAL;
    ev->total = ev->workers = ev->done = ev->failed = ev->worker = ev->duration_ms = -1;
    json_t *root = json_loadb(data, len, 0, NULL);
    const char *ts;
    int rc = -EINVAL;
    if (!json_is_object(root) || field_str(root, "ts", &ts) < 0)
        goto out;
    if (!ts || events_ts_parse(ts, &ev->ts) < 0)
        ev->ts = clamp_ms(ts_ms);
    rc = ev->type == EVENTS_VERIFICATION ? events_parse_verification(ev, root, verb)
                                         : events_parse_batch(ev, root);
out:
    json_decref(root);
    if (rc < 0)
        events_clear(ev);
    return rc;
}

void events_clear(events_event *ev)
{
    free(ev->kind);
    free(ev->license_id);
    free(ev->hcp_id);
    free(ev->error);
    memset(ev, 0, sizeof(*ev));
}
