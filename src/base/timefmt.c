/* timefmt.c: RFC 3339 UTC timestamps from ns or ms since the epoch, and parsed back (see
 * timefmt.h).
 *
 * The calendar is computed here (Howard Hinnant's civil_from_days) instead of
 * with gmtime_r + strftime: it is exact for any int64 input, needs no time_t
 * range checks, and leaves the compiler nothing to warn about in the digits. */
#include "wsgate/timefmt.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#define TIMEFMT_MIN_SECS (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define TIMEFMT_MAX_SECS 253402300799LL   /* 9999-12-31T23:59:59Z */

/* Days since 1970-01-01 to a proleptic Gregorian date. */
static void timefmt_civil(int64_t days, int64_t *y, int *m, int *d)
{
    days += 719468; /* days from 0000-03-01 */
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;                                   /* 0..146096 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
    int64_t mp = (5 * doy + 2) / 153;                                    /* 0..11, from March */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Write v as exactly n decimal digits; returns the end. */
static char *timefmt_digits(char *p, uint32_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

/* secs (TIMEFMT_MIN_SECS..TIMEFMT_MAX_SECS) plus nanos (0..999999999) with
 * `digits` fraction digits (0..9), trailing zeros dropped when `trim`.
 * Returns the length written (NUL not counted). */
static int timefmt_put(int64_t secs, uint32_t nanos, int digits, bool trim, char *out)
{
    int64_t days = secs / 86400, rem = secs % 86400, y;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int m, d;
    timefmt_civil(days, &y, &m, &d);
    char *p = out;
    p = timefmt_digits(p, (uint32_t)y, 4);
    *p++ = '-';
    p = timefmt_digits(p, (uint32_t)m, 2);
    *p++ = '-';
    p = timefmt_digits(p, (uint32_t)d, 2);
    *p++ = 'T';
    p = timefmt_digits(p, (uint32_t)(rem / 3600), 2);
    *p++ = ':';
    p = timefmt_digits(p, (uint32_t)(rem / 60 % 60), 2);
    *p++ = ':';
    p = timefmt_digits(p, (uint32_t)(rem % 60), 2);
    uint32_t frac = nanos;
    for (int i = digits; i < 9; i++)
        frac /= 10;
    while (trim && digits > 0 && frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    if (digits > 0) {
        *p++ = '.';
        p = timefmt_digits(p, frac, digits);
    }
    *p++ = 'Z';
    *p = '\0';
    return (int)(p - out);
}

int timefmt_ns(int64_t ns, char out[TIMEFMT_MAX])
{
    int64_t secs = ns / 1000000000, nanos = ns % 1000000000;
    if (nanos < 0) {
        nanos += 1000000000;
        secs--;
    }
    return timefmt_put(secs, (uint32_t)nanos, 9, true, out);
}

int timefmt_ms(int64_t ms, char out[TIMEFMT_MAX])
{
    int64_t secs = ms / 1000, msec = ms % 1000;
    if (msec < 0) {
        msec += 1000;
        secs--;
    }
    if (secs < TIMEFMT_MIN_SECS || secs > TIMEFMT_MAX_SECS) {
        out[0] = '\0';
        return -ERANGE;
    }
    return timefmt_put(secs, (uint32_t)msec * 1000000, 3, false, out);
}

int timefmt_now(char out[TIMEFMT_MAX])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return timefmt_ms((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, out);
}

/* Read exactly n decimal digits at *p: their value, or -EINVAL when they are not there. */
static int timefmt_read_digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -EINVAL;
        v = v * 10 + (**p - '0');
    }
    return v;
}

static bool timefmt_read_char(const char **p, const char *accept)
{
    if (**p == '\0' || !strchr(accept, **p))
        return false;
    (*p)++;
    return true;
}

int timefmt_parse_ms(const char *s, int64_t *out)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = timefmt_read_digits(&s, 4), mo = -1, d = -1, h = -1, mi = -1, sec = -1, ms = 0;
    if (timefmt_read_char(&s, "-"))
        mo = timefmt_read_digits(&s, 2);
    if (timefmt_read_char(&s, "-"))
        d = timefmt_read_digits(&s, 2);
    if (timefmt_read_char(&s, "Tt "))
        h = timefmt_read_digits(&s, 2);
    if (timefmt_read_char(&s, ":"))
        mi = timefmt_read_digits(&s, 2);
    if (timefmt_read_char(&s, ":"))
        sec = timefmt_read_digits(&s, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || sec < 0 || sec > 60)
        return -EINVAL;
    if (mo == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)))
        return -EINVAL;
    if (timefmt_read_char(&s, ".")) {
        int scale = 100, ndigits = 0;
        for (; *s >= '0' && *s <= '9'; s++, ndigits++) {
            ms += (*s - '0') * scale;
            scale /= 10;
        }
        if (ndigits == 0)
            return -EINVAL;
    }
    int offset_min = 0;
    if (!timefmt_read_char(&s, "Zz")) {
        int sign = *s == '-' ? -1 : 1;
        if (!timefmt_read_char(&s, "+-"))
            return -EINVAL;
        int oh = timefmt_read_digits(&s, 2),
            om = timefmt_read_char(&s, ":") ? timefmt_read_digits(&s, 2) : -EINVAL;
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -EINVAL;
        offset_min = sign * (oh * 60 + om);
    }
    if (*s != '\0')
        return -EINVAL;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec > 59 ? 59 : sec};
    int64_t t = ((int64_t)timegm(&tm) - offset_min * 60LL) * 1000 + ms;
    if (t < 0 || t > TIMEFMT_MS_MAX)
        return -EINVAL;
    *out = t;
    return 0;
}
