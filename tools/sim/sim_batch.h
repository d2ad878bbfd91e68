/* sim_batch.h: one simulated batch of license assignments: workers, counters, events. */
#ifndef SIM_BATCH_H
#define SIM_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "sim_data.h"
#include "sim_env.h"
#include "sim_rate.h"

#define SIM_BATCH_ID_MAX 64

/* The assignment one worker is busy with. */
struct sim_task {
    int64_t begin_us;                  /* when the worker started it (monotonic) */
    unsigned license;                  /* license number, for "LIC-000123" */
    const struct sim_failure *failure; /* NULL when it will succeed */
};

struct sim_batch {
    char id[SIM_BATCH_ID_MAX + 1];
    int index;                /* position in the run's batch array (for the schedule) */
    int total;                /* assignments */
    int workers;              /* parallel workers */
    int assigned;             /* assignments handed out so far */
    int done;                 /* succeeded */
    int failed;               /* failed */
    int64_t start_us;         /* monotonic start */
    int64_t end_us;           /* monotonic end; 0 while running */
    int64_t last_progress_us; /* when the last progress event was due */
    unsigned license_base;    /* license numbers are license_base + assignment */
    struct sim_rate rate;     /* assignments processed per second, recently */
    struct sim_task *tasks;   /* one per worker */
};

/* Prepare batch number `index` (0-based) with id "<prefix>-<index + 1>". */
void sim_batch_init(struct sim_batch *b, int index, struct sim_env *env);
void sim_batch_free(struct sim_batch *b);

/* Publish `started` and give every worker its first assignment (scheduled in
 * env->heap). Returns 0, or -EINTR if publishing was interrupted. */
int sim_batch_start(struct sim_batch *b, struct sim_env *env, int64_t now_us);

/* Worker `worker` finishes its assignment at due_us: publish its license
 * event and progress as the mode asks, hand it the next assignment, and
 * publish the end (final progress, `completed`) after the last one.
 * Returns 0, or -EINTR if publishing was interrupted. */
int sim_batch_finish(struct sim_batch *b, struct sim_env *env, int worker, int64_t due_us);

/* Assignments processed (done + failed). */
int sim_batch_processed(const struct sim_batch *b);
/* Has `completed` been published? */
bool sim_batch_completed(const struct sim_batch *b);

#endif
