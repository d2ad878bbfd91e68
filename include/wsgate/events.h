/* events.h: an EVENTS.md payload decoded into a compact struct (on the NATS thread).
 *
 * The NATS thread decodes each stored message once (events_decode) and hands
 * the result to the service thread with the inbox event, so batch state
 * (batches_apply) never parses JSON. */
#ifndef WSGATE_EVENTS_H
#define WSGATE_EVENTS_H

#include "wsgate/timefmt.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTS_TOKEN_MAX 64             /* bytes in a subject token (PROTOCOL.md) */
#define EVENTS_COUNT_MAX 100000000      /* larger totals and counts are absurd: -EINVAL */
#define EVENTS_WORKERS   1024           /* worker indexes are 0..EVENTS_WORKERS-1 */
#define EVENTS_ID_MAX    256            /* a longer license_id is -EINVAL */
#define EVENTS_TEXT_MAX  256            /* kind, hcp_id and error are clipped to this */
#define EVENTS_TS_MAX    TIMEFMT_MS_MAX /* 9999-12-31T23:59:59.999Z, in ms */

/* Returned by events_decode for a subject that carries no batch state. */
#define EVENTS_NOT_STATE (-ENOENT)

/* Why events_decode refused a payload (events_reject.reason). A fixed set:
 * each is a value of the `reason` label of wsgate_bad_events_total, pre-declared. */
typedef enum events_reason {
    EVENTS_NOT_JSON,          /* not JSON (or not UTF-8, or trailing bytes) */
    EVENTS_NOT_OBJECT,        /* JSON, but not an object */
    EVENTS_MISSING_FIELD,     /* a field the gateway needs is absent or null */
    EVENTS_WRONG_TYPE,        /* a field of the wrong JSON type */
    EVENTS_OUT_OF_RANGE,      /* a number or a length outside its bounds */
    EVENTS_BAD_VALUE,         /* a string that is not one of its allowed values */
    EVENTS_BATCH_ID_MISMATCH, /* batch_id is not the batch the subject names */
    EVENTS_UNKNOWN_EVENT,     /* batch.<id>.<x> or license.<id>.<x> with an x EVENTS.md lacks */
    EVENTS_REASONS
} events_reason;

/* What events_decode refused and why: field is the payload's key at fault
 * (a static string), NULL when the whole payload or the subject is. */
typedef struct events_reject {
    events_reason reason;
    const char *field;
} events_reject;

typedef enum events_type {
    EVENTS_STARTED,      /* batch.<batch>.started */
    EVENTS_PROGRESS,     /* batch.<batch>.progress */
    EVENTS_COMPLETED,    /* batch.<batch>.completed */
    EVENTS_CANCELLED,    /* batch.<batch>.cancelled */
    EVENTS_ASSIGNED,     /* license.<batch>.assigned */
    EVENTS_FAILED,       /* license.<batch>.failed */
    EVENTS_VERIFICATION, /* verification.<country>.<status> */
} events_type;

/* Verification statuses (events_event.status). */
enum { EVENTS_VERIFIED, EVENTS_REJECTED, EVENTS_PENDING, EVENTS_STATUSES };

/* One event, checked and decoded. Strings are owned (events_clear frees
 * them), NULL when absent or null in the payload, and kept only where batch
 * state uses them: kind for `started`, license_id for license events, hcp_id
 * and error for `failed`, reason for `cancelled` (every field is still
 * type-checked). kind, hcp_id, error and reason are clipped to
 * EVENTS_TEXT_MAX bytes (never inside a UTF-8 character). Counts are -1 when
 * absent or null. */
typedef struct events_event {
    events_type type;
    char token[EVENTS_TOKEN_MAX + 1]; /* batch id, or the country token of a verification */
    int64_t ts; /* event time, ms: the payload's `ts`, else the stream's timestamp (clamped) */
    int64_t total, workers, done, failed, duration_ms; /* 0..EVENTS_COUNT_MAX (workers: ..1024) */
    int64_t worker;                                    /* 0..EVENTS_WORKERS-1 */
    char *kind, *license_id, *hcp_id, *error; /* license_id: 1..EVENTS_ID_MAX bytes (licenses) */
    char *reason;                             /* `cancelled`: why, as the publisher put it */
    int status;  /* verifications: EVENTS_VERIFIED.. (the payload's, else the subject's) */
    int country; /* verifications: 0..675, (c0 - 'A') * 26 + (c1 - 'A') of the country code */
} events_event;

/* Decode the message published on `subject` with payload data/len (not
 * NUL-terminated; NULL is a bad payload, EVENTS_NOT_JSON). ts_ms is the
 * stream's timestamp of the message, the event time when the payload has no
 * valid `ts`. Returns 0 with *ev filled in (events_clear it); EVENTS_NOT_STATE
 * when the subject is not of three tokens under batch., license. or
 * verification. (payload not looked at); -EINVAL when the payload is not what
 * EVENTS.md says, or the subject is batch.<id>.<x> or license.<id>.<x> with
 * an x EVENTS.md does not define (EVENTS_UNKNOWN_EVENT, payload not looked
 * at), with *why (when not NULL) saying which field and why. On any error *ev
 * is zeroed (nothing to free); *why is only written on -EINVAL. */
int events_decode(events_event *ev, const char *subject, const void *data, size_t len,
                  int64_t ts_ms, events_reject *why);

/* The label value of a reason: "not_json", "not_object", "missing_field",
 * "wrong_type", "out_of_range", "bad_value", "batch_id_mismatch",
 * "unknown_event"; NULL for anything else. */
const char *events_reason_name(int reason);

/* Free what a decoded event owns and zero it (a zeroed event is fine too). */
void events_clear(events_event *ev);

/* "verified", "rejected", "pending" for EVENTS_VERIFIED..; NULL otherwise. */
const char *events_status_name(int status);

#endif
