/* sim_publish.c: connect to NATS, wait for the stream, publish with retries until stored. */
#include "sim_publish.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim_clock.h"
#include "sim_signal.h"
#include "sim_term.h"
#include "wsgate/xmalloc.h"

#define SIM_PUBLISH_WAIT_MS        5000 /* how long one attempt waits for the ack */
#define SIM_PUBLISH_BACKOFF_MIN_MS 100  /* first pause after a failed attempt */
#define SIM_PUBLISH_BACKOFF_MAX_MS 2000
#define SIM_PUBLISH_REMIND_US      30000000 /* repeat "still failing" every 30 s */

/* The most precise description of the last nats.c failure on this thread,
 * without the "(file.c:123): " location nats.c puts in front. */
static const char *sim_publish_error(natsStatus s)
{
    const char *text = nats_GetLastError(NULL);
    if (!text || !*text)
        return natsStatus_GetText(s);
    const char *after = text[0] == '(' ? strstr(text, "): ") : NULL;
    return after ? after + 3 : text;
}

/* Sleep `us` in short steps; false if a stop was asked for meanwhile. */
static bool sim_publish_pause(int64_t us)
{
    int64_t end = sim_clock_now_us() + us;
    for (int64_t now = sim_clock_now_us(); now < end; now = sim_clock_now_us()) {
        if (sim_signal_stopping())
            return false;
        sim_clock_sleep_us(end - now < 100000 ? end - now : 100000);
    }
    return !sim_signal_stopping();
}

static void sim_publish_on_disconnected(natsConnection *nc, void *closure)
{
    struct sim_publish *p = closure;
    atomic_store(&p->connected, false);
}

static void sim_publish_on_reconnected(natsConnection *nc, void *closure)
{
    struct sim_publish *p = closure;
    atomic_store(&p->connected, true);
}

/* Give opts the servers of a comma-separated list (spaces around commas allowed). */
static natsStatus sim_publish_set_servers(natsOptions *opts, const char *urls)
{
    const char *list[64];
    int n = 0;
    for (const char *s = urls; *s && n < 64;) {
        s += strspn(s, " ");
        size_t len = strcspn(s, ",");
        size_t trimmed = len;
        while (trimmed > 0 && s[trimmed - 1] == ' ')
            trimmed--;
        if (trimmed > 0)
            list[n++] = xstrndup(s, trimmed);
        s += len + (s[len] == ',');
    }
    natsStatus st = natsOptions_SetServers(opts, list, n);
    for (int i = 0; i < n; i++)
        free((void *)list[i]);
    return st;
}

static natsStatus sim_publish_options(struct sim_publish *p, const char *urls)
{
    natsStatus s = natsOptions_Create(&p->opts);
    if (s == NATS_OK)
        s = sim_publish_set_servers(p->opts, urls);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(p->opts, 2000); /* per connection attempt */
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(p->opts, -1); /* reconnect forever */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(p->opts, 500);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(p->opts, sim_publish_on_disconnected, p);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(p->opts, sim_publish_on_reconnected, p);
    return s;
}

int sim_publish_connect(struct sim_publish *p, const char *urls, double timeout_s)
{
    memset(p, 0, sizeof *p);
    atomic_init(&p->connected, false);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(p->nonce, sizeof p->nonce, "%lx%x", (unsigned long)ts.tv_sec,
             (unsigned)(ts.tv_nsec ^ getpid()) & 0xfffff);

    natsStatus s = sim_publish_options(p, urls);
    if (s != NATS_OK) {
        sim_term_error("invalid NATS options (%s)", sim_publish_error(s));
        return -EINVAL;
    }
    int64_t start = sim_clock_now_us();
    int64_t deadline = start + (int64_t)(timeout_s * 1e6);
    while ((s = natsConnection_Connect(&p->nc, p->opts)) != NATS_OK) {
        int64_t now = sim_clock_now_us();
        if (now >= deadline) {
            sim_term_error("NATS unreachable at %s for %.0f s: %s", urls, timeout_s,
                           sim_publish_error(s));
            return -ETIMEDOUT;
        }
        sim_term_status("waiting for NATS at %s: %s (giving up in %.0f s)", urls,
                        sim_publish_error(s), (double)(deadline - now) / 1e6);
        if (!sim_publish_pause(deadline - now < 1000000 ? deadline - now : 1000000)) {
            sim_term_error("interrupted while connecting to NATS");
            return -EINTR;
        }
    }
    atomic_store(&p->connected, true);

    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = SIM_PUBLISH_WAIT_MS;
    s = natsConnection_JetStream(&p->js, p->nc, &jo);
    if (s != NATS_OK) {
        sim_term_error("cannot use JetStream: %s", sim_publish_error(s));
        return -EIO;
    }
    return 0;
}

static natsStatus sim_publish_create(struct sim_publish *p, const char *stream, jsErrCode *jerr)
{
    static const char *subjects[] = {"batch.>", "license.>", "verification.>"};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = stream;
    sc.Subjects = subjects;
    sc.SubjectsLen = 3;
    sc.Storage = js_FileStorage;
    sc.Retention = js_LimitsPolicy;
    jsStreamInfo *si = NULL;
    natsStatus s = js_AddStream(&si, p->js, &sc, NULL, jerr);
    jsStreamInfo_Destroy(si);
    return s;
}

int sim_publish_stream(struct sim_publish *p, const char *stream, bool create)
{
    int64_t start = sim_clock_now_us();
    for (;;) {
        jsStreamInfo *si = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_GetStreamInfo(&si, p->js, stream, NULL, &jerr);
        jsStreamInfo_Destroy(si);
        if (s == NATS_OK)
            return 0;

        bool missing = jerr == JSStreamNotFoundErr || s == NATS_NOT_FOUND;
        if (missing && create) {
            s = sim_publish_create(p, stream, &jerr);
            if (s == NATS_OK) {
                sim_term_note("created stream %s (batch.>, license.>, verification.>)", stream);
                return 0;
            }
            if (jerr != JSStreamNameExistErr) { /* someone else creating it is fine */
                sim_term_error("cannot create stream %s: %s", stream, sim_publish_error(s));
                return -EIO;
            }
            continue;
        }
        double waited = (double)(sim_clock_now_us() - start) / 1e6;
        if (missing)
            sim_term_status("waiting for stream %s: the gateway creates it at start (or pass "
                            "--create-stream); %.0f s so far",
                            stream, waited);
        else
            sim_term_status("waiting for stream %s: %s; %.0f s so far", stream,
                            sim_publish_error(s), waited);
        if (!sim_publish_pause(1000000)) {
            sim_term_error("interrupted while waiting for stream %s", stream);
            return -EINTR;
        }
    }
}

int sim_publish_send(struct sim_publish *p, const char *subject, const char *data, size_t len)
{
    char id[48];
    snprintf(id, sizeof id, "sim-%s-%llu", p->nonce, (unsigned long long)++p->next_id);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id;
    po.MaxWait = SIM_PUBLISH_WAIT_MS;

    int64_t first_failure = 0, last_note = 0;
    int64_t backoff_ms = SIM_PUBLISH_BACKOFF_MIN_MS;
    unsigned failures = 0;
    for (;;) {
        jsPubAck *pa = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_Publish(&pa, p->js, subject, data, (int)len, &po, &jerr);
        jsPubAck_Destroy(pa);
        if (s == NATS_OK) {
            p->published++;
            if (failures)
                sim_term_note("publishing again: %s stored after %u retries (%.1f s)", subject,
                              failures, (double)(sim_clock_now_us() - first_failure) / 1e6);
            return 0;
        }
        int64_t now = sim_clock_now_us();
        if (failures == 0 || now - last_note >= SIM_PUBLISH_REMIND_US) {
            if (failures == 0)
                first_failure = now;
            sim_term_note("publish %s failed: %s; retrying until stored (%u retries so far)",
                          subject, sim_publish_error(s), failures);
            last_note = now;
        }
        failures++;
        p->retries++;
        if (!sim_publish_pause(backoff_ms * 1000))
            return -EINTR;
        backoff_ms = backoff_ms * 2 > SIM_PUBLISH_BACKOFF_MAX_MS ? SIM_PUBLISH_BACKOFF_MAX_MS
                                                                 : backoff_ms * 2;
    }
}

bool sim_publish_connected(struct sim_publish *p)
{
    return atomic_load(&p->connected);
}

void sim_publish_close(struct sim_publish *p)
{
    jsCtx_Destroy(p->js);
    natsConnection_Destroy(p->nc);
    natsOptions_Destroy(p->opts);
    p->js = NULL;
    p->nc = NULL;
    p->opts = NULL;
    nats_CloseAndWait(2000);
}
