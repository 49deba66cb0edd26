/*
 * API tokens: roles, generating a token, hashing it, reading it from an Authorization
 * header, and looking its hash up in api_token on the pool. The HTTP layer decides
 * what a principal may do; this file only says who it is.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "db.h"
#include "digest.h"
#include "log.h"

#define TOKEN_RANDOM_BYTES	32
#define TOKEN_BODY_LEN		43	/* base64url of 32 bytes, unpadded */

_Static_assert(AUTH_TOKEN_LEN == sizeof(AUTH_TOKEN_PREFIX) - 1 + TOKEN_BODY_LEN,
    "auth.h's AUTH_TOKEN_LEN and the token body disagree");

static const char	*role_names[] = {
	[ROLE_PUBLIC] = "public",
	[ROLE_AGENCY] = "agency",
	[ROLE_ANALYST] = "analyst",
	[ROLE_ADMIN] = "admin",
};

static const char	 base64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const char	 lookup_sql[] =
    "SELECT t.id, t.role, t.agency_id, a.code, t.name, t.token_hash"
    " FROM api_token t LEFT JOIN agency a ON a.id = t.agency_id"
    " WHERE t.token_hash = $1 AND t.revoked_at IS NULL"
    " AND (t.expires_at IS NULL OR t.expires_at > now())";

/*
 * last_used_at is for operators deciding which tokens to revoke: minute precision is
 * plenty, and writing the row on every request would turn each read into a write
 * (WAL, vacuum, a row lock contended by parallel pushes of one agency). So each
 * daemon touches a token at most once a minute, remembered in a small direct-mapped
 * table (a collision only means an extra touch), and the UPDATE's own condition keeps
 * several daemons sharing a database to about one write a minute per token too.
 */
#define TOUCH_INTERVAL	60
#define TOUCH_SLOTS	256

static const char	 touch_sql[] =
    "UPDATE api_token SET last_used_at = now() WHERE id = $1"
    " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')";

static struct {
	long long	token_id;
	time_t		at;		/* monotonic seconds */
} touched[TOUCH_SLOTS];

struct lookup {
	auth_cb		 cb;
	void		*arg;
	struct db_pool	*db;
	char		 hash[AUTH_HASH_HEX_LEN + 1];
};

const char *
role_name(enum role role)
{
	if ((unsigned)role >= sizeof(role_names) / sizeof(role_names[0]))
		return "unknown";
	return role_names[role];
}

bool
role_parse(const char *name, enum role *out)
{
	/* public is what no token gives: it is never a token's role. */
	for (enum role r = ROLE_AGENCY; r <= ROLE_ADMIN; r++) {
		if (name != NULL && strcmp(name, role_names[r]) == 0) {
			*out = r;
			return true;
		}
	}
	return false;
}

bool
role_allows(enum role have, enum role need)
{
	return have >= need;
}

long long
principal_scope(const struct principal *who)
{
	return who->role == ROLE_AGENCY ? who->agency_id : DB_SCOPE_ALL;
}

static void
base64url_encode(const unsigned char *in, size_t len, char *out)
{
	uint32_t	v;
	size_t		i;

	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = base64url[v >> 18 & 63];
		*out++ = base64url[v >> 12 & 63];
		*out++ = base64url[v >> 6 & 63];
		*out++ = base64url[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)in[i] << 16;
		*out++ = base64url[v >> 18 & 63];
		*out++ = base64url[v >> 12 & 63];
	} else if (len - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*out++ = base64url[v >> 18 & 63];
		*out++ = base64url[v >> 12 & 63];
		*out++ = base64url[v >> 6 & 63];
	}
	*out = '\0';
}

static bool
random_fill(unsigned char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = getrandom(buf, len, 0)) == -1) {
			if (errno == EINTR)
				continue;
			return false;
		}
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

bool
auth_token_generate(char *out, size_t outlen)
{
	unsigned char	secret[TOKEN_RANDOM_BYTES];
	size_t		prefixlen = strlen(AUTH_TOKEN_PREFIX);
	bool		ok = false;

	if (outlen < AUTH_TOKEN_LEN + 1)
		goto out;
	if (!random_fill(secret, sizeof(secret)))
		goto out;
	memcpy(out, AUTH_TOKEN_PREFIX, prefixlen);
	base64url_encode(secret, sizeof(secret), out + prefixlen);
	ok = true;
out:
	explicit_bzero(secret, sizeof(secret));
	if (!ok && outlen > 0)
		out[0] = '\0';
	return ok;
}

void
auth_token_hash(const char *token, size_t len, char *hex)
{
	/* On failure hex is "", which matches no stored hash (the schema checks their
	   shape). */
	if (!sha256_hex(token, len, hex))
		log_error("auth", "SHA-256 failed");
}

bool
auth_hash_equal(const char *a, const char *b)
{
	/* The lengths are not secret; checking them keeps the comparison in bounds. */
	if (a == NULL || b == NULL ||
	    strnlen(a, AUTH_HASH_HEX_LEN + 1) != AUTH_HASH_HEX_LEN ||
	    strnlen(b, AUTH_HASH_HEX_LEN + 1) != AUTH_HASH_HEX_LEN)
		return false;
	return CRYPTO_memcmp(a, b, AUTH_HASH_HEX_LEN) == 0;
}

const char *
auth_bearer_token(const char *header, size_t *len)
{
	const char	*token, *p;
	size_t		 prefixlen = strlen(AUTH_TOKEN_PREFIX);

	if (header == NULL || strncasecmp(header, "Bearer", 6) != 0 || header[6] != ' ')
		return NULL;
	token = header + 6;
	while (*token == ' ')
		token++;
	if (strncmp(token, AUTH_TOKEN_PREFIX, prefixlen) != 0)
		return NULL;
	for (p = token + prefixlen; *p != '\0'; p++) {
		if (strchr(base64url, *p) == NULL)
			return NULL;
	}
	if ((size_t)(p - token) != AUTH_TOKEN_LEN)
		return NULL;
	/* The last character carries 2 padding bits, zero in every token we make. */
	if ((strchr(base64url, p[-1]) - base64url) & 3)
		return NULL;
	if (len != NULL)
		*len = AUTH_TOKEN_LEN;
	return token;
}

static time_t
monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
touch_done(PGresult *res, const char *error, void *arg)
{
	(void)arg;
	if (!db_result_ok(res))
		log_debug("auth", "last_used_at not updated: %s", db_result_error(res, error));
}

static void
touch_token(struct db_pool *db, long long token_id)
{
	size_t		 slot = (unsigned long long)token_id % TOUCH_SLOTS;
	time_t		 now = monotonic_seconds();
	char		 id[24];
	const char	*params[1] = { id };

	if (touched[slot].token_id == token_id && now - touched[slot].at < TOUCH_INTERVAL)
		return;
	/* Best effort: a busy pool serves requests first, the touch waits for later. */
	snprintf(id, sizeof(id), "%lld", token_id);
	if (db_query(db, touch_sql, 1, params, touch_done, NULL) != DB_QUEUED)
		return;
	touched[slot].token_id = token_id;
	touched[slot].at = now;
}

/* Copies at most dstlen - 1 bytes, never cutting a UTF-8 sequence in two. */
static void
copy_utf8(char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src);

	if (n >= dstlen) {
		n = dstlen - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Fills who from the lookup's row; false when the row cannot be trusted. */
static bool
principal_from_row(const PGresult *res, const struct lookup *lk, struct principal *who)
{
	const char	*role = PQgetvalue(res, 0, 1);
	char		*end;

	memset(who, 0, sizeof(*who));
	/* The index found the row by hash; comparing again costs nothing and holds even
	   if the query or the index ever matched more loosely than byte equality. */
	if (!auth_hash_equal(PQgetvalue(res, 0, 5), lk->hash))
		return false;
	errno = 0;
	who->token_id = strtoll(PQgetvalue(res, 0, 0), &end, 10);
	if (errno != 0 || *end != '\0' || who->token_id <= 0) {
		log_warn("auth", "token row with a bad id");
		return false;
	}
	if (!role_parse(role, &who->role)) {
		log_warn("auth", "token %lld has an unknown role '%s'", who->token_id, role);
		return false;
	}
	if (who->role == ROLE_AGENCY) {
		if (PQgetisnull(res, 0, 2) || PQgetisnull(res, 0, 3)) {
			log_warn("auth", "agency token %lld has no agency", who->token_id);
			return false;
		}
		who->agency_id = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
		if (strlen(PQgetvalue(res, 0, 3)) >= sizeof(who->agency_code)) {
			log_warn("auth", "agency token %lld: agency code too long",
			    who->token_id);
			return false;
		}
		copy_utf8(who->agency_code, sizeof(who->agency_code), PQgetvalue(res, 0, 3));
	}
	if (!PQgetisnull(res, 0, 4))
		copy_utf8(who->name, sizeof(who->name), PQgetvalue(res, 0, 4));
	return true;
}

static void
lookup_done(PGresult *res, const char *error, void *arg)
{
	struct lookup		*lk = arg;
	struct principal	 who;

	if (!db_result_ok(res)) {
		log_warn("auth", "token lookup failed: %s", db_result_error(res, error));
		lk->cb(503, NULL, lk->arg);
	} else if (PQntuples(res) != 1 || PQnfields(res) != 6 ||
	    !principal_from_row(res, lk, &who)) {
		lk->cb(401, NULL, lk->arg);
	} else {
		touch_token(lk->db, who.token_id);
		lk->cb(200, &who, lk->arg);
	}
	free(lk);
}

bool
auth_lookup(struct db_pool *db, const char *token, size_t len, auth_cb cb, void *arg)
{
	struct lookup	*lk = NULL;
	const char	*params[1];

	if ((lk = calloc(1, sizeof(*lk))) == NULL) {
		log_error("auth", "out of memory");
		return false;
	}
	lk->cb = cb;
	lk->arg = arg;
	lk->db = db;
	auth_token_hash(token, len, lk->hash);
	params[0] = lk->hash;
	if (db_query(db, lookup_sql, 1, params, lookup_done, lk) != DB_QUEUED) {
		free(lk);
		return false;
	}
	return true;
}
