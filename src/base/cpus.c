/* cpus.c: how many CPUs this process may use (see cpus.h). */
#include "wsgate/cpus.h"

#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cpus_quota_parse(const char *cpu_max)
{
    char *end;
    if (!cpu_max || strncmp(cpu_max, "max", 3) == 0)
        return 0;
    long long quota = strtoll(cpu_max, &end, 10);
    if (end == cpu_max || *end != ' ')
        return 0;
    const char *p = end + 1;
    long long period = strtoll(p, &end, 10);
    if (end == p || quota <= 0 || period <= 0)
        return 0;
    long long n = (quota + period - 1) / period;
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* The first line of a small file into buf; false when it cannot be read. */
static bool cpus_read(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    return ok;
}

/* The cgroup quota in CPUs (v2, else v1), 0 when there is none. */
static int cpus_quota(void)
{
    char line[128], period[64];
    if (cpus_read("/sys/fs/cgroup/cpu.max", line, sizeof(line)))
        return cpus_quota_parse(line);
    if (!cpus_read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", line, sizeof(line)) ||
        !cpus_read("/sys/fs/cgroup/cpu/cpu.cfs_period_us", period, sizeof(period)))
        return 0;
    line[strcspn(line, "\n")] = '\0';
    char both[200];
    snprintf(both, sizeof(both), "%s %s", line, period); /* "-1 100000": no quota */
    return cpus_quota_parse(both);
}

int cpus_usable(void)
{
    int n = 1;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        n = CPU_COUNT(&set);
    int quota = cpus_quota();
    if (quota > 0 && quota < n)
        n = quota;
    return n;
}
