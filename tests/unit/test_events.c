/* test_events.c: unit tests for decoding EVENTS.md payloads (src/events.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/events.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define T0 1795765200000LL /* 2026-11-27T07:40:00.000Z, in ms */

static events_reject last_why; /* what the last decode refused, if it did */

static int decode(events_event *ev, const char *subject, const char *json)
{
    last_why = (events_reject){EVENTS_REASONS, "untouched"};
    return events_decode(ev, subject, json, strlen(json), T0, &last_why);
}

static int decodef(events_event *ev, const char *subject, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int decodef(events_event *ev, const char *subject, const char *fmt, ...)
{
    char json[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(json, sizeof json, fmt, ap);
    va_end(ap);
    return decode(ev, subject, json);
}

/* A zeroed event: what events_decode leaves after an error. */
static void assert_empty(const events_event *ev)
{
    static const events_event zero;
    assert_memory_equal(ev, &zero, sizeof(zero));
}

static void test_types_and_tokens(void **state)
{
    static const struct {
        const char *subject;
        events_type type;
        const char *token;
    } ok[] = {
        {"batch.b42.started", EVENTS_STARTED, "b42"},
        {"batch.b-1_x.progress", EVENTS_PROGRESS, "b-1_x"},
        {"batch.B.completed", EVENTS_COMPLETED, "B"},
        {"batch.b42.cancelled", EVENTS_CANCELLED, "b42"},
        {"license.b42.assigned", EVENTS_ASSIGNED, "b42"},
        {"license.b42.failed", EVENTS_FAILED, "b42"},
        {"verification.FR.verified", EVENTS_VERIFICATION, "FR"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        events_event ev;
        const char *payload = ok[i].type == EVENTS_ASSIGNED || ok[i].type == EVENTS_FAILED
                                  ? "{\"license_id\":\"L1\"}"
                                  : "{}";
        if (decode(&ev, ok[i].subject, payload) != 0)
            fail_msg("refused %s", ok[i].subject);
        assert_int_equal(ev.type, ok[i].type);
        assert_string_equal(ev.token, ok[i].token);
        events_clear(&ev);
        assert_empty(&ev);
    }
}

static void test_not_state_subjects(void **state)
{
    char longtok[100], subject[200];
    memset(longtok, 'a', 65);
    longtok[65] = '\0';
    snprintf(subject, sizeof subject, "batch.%s.started", longtok);
    const char *ignored[] = {
        "batch.b",          "batch..started",   "batch.b.started.x", "foo.b.started",    "",
        "batch.b$.started", "batch.b .started", "verification.FR",   "batch.b.started.", subject,
        "license.b.x.y",    "batches.b.started"};
    events_event ev;
    for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++) {
        if (decode(&ev, ignored[i], "garbage") != EVENTS_NOT_STATE)
            fail_msg("took %s", ignored[i]);
        assert_empty(&ev);
        assert_string_equal(last_why.field, "untouched"); /* only written on -EINVAL */
    }
    assert_int_equal(events_decode(&ev, NULL, "x", 1, T0, NULL), EVENTS_NOT_STATE);
    /* The payload is not looked at, not even a NULL one. */
    assert_int_equal(events_decode(&ev, "foo.b.started", NULL, 0, T0, NULL), EVENTS_NOT_STATE);
    /* A 64-byte token is fine. */
    longtok[64] = '\0';
    snprintf(subject, sizeof subject, "batch.%s.started", longtok);
    assert_int_equal(decode(&ev, subject, "{}"), 0);
    assert_string_equal(ev.token, longtok);
    events_clear(&ev);
}

static void test_fields(void **state)
{
    events_event ev;
    assert_int_equal(decode(&ev, "batch.b42.started",
                            "{\"batch_id\":\"b42\",\"total\":1000,\"workers\":15,\"kind\":"
                            "\"license_assignment\",\"ts\":\"2026-11-27T07:40:12.118Z\"}"),
                     0);
    assert_int_equal(ev.total, 1000);
    assert_int_equal(ev.workers, 15);
    assert_string_equal(ev.kind, "license_assignment");
    assert_int_equal(ev.ts, T0 + 12118);
    assert_int_equal(ev.done, -1);
    assert_int_equal(ev.failed, -1);
    assert_int_equal(ev.worker, -1);
    assert_int_equal(ev.duration_ms, -1);
    assert_null(ev.license_id);
    events_clear(&ev);

    assert_int_equal(decode(&ev, "license.b42.failed",
                            "{\"batch_id\":\"b42\",\"license_id\":\"L7\",\"hcp_id\":\"H-7\","
                            "\"product\":\"P\",\"worker\":3,\"duration_ms\":12,\"error\":"
                            "\"registry \\\"timeout\\\"\\n\"}"),
                     0);
    assert_string_equal(ev.token, "b42");
    assert_string_equal(ev.license_id, "L7");
    assert_string_equal(ev.hcp_id, "H-7");
    assert_string_equal(ev.error, "registry \"timeout\"\n");
    assert_int_equal(ev.worker, 3);
    assert_int_equal(ev.duration_ms, 12);
    assert_int_equal(ev.ts, T0); /* no ts: the stream's timestamp */
    events_clear(&ev);

    /* Only what batch state uses is kept (every field is still checked). */
    assert_int_equal(
        decode(&ev, "license.b.assigned",
               "{\"license_id\":\"L1\",\"hcp_id\":\"H\",\"error\":\"e\",\"kind\":\"k\"}"),
        0);
    assert_null(ev.hcp_id);
    assert_null(ev.error);
    assert_null(ev.kind);
    events_clear(&ev);
    assert_int_equal(decode(&ev, "batch.b.progress", "{\"kind\":\"k\",\"license_id\":\"L\"}"), 0);
    assert_null(ev.kind);
    assert_null(ev.license_id);
    events_clear(&ev);

    /* null is absent. */
    assert_int_equal(decode(&ev, "batch.b.completed",
                            "{\"done\":null,\"failed\":2,\"kind\":null,\"ts\":null,"
                            "\"duration_ms\":0}"),
                     0);
    assert_int_equal(ev.done, -1);
    assert_int_equal(ev.failed, 2);
    assert_int_equal(ev.duration_ms, 0);
    assert_int_equal(ev.ts, T0);
    events_clear(&ev);
    events_clear(&ev); /* twice is fine */
}

static void test_verifications(void **state)
{
    events_event ev;
    assert_int_equal(decode(&ev, "verification.FR.verified",
                            "{\"hcp_id\":\"H1\",\"country\":\"FR\",\"status\":\"verified\","
                            "\"source\":\"RPPS\"}"),
                     0);
    assert_int_equal(ev.status, EVENTS_VERIFIED);
    assert_int_equal(ev.country, ('F' - 'A') * 26 + ('R' - 'A'));
    assert_string_equal(events_status_name(ev.status), "verified");
    events_clear(&ev);
    /* Missing fields: the subject's tokens stand in. */
    assert_int_equal(decode(&ev, "verification.DE.pending", "{}"), 0);
    assert_int_equal(ev.status, EVENTS_PENDING);
    assert_int_equal(ev.country, ('D' - 'A') * 26 + ('E' - 'A'));
    events_clear(&ev);
    /* The payload's fields win over the subject's. */
    assert_int_equal(
        decode(&ev, "verification.xx.yy", "{\"country\":\"BE\",\"status\":\"rejected\"}"), 0);
    assert_int_equal(ev.status, EVENTS_REJECTED);
    assert_int_equal(ev.country, ('B' - 'A') * 26 + ('E' - 'A'));
    events_clear(&ev);
    /* Neither a status nor a country anywhere. */
    assert_int_equal(decode(&ev, "verification.FR.unknown", "{}"), -EINVAL);
    assert_int_equal(last_why.reason, EVENTS_MISSING_FIELD);
    assert_string_equal(last_why.field, "status");
    assert_int_equal(decode(&ev, "verification.fr.verified", "{}"), -EINVAL);
    assert_int_equal(last_why.reason, EVENTS_MISSING_FIELD);
    assert_string_equal(last_why.field, "country");
    assert_int_equal(decode(&ev, "verification.FRA.verified", "{}"), -EINVAL);
    assert_int_equal(last_why.reason, EVENTS_MISSING_FIELD);
    assert_string_equal(last_why.field, "country");
    assert_int_equal(decode(&ev, "verification.fr.verified", "{\"country\":\"fr\"}"), -EINVAL);
    assert_int_equal(last_why.reason, EVENTS_BAD_VALUE);
    assert_string_equal(last_why.field, "country");
    assert_int_equal(decode(&ev, "verification.FR.verified", "{\"country\":\"fr\"}"), 0);
    events_clear(&ev); /* a bad country in the payload: the subject's counts */
    assert_int_equal(decode(&ev, "verification.DE.verified", "{\"status\":\"maybe\"}"), -EINVAL);
    assert_int_equal(last_why.reason, EVENTS_BAD_VALUE);
    assert_string_equal(last_why.field, "status");
    assert_int_equal(decode(&ev, "verification.DE.verified", "{\"status\":1}"), -EINVAL);
    assert_int_equal(last_why.reason, EVENTS_WRONG_TYPE);
    assert_string_equal(last_why.field, "status");
    assert_int_equal(decode(&ev, "verification.DE.verified", "{\"country\":[]}"), -EINVAL);
    assert_int_equal(last_why.reason, EVENTS_WRONG_TYPE);
    assert_string_equal(last_why.field, "country");
    assert_int_equal(decode(&ev, "verification.DE.verified", "[]"), -EINVAL);
    assert_int_equal(last_why.reason, EVENTS_NOT_OBJECT);
    assert_empty(&ev);
    assert_null(events_status_name(-1));
    assert_null(events_status_name(EVENTS_STATUSES));
}

/* Bad types, bad values, missing fields, not JSON: -EINVAL, nothing to
 * free, and the field and reason of the refusal. */
static void test_bad_payloads(void **state)
{
    static const struct {
        const char *subject, *payload;
        events_reason reason;
        const char *field; /* NULL: the whole payload */
    } bad[] = {
        {"batch.b.progress", "not json", EVENTS_NOT_JSON, NULL},
        {"batch.b.progress", "", EVENTS_NOT_JSON, NULL},
        {"batch.b.progress", "{", EVENTS_NOT_JSON, NULL},
        {"batch.b.progress", "[1,2]", EVENTS_NOT_OBJECT, NULL},
        {"batch.b.progress", "\"text\"", EVENTS_NOT_OBJECT, NULL},
        {"batch.b.progress", "42", EVENTS_NOT_OBJECT, NULL},
        {"batch.b.progress", "null", EVENTS_NOT_OBJECT, NULL},
        {"batch.b.progress", "{\"done\":1} trailing", EVENTS_NOT_JSON, NULL},
        {"batch.b.progress", "{\"done\":\"5\"}", EVENTS_WRONG_TYPE, "done"},
        {"batch.b.progress", "{\"done\":5.5}", EVENTS_WRONG_TYPE, "done"},
        {"batch.b.progress", "{\"done\":1e3}", EVENTS_WRONG_TYPE, "done"},
        {"batch.b.progress", "{\"done\":true}", EVENTS_WRONG_TYPE, "done"},
        {"batch.b.progress", "{\"done\":-1}", EVENTS_OUT_OF_RANGE, "done"},
        {"batch.b.progress", "{\"failed\":-3}", EVENTS_OUT_OF_RANGE, "failed"},
        {"batch.b.progress", "{\"total\":-10}", EVENTS_OUT_OF_RANGE, "total"},
        {"batch.b.progress", "{\"ts\":12345}", EVENTS_WRONG_TYPE, "ts"},
        {"batch.b.progress", "{\"ts\":[]}", EVENTS_WRONG_TYPE, "ts"},
        {"batch.b.progress", "{\"batch_id\":7}", EVENTS_WRONG_TYPE, "batch_id"},
        {"batch.b.progress", "{\"done\":\"\\u0000\"}", EVENTS_NOT_JSON, NULL},
        {"batch.b.started", "{\"workers\":\"many\"}", EVENTS_WRONG_TYPE, "workers"},
        {"batch.b.started", "{\"kind\":5}", EVENTS_WRONG_TYPE, "kind"},
        {"batch.b.started", "{\"kind\":{}}", EVENTS_WRONG_TYPE, "kind"},
        {"batch.b.started", "{\"total\":{}}", EVENTS_WRONG_TYPE, "total"},
        {"batch.b.completed", "{\"duration_ms\":-5}", EVENTS_OUT_OF_RANGE, "duration_ms"},
        {"batch.b.completed", "{\"done\":[]}", EVENTS_WRONG_TYPE, "done"},
        {"batch.b.cancelled", "{\"reason\":5}", EVENTS_WRONG_TYPE, "reason"},
        {"batch.b.cancelled", "{\"done\":-1}", EVENTS_OUT_OF_RANGE, "done"},
        {"license.b.assigned", "{}", EVENTS_MISSING_FIELD, "license_id"},
        {"license.b.assigned", "{\"worker\":0}", EVENTS_MISSING_FIELD, "license_id"},
        {"license.b.assigned", "{\"license_id\":null}", EVENTS_MISSING_FIELD, "license_id"},
        {"license.b.assigned", "{\"license_id\":5}", EVENTS_WRONG_TYPE, "license_id"},
        {"license.b.assigned", "{\"license_id\":\"\"}", EVENTS_OUT_OF_RANGE, "license_id"},
        {"license.b.assigned", "{\"license_id\":\"L9\",\"worker\":-1}", EVENTS_OUT_OF_RANGE,
         "worker"},
        {"license.b.assigned", "{\"license_id\":\"L9\",\"worker\":\"3\"}", EVENTS_WRONG_TYPE,
         "worker"},
        {"license.b.assigned", "{\"license_id\":\"L9\",\"hcp_id\":false}", EVENTS_WRONG_TYPE,
         "hcp_id"},
        {"license.b.failed", "{\"license_id\":\"L9\",\"hcp_id\":3}", EVENTS_WRONG_TYPE, "hcp_id"},
        {"license.b.failed", "{\"license_id\":\"L9\",\"error\":[]}", EVENTS_WRONG_TYPE, "error"},
        {"license.b.failed", "{\"license_id\":\"L9\",\"total\":-1}", EVENTS_OUT_OF_RANGE, "total"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        events_event ev;
        memset(&ev, 0x5a, sizeof ev); /* whatever was there */
        if (decode(&ev, bad[i].subject, bad[i].payload) != -EINVAL)
            fail_msg("accepted %s %s", bad[i].subject, bad[i].payload);
        assert_empty(&ev);
        if (last_why.reason != bad[i].reason)
            fail_msg("%s %s: reason %s, want %s", bad[i].subject, bad[i].payload,
                     events_reason_name(last_why.reason), events_reason_name(bad[i].reason));
        if (bad[i].field)
            assert_string_equal(last_why.field, bad[i].field);
        else if (last_why.field)
            fail_msg("%s %s: field %s, want none", bad[i].subject, bad[i].payload, last_why.field);
    }
    /* A NULL payload is not JSON; without *why the refusal is the same. */
    events_event ev;
    events_reject why = {EVENTS_REASONS, NULL};
    assert_int_equal(events_decode(&ev, "batch.b.progress", NULL, 0, T0, &why), -EINVAL);
    assert_int_equal(why.reason, EVENTS_NOT_JSON);
    assert_int_equal(events_decode(&ev, "batch.b.progress", "{\"done\":-1}", 11, T0, NULL),
                     -EINVAL);
    /* len bounds the payload, not a NUL */
    assert_int_equal(events_decode(&ev, "batch.b.progress", "{\"done\":1}", 5, T0, NULL), -EINVAL);
    assert_int_equal(events_decode(&ev, "batch.b.progress", "{\"done\":1}xyz", 10, T0, NULL), 0);
    assert_int_equal(ev.done, 1);
    events_clear(&ev);
    assert_int_equal(events_decode(&ev, "batch.b.progress", "{}\0{", 4, T0, NULL), -EINVAL);
}

/* Numbers at and past every bound. */
static void test_huge_numbers(void **state)
{
    static const struct {
        const char *subject, *payload;
        int rc;
    } cases[] = {
        {"batch.b.progress", "{\"done\":100000000}", 0},
        {"batch.b.progress", "{\"done\":100000001}", -EINVAL},
        {"batch.b.progress", "{\"total\":100000001}", -EINVAL},
        {"batch.b.progress", "{\"failed\":9223372036854775807}", -EINVAL},
        {"batch.b.progress", "{\"done\":9223372036854775808}", -EINVAL},
        {"batch.b.progress", "{\"done\":99999999999999999999999}", -EINVAL},
        {"batch.b.progress", "{\"done\":-9223372036854775808}", -EINVAL},
        {"batch.b.progress", "{\"done\":1e400}", -EINVAL},
        {"batch.b.progress", "{\"done\":-0}", 0},
        {"batch.b.started", "{\"workers\":1024}", 0},
        {"batch.b.started", "{\"workers\":1025}", -EINVAL},
        {"batch.b.started", "{\"workers\":1000000}", -EINVAL},
        {"license.b.assigned", "{\"license_id\":\"L\",\"worker\":1023}", 0},
        {"license.b.assigned", "{\"license_id\":\"L\",\"worker\":1024}", -EINVAL},
        {"license.b.assigned", "{\"license_id\":\"L\",\"worker\":5000}", -EINVAL},
        {"batch.b.completed", "{\"duration_ms\":315360000000}", 0},
        {"batch.b.completed", "{\"duration_ms\":315360000001}", -EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        events_event ev;
        if (decode(&ev, cases[i].subject, cases[i].payload) != cases[i].rc)
            fail_msg("%s %s: want %d", cases[i].subject, cases[i].payload, cases[i].rc);
        if (cases[i].rc < 0 && last_why.reason != EVENTS_OUT_OF_RANGE)
            fail_msg("%s %s: reason %s, want out_of_range", cases[i].subject, cases[i].payload,
                     events_reason_name(last_why.reason));
        events_clear(&ev);
    }
    events_event ev;
    assert_int_equal(decode(&ev, "batch.b.progress", "{\"done\":100000000,\"failed\":0}"), 0);
    assert_int_equal(ev.done, 100000000);
    assert_int_equal(ev.failed, 0);
    events_clear(&ev);
}

/* Invalid UTF-8 anywhere, or a string escape that is not a character: -EINVAL. */
static void test_invalid_utf8(void **state)
{
    static const char *bad[] = {
        "{\"license_id\":\"\xff\xfe\"}",
        "{\"license_id\":\"L1\",\"hcp_id\":\"\xc3\"}",
        "{\"license_id\":\"L1\",\"error\":\"\xed\xa0\x80\"}", /* an encoded surrogate */
        "{\"license_id\":\"L1\",\"error\":\"\xc0\xaf\"}",     /* overlong */
        "{\"license_id\":\"L1\",\"error\":\"\\ud800\"}",      /* a lone surrogate escape */
        "{\"license_id\":\"L1\",\"\xff\":1}",
        "{\"license_id\":\"L1\"}\xff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        events_event ev;
        if (decode(&ev, "license.b.failed", bad[i]) != -EINVAL)
            fail_msg("accepted %s", bad[i]);
        assert_empty(&ev);
        assert_int_equal(last_why.reason, EVENTS_NOT_JSON);
    }
    events_event ev;
    assert_int_equal(
        decode(&ev, "license.b.failed",
               "{\"license_id\":\"L\\u00e9\",\"error\":\"\\ud83d\\ude00 \xe2\x82\xac\"}"),
        0);
    assert_string_equal(ev.license_id, "L\xc3\xa9");
    assert_string_equal(ev.error, "\xf0\x9f\x98\x80 \xe2\x82\xac");
    events_clear(&ev);
}

/* kind, hcp_id and error are clipped to 256 bytes, never inside a character;
 * license_id is not clipped: a longer one is refused. */
static void test_clipping(void **state)
{
    char text[600], id[300];
    events_event ev;
    memset(text, 'k', 300);
    text[300] = '\0';
    assert_int_equal(decodef(&ev, "batch.b.started", "{\"kind\":\"%s\"}", text), 0);
    assert_int_equal(strlen(ev.kind), EVENTS_TEXT_MAX);
    assert_memory_equal(ev.kind, text, EVENTS_TEXT_MAX);
    events_clear(&ev);

    /* 255 ASCII bytes then a 2-byte character: cut before it. */
    memset(text, 'e', 255);
    strcpy(text + 255, "\xc3\xa9tail");
    assert_int_equal(decodef(&ev, "license.b.failed",
                             "{\"license_id\":\"L\",\"error\":\"%s\",\"hcp_id\":\"%s\"}", text,
                             text),
                     0);
    assert_int_equal(strlen(ev.error), 255);
    assert_int_equal(strlen(ev.hcp_id), 255);
    events_clear(&ev);
    /* ... and with 254 before it the character fits. */
    assert_int_equal(
        decodef(&ev, "license.b.failed", "{\"license_id\":\"L\",\"error\":\"%s\"}", text + 1), 0);
    assert_int_equal(strlen(ev.error), 256);
    assert_memory_equal(ev.error + 254, "\xc3\xa9", 2);
    events_clear(&ev);
    /* Exactly 256: kept whole. */
    memset(text, 'x', 256);
    text[256] = '\0';
    assert_int_equal(
        decodef(&ev, "license.b.failed", "{\"license_id\":\"L\",\"hcp_id\":\"%s\"}", text), 0);
    assert_string_equal(ev.hcp_id, text);
    events_clear(&ev);

    memset(id, 'i', 256);
    id[256] = '\0';
    assert_int_equal(decodef(&ev, "license.b.assigned", "{\"license_id\":\"%s\"}", id), 0);
    assert_string_equal(ev.license_id, id);
    events_clear(&ev);
    id[256] = 'i';
    id[257] = '\0';
    assert_int_equal(decodef(&ev, "license.b.assigned", "{\"license_id\":\"%s\"}", id), -EINVAL);
    assert_empty(&ev);
}

static void test_ts(void **state)
{
    static const struct {
        const char *ts;
        int64_t ms; /* -1: invalid */
    } cases[] = {
        {"2026-11-27T07:40:00.000Z", T0},
        {"2026-11-27T07:40:00Z", T0},
        {"2026-11-27t07:40:00.5z", T0 + 500},
        {"2026-11-27 07:40:00.123456Z", T0 + 123},
        {"2026-11-27T09:40:00.250+02:00", T0 + 250},
        {"2026-11-27T02:10:00-05:30", T0},
        {"2026-11-27T07:40:60Z", T0 + 59000}, /* a leap second counts as :59 */
        {"2028-02-29T00:00:00Z", 1835395200000LL},
        {"2000-02-29T00:00:00Z", 951782400000LL},
        {"1970-01-01T00:00:00Z", 0},
        {"9999-12-31T23:59:59.999Z", EVENTS_TS_MAX},
        {"2026-02-29T00:00:00Z", -1},
        {"1900-02-29T00:00:00Z", -1},
        {"2026-02-30T00:00:00Z", -1},
        {"2026-13-01T00:00:00Z", -1},
        {"2026-11-27T24:00:00Z", -1},
        {"2026-11-27T07:60:00Z", -1},
        {"2026-11-27T07:40:61Z", -1},
        {"1969-12-31T23:59:59Z", -1},
        {"1970-01-01T00:00:00+01:00", -1}, /* before the epoch */
        {"2026-11-27T07:40:00", -1},
        {"2026-11-27T07:40:00.Z", -1},
        {"2026-11-27T07:40:00+0200", -1},
        {"2026-11-27T07:40:00+24:00", -1},
        {"2026-11-27T07:40:00Zjunk", -1},
        {"2026-11-27", -1},
        {"yesterday", -1},
        {"", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t ms = 42;
        int rc = timefmt_parse_ms(cases[i].ts, &ms);
        if (cases[i].ms < 0) {
            if (rc != -EINVAL || ms != 42)
                fail_msg("accepted %s", cases[i].ts);
        } else if (rc != 0 || ms != cases[i].ms) {
            fail_msg("%s: rc %d, %lld ms, want %lld", cases[i].ts, rc, (long long)ms,
                     (long long)cases[i].ms);
        }
    }
    /* A ts that is not a time: the stream's timestamp, clamped to 0..EVENTS_TS_MAX. */
    events_event ev;
    assert_int_equal(decode(&ev, "batch.b.progress", "{\"ts\":\"yesterday\"}"), 0);
    assert_int_equal(ev.ts, T0);
    assert_int_equal(events_decode(&ev, "batch.b.progress", "{}", 2, INT64_MIN, NULL), 0);
    assert_int_equal(ev.ts, 0);
    assert_int_equal(events_decode(&ev, "batch.b.progress", "{}", 2, INT64_MAX, NULL), 0);
    assert_int_equal(ev.ts, EVENTS_TS_MAX);
    assert_int_equal(decode(&ev, "batch.b.progress", "{\"ts\":\"2026-11-27T07:40:01Z\"}"), 0);
    assert_int_equal(ev.ts, T0 + 1000);
}

/* batch.<id>.<x> and license.<id>.<x> with an x EVENTS.md lacks: refused as
 * unknown_event whatever the payload (it is not looked at). */
static void test_unknown_events(void **state)
{
    static const char *unknown[] = {"batch.b.unknown",  "license.b.done",      "license.b.progress",
                                    "batch.b.assigned", "license.b.cancelled", "batch.b.Started"};
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++) {
        events_event ev;
        if (decode(&ev, unknown[i], "{}") != -EINVAL)
            fail_msg("took %s", unknown[i]);
        assert_empty(&ev);
        assert_int_equal(last_why.reason, EVENTS_UNKNOWN_EVENT);
        assert_null(last_why.field);
        assert_int_equal(events_decode(&ev, unknown[i], NULL, 0, T0, NULL), -EINVAL);
    }
}

/* A batch_id that is not the subject's batch is refused; the same one, an
 * absent one or null is fine. */
static void test_batch_id_mismatch(void **state)
{
    static const char *subjects[] = {"batch.b42.started",    "batch.b42.progress",
                                     "batch.b42.completed",  "batch.b42.cancelled",
                                     "license.b42.assigned", "license.b42.failed"};
    for (size_t i = 0; i < sizeof subjects / sizeof *subjects; i++) {
        events_event ev;
        const char *lic = subjects[i][0] == 'l' ? ",\"license_id\":\"L1\"" : "";
        if (decodef(&ev, subjects[i], "{\"batch_id\":\"b43\"%s}", lic) != -EINVAL)
            fail_msg("%s took batch_id b43", subjects[i]);
        assert_empty(&ev);
        assert_int_equal(last_why.reason, EVENTS_BATCH_ID_MISMATCH);
        assert_string_equal(last_why.field, "batch_id");
        /* case matters: subject tokens are case-sensitive */
        assert_int_equal(decodef(&ev, subjects[i], "{\"batch_id\":\"B42\"%s}", lic), -EINVAL);
        assert_int_equal(decodef(&ev, subjects[i], "{\"batch_id\":\"\"%s}", lic), -EINVAL);
        assert_int_equal(decodef(&ev, subjects[i], "{\"batch_id\":\"b42\"%s}", lic), 0);
        events_clear(&ev);
        assert_int_equal(decodef(&ev, subjects[i], "{\"batch_id\":null%s}", lic), 0);
        events_clear(&ev);
        assert_int_equal(decodef(&ev, subjects[i], "{\"x\":1%s}", lic), 0);
        events_clear(&ev);
    }
}

/* batch.<id>.cancelled: batch_id, an optional reason (kept, clipped), ts. */
static void test_cancelled(void **state)
{
    events_event ev;
    assert_int_equal(decode(&ev, "batch.b42.cancelled",
                            "{\"batch_id\":\"b42\",\"reason\":\"operator abort\","
                            "\"ts\":\"2026-11-27T07:40:12.118Z\"}"),
                     0);
    assert_int_equal(ev.type, EVENTS_CANCELLED);
    assert_string_equal(ev.token, "b42");
    assert_string_equal(ev.reason, "operator abort");
    assert_int_equal(ev.ts, T0 + 12118);
    events_clear(&ev);
    assert_int_equal(decode(&ev, "batch.b42.cancelled", "{\"reason\":null}"), 0);
    assert_null(ev.reason);
    assert_int_equal(ev.ts, T0);
    events_clear(&ev);
    /* reason is only a cancelled event's: elsewhere it is not looked at */
    assert_int_equal(decode(&ev, "batch.b42.completed", "{\"reason\":5}"), 0);
    assert_null(ev.reason);
    events_clear(&ev);
    char text[400];
    memset(text, 'r', 300);
    text[300] = '\0';
    assert_int_equal(decodef(&ev, "batch.b.cancelled", "{\"reason\":\"%s\"}", text), 0);
    assert_int_equal(strlen(ev.reason), EVENTS_TEXT_MAX);
    events_clear(&ev);
    assert_empty(&ev);
}

static void test_reason_names(void **state)
{
    static const char *names[EVENTS_REASONS] = {
        "not_json",     "not_object", "missing_field",     "wrong_type",
        "out_of_range", "bad_value",  "batch_id_mismatch", "unknown_event"};
    for (int r = 0; r < EVENTS_REASONS; r++)
        assert_string_equal(events_reason_name(r), names[r]);
    assert_null(events_reason_name(-1));
    assert_null(events_reason_name(EVENTS_REASONS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_and_tokens),
        cmocka_unit_test(test_not_state_subjects),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_verifications),
        cmocka_unit_test(test_bad_payloads),
        cmocka_unit_test(test_huge_numbers),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_clipping),
        cmocka_unit_test(test_ts),
        cmocka_unit_test(test_unknown_events),
        cmocka_unit_test(test_batch_id_mismatch),
        cmocka_unit_test(test_cancelled),
        cmocka_unit_test(test_reason_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
