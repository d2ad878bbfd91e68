/* test_protocol.c: unit tests for client-op parsing and server-frame encoding (PROTOCOL.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wsgate/frame.h"
#include "wsgate/protocol.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse a NUL-terminated client frame. */
static enum proto_err parse(const char *text, proto_cmd *cmd, const char **msg)
{
    return protocol_parse(text, strlen(text), cmd, msg);
}

/* Parse and expect success. */
static void parse_ok(const char *text, proto_cmd *cmd)
{
    const char *msg = "unset";
    enum proto_err e = parse(text, cmd, &msg);
    if (e != PERR_NONE)
        fail_msg("%s: expected success, got %s (%s)", text, protocol_err_name(e), msg ? msg : "-");
    assert_null(msg);
}

/* Parse and expect error `want` with a non-empty human message. */
static void parse_err(const char *text, enum proto_err want)
{
    proto_cmd cmd;
    const char *msg = NULL;
    enum proto_err e = parse(text, &cmd, &msg);
    if (e != want)
        fail_msg("%s: expected %s, got %s", text, protocol_err_name(want), protocol_err_name(e));
    assert_non_null(msg);
    assert_true(strlen(msg) > 0);
}

/* Decode a server frame's payload as a JSON object (fails the test otherwise). */
static json_t *frame_json(const wsg_frame *f)
{
    json_error_t jerr;
    assert_int_equal(strlen((const char *)frame_data(f)), f->len);
    json_t *j = json_loadb((const char *)frame_data(f), f->len, JSON_ALLOW_NUL, &jerr);
    if (!j)
        fail_msg("frame is not JSON (%s): %.*s", jerr.text, (int)f->len, frame_data(f));
    assert_true(json_is_object(j));
    return j;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("field %s is not a string", key);
    return json_string_value(v);
}

static json_int_t jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("field %s is not an integer", key);
    return json_integer_value(v);
}

/* A string of n copies of c (static buffer, n < 1024). */
static const char *rep(char c, size_t n)
{
    static char buf[300]; /* small enough that snprintf into a 512-byte frame cannot truncate */
    assert_true(n < sizeof(buf));
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

/* ---- parsing: valid ops ---- */

static void test_parse_sub(void **state)
{
    proto_cmd cmd;
    parse_ok("{\"op\":\"sub\",\"id\":\"1\",\"subject\":\"license.b42.>\"}", &cmd);
    assert_int_equal(cmd.op, PROTO_SUB);
    assert_true(cmd.has_id);
    assert_string_equal(cmd.id, "1");
    assert_string_equal(cmd.subject, "license.b42.>");
    assert_false(cmd.has_since);
    assert_false(cmd.has_epoch);

    parse_ok("{\"subject\":\"batch.*.progress\",\"op\":\"sub\"}", &cmd);
    assert_int_equal(cmd.op, PROTO_SUB);
    assert_false(cmd.has_id);
    assert_string_equal(cmd.subject, "batch.*.progress");

    /* Whitespace around and inside the object; unknown extra fields are ignored. */
    parse_ok(" \n{ \"op\" : \"sub\" , \"subject\" : \"a\" , \"extra\" : [1,2] }\t", &cmd);
    assert_string_equal(cmd.subject, "a");
}

static void test_parse_unsub_ping(void **state)
{
    proto_cmd cmd;
    parse_ok("{\"op\":\"unsub\",\"id\":\"3\",\"subject\":\"license.b42.>\"}", &cmd);
    assert_int_equal(cmd.op, PROTO_UNSUB);
    assert_true(cmd.has_id);
    assert_string_equal(cmd.id, "3");
    assert_string_equal(cmd.subject, "license.b42.>");

    parse_ok("{\"op\":\"unsub\",\"subject\":\"x.y\"}", &cmd);
    assert_int_equal(cmd.op, PROTO_UNSUB);
    assert_false(cmd.has_id);

    parse_ok("{\"op\":\"ping\",\"id\":\"4\"}", &cmd);
    assert_int_equal(cmd.op, PROTO_PING);
    assert_true(cmd.has_id);
    assert_string_equal(cmd.id, "4");

    parse_ok("{\"op\":\"ping\"}", &cmd);
    assert_int_equal(cmd.op, PROTO_PING);
    assert_false(cmd.has_id);

    /* An empty id is a string of at most 64 bytes. */
    parse_ok("{\"op\":\"ping\",\"id\":\"\"}", &cmd);
    assert_true(cmd.has_id);
    assert_string_equal(cmd.id, "");
}

static void test_parse_id_length(void **state)
{
    char buf[512];
    proto_cmd cmd;
    snprintf(buf, sizeof(buf), "{\"op\":\"ping\",\"id\":\"%s\"}", rep('i', 64));
    parse_ok(buf, &cmd);
    assert_true(cmd.has_id);
    assert_int_equal(strlen(cmd.id), 64);
    assert_string_equal(cmd.id, rep('i', 64));

    snprintf(buf, sizeof(buf), "{\"op\":\"ping\",\"id\":\"%s\"}", rep('i', 65));
    parse_err(buf, PERR_BAD_REQUEST);

    /* 64 bytes counted after unescaping: 32 two-byte characters are fine. */
    char id[128] = "";
    for (int i = 0; i < 32; i++)
        strcat(id, "\xc3\xa9");
    snprintf(buf, sizeof(buf), "{\"op\":\"ping\",\"id\":\"%s\"}", id);
    parse_ok(buf, &cmd);
    assert_string_equal(cmd.id, id);
    strcat(id, "x");
    snprintf(buf, sizeof(buf), "{\"op\":\"ping\",\"id\":\"%s\"}", id);
    parse_err(buf, PERR_BAD_REQUEST);
}

static void test_parse_since(void **state)
{
    proto_cmd cmd;
    parse_ok("{\"op\":\"sub\",\"id\":\"2\",\"subject\":\"batch.*.progress\",\"since\":1042}", &cmd);
    assert_true(cmd.has_since);
    assert_int_equal(cmd.since, 1042);
    assert_false(cmd.has_epoch);

    parse_ok("{\"op\":\"sub\",\"subject\":\"a\",\"since\":0}", &cmd);
    assert_true(cmd.has_since);
    assert_int_equal(cmd.since, 0);

    parse_ok("{\"op\":\"sub\",\"subject\":\"a\",\"since\":9223372036854775807}", &cmd);
    assert_true(cmd.has_since);
    assert_true(cmd.since == 9223372036854775807ULL);

    /* An integer-valued real is an integer. */
    parse_ok("{\"op\":\"sub\",\"subject\":\"a\",\"since\":5.0}", &cmd);
    assert_true(cmd.has_since);
    assert_int_equal(cmd.since, 5);
    parse_ok("{\"op\":\"sub\",\"subject\":\"a\",\"since\":1e3}", &cmd);
    assert_int_equal(cmd.since, 1000);

    parse_ok(
        "{\"op\":\"sub\",\"subject\":\"a\",\"since\":7,\"epoch\":\"2026-11-27T05:40:12.118Z\"}",
        &cmd);
    assert_true(cmd.has_since);
    assert_int_equal(cmd.since, 7);
    assert_true(cmd.has_epoch);
    assert_string_equal(cmd.epoch, "2026-11-27T05:40:12.118Z");
}

/* ---- parsing: errors ---- */

static void test_parse_not_json(void **state)
{
    parse_err("", PERR_BAD_REQUEST);
    parse_err("   ", PERR_BAD_REQUEST);
    parse_err("{", PERR_BAD_REQUEST);
    parse_err("op=sub", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"ping\"", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"ping\",}", PERR_BAD_REQUEST);
    parse_err("{'op':'ping'}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"ping\"} x", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"ping\"}{}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"pi\xffng\"}", PERR_BAD_REQUEST);

    /* An embedded NUL ends nothing: the whole buffer is parsed. */
    proto_cmd cmd;
    const char *msg;
    assert_int_equal(protocol_parse("{\"op\":\"ping\"}\0x", 15, &cmd, &msg), PERR_BAD_REQUEST);
    assert_int_equal(protocol_parse("{\"op\":\"ping\"}xyz", 13, &cmd, &msg), PERR_NONE);
}

static void test_parse_not_object(void **state)
{
    parse_err("[]", PERR_BAD_REQUEST);
    parse_err("[{\"op\":\"ping\"}]", PERR_BAD_REQUEST);
    parse_err("\"ping\"", PERR_BAD_REQUEST);
    parse_err("42", PERR_BAD_REQUEST);
    parse_err("null", PERR_BAD_REQUEST);
    parse_err("true", PERR_BAD_REQUEST);
}

static void test_parse_bad_op(void **state)
{
    parse_err("{}", PERR_BAD_REQUEST);
    parse_err("{\"id\":\"1\"}", PERR_BAD_REQUEST);
    parse_err("{\"op\":1}", PERR_BAD_REQUEST);
    parse_err("{\"op\":null}", PERR_BAD_REQUEST);
    parse_err("{\"op\":[\"ping\"]}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"publish\",\"subject\":\"a\"}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"PING\"}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"\"}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"ping\\u0000x\"}", PERR_BAD_REQUEST);
}

static void test_parse_bad_fields(void **state)
{
    /* subject missing or not a string */
    parse_err("{\"op\":\"sub\"}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"unsub\"}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"sub\",\"subject\":1}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"sub\",\"subject\":null}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"unsub\",\"subject\":[\"a\"]}", PERR_BAD_REQUEST);
    /* id not a string */
    parse_err("{\"op\":\"ping\",\"id\":1}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"ping\",\"id\":null}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"ping\",\"id\":{}}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"sub\",\"subject\":\"a\",\"id\":true}", PERR_BAD_REQUEST);
    /* since: negative, fractional, not a number */
    parse_err("{\"op\":\"sub\",\"subject\":\"a\",\"since\":-1}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"sub\",\"subject\":\"a\",\"since\":-1.0}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"sub\",\"subject\":\"a\",\"since\":1.5}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"sub\",\"subject\":\"a\",\"since\":0.001}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"sub\",\"subject\":\"a\",\"since\":\"5\"}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"sub\",\"subject\":\"a\",\"since\":true}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"sub\",\"subject\":\"a\",\"since\":[5]}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"sub\",\"subject\":\"a\",\"since\":1e300}", PERR_BAD_REQUEST);
    /* epoch not a string */
    parse_err("{\"op\":\"sub\",\"subject\":\"a\",\"since\":1,\"epoch\":5}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"sub\",\"subject\":\"a\",\"since\":1,\"epoch\":{}}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"sub\",\"subject\":\"a\",\"epoch\":false}", PERR_BAD_REQUEST);
}

static void test_parse_bad_subject(void **state)
{
    char buf[1024], subj[512];
    parse_err("{\"op\":\"sub\",\"subject\":\"\"}", PERR_BAD_SUBJECT);
    parse_err("{\"op\":\"unsub\",\"subject\":\"\"}", PERR_BAD_SUBJECT);
    parse_err("{\"op\":\"sub\",\"subject\":\"a..b\"}", PERR_BAD_SUBJECT);
    parse_err("{\"op\":\"sub\",\"subject\":\".a\"}", PERR_BAD_SUBJECT);
    parse_err("{\"op\":\"sub\",\"subject\":\"a.\"}", PERR_BAD_SUBJECT);
    parse_err("{\"op\":\"sub\",\"subject\":\"a.>.b\"}", PERR_BAD_SUBJECT);
    parse_err("{\"op\":\"sub\",\"subject\":\"a.b>\"}", PERR_BAD_SUBJECT);
    parse_err("{\"op\":\"sub\",\"subject\":\"a.b*\"}", PERR_BAD_SUBJECT);
    parse_err("{\"op\":\"sub\",\"subject\":\"a b\"}", PERR_BAD_SUBJECT);
    parse_err("{\"op\":\"sub\",\"subject\":\"a/b\"}", PERR_BAD_SUBJECT);
    parse_err("{\"op\":\"sub\",\"subject\":\"caf\xc3\xa9\"}", PERR_BAD_SUBJECT);
    /* An escaped NUL never reaches the subject check unnoticed (jansson refuses it first). */
    proto_cmd nul;
    const char *nulmsg;
    assert_int_not_equal(parse("{\"op\":\"sub\",\"subject\":\"a\\u0000b\"}", &nul, &nulmsg),
                         PERR_NONE);
    parse_err("{\"op\":\"unsub\",\"subject\":\"a.>.b\"}", PERR_BAD_SUBJECT);

    /* 16 tokens are fine, 17 are not. */
    strcpy(subj, "t");
    for (int i = 1; i < 16; i++)
        strcat(subj, ".t");
    snprintf(buf, sizeof(buf), "{\"op\":\"sub\",\"subject\":\"%s\"}", subj);
    proto_cmd cmd;
    parse_ok(buf, &cmd);
    assert_string_equal(cmd.subject, subj);
    strcat(subj, ".t");
    snprintf(buf, sizeof(buf), "{\"op\":\"sub\",\"subject\":\"%s\"}", subj);
    parse_err(buf, PERR_BAD_SUBJECT);

    /* A token of 64 characters is fine, 65 is not. */
    snprintf(buf, sizeof(buf), "{\"op\":\"sub\",\"subject\":\"a.%s\"}", rep('x', 64));
    parse_ok(buf, &cmd);
    snprintf(buf, sizeof(buf), "{\"op\":\"sub\",\"subject\":\"a.%s\"}", rep('x', 65));
    parse_err(buf, PERR_BAD_SUBJECT);

    /* 256 bytes are fine, 257 are not (tokens of 64, 64, 64, then 61 or 62). */
    strcpy(subj, rep('a', 64));
    strcat(subj, ".");
    strcat(subj, rep('b', 64));
    strcat(subj, ".");
    strcat(subj, rep('c', 64));
    strcat(subj, ".");
    strcat(subj, rep('d', 61));
    assert_int_equal(strlen(subj), 256);
    snprintf(buf, sizeof(buf), "{\"op\":\"sub\",\"subject\":\"%s\"}", subj);
    parse_ok(buf, &cmd);
    assert_string_equal(cmd.subject, subj);
    strcat(subj, "d");
    assert_int_equal(strlen(subj), 257);
    snprintf(buf, sizeof(buf), "{\"op\":\"sub\",\"subject\":\"%s\"}", subj);
    parse_err(buf, PERR_BAD_SUBJECT);
}

static void test_parse_valid_patterns(void **state)
{
    static const char *const ok[] = {">",
                                     "*",
                                     "a",
                                     "a.>",
                                     "a.*",
                                     "*.*",
                                     "*.>",
                                     "a.*.c",
                                     "A-z_0.9",
                                     "batch.*.progress",
                                     "x.y",
                                     "a.b.c",
                                     "license.b42.>"};
    char buf[512];
    proto_cmd cmd;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(buf, sizeof(buf), "{\"op\":\"sub\",\"subject\":\"%s\"}", ok[i]);
        parse_ok(buf, &cmd);
        assert_string_equal(cmd.subject, ok[i]);
        snprintf(buf, sizeof(buf), "{\"op\":\"unsub\",\"subject\":\"%s\"}", ok[i]);
        parse_ok(buf, &cmd);
        assert_string_equal(cmd.subject, ok[i]);
    }
}

/* On error, a valid id is still reported so the err frame can echo it. */
static void test_parse_error_keeps_id(void **state)
{
    static const struct {
        const char *text;
        enum proto_err err;
    } cases[] = {
        {"{\"id\":\"k\"}", PERR_BAD_REQUEST},
        {"{\"id\":\"k\",\"op\":7}", PERR_BAD_REQUEST},
        {"{\"id\":\"k\",\"op\":\"nope\"}", PERR_BAD_REQUEST},
        {"{\"id\":\"k\",\"op\":\"sub\"}", PERR_BAD_REQUEST},
        {"{\"op\":\"sub\",\"subject\":3,\"id\":\"k\"}", PERR_BAD_REQUEST},
        {"{\"op\":\"sub\",\"subject\":\"a..b\",\"id\":\"k\"}", PERR_BAD_SUBJECT},
        {"{\"op\":\"sub\",\"subject\":\"a\",\"since\":-3,\"id\":\"k\"}", PERR_BAD_REQUEST},
        {"{\"op\":\"sub\",\"subject\":\"a\",\"since\":1,\"epoch\":1,\"id\":\"k\"}",
         PERR_BAD_REQUEST},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        proto_cmd cmd;
        const char *msg = NULL;
        assert_int_equal(parse(cases[i].text, &cmd, &msg), cases[i].err);
        assert_non_null(msg);
        if (!cmd.has_id)
            fail_msg("%s: id not kept", cases[i].text);
        assert_string_equal(cmd.id, "k");
    }

    /* No id, or an invalid one: nothing to echo. */
    proto_cmd cmd;
    const char *msg;
    assert_int_equal(parse("{\"op\":\"sub\"}", &cmd, &msg), PERR_BAD_REQUEST);
    assert_false(cmd.has_id);
    assert_int_equal(parse("{\"op\":\"ping\",\"id\":5}", &cmd, &msg), PERR_BAD_REQUEST);
    assert_false(cmd.has_id);
    assert_int_equal(parse("not json", &cmd, &msg), PERR_BAD_REQUEST);
    assert_false(cmd.has_id);
}

static void test_err_names(void **state)
{
    assert_string_equal(protocol_err_name(PERR_BAD_REQUEST), "bad_request");
    assert_string_equal(protocol_err_name(PERR_BAD_SUBJECT), "bad_subject");
    assert_string_equal(protocol_err_name(PERR_FORBIDDEN), "forbidden");
    assert_string_equal(protocol_err_name(PERR_TOO_MANY_SUBSCRIPTIONS), "too_many_subscriptions");
    assert_string_equal(protocol_err_name(PERR_RATE_LIMITED), "rate_limited");
    assert_string_equal(protocol_err_name(PERR_INTERNAL), "internal");
    assert_non_null(protocol_err_name(PERR_NONE));
    assert_string_equal(protocol_err_name(PERR_COUNT), "internal");
    assert_string_equal(protocol_err_name((enum proto_err)1000), "internal");
}

/* ---- encoding ---- */

static void test_hello(void **state)
{
    wsg_frame *f = protocol_hello("c7f3", "2026-11-27T05:40:12.118Z", 25000, 65536, 0, 0);
    assert_int_equal(f->refs, 1);
    assert_int_equal(f->seq, 0);
    assert_null(f->subject);
    json_t *j = frame_json(f);
    assert_string_equal(jstr(j, "op"), "hello");
    assert_int_equal(jint(j, "version"), PROTOCOL_VERSION);
    assert_int_equal(jint(j, "version"), 1);
    assert_string_equal(jstr(j, "server"), "wsgate/" WSGATE_VERSION);
    assert_string_equal(jstr(j, "conn"), "c7f3");
    assert_string_equal(jstr(j, "epoch"), "2026-11-27T05:40:12.118Z");
    assert_int_equal(jint(j, "heartbeat_ms"), 25000);
    assert_int_equal(jint(j, "max_frame"), 65536);
    assert_int_equal(json_object_size(j), 7);
    json_decref(j);
    frame_unref(f);

    /* Before the stream is attached the epoch is "", still present. */
    f = protocol_hello("c1", "", 1, 256, 0, 0);
    j = frame_json(f);
    assert_string_equal(jstr(j, "epoch"), "");
    assert_int_equal(jint(j, "heartbeat_ms"), 1);
    assert_int_equal(jint(j, "max_frame"), 256);
    json_decref(j);
    frame_unref(f);

    /* With authentication: the token's exp and when the refresh hint comes (never negative). */
    f = protocol_hello("c2", "e", 1, 256, 1700000000, 12345);
    j = frame_json(f);
    assert_int_equal(jint(j, "exp"), 1700000000);
    assert_int_equal(jint(j, "refresh_in_ms"), 12345);
    assert_int_equal(json_object_size(j), 9);
    json_decref(j);
    frame_unref(f);
    f = protocol_hello("c3", "e", 1, 256, 1700000000, -5);
    j = frame_json(f);
    assert_int_equal(jint(j, "refresh_in_ms"), 0);
    json_decref(j);
    frame_unref(f);
}

static void test_parse_refresh(void **state)
{
    proto_cmd cmd;
    parse_ok("{\"op\":\"refresh\",\"id\":\"r1\",\"token\":\"a.b.c\"}", &cmd);
    assert_int_equal(cmd.op, PROTO_REFRESH);
    assert_true(cmd.has_id);
    assert_string_equal(cmd.id, "r1");
    assert_string_equal(cmd.token, "a.b.c");
    assert_int_equal(cmd.token_len, 5);
    /* the token field of an earlier parse does not linger */
    parse_ok("{\"op\":\"ping\"}", &cmd);
    assert_int_equal(cmd.token_len, 0);
    assert_string_equal(cmd.token, "");

    parse_err("{\"op\":\"refresh\"}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"refresh\",\"token\":\"\"}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"refresh\",\"token\":42}", PERR_BAD_REQUEST);
    parse_err("{\"op\":\"refresh\",\"token\":\"a\\u0000b\"}", PERR_BAD_REQUEST);
    /* at most PROTOCOL_TOKEN_MAX bytes */
    size_t n = PROTOCOL_TOKEN_MAX + 1;
    char *big = malloc(n + 64);
    int at = snprintf(big, n + 64, "{\"op\":\"refresh\",\"token\":\"");
    memset(big + at, 'x', n);
    snprintf(big + at + n, 64, "\"}");
    parse_err(big, PERR_BAD_REQUEST);
    memcpy(big + at + n - 1, "\"}", 3); /* exactly the limit: taken */
    parse_ok(big, &cmd);
    assert_int_equal(cmd.token_len, PROTOCOL_TOKEN_MAX);
    free(big);
}

static void test_refresh_frames(void **state)
{
    wsg_frame *f = protocol_ok_refresh("r1", 1700000300);
    json_t *j = frame_json(f);
    assert_string_equal(jstr(j, "op"), "ok");
    assert_string_equal(jstr(j, "id"), "r1");
    assert_int_equal(jint(j, "exp"), 1700000300);
    assert_int_equal(json_object_size(j), 3);
    json_decref(j);
    frame_unref(f);

    f = protocol_unsub("license.b\"42.>", "not allowed by the refreshed token");
    j = frame_json(f);
    assert_string_equal(jstr(j, "op"), "unsub");
    assert_string_equal(jstr(j, "subject"), "license.b\"42.>");
    assert_string_equal(jstr(j, "reason"), "not allowed by the refreshed token");
    assert_int_equal(json_object_size(j), 3);
    json_decref(j);
    frame_unref(f);

    f = protocol_refresh_hint(1700000300);
    j = frame_json(f);
    assert_string_equal(jstr(j, "op"), "refresh");
    assert_int_equal(jint(j, "exp"), 1700000300);
    assert_int_equal(json_object_size(j), 2);
    assert_int_equal(f->seq, 0);
    json_decref(j);
    frame_unref(f);
}

static void test_ok(void **state)
{
    wsg_frame *f = protocol_ok("1", "license.b42.>", 2051);
    json_t *j = frame_json(f);
    assert_string_equal(jstr(j, "op"), "ok");
    assert_string_equal(jstr(j, "id"), "1");
    assert_string_equal(jstr(j, "subject"), "license.b42.>");
    assert_int_equal(jint(j, "seq"), 2051);
    assert_null(json_object_get(j, "replayed"));
    assert_null(json_object_get(j, "recovered"));
    json_decref(j);
    frame_unref(f);

    f = protocol_ok(NULL, "a", 0);
    j = frame_json(f);
    assert_string_equal(jstr(j, "op"), "ok");
    assert_null(json_object_get(j, "id"));
    assert_int_equal(jint(j, "seq"), 0);
    json_decref(j);
    frame_unref(f);

    /* An id with characters JSON must escape comes back intact. */
    f = protocol_ok("q\"\\\n\x01", "a", 1);
    j = frame_json(f);
    assert_string_equal(jstr(j, "id"), "q\"\\\n\x01");
    json_decref(j);
    frame_unref(f);
}

static void test_ok_resume(void **state)
{
    wsg_frame *f = protocol_ok_resume("2", "batch.*.progress", 2051, 17, true);
    json_t *j = frame_json(f);
    assert_string_equal(jstr(j, "op"), "ok");
    assert_string_equal(jstr(j, "id"), "2");
    assert_string_equal(jstr(j, "subject"), "batch.*.progress");
    assert_int_equal(jint(j, "seq"), 2051);
    assert_int_equal(jint(j, "replayed"), 17);
    assert_true(json_is_true(json_object_get(j, "recovered")));
    json_decref(j);
    frame_unref(f);

    f = protocol_ok_resume(NULL, ">", 9007199254740993ULL, 0, false);
    j = frame_json(f);
    assert_null(json_object_get(j, "id"));
    assert_true(jint(j, "seq") == 9007199254740993LL);
    assert_int_equal(jint(j, "replayed"), 0);
    assert_true(json_is_false(json_object_get(j, "recovered")));
    json_decref(j);
    frame_unref(f);
}

static void test_err(void **state)
{
    wsg_frame *f = protocol_err("9", PERR_FORBIDDEN, "subject not allowed by token");
    json_t *j = frame_json(f);
    assert_string_equal(jstr(j, "op"), "err");
    assert_string_equal(jstr(j, "id"), "9");
    assert_string_equal(jstr(j, "code"), "forbidden");
    assert_string_equal(jstr(j, "message"), "subject not allowed by token");
    json_decref(j);
    frame_unref(f);

    for (int e = PERR_BAD_REQUEST; e < PERR_COUNT; e++) {
        f = protocol_err(NULL, (enum proto_err)e, "say \"no\"\\\n\ttab\x1f \xe2\x82\xac");
        j = frame_json(f);
        assert_null(json_object_get(j, "id"));
        assert_string_equal(jstr(j, "code"), protocol_err_name((enum proto_err)e));
        assert_string_equal(jstr(j, "message"), "say \"no\"\\\n\ttab\x1f \xe2\x82\xac");
        json_decref(j);
        frame_unref(f);
    }
}

static void test_pong(void **state)
{
    wsg_frame *f = protocol_pong("4");
    json_t *j = frame_json(f);
    assert_string_equal(jstr(j, "op"), "pong");
    assert_string_equal(jstr(j, "id"), "4");
    assert_int_equal(json_object_size(j), 2);
    json_decref(j);
    frame_unref(f);

    f = protocol_pong(NULL);
    j = frame_json(f);
    assert_string_equal(jstr(j, "op"), "pong");
    assert_int_equal(json_object_size(j), 1);
    json_decref(j);
    frame_unref(f);
}

/* Build a msg frame, check the envelope and return the decoded object (data inside). */
static json_t *msg_json(const char *subject, uint64_t seq, const void *data, size_t len,
                        wsg_frame **out)
{
    wsg_frame *f = protocol_msg(subject, seq, data, len);
    assert_int_equal(f->refs, 1);
    assert_true(f->seq == seq);
    assert_non_null(f->subject);
    assert_string_equal(f->subject, subject);
    assert_false(f->lastvalue);
    json_t *j = frame_json(f);
    assert_string_equal(jstr(j, "op"), "msg");
    assert_string_equal(jstr(j, "subject"), subject);
    assert_true(jint(j, "seq") == (json_int_t)seq);
    assert_non_null(json_object_get(j, "data"));
    *out = f;
    return j;
}

static void test_msg_json_payloads(void **state)
{
    static const char *const payloads[] = {
        "{\"batch_id\":\"b42\",\"done\":17,\"nested\":{\"a\":[1,2,{\"b\":null}]}}",
        "[1, \"two\", {\"three\": 3}]",
        "42",
        "-1.5e3",
        "\"a string \\u00e9\"",
        "true",
        "false",
        "null",
        "{}",
        " \n{\"spaced\" : true}\t",
    };
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        const char *p = payloads[i];
        wsg_frame *f;
        json_t *j = msg_json("license.b42.assigned", 2052 + i, p, strlen(p), &f);
        json_error_t jerr;
        json_t *want = json_loads(p, JSON_DECODE_ANY, &jerr);
        assert_non_null(want);
        if (!json_equal(json_object_get(j, "data"), want))
            fail_msg("payload %s not embedded as JSON", p);
        assert_null(json_object_get(j, "encoding"));
        /* Embedded raw: the published bytes appear verbatim in the frame. */
        assert_non_null(memmem(frame_data(f), f->len, p, strlen(p)));
        json_decref(want);
        json_decref(j);
        frame_unref(f);
    }
}

static void test_msg_text_payloads(void **state)
{
    static const char *const texts[] = {
        "hello world",
        "not \"json\" { [",
        "back\\slash and /slash",
        "ctl \x01\x02\x1f\x7f\b\f\n\r\t end",
        "unicode \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
        "{\"a\":1",
        "01",
        "tru",
        "{\"a\":1} {\"b\":2}",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        const char *p = texts[i];
        wsg_frame *f;
        json_t *j = msg_json("a.b", 7, p, strlen(p), &f);
        json_t *data = json_object_get(j, "data");
        if (!json_is_string(data))
            fail_msg("payload %s not sent as a string", p);
        assert_int_equal(json_string_length(data), strlen(p));
        assert_memory_equal(json_string_value(data), p, strlen(p));
        assert_null(json_object_get(j, "encoding"));
        json_decref(j);
        frame_unref(f);
    }

    /* A NUL byte is valid UTF-8: a string with \u0000. */
    wsg_frame *f;
    json_t *j = msg_json("a.b", 8, "x\0y", 3, &f);
    json_t *data = json_object_get(j, "data");
    assert_true(json_is_string(data));
    assert_int_equal(json_string_length(data), 3);
    assert_memory_equal(json_string_value(data), "x\0y", 3);
    json_decref(j);
    frame_unref(f);

    /* Empty payload: not JSON, valid UTF-8 -> "". */
    j = msg_json("a.b", 9, "", 0, &f);
    data = json_object_get(j, "data");
    assert_true(json_is_string(data));
    assert_string_equal(json_string_value(data), "");
    assert_null(json_object_get(j, "encoding"));
    json_decref(j);
    frame_unref(f);
}

/* Minimal base64 decoder for the check (standard alphabet, padded). */
static size_t b64_decode(const char *in, unsigned char *out)
{
    size_t n = 0;
    unsigned v = 0;
    int bits = 0;
    for (; *in && *in != '='; in++) {
        const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *p = strchr(tab, *in);
        assert_non_null(p);
        v = v << 6 | (unsigned)(p - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(v >> bits);
            v &= (1u << bits) - 1;
        }
    }
    return n;
}

static void test_msg_binary_payloads(void **state)
{
    static const struct {
        const char *p;
        size_t len;
    } bins[] = {
#define BIN(s) {s, sizeof(s) - 1}
        BIN("\xff"),
        BIN("\xc3"),             /* truncated */
        BIN("ab\xc0\xaf"),       /* overlong '/' */
        BIN("\xed\xa0\x80"),     /* surrogate */
        BIN("\xf4\x90\x80\x80"), /* > U+10FFFF */
        BIN("{\"a\":\"\xfe\"}"), /* JSON-shaped but not UTF-8 */
        BIN("\x00\x01\x02\x80\x81\x82"),
        BIN("\xe2\x82"),
#undef BIN
    };
    for (size_t i = 0; i < sizeof(bins) / sizeof(bins[0]); i++) {
        wsg_frame *f;
        json_t *j = msg_json("bin.x", 100 + i, bins[i].p, bins[i].len, &f);
        json_t *data = json_object_get(j, "data");
        assert_true(json_is_string(data));
        assert_string_equal(jstr(j, "encoding"), "base64");
        unsigned char dec[64];
        size_t n = b64_decode(json_string_value(data), dec);
        assert_int_equal(json_string_length(data) % 4, 0);
        assert_int_equal(n, bins[i].len);
        assert_memory_equal(dec, bins[i].p, n);
        json_decref(j);
        frame_unref(f);
    }

    /* A large random binary payload round-trips. */
    size_t len = 10000;
    unsigned char *p = malloc(len);
    uint32_t x = 12345;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245 + 12345;
        p[i] = (unsigned char)(x >> 16);
    }
    p[0] = 0xff; /* surely not UTF-8 */
    wsg_frame *f;
    json_t *j = msg_json("bin.big", 1, p, len, &f);
    const char *b64 = jstr(j, "data");
    unsigned char *dec = malloc(len + 3);
    assert_int_equal(b64_decode(b64, dec), len);
    assert_memory_equal(dec, p, len);
    free(dec);
    free(p);
    json_decref(j);
    frame_unref(f);
}

/* Every frame has FRAME_PRE writable bytes in front of its payload (lws puts the header there). */
static void test_headroom(void **state)
{
    wsg_frame *frames[] = {
        protocol_hello("c1", "e", 1, 2, 0, 0),
        protocol_hello("c1", "e", 1, 2, 3, 4),
        protocol_ok_refresh("i", 5),
        protocol_unsub("a", "r"),
        protocol_refresh_hint(6),
        protocol_ok("i", "a", 1),
        protocol_ok_resume("i", "a", 1, 2, true),
        protocol_err("i", PERR_INTERNAL, "m"),
        protocol_pong("i"),
        protocol_msg("a.b", 3, "{}", 2),
        protocol_msg("a.b", 3, "text", 4),
        protocol_msg("a.b", 3, "\xff", 1),
    };
    for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
        wsg_frame *f = frames[i];
        assert_int_equal(frame_data(f) - f->mem, FRAME_PRE);
        memset(f->mem, 0xAB, FRAME_PRE); /* ASan catches a frame allocated without headroom */
        assert_int_equal(frame_data(f)[0], '{');
        assert_int_equal(frame_data(f)[f->len - 1], '}');
        frame_unref(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_sub),
        cmocka_unit_test(test_parse_unsub_ping),
        cmocka_unit_test(test_parse_id_length),
        cmocka_unit_test(test_parse_since),
        cmocka_unit_test(test_parse_not_json),
        cmocka_unit_test(test_parse_not_object),
        cmocka_unit_test(test_parse_bad_op),
        cmocka_unit_test(test_parse_bad_fields),
        cmocka_unit_test(test_parse_bad_subject),
        cmocka_unit_test(test_parse_valid_patterns),
        cmocka_unit_test(test_parse_error_keeps_id),
        cmocka_unit_test(test_err_names),
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_ok_resume),
        cmocka_unit_test(test_err),
        cmocka_unit_test(test_pong),
        cmocka_unit_test(test_msg_json_payloads),
        cmocka_unit_test(test_msg_text_payloads),
        cmocka_unit_test(test_msg_binary_payloads),
        cmocka_unit_test(test_headroom),
        cmocka_unit_test(test_parse_refresh),
        cmocka_unit_test(test_refresh_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
