/*
 * A growable text with UTF-8-aware cutting and HTML escaping, an allocation failure
 * remembered until close: what the alert email and its evidence tables are written with.
 */
#ifndef ICTMON_TEXTOUT_H
#define ICTMON_TEXTOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* U+2026, what a cut text ends in. */
#define OUT_ELLIPSIS	"\xe2\x80\xa6"

/* A text being written; after a failure, writes go nowhere until out_close(). */
struct out {
	FILE	*f;
	char	*data;
	size_t	 len;
	bool	 failed;
};

/* False (and failed set) when no text can be started; out_close() is safe either way. */
bool	 out_open(struct out *o);
/*
 * The text written, the caller's to free, or NULL when anything failed (nothing to
 * free then). Closing again frees nothing.
 */
char	*out_close(struct out *o);
void	 out_str(struct out *o, const char *s);
void	 out_bytes(struct out *o, const char *s, size_t n);
void	 out_printf(struct out *o, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Data as text: cleaned as clean_dup() cleans it. */
void	 out_clean(struct out *o, const char *s);
/* Data into HTML: cleaned, then escaped. */
void	 out_html(struct out *o, const char *s);

/* At most `max` (>= 1) characters, the last of them "…" when cut. NULL when out of memory. */
char	*cut_dup(const char *s, size_t max);
/*
 * Text from the data made safe to print: malformed UTF-8 becomes U+FFFD and control
 * characters a space; NULL is taken as "". NULL when out of memory.
 */
char	*clean_dup(const char *s);

#endif
