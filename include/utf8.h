/*
 * Well-formed UTF-8 (RFC 3629): one rule for every reader of outside text, refusing
 * overlong forms, UTF-16 surrogates, code points beyond U+10FFFF, stray continuation
 * bytes and sequences cut short.
 */
#ifndef ICTMON_UTF8_H
#define ICTMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The length of the well-formed sequence at s (1 for ASCII), or 0. avail >= 1 bytes
 * may be read. Inline: the JSON reader calls it for every non-ASCII character.
 */
static inline size_t
utf8_sequence(const unsigned char *s, size_t avail)
{
	unsigned char	c = s[0], lo = 0x80, hi = 0xbf;
	size_t		n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Whether len bytes at s are well-formed UTF-8 throughout. */
static inline bool
utf8_valid(const void *s, size_t len)
{
	const unsigned char	*u = s;
	size_t			 n;

	for (size_t i = 0; i < len; i += n)
		if ((n = utf8_sequence(u + i, len - i)) == 0)
			return false;
	return true;
}

/* Characters (code points) in len bytes of well-formed UTF-8: what a reader counts. */
static inline size_t
utf8_chars(const char *s, size_t len)
{
	size_t chars = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			chars++;
	return chars;
}

/* Octets of the first `chars` characters of the string s (all of it when shorter). */
static inline size_t
utf8_prefix(const char *s, size_t chars)
{
	size_t i = 0;

	for (; s[i] != '\0'; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && chars-- == 0)
			break;
	return i;
}

#endif
