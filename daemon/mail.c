/*
 * Email messages as RFC 5322 text (include/mail.h): folded headers, RFC 2047 encoded
 * words, quoted-printable bodies, MIME multipart/alternative. Pure formatting: the
 * mailer owns the SMTP conversation.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail.h"
#include "utf8.h"

/* Quoted-printable lines hold at most 76 characters (RFC 2045 6.7); 75 and a soft "=". */
#define QP_LINE		76
/* An encoded word is at most 75 characters (RFC 2047 2). */
#define EW_MAX		75
/* A header line holding an encoded word is at most 76 characters (RFC 2047 2). */
#define EW_LINE		76
/* "=?UTF-8?B?" and "?=" around the encoded text. */
#define EW_OVERHEAD	12
/*
 * An ASCII run (white space and the word after it) longer than this would leave a line
 * too close to MAIL_LINE_HARD once "Name: " is in front: it goes as encoded words.
 */
#define RUN_MAX		900
/* Below this many columns left, an encoded word starts a new line instead. */
#define EW_MIN_ROOM	20
#define BOUNDARY_PREFIX	"=_ictmon_"

/* A growable string that remembers an allocation failure, so callers check once. */
struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	bool	 failed;
};

/* A header being written: the line's column decides where to fold. */
struct fold {
	struct buf	*b;
	size_t		 col;
	size_t		 start;		/* the column right after "Name:" */
	bool		 encoded;	/* the line holds an encoded word */
};

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	char	*grown;
	size_t	 cap;

	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((grown = realloc(b->data, cap)) == NULL) {
			b->failed = true;
			return;
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_char(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

/* The string built, or NULL (and nothing to free) when an allocation failed. */
static char *
buf_finish(struct buf *b, size_t *len)
{
	if (b->failed || b->data == NULL) {
		free(b->data);
		b->data = NULL;
		return NULL;
	}
	if (len != NULL)
		*len = b->len;
	return b->data;
}

static bool
is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool
has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static bool
text_ok(const char *s)
{
	return utf8_valid(s, strlen(s));
}

static void
fold_begin(struct fold *f, struct buf *b, const char *name)
{
	f->b = b;
	buf_str(b, name);
	buf_char(b, ':');
	f->col = f->start = strlen(name) + 1;
	f->encoded = false;
}

/*
 * White space and the word after it, folding before the white space when the word
 * would pass the soft limit and something already stands on the line.
 */
static void
fold_word(struct fold *f, const char *ws, size_t wslen, const char *word, size_t wlen)
{
	size_t	limit = f->encoded ? EW_LINE : MAIL_LINE_SOFT;

	if (wslen > 0 && f->col > f->start && f->col + wslen + wlen > limit) {
		buf_str(f->b, "\r\n");
		f->col = 0;
		f->encoded = false;
	}
	buf_add(f->b, ws, wslen);
	buf_add(f->b, word, wlen);
	f->col += wslen + wlen;
}

static void
fold_end(struct fold *f)
{
	buf_str(f->b, "\r\n");
}

/* Q encoding keeps only what is safe in every context, phrases included (5(3)). */
static bool
q_literal(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("!*+-/", c) != NULL;
}

static size_t
q_length(const unsigned char *s, size_t n)
{
	size_t	len = 0;

	for (size_t i = 0; i < n; i++)
		len += q_literal(s[i]) || s[i] == ' ' ? 1 : 3;
	return len;
}

static void
q_encode(struct buf *b, const unsigned char *s, size_t n)
{
	static const char	hex[] = "0123456789ABCDEF";
	char			triplet[3] = { '=', 0, 0 };

	for (size_t i = 0; i < n; i++) {
		if (s[i] == ' ')
			buf_char(b, '_');
		else if (q_literal(s[i]))
			buf_char(b, (char)s[i]);
		else {
			triplet[1] = hex[s[i] >> 4];
			triplet[2] = hex[s[i] & 15];
			buf_add(b, triplet, 3);
		}
	}
}

static void
b_encode(struct buf *b, const unsigned char *s, size_t n)
{
	static const char	b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char			quad[4];
	uint32_t		v;

	for (size_t i = 0; i < n; i += 3) {
		v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		quad[0] = b64[v >> 18 & 63];
		quad[1] = b64[v >> 12 & 63];
		quad[2] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		quad[3] = i + 2 < n ? b64[v & 63] : '=';
		buf_add(b, quad, 4);
	}
}

/*
 * Text as encoded words, each of whole UTF-8 characters and at most EW_MAX long, the
 * first fitted into what is left of the current line. The first word follows `sep`
 * (a white space character kept as it is, or 0 for none), the others a space, which
 * readers drop between encoded words.
 */
static void
fold_encoded(struct fold *f, char sep, const char *text, size_t n)
{
	const unsigned char	*s = (const unsigned char *)text;
	size_t			 i = 0, room, take, seq, payload;
	/* Q unless B is clearly shorter: Q keeps the ASCII letters readable */
	bool			 q = q_length(s, n) * 3 <= (n + 2) / 3 * 4 * 4;

	do {
		if (f->col + 1 + EW_MAX <= EW_LINE)
			room = EW_MAX;
		else if (f->col > f->start && f->col + 1 + EW_MIN_ROOM > EW_LINE) {
			buf_str(f->b, "\r\n");
			f->col = 0;
			f->encoded = false;
			room = EW_MAX;
		} else if (f->col + 1 + EW_MIN_ROOM <= EW_LINE)
			room = EW_LINE - f->col - 1;
		else
			room = EW_MIN_ROOM;	/* a long header name: a little over */
		room -= EW_OVERHEAD;
		/* whole characters while their encoding fits */
		for (take = 0, payload = 0; i + take < n; take += seq) {
			size_t grown;

			seq = utf8_sequence(s + i + take, n - i - take);
			if (seq == 0)
				seq = 1;	/* validated before; never splits bytes */
			grown = q ? payload + q_length(s + i + take, seq) :
			    (take + seq + 2) / 3 * 4;
			if (grown > room && take > 0)
				break;
			payload = grown;
		}
		if (sep != 0) {
			buf_char(f->b, sep);
			f->col++;
		}
		sep = ' ';
		buf_str(f->b, q ? "=?UTF-8?Q?" : "=?UTF-8?B?");
		if (q)
			q_encode(f->b, s + i, take);
		else
			b_encode(f->b, s + i, take);
		buf_str(f->b, "?=");
		f->col += EW_OVERHEAD + payload;
		f->encoded = true;
		i += take;
	} while (i < n);
}

/*
 * Whether a fold unit (white space and a word) goes as encoded words: non-ASCII or
 * control characters, something a reader would take for an encoded word, a unit too
 * long to fold under the hard limit; in a display name also RFC 5322's specials,
 * which a bare word there cannot hold.
 */
static bool
unit_marked(size_t wslen, const char *word, size_t wlen, bool phrase)
{
	if (wslen + wlen > RUN_MAX || memmem(word, wlen, "=?", 2) != NULL)
		return true;
	for (size_t i = 0; i < wlen; i++) {
		unsigned char c = (unsigned char)word[i];

		if (c >= 0x7f || c < 0x20)
			return true;
		if (phrase && strchr("()<>[]:;@\\,.\"", c) != NULL)
			return true;
	}
	return false;
}

static const char *
unit_next(const char *p, const char **word, const char **end)
{
	while (is_wsp((unsigned char)*p))
		p++;
	*word = p;
	while (*p != '\0' && !is_wsp((unsigned char)*p))
		p++;
	*end = p;
	return p;
}

/*
 * A value after "Name:": plain words as they are, folded at white space; each run of
 * words that must be encoded, with the white space between them, as encoded words.
 * The first white space character before a run stays literal (a reader keeps white
 * space between a word and an encoded word); the rest goes inside the encoding, so
 * the value reads back exactly.
 */
static void
fold_mixed(struct fold *f, const char *value, bool phrase)
{
	const char	*p = value, *ws, *word, *end, *next_ws, *next_word, *next_end;
	size_t		 wslen;

	if (*value == '\0')
		return;
	/* the space after the colon is the first fold unit's, and never a fold point */
	fold_word(f, " ", 1, "", 0);
	f->start = f->col;
	while (*p != '\0') {
		ws = p;
		p = unit_next(p, &word, &end);
		wslen = (size_t)(word - ws);
		if (!unit_marked(wslen, word, (size_t)(end - word), phrase)) {
			fold_word(f, ws, wslen, word, (size_t)(end - word));
			continue;
		}
		while (*(next_ws = end) != '\0') {
			unit_next(next_ws, &next_word, &next_end);
			if (!unit_marked((size_t)(next_word - next_ws), next_word,
			    (size_t)(next_end - next_word), phrase))
				break;
			end = next_end;
		}
		if (wslen > 0)
			fold_encoded(f, *ws, ws + 1, (size_t)(end - ws - 1));
		else
			fold_encoded(f, 0, word, (size_t)(end - word));
		p = end;
	}
}

/* Whether a display name has anything a plain or quoted phrase cannot carry. */
static bool
needs_encoding(const char *s)
{
	const char	*p = s, *ws, *word, *end;

	while (*p != '\0') {
		ws = p;
		p = unit_next(p, &word, &end);
		if (unit_marked((size_t)(word - ws), word, (size_t)(end - word), false))
			return true;
	}
	return false;
}

static bool
header_name_ok(const char *name)
{
	if (name == NULL || *name == '\0')
		return false;
	for (const unsigned char *u = (const unsigned char *)name; *u != '\0'; u++)
		if (*u <= ' ' || *u >= 0x7f || *u == ':')
			return false;
	return true;
}

/* A header field into b; false when the value cannot be written. */
static bool
header_add(struct buf *b, const char *name, const char *value)
{
	struct fold	f;

	if (value == NULL)
		value = "";
	if (!header_name_ok(name) || has_crlf(value) || !text_ok(value))
		return false;
	fold_begin(&f, b, name);
	fold_mixed(&f, value, false);
	fold_end(&f);
	return true;
}

char *
mail_header(const char *name, const char *value)
{
	struct buf	b = { NULL, 0, 0, false };

	if (!header_add(&b, name, value)) {
		free(b.data);
		return NULL;
	}
	return buf_finish(&b, NULL);
}

bool
mail_address_ok(const char *addr)
{
	const char	*at, *domain;
	size_t		 len;

	if (addr == NULL || (len = strlen(addr)) == 0 || len > 254)
		return false;
	for (const unsigned char *u = (const unsigned char *)addr; *u != '\0'; u++)
		if (*u <= ' ' || *u >= 0x7f || strchr("\"<>,;()\\:", *u) != NULL)
			return false;
	if ((at = strchr(addr, '@')) == NULL || at == addr || strchr(at + 1, '@') != NULL)
		return false;
	domain = at + 1;
	if (strcmp(domain, "localhost") == 0)
		return true;
	return strchr(domain, '.') != NULL && domain[0] != '.' &&
	    domain[strlen(domain) - 1] != '.' && strstr(domain, "..") == NULL;
}

/* A display name needs quoting when it holds one of RFC 5322's specials. */
static bool
name_needs_quotes(const char *name)
{
	return strpbrk(name, "()<>[]:;@\\,.\"") != NULL;
}

static bool
address_add(struct buf *b, const char *name, const struct mail_address *a)
{
	struct buf	 quoted = { NULL, 0, 0, false };
	struct fold	 f;
	const char	*display;
	char		 angle[260];
	bool		 ok = false;

	if (a == NULL || !mail_address_ok(a->addr) || !header_name_ok(name))
		goto out;
	display = a->name != NULL ? a->name : "";
	if (has_crlf(display) || !text_ok(display))
		goto out;
	snprintf(angle, sizeof(angle), "<%s>", a->addr);
	fold_begin(&f, b, name);
	if (*display == '\0') {
		fold_word(&f, " ", 1, a->addr, strlen(a->addr));
		fold_end(&f);
		ok = true;
		goto out;
	}
	if (!needs_encoding(display) && name_needs_quotes(display)) {
		buf_char(&quoted, '"');
		for (const char *p = display; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_char(&quoted, '\\');
			buf_char(&quoted, *p);
		}
		buf_char(&quoted, '"');
		if (quoted.failed)
			goto out;
	}
	/* escaping may lengthen a run past the limit: then it is encoded after all */
	if (needs_encoding(display) || (quoted.data != NULL && needs_encoding(quoted.data)))
		fold_mixed(&f, display, true);
	else
		fold_mixed(&f, quoted.data != NULL ? quoted.data : display, false);
	fold_word(&f, " ", 1, angle, strlen(angle));
	fold_end(&f);
	ok = true;
out:
	free(quoted.data);
	return ok;
}

char *
mail_header_address(const char *name, const struct mail_address *a)
{
	struct buf	b = { NULL, 0, 0, false };

	if (!address_add(&b, name, a)) {
		free(b.data);
		return NULL;
	}
	return buf_finish(&b, NULL);
}

char *
mail_html_escape(const char *text)
{
	struct buf	b = { NULL, 0, 0, false };

	buf_add(&b, "", 0);
	for (const char *p = text != NULL ? text : ""; *p != '\0'; p++) {
		switch (*p) {
		case '&':
			buf_str(&b, "&amp;");
			break;
		case '<':
			buf_str(&b, "&lt;");
			break;
		case '>':
			buf_str(&b, "&gt;");
			break;
		case '"':
			buf_str(&b, "&quot;");
			break;
		case '\'':
			buf_str(&b, "&#39;");
			break;
		default:
			buf_char(&b, *p);
		}
	}
	return buf_finish(&b, NULL);
}

/* One msg-id, "<left@right>": printable ASCII without white space or extra brackets. */
static bool
msg_id_ok(const char *s, size_t n)
{
	const char	*at;

	if (n < 5 || n > RUN_MAX || s[0] != '<' || s[n - 1] != '>')
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ||
		    s[i] == '<' || s[i] == '>')
			return false;
	at = memchr(s, '@', n);
	return at != NULL && at > s + 1 && at < s + n - 2;
}

/* A list of msg-ids separated by white space; at least one. */
static bool
msg_id_list_ok(const char *s)
{
	size_t	n, count = 0;

	while (*s != '\0') {
		while (is_wsp((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		n = strcspn(s, " \t");
		if (!msg_id_ok(s, n))
			return false;
		s += n;
		count++;
	}
	return count > 0;
}

/*
 * Headers we write ourselves (ASCII, checked, msg-ids among them): folded at white
 * space, which a structured field reads as one space, and never encoded.
 */
static void
header_plain(struct buf *b, const char *name, const char *value)
{
	struct fold	 f;
	const char	*p = value, *word, *end;

	fold_begin(&f, b, name);
	fold_word(&f, " ", 1, "", 0);
	f.start = f.col;
	for (;;) {
		p = unit_next(p, &word, &end);
		if (end == word)
			break;
		if (f.col == f.start)
			fold_word(&f, "", 0, word, (size_t)(end - word));
		else
			fold_word(&f, " ", 1, word, (size_t)(end - word));
	}
	fold_end(&f);
}

static void
header_date(struct buf *b, const struct tm *tm)
{
	static const char	*days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
				    "Sat" };
	static const char	*months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char			 line[64];

	snprintf(line, sizeof(line), "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
	    days[tm->tm_wday], tm->tm_mday, months[tm->tm_mon], tm->tm_year + 1900,
	    tm->tm_hour, tm->tm_min, tm->tm_sec);
	buf_str(b, line);
}

/*
 * The boundary: a fixed prefix with "=_", which quoted-printable never writes (it
 * only writes "=" before two hex digits or a line end), and a hash of the seed.
 */
static void
boundary_make(const char *seed, char *out, size_t len)
{
	uint64_t	h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (const unsigned char *u = (const unsigned char *)seed; *u != '\0'; u++) {
		h ^= *u;
		h *= 0x100000001b3ULL;
	}
	snprintf(out, len, BOUNDARY_PREFIX "%016llx", (unsigned long long)h);
}

static bool
line_end_at(const char *s, size_t n, size_t i)
{
	return i >= n || s[i] == '\n' || (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n');
}

/*
 * Quoted-printable (RFC 2045 6.7): LF or CRLF becomes CRLF; '=', controls and
 * non-ASCII are encoded, and white space before a line end; output lines stay within
 * QP_LINE with soft breaks, never inside a triplet. A '.' or "From " opening an
 * output line is encoded too, for relays and mailboxes that would mangle it.
 */
static void
qp_encode(struct buf *b, const char *s, size_t n)
{
	static const char	hex[] = "0123456789ABCDEF";
	char			triplet[3] = { '=', 0, 0 };
	size_t			col = 0, i = 0;
	unsigned char		c;
	bool			literal;

	while (i < n) {
		c = (unsigned char)s[i];
		if (c == '\n' || (c == '\r' && i + 1 < n && s[i + 1] == '\n')) {
			buf_str(b, "\r\n");
			col = 0;
			i += c == '\r' ? 2 : 1;
			continue;
		}
		literal = (c >= 33 && c <= 126 && c != '=') ||
		    (is_wsp(c) && !line_end_at(s, n, i + 1));
		if (col + (literal ? 1 : 3) > QP_LINE - 1) {
			buf_str(b, "=\r\n");
			col = 0;
		}
		if (col == 0 && (c == '.' || (c == 'F' && n - i >= 5 &&
		    memcmp(s + i, "From ", 5) == 0)))
			literal = false;
		if (literal) {
			buf_char(b, (char)c);
			col++;
		} else {
			triplet[1] = hex[c >> 4];
			triplet[2] = hex[c & 15];
			buf_add(b, triplet, 3);
			col += 3;
		}
		i++;
	}
}

static void
part_headers(struct buf *b, const char *type)
{
	buf_str(b, "Content-Type: ");
	buf_str(b, type);
	buf_str(b, "; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n");
}

char *
mail_format(const struct mail_message *m, size_t *len)
{
	struct buf	 b = { NULL, 0, 0, false };
	struct tm	 tm;
	char		 boundary[64], content_type[128];
	const char	*text, *seed;

	if (m == NULL)
		goto fail;
	text = m->text != NULL ? m->text : "";
	if (m->message_id == NULL || has_crlf(m->message_id) ||
	    !msg_id_ok(m->message_id, strlen(m->message_id)))
		goto fail;
	if (m->in_reply_to != NULL && *m->in_reply_to != '\0' &&
	    (has_crlf(m->in_reply_to) || !msg_id_list_ok(m->in_reply_to)))
		goto fail;
	if (m->references != NULL && *m->references != '\0' &&
	    (has_crlf(m->references) || !msg_id_list_ok(m->references)))
		goto fail;
	if (!text_ok(text) || (m->html != NULL && !text_ok(m->html)))
		goto fail;
	if (gmtime_r(&m->date, &tm) == NULL)
		goto fail;

	header_date(&b, &tm);
	if (!address_add(&b, "From", &m->from) || !address_add(&b, "To", &m->to) ||
	    !header_add(&b, "Subject", m->subject))
		goto fail;
	header_plain(&b, "Message-ID", m->message_id);
	if (m->in_reply_to != NULL && *m->in_reply_to != '\0')
		header_plain(&b, "In-Reply-To", m->in_reply_to);
	if (m->references != NULL && *m->references != '\0')
		header_plain(&b, "References", m->references);
	buf_str(&b, "MIME-Version: 1.0\r\n");
	if (m->html == NULL) {
		part_headers(&b, "text/plain");
		buf_str(&b, "Auto-Submitted: auto-generated\r\n\r\n");
		qp_encode(&b, text, strlen(text));
		/* the message ends with a line end: SMTP's final dot stands alone */
		if (b.len < 2 || memcmp(b.data + b.len - 2, "\r\n", 2) != 0)
			buf_str(&b, "\r\n");
	} else {
		seed = m->boundary_seed != NULL ? m->boundary_seed : m->message_id;
		boundary_make(seed, boundary, sizeof(boundary));
		snprintf(content_type, sizeof(content_type),
		    "multipart/alternative; boundary=\"%s\"", boundary);
		header_plain(&b, "Content-Type", content_type);
		buf_str(&b, "Auto-Submitted: auto-generated\r\n\r\n");
		buf_str(&b, "This is a multi-part message in MIME format.\r\n");
		buf_str(&b, "\r\n--");
		buf_str(&b, boundary);
		buf_str(&b, "\r\n");
		part_headers(&b, "text/plain");
		buf_str(&b, "\r\n");
		qp_encode(&b, text, strlen(text));
		buf_str(&b, "\r\n--");
		buf_str(&b, boundary);
		buf_str(&b, "\r\n");
		part_headers(&b, "text/html");
		buf_str(&b, "\r\n");
		qp_encode(&b, m->html, strlen(m->html));
		buf_str(&b, "\r\n--");
		buf_str(&b, boundary);
		buf_str(&b, "--\r\n");
	}
	return buf_finish(&b, len);
fail:
	free(b.data);
	return NULL;
}
