/*
 * The text writer of include/textout.h: a memory stream that remembers its first
 * failure, and the cleaning, cutting and escaping of data written into it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail.h"
#include "textout.h"
#include "utf8.h"

#define REPLACEMENT	"\xef\xbf\xbd"

bool
out_open(struct out *o)
{
	memset(o, 0, sizeof(*o));
	if ((o->f = open_memstream(&o->data, &o->len)) == NULL)
		o->failed = true;
	return !o->failed;
}

char *
out_close(struct out *o)
{
	if (o->f != NULL) {
		if (ferror(o->f))
			o->failed = true;
		if (fclose(o->f) != 0)
			o->failed = true;
		o->f = NULL;
	}
	if (o->failed) {
		free(o->data);
		o->data = NULL;
	}
	return o->data;
}

void
out_str(struct out *o, const char *s)
{
	if (o->f != NULL && fputs(s, o->f) == EOF)
		o->failed = true;
}

void
out_bytes(struct out *o, const char *s, size_t n)
{
	if (o->f != NULL && n > 0 && fwrite(s, 1, n, o->f) != n)
		o->failed = true;
}

void
out_printf(struct out *o, const char *fmt, ...)
{
	va_list	ap;

	if (o->f == NULL)
		return;
	va_start(ap, fmt);
	if (vfprintf(o->f, fmt, ap) < 0)
		o->failed = true;
	va_end(ap);
}

/*
 * Text from the data made safe to print: malformed UTF-8 becomes U+FFFD and control
 * characters (a line end in a title, say) a space, so no value can break a line,
 * a header or the message's UTF-8. NULL when out of memory.
 */
char *
clean_dup(const char *s)
{
	const unsigned char	*u = (const unsigned char *)(s != NULL ? s : "");
	size_t			 n = strlen((const char *)u), seq;
	char			*out, *o;

	/* U+FFFD is three octets where one bad octet was */
	if ((out = o = malloc(n * 3 + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i += seq) {
		if ((seq = utf8_sequence(u + i, n - i)) == 0) {
			memcpy(o, REPLACEMENT, 3);
			o += 3;
			seq = 1;
		} else if (seq == 1 && (u[i] < 0x20 || u[i] == 0x7f))
			*o++ = ' ';
		else {
			memcpy(o, u + i, seq);
			o += seq;
		}
	}
	*o = '\0';
	return out;
}

void
out_clean(struct out *o, const char *s)
{
	char	*c;

	if ((c = clean_dup(s)) == NULL)
		o->failed = true;
	else
		out_str(o, c);
	free(c);
}

void
out_html(struct out *o, const char *s)
{
	char	*c = NULL, *escaped = NULL;

	if ((c = clean_dup(s)) == NULL || (escaped = mail_html_escape(c)) == NULL)
		o->failed = true;
	else
		out_str(o, escaped);
	free(escaped);
	free(c);
}

char *
cut_dup(const char *s, size_t max)
{
	size_t	 n = strlen(s), keep;
	char	*out;

	if (utf8_chars(s, n) <= max)
		return strdup(s);
	keep = utf8_prefix(s, max - 1);
	if ((out = malloc(keep + sizeof(OUT_ELLIPSIS))) == NULL)
		return NULL;
	memcpy(out, s, keep);
	memcpy(out + keep, OUT_ELLIPSIS, sizeof(OUT_ELLIPSIS));
	return out;
}
