/* sim_term.h: everything wsgate-sim prints: notes, errors, live progress, the summary. */
#ifndef SIM_TERM_H
#define SIM_TERM_H

#include <stdbool.h>
#include <stdint.h>

#include "sim_batch.h"
#include "sim_verify.h"

/* What the progress display and the summary show. */
struct sim_term_view {
    const struct sim_batch *batches;
    int nbatches;
    const struct sim_verify *verify;
    int64_t start_us; /* monotonic start of the run */
    int64_t now_us;
    bool connected; /* NATS connection up */
};

/* Decide how to print: live redraw when stdout is a terminal, plain lines otherwise. */
void sim_term_init(bool quiet);

/* A lasting message on stderr (not when quiet). */
void sim_term_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A one-line error on stderr, printed even when quiet. */
void sim_term_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A passing status line ("waiting for ..."): redrawn in place on a terminal,
 * printed at most every few seconds otherwise. */
void sim_term_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The live progress block: one line per batch, then verifications. Redrawn
 * at most every 250 ms on a terminal, every 5 s otherwise, or now if force. */
void sim_term_progress(const struct sim_term_view *v, bool force);

/* The final summary on stdout, below the last progress block (not when quiet). */
void sim_term_summary(const struct sim_term_view *v, uint64_t published, uint64_t retries,
                      uint64_t seed, bool interrupted);

#endif
