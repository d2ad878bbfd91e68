/* fuzz_frame.c: libFuzzer target for protocol_parse on client frames, with reply round trips. */
#include "fuzz.h"
#include "wsgate/protocol.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A reply frame must be a JSON object whose "id" is the command's id, byte for byte. */
static void fuzz_check_reply(wsg_frame *f, const proto_cmd *cmd)
{
    json_t *j = json_loadb((const char *)frame_data(f), f->len, 0, NULL);
    CHECK(json_is_object(j));
    json_t *id = json_object_get(j, "id");
    if (cmd->has_id)
        CHECK(json_is_string(id) && strcmp(json_string_value(id), cmd->id) == 0);
    else
        CHECK(id == NULL);
    json_decref(j);
    frame_unref(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_cmd cmd;
    const char *msg = NULL;
    enum proto_err e = protocol_parse((const char *)data, size, &cmd, &msg);
    CHECK(e < PERR_COUNT);
    CHECK(!cmd.has_id || strnlen(cmd.id, sizeof cmd.id) <= PROTOCOL_ID_MAX);
    CHECK(strnlen(cmd.epoch, sizeof cmd.epoch) < sizeof cmd.epoch);
    const char *id = cmd.has_id ? cmd.id : NULL;
    if (e != PERR_NONE) {
        CHECK(msg != NULL);
        fuzz_check_reply(protocol_err(id, e, msg), &cmd);
        return 0;
    }
    CHECK(cmd.op == PROTO_SUB || cmd.op == PROTO_UNSUB || cmd.op == PROTO_PING);
    if (cmd.op == PROTO_PING) {
        fuzz_check_reply(protocol_pong(id), &cmd);
        return 0;
    }
    CHECK(subject_pattern_valid(cmd.subject));
    CHECK(cmd.op == PROTO_SUB || (!cmd.has_since && !cmd.has_epoch));
    if (cmd.has_since)
        fuzz_check_reply(protocol_ok_resume(id, cmd.subject, cmd.since, 0, true), &cmd);
    else
        fuzz_check_reply(protocol_ok(id, cmd.subject, 0), &cmd);
    return 0;
}
