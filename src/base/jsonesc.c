/* jsonesc.c: JSON string escaping of one character (see jsonesc.h), for sbuf and the logger. */
#include "wsgate/jsonesc.h"

#include "wsgate/utf8.h"

#include <string.h>

size_t jsonesc_char(const char *s, size_t n, char out[JSONESC_MAX], size_t *outlen)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = (unsigned char)s[0];
    if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t') {
        out[0] = '\\';
        out[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : (char)c;
        *outlen = 2;
        return 1;
    }
    if (c < 0x20) {
        memcpy(out, "\\u00", 4);
        out[4] = hex[c >> 4];
        out[5] = hex[c & 15];
        *outlen = 6;
        return 1;
    }
    size_t k = utf8_decode(s, n, NULL);
    if (k == 0) {
        memcpy(out, "\\ufffd", 6);
        *outlen = 6;
        return 1;
    }
    memcpy(out, s, k);
    *outlen = k;
    return k;
}
