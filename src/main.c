/* main.c: wsgate entry point: load the configuration, set up logs, run the server. */
#include "wsgate/config.h"
#include "wsgate/http.h"
#include "wsgate/log.h"
#include "wsgate/server.h"

#include <stdio.h>
#include <sys/resource.h>

/* Lift the soft open-file limit to the hard one: every client is a socket. */
static void main_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max > 1048576 ? 1048576 : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    wsg_config cfg;
    char err[512];
    int r = config_load(&cfg, argc, argv, NULL, err, sizeof(err));
    if (r == CONFIG_EXIT)
        return 0;
    if (r != CONFIG_OK) {
        fprintf(stderr, "wsgate: %s\n", err);
        return 2;
    }
    log_init((enum log_level)cfg.log_level, (enum log_format)cfg.log_format);
    main_raise_nofile();
    if (!cfg.web_root)
        http_prepare(); /* the dashboard's gzip and br variants, before the first request */
    int rc = server_run(&cfg);
    config_free(&cfg);
    return rc;
}
