/* sim_signal.h: Ctrl-C and SIGTERM: the first asks for a clean stop, the second exits. */
#ifndef SIM_SIGNAL_H
#define SIM_SIGNAL_H

#include <stdbool.h>

/* Install the SIGINT/SIGTERM handlers and ignore SIGPIPE. */
void sim_signal_install(void);
/* Has a stop been asked for? */
bool sim_signal_stopping(void);

#endif
