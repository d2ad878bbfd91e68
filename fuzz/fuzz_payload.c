/* fuzz_payload.c: libFuzzer target for the event path's payload handling.
 *
 * Any bytes published to NATS become a msg frame (protocol_msg) that must be
 * valid JSON carrying the payload back exactly, decode (events_decode) into
 * what the decoder promises, and feed the batch state (batches_apply)
 * without crashing. Input: a subject line, a NUL, the payload. */
#include "fuzz.h"
#include "wsgate/batches.h"
#include "wsgate/events.h"
#include "wsgate/jsonscan.h"
#include "wsgate/protocol.h"
#include "wsgate/subject.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static batches *fuzz_state;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t slen = nul ? (size_t)(nul - data) : 0;
    char subject[SUBJECT_MAX_LEN + 1] = "license.b1.assigned";
    if (nul && slen <= SUBJECT_MAX_LEN) {
        memcpy(subject, data, slen);
        subject[slen] = '\0';
    }
    const char *payload = nul ? (const char *)nul + 1 : (const char *)data;
    size_t plen = nul ? size - slen - 1 : size;

    if (subject_valid(subject)) {
        wsg_frame *f = protocol_msg(subject, 7, payload, plen);
        json_error_t err;
        json_t *j = json_loadb((const char *)frame_data(f), f->len,
                               JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
        if (!j) { /* jansson refuses numbers beyond a double; RFC 8259 does not */
            if (!jsonscan_valid((const char *)frame_data(f), f->len) ||
                !jsonscan_valid(payload, plen))
                abort(); /* every msg frame must be valid JSON */
            frame_unref(f);
            goto state;
        }
        json_t *d = json_object_get(j, "data");
        if (!d || json_number_value(json_object_get(j, "seq")) != 7)
            abort();
        if (!jsonscan_valid(payload, plen) && !json_object_get(j, "encoding") &&
            (json_string_length(d) != plen || memcmp(json_string_value(d), payload, plen) != 0))
            abort(); /* a non-JSON UTF-8 payload comes back byte for byte */
        json_decref(j);
        frame_unref(f);
    }

state:
    if (!fuzz_state) {
        batches_config cfg = {.stall_ms = 30000, .retention_ms = 3600000};
        fuzz_state = batches_create(&cfg);
    }
    events_event ev;
    events_reject why = {EVENTS_REASONS, NULL};
    int rc = events_decode(&ev, subject, payload, plen, 1700000000000, &why);
    if (rc != 0 && rc != -EINVAL && rc != EVENTS_NOT_STATE)
        abort();
    if (rc == -EINVAL && !events_reason_name(why.reason))
        abort();   /* every refusal says why */
    if (rc == 0) { /* what the decoder promises batches_apply */
        if (!ev.token[0] || ev.ts < 0 || ev.ts > EVENTS_TS_MAX || ev.total > EVENTS_COUNT_MAX ||
            ev.done > EVENTS_COUNT_MAX || ev.failed > EVENTS_COUNT_MAX ||
            ev.workers > EVENTS_WORKERS || ev.worker >= EVENTS_WORKERS)
            abort();
        if ((ev.kind && strlen(ev.kind) > EVENTS_TEXT_MAX) ||
            (ev.hcp_id && strlen(ev.hcp_id) > EVENTS_TEXT_MAX) ||
            (ev.error && strlen(ev.error) > EVENTS_TEXT_MAX) ||
            (ev.reason && strlen(ev.reason) > EVENTS_TEXT_MAX))
            abort();
        if ((ev.type == EVENTS_ASSIGNED || ev.type == EVENTS_FAILED) &&
            (!ev.license_id || !ev.license_id[0] || strlen(ev.license_id) > EVENTS_ID_MAX))
            abort();
        if (ev.type == EVENTS_VERIFICATION &&
            (!events_status_name(ev.status) || ev.country < 0 || ev.country >= 26 * 26))
            abort();
        batches_apply(fuzz_state, &ev, 1, 1700000000000);
        events_clear(&ev);
    }
    batches_tick(fuzz_state, 1700000000000);
    sbuf out;
    sbuf_init(&out, 0);
    batches_list_json(fuzz_state, 1700000000000, NULL, NULL, &out);
    batches_verifications_json(fuzz_state, NULL, NULL, &out);
    sbuf_free(&out);
    return 0;
}
