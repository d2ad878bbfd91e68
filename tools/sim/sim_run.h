/* sim_run.h: the simulation loop: one thread, a schedule of timed events, real sleeping. */
#ifndef SIM_RUN_H
#define SIM_RUN_H

#include "sim_opts.h"
#include "sim_publish.h"

/* Run the batches and verifications of `o`, publishing through `pub`, until
 * they are complete (or a stop is asked for), then print the summary.
 * Returns the exit code: 0, or 130 when interrupted before the end. */
int sim_run(const struct sim_opts *o, struct sim_publish *pub);

#endif
