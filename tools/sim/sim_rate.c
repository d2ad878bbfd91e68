/* sim_rate.c: a ring of (time, count) samples taken at most once per second. */
#include "sim_rate.h"

#define SIM_RATE_STEP_US   1000000  /* one sample per second at most */
#define SIM_RATE_WINDOW_US 15000000 /* rates look back this far */

static void sim_rate_push(struct sim_rate *r, int64_t now_us, uint64_t count)
{
    r->at_us[r->next] = now_us;
    r->count[r->next] = count;
    r->next = (r->next + 1) % SIM_RATE_SAMPLES;
    if (r->len < SIM_RATE_SAMPLES)
        r->len++;
}

void sim_rate_init(struct sim_rate *r, int64_t now_us)
{
    r->len = r->next = 0;
    sim_rate_push(r, now_us, 0);
}

void sim_rate_update(struct sim_rate *r, int64_t now_us, uint64_t count)
{
    int newest = (r->next + SIM_RATE_SAMPLES - 1) % SIM_RATE_SAMPLES;
    if (now_us - r->at_us[newest] >= SIM_RATE_STEP_US)
        sim_rate_push(r, now_us, count);
}

double sim_rate_per_second(const struct sim_rate *r, int64_t now_us, uint64_t count)
{
    /* The oldest sample inside the window; failing that, the newest one. */
    int pick = -1;
    if (r->len == 0)
        return 0.0; /* not started */
    for (int k = r->len; k >= 1; k--) {
        int i = (r->next + SIM_RATE_SAMPLES - k) % SIM_RATE_SAMPLES;
        if (now_us - r->at_us[i] <= SIM_RATE_WINDOW_US || k == 1) {
            pick = i;
            break;
        }
    }
    int64_t span = now_us - r->at_us[pick];
    return span > 0 ? (double)(count - r->count[pick]) * 1e6 / (double)span : 0.0;
}
