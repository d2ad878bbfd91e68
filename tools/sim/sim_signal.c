/* sim_signal.c: stop requests from signals. */
#include "sim_signal.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t sim_signal_stop;

static void sim_signal_handler(int sig)
{
    if (sim_signal_stop)
        _exit(130); /* second signal: the user really wants out */
    sim_signal_stop = 1;
}

void sim_signal_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sim_signal_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

bool sim_signal_stopping(void)
{
    return sim_signal_stop != 0;
}
