/*
 * API tokens: 256-bit random secrets shown once, stored as their SHA-256, looked up
 * by hash and compared in constant time. A token has a role and, for agency tokens,
 * the one agency it may write for.
 */
#ifndef ICTMON_AUTH_H
#define ICTMON_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct db_pool;

enum role {
	ROLE_PUBLIC = 0,	/* no token needed */
	ROLE_AGENCY,
	ROLE_ANALYST,
	ROLE_ADMIN,
};

#define AUTH_TOKEN_PREFIX	"ictm_"
#define AUTH_TOKEN_LEN		(sizeof(AUTH_TOKEN_PREFIX) - 1 + 43)	/* + base64url(32) */
#define AUTH_HASH_HEX_LEN	64

/* Who made a request: what its token allows. */
struct principal {
	long long	token_id;
	enum role	role;
	long long	agency_id;	/* 0 unless role is ROLE_AGENCY */
	char		agency_code[32];
	char		name[64];	/* the token's name, for logs */
};

const char	*role_name(enum role role);
bool		 role_parse(const char *name, enum role *out);
/* The row scope (db.h) of what the principal writes and reads: its agency's, or all. */
long long	 principal_scope(const struct principal *who);
/* Whether a token of role `have` may use a route that needs `need`. */
bool		 role_allows(enum role have, enum role need);

/* A new token "ictm_" + 43 base64url characters, NUL-terminated; false if the
   system's random source failed. out must hold AUTH_TOKEN_LEN + 1 bytes. */
bool		 auth_token_generate(char *out, size_t outlen);
/* Lower-case hex SHA-256 of the token; hex holds AUTH_HASH_HEX_LEN + 1 bytes. */
void		 auth_token_hash(const char *token, size_t len, char *hex);
/* Constant-time equality of two hashes of AUTH_HASH_HEX_LEN characters. */
bool		 auth_hash_equal(const char *a, const char *b);
/* The token of an "Authorization: Bearer TOKEN" header, checked for shape; NULL if none. */
const char	*auth_bearer_token(const char *header, size_t *len);

/*
 * Looks the token up (not revoked, not expired). `status` is 200 with the principal,
 * 401 when the token is unknown, revoked or expired, or 503 when the database cannot
 * answer. Returns false when the lookup could not be queued (503 at once, no callback).
 */
typedef void	(*auth_cb)(int status, const struct principal *who, void *arg);
bool		 auth_lookup(struct db_pool *db, const char *token, size_t len,
		    auth_cb cb, void *arg);

#endif
