/* events.c: EVENTS.md payloads decoded into events_event (see events.h). */
#include "wsgate/events.h"

#include "wsgate/subject.h"
#include "wsgate/timefmt.h"

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

/* ---- the subject ---- */

/* Split a subject of exactly three valid tokens. */
static bool subject_split(const char *s, char tok[3][EVENTS_TOKEN_MAX + 1])
{
    for (int i = 0; i < 3; i++) {
        size_t n = 0;
        for (; subject_id_char(*s); s++) {
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

/* What events_classify made of a subject. */
enum { CLASS_OURS, CLASS_NOT_STATE, CLASS_UNKNOWN };

/* Fill in ev->type and token from the subject, verb gets the last token.
 * CLASS_OURS for an EVENTS.md subject, CLASS_UNKNOWN for three tokens under
 * batch. or license. with a verb EVENTS.md lacks, else CLASS_NOT_STATE. */
static int events_classify(events_event *ev, const char *subject, char verb[EVENTS_TOKEN_MAX + 1])
{
    static const struct {
        const char *family, *verb;
        events_type type;
    } kinds[] = {
        {"batch", "started", EVENTS_STARTED},     {"batch", "progress", EVENTS_PROGRESS},
        {"batch", "completed", EVENTS_COMPLETED}, {"batch", "cancelled", EVENTS_CANCELLED},
        {"license", "assigned", EVENTS_ASSIGNED}, {"license", "failed", EVENTS_FAILED},
    };
    char tok[3][EVENTS_TOKEN_MAX + 1];
    if (!subject || !subject_split(subject, tok))
        return CLASS_NOT_STATE;
    strcpy(ev->token, tok[1]);
    strcpy(verb, tok[2]);
    if (strcmp(tok[0], "verification") == 0) {
        ev->type = EVENTS_VERIFICATION;
        return CLASS_OURS;
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(tok[0], kinds[i].family) == 0 && strcmp(tok[2], kinds[i].verb) == 0) {
            ev->type = kinds[i].type;
            return CLASS_OURS;
        }
    }
    return strcmp(tok[0], "batch") == 0 || strcmp(tok[0], "license") == 0 ? CLASS_UNKNOWN
                                                                          : CLASS_NOT_STATE;
}

/* ---- the payload ---- */

static const char *const reason_names[EVENTS_REASONS] = {
    "not_json",     "not_object", "missing_field",     "wrong_type",
    "out_of_range", "bad_value",  "batch_id_mismatch", "unknown_event"};

const char *events_reason_name(int reason)
{
    return reason >= 0 && reason < EVENTS_REASONS ? reason_names[reason] : NULL;
}

/* Say why (when asked) and return -EINVAL. */
static int reject(events_reject *why, events_reason reason, const char *field)
{
    if (why)
        *why = (events_reject){reason, field};
    return -EINVAL;
}

/* An optional string field: *out is NULL when absent or null (borrowed from o). */
static int field_str(json_t *o, const char *key, const char **out, events_reject *why)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return reject(why, EVENTS_WRONG_TYPE, key);
    *out = json_string_value(v);
    return 0;
}

/* An optional integer field in [0, max]: *out is -1 when absent or null. */
static int field_count(json_t *o, const char *key, int64_t max, int64_t *out, events_reject *why)
{
    json_t *v = json_object_get(o, key);
    *out = -1;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return reject(why, EVENTS_WRONG_TYPE, key);
    if (json_integer_value(v) < 0 || json_integer_value(v) > max)
        return reject(why, EVENTS_OUT_OF_RANGE, key);
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

/* status and country from the payload, else from the subject's tokens. A
 * payload status that is not one is refused; a bad payload country gives way
 * to the subject's. Neither usable: missing_field when the payload has none,
 * else bad_value. */
static int events_parse_verification(events_event *ev, json_t *o, const char *verb,
                                     events_reject *why)
{
    const char *status, *country;
    if (field_str(o, "status", &status, why) < 0 || field_str(o, "country", &country, why) < 0)
        return -EINVAL;
    ev->status = status_index(status ? status : verb);
    if (ev->status < 0)
        return reject(why, status ? EVENTS_BAD_VALUE : EVENTS_MISSING_FIELD, "status");
    ev->country = country_index(country);
    if (ev->country < 0)
        ev->country = country_index(ev->token);
    if (ev->country < 0)
        return reject(why, country ? EVENTS_BAD_VALUE : EVENTS_MISSING_FIELD, "country");
    return 0;
}

/* Batch and license events: every field is optional but typed; a license
 * event needs a license_id. A batch_id, when there is one, must be the batch
 * the subject names. */
static int events_parse_batch(events_event *ev, json_t *o, events_reject *why)
{
    const char *batch_id, *kind, *license_id, *hcp_id, *error, *reason = NULL;
    if (field_str(o, "batch_id", &batch_id, why) < 0 || field_str(o, "kind", &kind, why) < 0 ||
        field_str(o, "license_id", &license_id, why) < 0 ||
        field_str(o, "hcp_id", &hcp_id, why) < 0 || field_str(o, "error", &error, why) < 0 ||
        (ev->type == EVENTS_CANCELLED && field_str(o, "reason", &reason, why) < 0) ||
        field_count(o, "total", EVENTS_COUNT_MAX, &ev->total, why) < 0 ||
        field_count(o, "done", EVENTS_COUNT_MAX, &ev->done, why) < 0 ||
        field_count(o, "failed", EVENTS_COUNT_MAX, &ev->failed, why) < 0 ||
        field_count(o, "workers", EVENTS_WORKERS, &ev->workers, why) < 0 ||
        field_count(o, "worker", EVENTS_WORKERS - 1, &ev->worker, why) < 0 ||
        field_count(o, "duration_ms", DURATION_MAX, &ev->duration_ms, why) < 0)
        return -EINVAL;
    if (batch_id && strcmp(batch_id, ev->token) != 0)
        return reject(why, EVENTS_BATCH_ID_MISMATCH, "batch_id");
    if (ev->type == EVENTS_ASSIGNED || ev->type == EVENTS_FAILED) {
        if (!license_id)
            return reject(why, EVENTS_MISSING_FIELD, "license_id");
        if (!license_id[0] || strlen(license_id) > EVENTS_ID_MAX)
            return reject(why, EVENTS_OUT_OF_RANGE, "license_id");
        ev->license_id = xstrdup(license_id);
    }
    if (ev->type == EVENTS_STARTED)
        ev->kind = str_clip(kind, EVENTS_TEXT_MAX);
    if (ev->type == EVENTS_FAILED) {
        ev->hcp_id = str_clip(hcp_id, EVENTS_TEXT_MAX);
        ev->error = str_clip(error, EVENTS_TEXT_MAX);
    }
    if (ev->type == EVENTS_CANCELLED)
        ev->reason = str_clip(reason, EVENTS_TEXT_MAX);
    return 0;
}

int events_decode(events_event *ev, const char *subject, const void *data, size_t len,
                  int64_t ts_ms, events_reject *why)
{
    char verb[EVENTS_TOKEN_MAX + 1];
    memset(ev, 0, sizeof(*ev));
    int class = events_classify(ev, subject, verb);
    if (class != CLASS_OURS) {
        memset(ev, 0, sizeof(*ev));
        return class == CLASS_UNKNOWN ? reject(why, EVENTS_UNKNOWN_EVENT, NULL) : EVENTS_NOT_STATE;
    }
    if (!data) {
        memset(ev, 0, sizeof(*ev));
        return reject(why, EVENTS_NOT_JSON, NULL);
    }
    ev->total = ev->workers = ev->done = ev->failed = ev->worker = ev->duration_ms = -1;
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_DECODE_ANY, &jerr);
    const char *ts;
    int rc = -EINVAL;
    if (!root) /* jansson says a number too big for an integer is not JSON: it is too big */
        reject(why,
               json_error_code(&jerr) == json_error_numeric_overflow ? EVENTS_OUT_OF_RANGE
                                                                     : EVENTS_NOT_JSON,
               NULL);
    else if (!json_is_object(root))
        reject(why, EVENTS_NOT_OBJECT, NULL);
    if (!json_is_object(root) || field_str(root, "ts", &ts, why) < 0)
        goto out;
    if (!ts || timefmt_parse_ms(ts, &ev->ts) < 0)
        ev->ts = clamp_ms(ts_ms);
    rc = ev->type == EVENTS_VERIFICATION ? events_parse_verification(ev, root, verb, why)
                                         : events_parse_batch(ev, root, why);
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
    free(ev->reason);
    memset(ev, 0, sizeof(*ev));
}
