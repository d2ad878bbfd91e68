/* sim_opts.h: the command line of wsgate-sim, parsed and validated. */
#ifndef SIM_OPTS_H
#define SIM_OPTS_H

#include <stdbool.h>
#include <stdint.h>

/* Which batch events are published (see docs/sim.md). */
enum sim_mode {
    SIM_MODE_BOTH = 0, /* per-license events and progress events */
    SIM_MODE_PROGRESS, /* started, progress, completed */
    SIM_MODE_LICENSE,  /* started, license.*, completed */
};

#define SIM_PREFIX_MAX 48 /* leaves room for "-<n>" within a 64-character token */

struct sim_opts {
    const char *nats;                /* comma-separated server URLs */
    const char *stream;              /* JetStream stream name */
    int batches;                     /* concurrent batches (0 = verifications only) */
    int size;                        /* assignments per batch */
    int workers;                     /* parallel workers per batch */
    double speed;                    /* time scale: 2.0 runs twice as fast */
    double fail_rate;                /* probability that one assignment fails */
    enum sim_mode mode;              /* which batch events to publish */
    char prefix[SIM_PREFIX_MAX + 1]; /* batch ids are "<prefix>-<n>" */
    double verifications;            /* verification events per second (0 = none) */
    double duration;        /* seconds of verifications; < 0 = until the batches complete */
    uint64_t seed;          /* seed of every random choice */
    double connect_timeout; /* seconds to wait for NATS at start */
    bool quiet;             /* print errors only */
    bool create_stream;     /* create the stream if it is missing */
};

/* Fill `o` from argv. Returns 0 to run, 1 when --help was printed (exit 0),
 * -EINVAL after printing a one-line error to stderr (exit 2). */
int sim_opts_parse(struct sim_opts *o, int argc, char **argv);

/* "both", "progress" or "license". */
const char *sim_opts_mode_name(enum sim_mode m);

#endif
