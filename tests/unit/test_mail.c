/*
 * Email formatting of include/mail.h: CRLF only, line limits, RFC 2047 encoded words
 * and quoted-printable bodies that decode back to their input (small decoders here),
 * the MIME structure, and what a malformed message is refused for.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mail.h"
#include "utf8.h"

/* 2026-11-28 13:05:00 UTC, a Saturday */
#define SAT_NOV_28	((time_t)1795871100)

static const char accented_300[] =
    "Ministerio de Obras Públicas: adquisición de licencias de software para la "
    "Dirección de Vialidad, la Dirección General de Aguas y la Subsecretaría; "
    "compras dispersas en Ñuñoa, Concepción y Valparaíso que debieron ser una sola "
    "licitación conjunta según la Dirección de Presupuestos, año 2026.";

/* An ordinary message with Spanish names; tests change what they need. */
static struct mail_message
message_example(void)
{
	struct mail_message m;

	memset(&m, 0, sizeof(m));
	m.from.name = "ictmon (Dirección de Presupuestos)";
	m.from.addr = "ictmon@dipres.gob.cl";
	m.to.name = "José Pérez";
	m.to.addr = "jose.perez@mop.gob.cl";
	m.subject = "Spending overlap: 4 agencies bought 432332, CLP 812.400.000 in 90 days";
	m.date = SAT_NOV_28;
	m.message_id = "<ictmon.42.0badc0de@dipres.gob.cl>";
	m.text = "Hello José,\n\nFour agencies bought the same software.\n";
	m.html = "<!DOCTYPE html>\n<html><body><p>Hello Jos&eacute;</p></body></html>\n";
	m.boundary_seed = m.message_id;
	return m;
}

/* Every CR is followed by LF and every LF preceded by CR; no line over 998 octets. */
static void
assert_crlf_and_hard_limit(const char *s)
{
	size_t	col = 0;

	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] == '\r') {
			assert_int_equal(s[i + 1], '\n');
			assert_true(col <= MAIL_LINE_HARD);
			col = 0;
			i++;
		} else {
			assert_int_not_equal(s[i], '\n');
			col++;
		}
	}
	assert_true(col <= MAIL_LINE_HARD);
}

/*
 * Lines of the header block (up to the first empty line, or the end of one field)
 * at most `limit` octets.
 */
static void
assert_header_lines_within(const char *s, size_t limit)
{
	const char	*end;

	while (*s != '\0') {
		end = strstr(s, "\r\n");
		assert_non_null(end);
		if (end == s)
			return;
		if ((size_t)(end - s) > limit)
			fail_msg("header line of %zu octets: %.*s", (size_t)(end - s),
			    (int)(end - s), s);
		/* RFC 2047 2: a line with an encoded word holds at most 76 */
		if (memmem(s, (size_t)(end - s), "=?UTF-8?", 8) != NULL && end - s > 76)
			fail_msg("encoded line of %zu octets: %.*s", (size_t)(end - s),
			    (int)(end - s), s);
		s = end + 2;
	}
}

static char *
unfold(const char *field)
{
	char	*out = malloc(strlen(field) + 1), *o = out;

	assert_non_null(out);
	for (const char *p = field; *p != '\0'; p++) {
		if (p[0] == '\r' && p[1] == '\n' && (p[2] == ' ' || p[2] == '\t')) {
			p++;
			continue;
		}
		if (p[0] == '\r' && p[1] == '\n')
			break;
		*o++ = *p;
	}
	*o = '\0';
	return out;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	fail_msg("not an uppercase hex digit: %c", c);
	return -1;
}

static int
b64val(char c)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = strchr(b64, c);

	assert_non_null(p);
	return (int)(p - b64);
}

/* One encoded word's text; its bytes must be whole UTF-8 characters on their own. */
static size_t
decode_word(const char *w, size_t n, char *out)
{
	char	 enc;
	size_t	 len = 0, i;

	assert_true(n <= 75);
	assert_true(n > 12 && strncmp(w, "=?UTF-8?", 8) == 0);
	assert_memory_equal(w + n - 2, "?=", 2);
	enc = w[8];
	assert_int_equal(w[9], '?');
	w += 10;
	n -= 12;
	if (enc == 'Q') {
		for (i = 0; i < n; i++) {
			if (w[i] == '_')
				out[len++] = ' ';
			else if (w[i] == '=') {
				out[len++] = (char)(hexval(w[i + 1]) << 4 | hexval(w[i + 2]));
				i += 2;
			} else {
				assert_true(strchr("!*+-/", w[i]) != NULL ||
				    (w[i] >= '0' && w[i] <= '9') ||
				    (w[i] >= 'a' && w[i] <= 'z') ||
				    (w[i] >= 'A' && w[i] <= 'Z'));
				out[len++] = w[i];
			}
		}
	} else {
		assert_int_equal(enc, 'B');
		assert_int_equal(n % 4, 0);
		for (i = 0; i < n; i += 4) {
			uint32_t v = (uint32_t)b64val(w[i]) << 18 |
			    (uint32_t)b64val(w[i + 1]) << 12;

			out[len++] = (char)(v >> 16);
			if (w[i + 2] != '=') {
				v |= (uint32_t)b64val(w[i + 2]) << 6;
				out[len++] = (char)(v >> 8 & 0xff);
			}
			if (w[i + 3] != '=') {
				v |= (uint32_t)b64val(w[i + 3]);
				out[len++] = (char)(v & 0xff);
			}
		}
	}
	assert_true(utf8_valid(out, len));
	return len;
}

static bool
is_encoded_word_at(const char *p, size_t *n)
{
	const char *end;

	if (strncmp(p, "=?", 2) != 0 || (end = strstr(p + 2, "?=")) == NULL)
		return false;
	/* "=?UTF-8?Q?" itself holds "?" twice: look for the closing one after it */
	if (strncmp(p, "=?UTF-8?", 8) != 0 || (end = strstr(p + 10, "?=")) == NULL)
		return false;
	*n = (size_t)(end + 2 - p);
	return true;
}

/*
 * An unstructured value as a reader sees it: unfolded, encoded words decoded, the
 * white space between two encoded words dropped (RFC 2047 6.2).
 */
static char *
decode_unstructured(const char *value)
{
	char		*out = calloc(1, strlen(value) * 2 + 1);
	size_t		 len = 0, n, ws;
	bool		 after_word = false;
	const char	*p = value;

	assert_non_null(out);
	while (*p != '\0') {
		ws = strspn(p, " \t");
		if (is_encoded_word_at(p + ws, &n)) {
			if (!after_word)
				memcpy(out + len, p, ws), len += ws;
			p += ws;
			len += decode_word(p, n, out + len);
			p += n;
			after_word = true;
			continue;
		}
		out[len++] = *p++;
		after_word = false;
	}
	out[len] = '\0';
	return out;
}

/* The value of header `name` in the message, unfolded and decoded. */
static char *
header_value(const char *msg, const char *name)
{
	char		 key[64], *field, *out;
	const char	*p = msg;

	snprintf(key, sizeof(key), "%s:", name);
	for (;;) {
		if (strncmp(p, "\r\n", 2) == 0)
			return NULL;
		if (strncmp(p, key, strlen(key)) == 0)
			break;
		p = strstr(p, "\r\n");
		assert_non_null(p);
		p += 2;
	}
	field = unfold(p + strlen(key));
	out = decode_unstructured(field[0] == ' ' ? field + 1 : field);
	free(field);
	return out;
}

/* Quoted-printable back to bytes; every output line within 76 characters. */
static char *
qp_decode(const char *s, size_t n)
{
	char	*out = malloc(n + 1);
	size_t	 len = 0, col = 0;

	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			assert_true(col <= 76);
			col = 0;
		} else if (s[i] != '\n')
			col++;
		if (s[i] == '=' && s[i + 1] == '\r' && s[i + 2] == '\n') {
			assert_true(col <= 76);
			i += 2;
			col = 0;
		} else if (s[i] == '=') {
			out[len++] = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			i += 2;
			col += 2;
		} else {
			/* RFC 2045: no literal white space before a line end */
			if ((s[i] == ' ' || s[i] == '\t') && (i + 1 == n || s[i + 1] == '\r'))
				fail_msg("literal white space at a line end");
			out[len++] = s[i];
		}
	}
	assert_true(col <= 76);
	out[len] = '\0';
	return out;
}

static char *
crlf_of(const char *text)
{
	char	*out = malloc(strlen(text) * 2 + 1), *o = out;

	assert_non_null(out);
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\n' && (p == text || p[-1] != '\r'))
			*o++ = '\r';
		*o++ = *p;
	}
	*o = '\0';
	return out;
}

static const char *
body_of(const char *msg)
{
	const char *p = strstr(msg, "\r\n\r\n");

	assert_non_null(p);
	return p + 4;
}

/* The two parts of a multipart message, each as its headers and decoded content. */
struct parts {
	char	*headers[2];
	char	*content[2];
};

static void
parts_split(const char *msg, struct parts *pt)
{
	char		*ct = header_value(msg, "Content-Type"), delim[128], close[128];
	const char	*b, *p, *next, *hend;
	size_t		 blen;

	assert_non_null(ct);
	assert_non_null(strstr(ct, "multipart/alternative; boundary=\""));
	b = strstr(ct, "boundary=\"") + 10;
	blen = strcspn(b, "\"");
	snprintf(delim, sizeof(delim), "\r\n--%.*s\r\n", (int)blen, b);
	snprintf(close, sizeof(close), "\r\n--%.*s--\r\n", (int)blen, b);
	free(ct);

	p = strstr(body_of(msg), delim);
	assert_non_null(p);
	for (int i = 0; i < 2; i++) {
		p += strlen(delim);
		next = strstr(p, i == 0 ? delim : close);
		assert_non_null(next);
		hend = strstr(p, "\r\n\r\n");
		assert_non_null(hend);
		assert_true(hend < next);
		pt->headers[i] = strndup(p, (size_t)(hend + 2 - p));
		pt->content[i] = qp_decode(hend + 4, (size_t)(next - hend - 4));
		p = next;
	}
	/* nothing after the closing delimiter, and only one of it */
	assert_string_equal(p, close);
}

static void
parts_free(struct parts *pt)
{
	for (int i = 0; i < 2; i++) {
		free(pt->headers[i]);
		free(pt->content[i]);
	}
}

static void
test_date_and_header_order(void **state)
{
	struct mail_message	 m = message_example();
	const char		*order[] = { "Date:", "From:", "To:", "Subject:",
				    "Message-ID:", "In-Reply-To:", "References:",
				    "MIME-Version: 1.0", "Content-Type:",
				    "Auto-Submitted: auto-generated" };
	const char		*p;
	char			*msg;
	size_t			 len;

	(void)state;
	m.in_reply_to = "<ictmon.7.1@dipres.gob.cl>";
	m.references = "<ictmon.7.1@dipres.gob.cl>";
	msg = mail_format(&m, &len);
	assert_non_null(msg);
	assert_int_equal(strlen(msg), len);
	assert_true(strncmp(msg, "Date: Sat, 28 Nov 2026 13:05:00 +0000\r\n", 39) == 0);
	p = msg;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const char *at = strstr(p, order[i]);

		if (at == NULL || at > body_of(msg))
			fail_msg("%s missing or out of order", order[i]);
		p = at;
	}
	assert_non_null(strstr(msg, "\r\nMessage-ID: <ictmon.42.0badc0de@dipres.gob.cl>\r\n"));
	assert_non_null(strstr(msg, "\r\nIn-Reply-To: <ictmon.7.1@dipres.gob.cl>\r\n"));
	free(msg);
}

static void
test_crlf_only_and_line_limits(void **state)
{
	struct mail_message	 m = message_example();
	char			*text = calloc(1, 8000), *msg;

	(void)state;
	assert_non_null(text);
	/* bare LF, CRLF, a 2000-character line and a bare CR inside a line */
	strcat(text, "line one\nline two\r\nmid\rline\n");
	for (int i = 0; i < 2000; i++)
		strcat(text, i % 7 == 6 ? " " : "x");
	strcat(text, "\nend");
	m.text = text;
	m.subject = accented_300;
	msg = mail_format(&m, NULL);
	assert_non_null(msg);
	assert_crlf_and_hard_limit(msg);
	assert_header_lines_within(msg, MAIL_LINE_SOFT);
	free(msg);
	free(text);
}

static void
test_spanish_subjects_decode_back(void **state)
{
	const char	*subjects[] = { "Ministerio de Obras Públicas", "Ñuñoa",
			    accented_300, "ÁÉÍÓÚ áéíóú ñÑ ¿qué? ¡sí! — “comillas” 😀 €",
			    "looks =?like?= an encoded word", "tab\there  two  spaces",
			    "ñ" };
	struct mail_message m = message_example();

	(void)state;
	for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		char *msg, *subject, *field;

		m.subject = subjects[i];
		msg = mail_format(&m, NULL);
		assert_non_null(msg);
		assert_header_lines_within(msg, MAIL_LINE_SOFT);
		subject = header_value(msg, "Subject");
		assert_string_equal(subject, subjects[i]);
		free(subject);
		free(msg);

		field = mail_header("Subject", subjects[i]);
		assert_non_null(field);
		assert_crlf_and_hard_limit(field);
		free(field);
	}
}

static void
test_encoded_words_never_split_a_character(void **state)
{
	char	 subject[1200] = "", *field, *unfolded, *p;
	size_t	 n, words = 0;

	(void)state;
	/* three- and four-byte characters, so any cut inside one would show */
	for (int i = 0; i < 120; i++)
		strcat(subject, i % 3 == 0 ? "€" : i % 3 == 1 ? "😀" : "é");
	field = mail_header("Subject", subject);
	assert_non_null(field);
	assert_header_lines_within(field, MAIL_LINE_SOFT);
	unfolded = unfold(field + strlen("Subject:"));
	/* decode_word asserts each word is well-formed UTF-8 on its own */
	for (p = unfolded; *p != '\0'; p++) {
		char out[128];

		if (is_encoded_word_at(p, &n)) {
			decode_word(p, n, out);
			words++;
			p += n - 1;
		} else
			assert_int_equal(*p, ' ');
	}
	assert_true(words > 5);
	free(unfolded);
	free(field);
}

static void
test_ascii_header_folds_at_spaces(void **state)
{
	char	 value[400] = "", *field, *unfolded;

	(void)state;
	for (int i = 0; i < 30; i++)
		strcat(value, "overlap-word ");
	strcat(value, "end");
	field = mail_header("Subject", value);
	assert_non_null(field);
	assert_null(strstr(field, "=?"));
	assert_header_lines_within(field, MAIL_LINE_SOFT);
	assert_non_null(strstr(field, "\r\n "));
	unfolded = unfold(field);
	assert_string_equal(unfolded + strlen("Subject: "), value);
	free(unfolded);
	free(field);
}

static void
test_long_ascii_word_within_hard_limit(void **state)
{
	char	 word[2000], *field, *decoded;

	(void)state;
	/* 500 octets without a space: cannot fold, stays as is under 998 */
	memset(word, 'a', 500);
	word[500] = '\0';
	field = mail_header("Subject", word);
	assert_non_null(field);
	assert_null(strstr(field, "=?"));
	assert_crlf_and_hard_limit(field);
	free(field);

	/* 1500: would pass 998, so it goes as encoded words */
	memset(word, 'b', 1500);
	word[1500] = '\0';
	field = mail_header("X-Long", word);
	assert_non_null(field);
	assert_non_null(strstr(field, "=?UTF-8?"));
	assert_header_lines_within(field, MAIL_LINE_SOFT);
	{
		char *u = unfold(field);

		decoded = decode_unstructured(u + strlen("X-Long: "));
		free(u);
	}
	assert_string_equal(decoded, word);
	free(decoded);
	free(field);
}

static void
test_address_display_names(void **state)
{
	struct {
		const char	*name;
		const char	*want;		/* the field, or NULL: encoded */
	} cases[] = {
		{ "Ana Soto", "To: Ana Soto <ana@mop.gob.cl>\r\n" },
		{ "Soto, Ana", "To: \"Soto, Ana\" <ana@mop.gob.cl>\r\n" },
		{ "A. \"Ana\" Soto", "To: \"A. \\\"Ana\\\" Soto\" <ana@mop.gob.cl>\r\n" },
		{ NULL, "To: ana@mop.gob.cl\r\n" },
		{ "", "To: ana@mop.gob.cl\r\n" },
		{ "José Pérez", NULL },
		{ "Ministerio de Obras Públicas, Dirección General de Obras Públicas "
		    "(Subdirección de Informática)", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mail_address	 a = { cases[i].name, "ana@mop.gob.cl" };
		char			*field = mail_header_address("To", &a), *u, *lt;
		char			*name;

		assert_non_null(field);
		assert_header_lines_within(field, MAIL_LINE_SOFT);
		if (cases[i].want != NULL) {
			assert_string_equal(field, cases[i].want);
			free(field);
			continue;
		}
		u = unfold(field);
		assert_non_null(strstr(u, "=?UTF-8?"));
		lt = strstr(u, " <ana@mop.gob.cl>");
		assert_non_null(lt);
		assert_string_equal(lt, " <ana@mop.gob.cl>");
		*lt = '\0';
		name = decode_unstructured(u + 4);
		assert_string_equal(name, cases[i].name);
		free(name);
		free(u);
		free(field);
	}
}

static void
test_qp_body_decodes_back_exactly(void **state)
{
	struct mail_message	 m = message_example();
	char			*text = calloc(1, 16384), *html = calloc(1, 16384), *msg;
	char			*want_text, *want_html;
	struct parts		 pt;

	(void)state;
	assert_non_null(text);
	assert_non_null(html);
	strcat(text, "Trailing spaces   \nTrailing tab\t\n= signs == a=b =41\n");
	strcat(text, "From here on\n.leading dot\n..two\nFrom\n\n\nÑuñoa “x” 😀\n");
	for (int i = 0; i < 2000; i++)
		strcat(text, i % 10 == 9 ? "é" : i % 13 == 0 ? "=" : "x");
	strcat(text, "\n");
	for (int i = 0; i < 2000; i++)
		strcat(text, i % 2 ? " " : "y");
	strcat(text, "\r\nlast line without end  ");
	for (int i = 0; i < 300; i++)
		strcat(html, "<td style=\"x\">Públicas</td>");
	strcat(html, "\n</html>");
	m.text = text;
	m.html = html;
	msg = mail_format(&m, NULL);
	assert_non_null(msg);
	assert_crlf_and_hard_limit(msg);
	parts_split(msg, &pt);
	want_text = crlf_of(text);
	want_html = crlf_of(html);
	assert_string_equal(pt.content[0], want_text);
	assert_string_equal(pt.content[1], want_html);
	/* mailbox and relay hazards at line starts are encoded */
	assert_non_null(strstr(msg, "\r\n=46rom here on\r\n"));
	assert_non_null(strstr(msg, "\r\n=2Eleading dot\r\n"));
	assert_non_null(strstr(msg, "Trailing spaces  =20\r\n"));
	parts_free(&pt);
	free(want_text);
	free(want_html);
	free(msg);
	free(text);
	free(html);
}

static void
test_multipart_structure(void **state)
{
	struct mail_message	 m = message_example();
	char			*msg, *ct;
	struct parts		 pt;

	(void)state;
	msg = mail_format(&m, NULL);
	assert_non_null(msg);
	ct = header_value(msg, "Content-Type");
	assert_non_null(strstr(ct, "boundary=\"=_ictmon_"));
	free(ct);
	parts_split(msg, &pt);
	assert_string_equal(pt.headers[0], "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n");
	assert_string_equal(pt.headers[1], "Content-Type: text/html; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n");
	assert_string_equal(pt.content[0], "Hello José,\r\n\r\nFour agencies bought the "
	    "same software.\r\n");
	parts_free(&pt);
	free(msg);
}

static void
test_text_only_is_a_single_part(void **state)
{
	struct mail_message	 m = message_example();
	char			*msg, *ct, *body;

	(void)state;
	m.html = NULL;
	msg = mail_format(&m, NULL);
	assert_non_null(msg);
	assert_null(strstr(msg, "multipart"));
	assert_null(strstr(msg, "=_ictmon_"));
	ct = header_value(msg, "Content-Type");
	assert_string_equal(ct, "text/plain; charset=utf-8");
	free(ct);
	ct = header_value(msg, "Content-Transfer-Encoding");
	assert_string_equal(ct, "quoted-printable");
	free(ct);
	body = qp_decode(body_of(msg), strlen(body_of(msg)));
	assert_string_equal(body, "Hello José,\r\n\r\nFour agencies bought the same "
	    "software.\r\n");
	free(body);
	free(msg);
}

static void
test_same_input_same_bytes(void **state)
{
	struct mail_message	 m = message_example();
	char			*a, *b, *c;
	size_t			 alen, blen, clen;

	(void)state;
	a = mail_format(&m, &alen);
	b = mail_format(&m, &blen);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	m.boundary_seed = "<ictmon.43.0badc0de@dipres.gob.cl>";
	c = mail_format(&m, &clen);
	assert_non_null(c);
	assert_true(alen != clen || memcmp(a, c, alen) != 0);
	free(a);
	free(b);
	free(c);
}

static void
test_refusals(void **state)
{
	const char	*bad_addrs[] = { "", "no-at-sign", "@mop.gob.cl", "ana@", "ana@mop",
			    "ana@@mop.gob.cl", "ana@mop@gob.cl", "ana soto@mop.gob.cl",
			    "\"ana\"@mop.gob.cl", "<ana@mop.gob.cl>", "ana@mop.gob.cl,x@y.cl",
			    "ana@mop.gob.cl;", "ana@.gob.cl", "ana@mop.gob.cl.",
			    "josé@mop.gob.cl", "ana@mop..cl", "ana\r\n@mop.gob.cl" };
	const char	*bad_ids[] = { "ictmon.42@dipres.gob.cl", "<ictmon.42@dipres.gob.cl",
			    "<no-at-sign>", "<a b@c.cl>", "<a@c.cl>\r\nBcc: x@y.cl", "" };
	const char	*bad_utf8[] = { "caf\xc3", "\xc3\x28", "\xed\xa0\x80 surrogate",
			    "\xc0\xaf overlong", "\xf4\x90\x80\x80 too big" };
	struct mail_message m;
	char		 long_addr[300];

	(void)state;
	assert_true(mail_address_ok("ana@mop.gob.cl"));
	assert_true(mail_address_ok("ictmon+alerts@localhost"));
	for (size_t i = 0; i < sizeof(bad_addrs) / sizeof(bad_addrs[0]); i++) {
		if (mail_address_ok(bad_addrs[i]))
			fail_msg("accepted address %s", bad_addrs[i]);
		m = message_example();
		m.to.addr = bad_addrs[i];
		assert_null(mail_format(&m, NULL));
	}
	memset(long_addr, 'a', sizeof(long_addr));
	strcpy(long_addr + 250, "@mop.gob.cl");
	assert_false(mail_address_ok(long_addr));
	assert_false(mail_address_ok(NULL));

	m = message_example();
	m.subject = "Spending overlap\r\nBcc: everyone@example.org";
	assert_null(mail_format(&m, NULL));
	m.subject = "bare\nLF";
	assert_null(mail_format(&m, NULL));
	m.subject = "bare\rCR";
	assert_null(mail_format(&m, NULL));
	assert_null(mail_header("Subject", "a\nb"));
	assert_null(mail_header("Bad Name", "x"));
	assert_null(mail_header("Bad:Name", "x"));

	m = message_example();
	m.to.name = "José\r\nBcc: x@y.cl";
	assert_null(mail_format(&m, NULL));

	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		m = message_example();
		m.message_id = bad_ids[i];
		assert_null(mail_format(&m, NULL));
		m = message_example();
		m.in_reply_to = bad_ids[i][0] != '\0' ? bad_ids[i] : "x";
		assert_null(mail_format(&m, NULL));
		m = message_example();
		m.references = bad_ids[i][0] != '\0' ? bad_ids[i] : "<a@b.cl> x";
		assert_null(mail_format(&m, NULL));
	}

	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		m = message_example();
		m.text = bad_utf8[i];
		assert_null(mail_format(&m, NULL));
		m = message_example();
		m.html = bad_utf8[i];
		assert_null(mail_format(&m, NULL));
		m = message_example();
		m.subject = bad_utf8[i];
		assert_null(mail_format(&m, NULL));
		m = message_example();
		m.from.name = bad_utf8[i];
		assert_null(mail_format(&m, NULL));
	}
}

static void
test_references_fold_between_ids(void **state)
{
	struct mail_message	 m = message_example();
	char			 refs[1024] = "", *msg, *value;

	(void)state;
	for (int i = 0; i < 12; i++) {
		char id[64];

		snprintf(id, sizeof(id), "%s<ictmon.%d.0badc0de@dipres.gob.cl>",
		    i ? " " : "", 100 + i);
		strcat(refs, id);
	}
	m.references = refs;
	msg = mail_format(&m, NULL);
	assert_non_null(msg);
	assert_header_lines_within(msg, MAIL_LINE_SOFT);
	value = header_value(msg, "References");
	assert_string_equal(value, refs);
	free(value);
	free(msg);
}

static void
test_html_escape(void **state)
{
	char *s;

	(void)state;
	s = mail_html_escape("<script>alert('x')</script> & \"Obras\"");
	assert_string_equal(s, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
	    "&quot;Obras&quot;");
	free(s);
	s = mail_html_escape("");
	assert_string_equal(s, "");
	free(s);
	s = mail_html_escape("Ñuñoa");
	assert_string_equal(s, "Ñuñoa");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_date_and_header_order),
		cmocka_unit_test(test_crlf_only_and_line_limits),
		cmocka_unit_test(test_spanish_subjects_decode_back),
		cmocka_unit_test(test_encoded_words_never_split_a_character),
		cmocka_unit_test(test_ascii_header_folds_at_spaces),
		cmocka_unit_test(test_long_ascii_word_within_hard_limit),
		cmocka_unit_test(test_address_display_names),
		cmocka_unit_test(test_qp_body_decodes_back_exactly),
		cmocka_unit_test(test_multipart_structure),
		cmocka_unit_test(test_text_only_is_a_single_part),
		cmocka_unit_test(test_same_input_same_bytes),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_references_fold_between_ids),
		cmocka_unit_test(test_html_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
