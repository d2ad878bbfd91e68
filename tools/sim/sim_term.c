/* sim_term.c: terminal output: a redrawn block on a TTY, periodic plain lines otherwise. */
#include "sim_term.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sim_clock.h"
#include "wsgate/sbuf.h"

#define SIM_TERM_TTY_EVERY_US   250000  /* redraw period on a terminal */
#define SIM_TERM_PLAIN_EVERY_US 5000000 /* line period when redirected */
#define SIM_TERM_BAR            20      /* progress bar width */

static struct {
    bool quiet;
    bool tty;          /* stdout is a terminal */
    int shown;         /* lines of the passing block now on screen (tty only) */
    int64_t last_us;   /* when the passing block was last printed */
    bool printed_once; /* the block was printed at least once (plain mode) */
} sim_term;

void sim_term_init(bool quiet)
{
    sim_term.quiet = quiet;
    sim_term.tty = isatty(STDOUT_FILENO);
}

/* Remove the passing block from a terminal so that other text can be printed. */
static void sim_term_erase(void)
{
    if (sim_term.tty && sim_term.shown > 0) {
        printf("\033[%dA\033[J", sim_term.shown); /* cursor up, clear to the end */
        fflush(stdout);
    }
    sim_term.shown = 0;
}

/* Is it time to print the passing block again? */
static bool sim_term_due(int64_t now_us, bool force)
{
    int64_t every = sim_term.tty ? SIM_TERM_TTY_EVERY_US : SIM_TERM_PLAIN_EVERY_US;
    return !sim_term.quiet &&
           (force || !sim_term.printed_once || now_us - sim_term.last_us >= every);
}

/* Replace the passing block with `text` (complete lines) if its time has come. */
static void sim_term_show(const char *text, int64_t now_us, bool force)
{
    if (!sim_term_due(now_us, force))
        return;
    sim_term_erase();
    fputs(text, stdout);
    fflush(stdout);
    for (const char *p = text; (p = strchr(p, '\n')); p++)
        sim_term.shown++;
    sim_term.last_us = now_us;
    sim_term.printed_once = true;
}

__attribute__((format(printf, 2, 0))) static void sim_term_vmessage(const char *prefix,
                                                                    const char *fmt, va_list ap)
{
    sim_term_erase();
    fprintf(stderr, "wsgate-sim: %s", prefix);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void sim_term_note(const char *fmt, ...)
{
    if (sim_term.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    sim_term_vmessage("", fmt, ap);
    va_end(ap);
}

void sim_term_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sim_term_vmessage("error: ", fmt, ap);
    va_end(ap);
}

void sim_term_status(const char *fmt, ...)
{
    sbuf line;
    sbuf_init(&line, 0);
    sbuf_puts(&line, "wsgate-sim: ");
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(&line, fmt, ap);
    va_end(ap);
    sbuf_putc(&line, '\n');
    sim_term_show(sbuf_str(&line), sim_clock_now_us(), false);
    sbuf_free(&line);
}

/* "2.4s", "45s", "3m25s" or "1h02m". */
static void sim_term_duration(sbuf *out, double seconds)
{
    long s = (long)(seconds + 0.5);
    if (seconds < 9.95)
        sbuf_printf(out, "%.1fs", seconds);
    else if (s < 60)
        sbuf_printf(out, "%lds", s);
    else if (s < 3600)
        sbuf_printf(out, "%ldm%02lds", s / 60, s % 60);
    else
        sbuf_printf(out, "%ldh%02ldm", s / 3600, s % 3600 / 60);
}

/* Seconds between two monotonic times. */
static double sim_term_seconds(int64_t from_us, int64_t to_us)
{
    return (double)(to_us - from_us) / 1e6;
}

/* "b1x7 [#######.....] 412/1000 failed 7  2.8/s  ETA 3m25s" */
static void sim_term_batch_line(sbuf *out, const struct sim_batch *b, int id_width, int64_t now_us)
{
    int processed = sim_batch_processed(b);
    int filled = (int)((long long)processed * SIM_TERM_BAR / b->total);
    bool completed = sim_batch_completed(b);
    double elapsed = sim_term_seconds(b->start_us, completed ? b->end_us : now_us);
    double rate = completed ? (elapsed > 0 ? processed / elapsed : 0)
                            : sim_rate_per_second(&b->rate, now_us, (uint64_t)processed);

    sbuf_printf(out, "%-*s [", id_width, b->id);
    for (int i = 0; i < SIM_TERM_BAR; i++)
        sbuf_putc(out, i < filled ? '#' : '.');
    sbuf_printf(out, "] %d/%d failed %d  %.1f/s  ", processed, b->total, b->failed, rate);
    if (completed) {
        sbuf_puts(out, "done in ");
        sim_term_duration(out, elapsed);
    } else if (processed > 0 && rate > 0) {
        sbuf_puts(out, "ETA ");
        sim_term_duration(out, (b->total - processed) / rate);
    } else {
        sbuf_puts(out, "ETA --");
    }
    sbuf_putc(out, '\n');
}

/* "verifications 1234: verified 1049, rejected 86, pending 99" */
static void sim_term_verify_line(sbuf *out, const struct sim_verify *v)
{
    sbuf_printf(out, "verifications %llu", (unsigned long long)v->count);
    for (int s = 0; s < SIM_DATA_STATUSES; s++)
        sbuf_printf(out, "%s%s %llu", s ? ", " : ": ", sim_data_status_name(s),
                    (unsigned long long)v->by_status[s]);
}

static int sim_term_id_width(const struct sim_term_view *v)
{
    int width = 0;
    for (int i = 0; i < v->nbatches; i++) {
        int n = (int)strlen(v->batches[i].id);
        width = n > width ? n : width;
    }
    return width;
}

void sim_term_progress(const struct sim_term_view *v, bool force)
{
    if (!sim_term_due(v->now_us, force))
        return;
    sbuf out;
    sbuf_init(&out, 0);
    int width = sim_term_id_width(v);
    for (int i = 0; i < v->nbatches; i++)
        sim_term_batch_line(&out, &v->batches[i], width, v->now_us);
    if (v->verify->rate > 0) {
        sim_term_verify_line(&out, v->verify);
        sbuf_printf(&out, "  %.1f/s\n",
                    sim_rate_per_second(&v->verify->meter, v->now_us, v->verify->count));
    }
    if (!v->connected)
        sbuf_puts(&out, "NATS disconnected: reconnecting...\n");
    sim_term_show(sbuf_str(&out), v->now_us, force);
    sbuf_free(&out);
}

void sim_term_summary(const struct sim_term_view *v, uint64_t published, uint64_t retries,
                      uint64_t seed, bool interrupted)
{
    if (sim_term.quiet)
        return;
    sim_term.shown = 0; /* the last progress block stays on screen, above the summary */
    sbuf out;
    sbuf_init(&out, 0);
    sbuf_puts(&out, interrupted ? "interrupted after " : "finished in ");
    sim_term_duration(&out, sim_term_seconds(v->start_us, v->now_us));
    sbuf_printf(&out, " (seed %llu)\n", (unsigned long long)seed);
    int width = sim_term_id_width(v);
    for (int i = 0; i < v->nbatches; i++) {
        const struct sim_batch *b = &v->batches[i];
        bool completed = sim_batch_completed(b);
        double elapsed = sim_term_seconds(b->start_us, completed ? b->end_us : v->now_us);
        sbuf_printf(&out, "  %-*s %d/%d processed: %d done, %d failed in ", width, b->id,
                    sim_batch_processed(b), b->total, b->done, b->failed);
        sim_term_duration(&out, elapsed);
        sbuf_printf(&out, " (%.1f/s)%s\n", elapsed > 0 ? sim_batch_processed(b) / elapsed : 0.0,
                    completed ? "" : ", not completed");
    }
    if (v->verify->rate > 0) {
        sbuf_puts(&out, "  ");
        sim_term_verify_line(&out, v->verify);
        sbuf_putc(&out, '\n');
    }
    sbuf_printf(&out, "  %llu events stored in the stream, %llu publish retries\n",
                (unsigned long long)published, (unsigned long long)retries);
    fputs(sbuf_str(&out), stdout);
    fflush(stdout);
    sbuf_free(&out);
}
