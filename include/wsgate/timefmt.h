/* timefmt.h: RFC 3339 UTC timestamps, the one formatter of the gateway and the simulator. */
#ifndef WSGATE_TIMEFMT_H
#define WSGATE_TIMEFMT_H

#include <stdint.h>

/* Room for the longest output and its NUL ("9999-12-31T23:59:59.999999999Z" is 30 chars). */
#define TIMEFMT_MAX 32

/* ns since the UNIX epoch as RFC 3339 UTC with up to 9 fraction digits,
 * trailing zeros trimmed and no '.' for a whole second, as JetStream prints
 * times ("2026-11-27T07:40:12.1185Z", "2026-11-27T07:40:12Z"). Every int64
 * fits (years 1677..2262). Returns the length written (NUL not counted). */
int timefmt_ns(int64_t ns, char out[TIMEFMT_MAX]);
/* ms since the UNIX epoch as RFC 3339 UTC with exactly 3 fraction digits
 * ("2026-11-27T07:40:12.118Z"). Returns the length, or -ERANGE (out = "")
 * when the year is outside 0000..9999. */
int timefmt_ms(int64_t ms, char out[TIMEFMT_MAX]);
/* The current wall-clock time as timefmt_ms prints it. Returns the length. */
int timefmt_now(char out[TIMEFMT_MAX]);

#define TIMEFMT_MS_MAX 253402300799999LL /* 9999-12-31T23:59:59.999Z, in ms */

/* Parse an RFC 3339 date-time (years 1970..9999, offset or Z, optional
 * fraction) into *ms since the epoch. Returns 0, or -EINVAL. */
int timefmt_parse_ms(const char *s, int64_t *ms);

#endif
