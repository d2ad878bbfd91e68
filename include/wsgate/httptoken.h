/* httptoken.h: the token characters of HTTP header grammar (RFC 9110 5.6.2 tchar). */
#ifndef WSGATE_HTTPTOKEN_H
#define WSGATE_HTTPTOKEN_H

#include <stdbool.h>

/* Is c a tchar: ALPHA, DIGIT or one of !#$%&'*+-.^_`|~ ? */
bool httptoken_char(int c);

#endif
