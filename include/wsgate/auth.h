/* auth.h: JWT verification (HS256 / RS256 / ES256, algorithm pinned by the key) and the subs claim.
 */
#ifndef WSGATE_AUTH_H
#define WSGATE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_TOKEN_MAX 8192 /* longer tokens are refused before any parsing */

typedef struct auth auth;

typedef struct auth_claims {
    char sub[128]; /* the "sub" claim (client id), "" when absent */
    int64_t exp;   /* seconds since the epoch */
    char **subs;   /* allowed subscription patterns (owned) */
    size_t nsubs;
} auth_claims;

/* Load the HS256 secret file (one trailing newline ignored) or a PEM public
 * key (RSA -> RS256, EC P-256 -> ES256); exactly one of the two is non-NULL.
 * NULL with a one-line reason in err on failure. */
auth *auth_create(const char *secret_file, const char *public_key_file, char *err, size_t errlen);
void auth_destroy(auth *a);

/* Verify a compact JWT at time now_s (seconds since the epoch): size, shape,
 * header alg equal to the key's algorithm, signature, "exp" present and in
 * the future, "nbf" (if present) not in the future, "subs" an array of valid
 * patterns if present. Returns 0 and fills out (free with auth_claims_clear),
 * or -1 with a short static reason (never containing the token). */
int auth_verify(const auth *a, const char *token, size_t len, int64_t now_s, auth_claims *out,
                const char **reason);

/* Is pattern contained in one of the allowed patterns? */
bool auth_claims_allow(const auth_claims *c, const char *pattern);
void auth_claims_clear(auth_claims *c);

#endif
