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

/* Load the HS256 secret file (one trailing newline ignored; at least 32
 * bytes) or a PEM public
 * key (RSA -> RS256, EC P-256 -> ES256); exactly one of the two is non-NULL.
 * Either may name a directory instead: every file in it whose name does not
 * start with '.' is such a key, its name the key id ("kid") that tokens
 * name in their header (rotation: several keys at once); at least one.
 * NULL with a one-line reason in err on failure. */
auth *auth_create(const char *secret_file, const char *public_key_file, char *err, size_t errlen);
void auth_destroy(auth *a);
/* The keys loaded (1 for a key file). */
size_t auth_key_count(const auth *a);
/* Checks beyond the signature and the time claims. */
typedef struct auth_policy {
    const char *audience; /* "aud" must name it (a string, or an array holding it); NULL: any */
    const char *issuer;   /* "iss" must equal it; NULL: any */
    bool es256_low_s;     /* refuse ES256 signatures whose S is above n/2 (malleability) */
} auth_policy;
void auth_set_policy(auth *a, const auth_policy *p);

/* Verify a compact JWT at time now_s (seconds since the epoch): size, shape,
 * the key (with a key directory, the one the header's "kid" names, "unknown
 * key id" otherwise; without a kid, or with a key file, any key), header
 * alg equal to that key's algorithm, signature, "exp" present and in
 * the future, "nbf" (if present) not in the future, "subs" an array of valid
 * patterns if present. Returns 0 and fills out (free with auth_claims_clear),
 * or -EACCES (the token is refused) with a short static reason in *reason
 * (never containing the token). */
int auth_verify(const auth *a, const char *token, size_t len, int64_t now_s, auth_claims *out,
                const char **reason);

/* Is pattern contained in one of the allowed patterns? */
bool auth_claims_allow(const auth_claims *c, const char *pattern);
void auth_claims_clear(auth_claims *c);

#endif
