/* httptoken.c: HTTP token characters (see httptoken.h). */
#include "wsgate/httptoken.h"

#include <string.h>

bool httptoken_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c > 0 && c < 128 && strchr("!#$%&'*+-.^_`|~", c));
}
