/* main.c: wsgate-sim, simulated backend batch workers publishing EVENTS.md events to NATS. */
#include "sim_opts.h"
#include "sim_publish.h"
#include "sim_run.h"
#include "sim_signal.h"
#include "sim_term.h"

int main(int argc, char **argv)
{
    struct sim_opts opts;
    int r = sim_opts_parse(&opts, argc, argv);
    if (r != 0)
        return r > 0 ? 0 : 2;

    sim_term_init(opts.quiet);
    sim_signal_install();
    struct sim_publish pub;
    int code;
    if (sim_publish_connect(&pub, opts.nats, opts.connect_timeout) == 0 &&
        sim_publish_stream(&pub, opts.stream, opts.create_stream) == 0)
        code = sim_run(&opts, &pub);
    else
        code = sim_signal_stopping() ? 130 : 1;
    sim_publish_close(&pub);
    return code;
}
