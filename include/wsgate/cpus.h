/* cpus.h: how many CPUs this process may use (affinity mask and cgroup CPU quota). */
#ifndef WSGATE_CPUS_H
#define WSGATE_CPUS_H

/* The CPUs the process may run on (sched_getaffinity), capped by a cgroup
 * CPU quota rounded up (cgroup v2 cpu.max, else v1 cfs_quota_us /
 * cfs_period_us), at least 1. A container limited to 2 CPUs on a 64-core
 * host gets 2, not 64. */
int cpus_usable(void);
/* The CPUs a quota grants: quota / period rounded up, from a cgroup v2
 * cpu.max line ("200000 100000"); 0 when there is no quota ("max ...") or
 * the text is not one. */
int cpus_quota_parse(const char *cpu_max);

#endif
