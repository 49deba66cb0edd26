/*
 * SHA-256 in hex over libcrypto (include/digest.h).
 */
#include <openssl/evp.h>

#include "digest.h"

bool
sha256_hex_parts(const struct digest_part *parts, size_t nparts, char *hex)
{
	static const char	 digits[] = "0123456789abcdef";
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;
	EVP_MD_CTX		*ctx;
	bool			 ok;

	hex[0] = '\0';
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return false;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	for (size_t i = 0; ok && i < nparts; i++)
		ok = parts[i].len == 0 ||
		    EVP_DigestUpdate(ctx, parts[i].data, parts[i].len) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen * 2 == SHA256_HEX_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return false;
	for (unsigned int i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0x0f];
	}
	hex[SHA256_HEX_LEN] = '\0';
	return true;
}

bool
sha256_hex(const void *data, size_t len, char *hex)
{
	struct digest_part part = { data, len };

	return sha256_hex_parts(&part, 1, hex);
}
