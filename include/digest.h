/*
 * SHA-256 in lower-case hex, the one fingerprint ictmon stores: of API tokens, of
 * migrations, of records and releases as received, of ingest requests.
 */
#ifndef ICTMON_DIGEST_H
#define ICTMON_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define SHA256_HEX_LEN	64

struct digest_part {
	const void	*data;
	size_t		 len;
};

/* hex holds SHA256_HEX_LEN + 1 bytes; on failure (libcrypto) it is "" and false. */
bool	sha256_hex(const void *data, size_t len, char *hex);
/* The digest of the parts one after the other. */
bool	sha256_hex_parts(const struct digest_part *parts, size_t nparts, char *hex);

#endif
