/*
 * The strict JSON reader and writer of include/sjson.h: one hand-written lexer over a
 * buffer that is not NUL-terminated (every access checked against its length), a tree
 * builder and a pull reader on top of it, and the compact writer. jansson only holds
 * the trees; it never parses outside data.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <event2/buffer.h>

#include "sjson.h"
#include "utf8.h"

#define SJSON_DEFAULT_DEPTH	64
#define SJSON_DEFAULT_STRING	((size_t)1024 * 1024)
/*
 * Numbers are amounts and counts: a thousand characters and an exponent of a thousand
 * are far beyond any, and well inside what PostgreSQL's numeric stores, so that no
 * number we accept can make a batch fail in the database or expand a thousandfold
 * when it is read back.
 */
#define SJSON_DEFAULT_NUMBER	((size_t)1000)
#define SJSON_MAX_EXPONENT	1000

/* Objects with more keys than this get a hash index in the pull reader's key sets. */
#define KEYSET_LINEAR		8

/* How much of a key an error message quotes. */
#define MESSAGE_KEY_MAX		80

enum {
	CC_PLAIN = 1,		/* a byte a string holds as is: 0x20-0x7f but '"' and '\\' */
	CC_SPACE = 2,		/* white space between tokens */
	CC_DIGIT = 4,
};

static const unsigned char cclass[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 0, 0, 2, 0, 0,	/* 0x0_ */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x1_ */
	3, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x2_ */
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 1, 1, 1,	/* 0x3_ */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x4_ */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,	/* 0x5_ */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x6_ */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x7_ */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x8_ */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x9_ */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0xa_ */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0xb_ */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0xc_ */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0xd_ */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0xe_ */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0xf_ */
};

struct strbuf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

struct lexer {
	const unsigned char	*buf;
	size_t			 len;
	size_t			 pos;
	int			 max_depth;
	size_t			 max_string;
	size_t			 max_number;
	struct strbuf		 text;		/* a string that had escapes, a tagged number */
	struct strbuf		 key;		/* the key whose value is being read */
	const char		*keyp;		/* that key: in `key` or in the input */
	size_t			 keylen;
	size_t			 keyoff;
	json_t			**frames;	/* containers open in the tree being built */
	size_t			 frames_cap;
	struct sjson_error	*err;
	bool			 failed;
};

/* Where a number's grammar broke. */
enum number_fault {
	NUMBER_OK,
	NUMBER_END,		/* the input ended inside it */
	NUMBER_LEADING_ZERO,
	NUMBER_BAD,
};

struct keyset_entry {
	size_t		 off;		/* in keyset.bytes */
	size_t		 len;
};

/* The keys of one open object in the pull reader, to refuse duplicates. */
struct keyset {
	char			*bytes;
	size_t			 used;
	size_t			 cap;
	struct keyset_entry	*entries;
	size_t			 count;
	size_t			 entries_cap;
	size_t			*index;		/* entry + 1 per slot, 0 free; stale when !indexed */
	size_t			 index_cap;	/* slots in use, a power of two */
	size_t			 index_alloc;	/* slots allocated: a big object's index is reused */
	bool			 indexed;
};

enum level_state {
	EXPECT_FIRST,		/* just opened: a key or value, or the close */
	EXPECT_KEY,		/* after a comma in an object */
	EXPECT_VALUE,		/* after a key's colon, or a comma in an array */
	EXPECT_COMMA,		/* after a value: a comma or the close */
};

struct level {
	bool			 is_object;
	enum level_state	 state;
	struct keyset		 keys;
};

struct sjson_reader {
	struct lexer		 lx;
	struct sjson_error	 error;
	struct level		*levels;
	int			 depth;
	int			 levels_cap;
	bool			 top_done;	/* the top-level value has been read */
	bool			 has_peek;
	enum sjson_token	 peeked;
	struct strbuf		 keyz;		/* sjson_key(): the last key, NUL-terminated */
	uint64_t		 hash_key[2];
	bool			 hash_keyed;
};

/* Line and column (in characters) of a byte offset, for error messages only. */
static void
locate(const unsigned char *buf, size_t len, size_t offset, int *line, int *column)
{
	size_t lines = 1, line_start = 0, chars = 1;
	const unsigned char *nl;

	if (offset > len)
		offset = len;
	while (line_start < offset &&
	    (nl = memchr(buf + line_start, '\n', offset - line_start)) != NULL) {
		lines++;
		line_start = (size_t)(nl - buf) + 1;
	}
	for (size_t i = line_start; i < offset; i++)
		if ((buf[i] & 0xc0) != 0x80)
			chars++;
	*line = lines > INT_MAX ? INT_MAX : (int)lines;
	*column = chars > INT_MAX ? INT_MAX : (int)chars;
}

static bool	fail(struct lexer *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* Records the first error only: later ones are consequences of it. Returns false. */
static bool
fail(struct lexer *lx, size_t offset, const char *fmt, ...)
{
	va_list ap;

	if (lx->failed)
		return false;
	lx->failed = true;
	va_start(ap, fmt);
	vsnprintf(lx->err->message, sizeof(lx->err->message), fmt, ap);
	va_end(ap);
	if (offset > lx->len)
		offset = lx->len;
	lx->err->offset = offset;
	locate(lx->buf, lx->len, offset, &lx->err->line, &lx->err->column);
	return false;
}

static bool
fail_end(struct lexer *lx)
{
	return fail(lx, lx->len, "unexpected end of input");
}

static bool
fail_memory(struct lexer *lx)
{
	return fail(lx, lx->pos, "out of memory");
}

/* An error naming the byte at `offset` that no rule of the grammar allows there. */
static bool
fail_unexpected(struct lexer *lx, size_t offset)
{
	const unsigned char *p;
	size_t n;

	if (offset >= lx->len)
		return fail_end(lx);
	p = lx->buf + offset;
	if (*p == 0)
		return fail(lx, offset, "NUL byte");
	if (*p < 0x20 || *p == 0x7f)
		return fail(lx, offset, "unexpected control character 0x%02x", *p);
	if (*p < 0x80)
		return fail(lx, offset, "unexpected character '%c'", *p);
	if ((n = utf8_sequence(p, lx->len - offset)) == 0)
		return fail(lx, offset, "invalid UTF-8");
	if (offset == 0 && n == 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		return fail(lx, offset, "byte order mark (U+FEFF) before the JSON value");
	return fail(lx, offset, "unexpected character '%.*s'", (int)n, (const char *)p);
}

/* A key quoted for an error message: JSON-escaped, cut at a character boundary. */
static void
describe_key(char *out, size_t size, const char *key, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *k = (const unsigned char *)key;
	size_t o = 0, i = 0, n;

	while (i < len) {
		if (o + 6 >= size || o >= MESSAGE_KEY_MAX) {
			if (o + 3 < size)
				out[o++] = '.', out[o++] = '.', out[o++] = '.';
			break;
		}
		if (k[i] == '"' || k[i] == '\\') {
			out[o++] = '\\';
			out[o++] = (char)k[i++];
		} else if (k[i] < 0x20) {
			out[o++] = '\\';
			out[o++] = 'u';
			out[o++] = '0';
			out[o++] = '0';
			out[o++] = hex[k[i] >> 4];
			out[o++] = hex[k[i++] & 0xf];
		} else if (k[i] < 0x80) {
			out[o++] = (char)k[i++];
		} else {
			n = utf8_sequence(k + i, len - i);
			if (n == 0)
				n = 1;	/* keys reaching here were validated; be safe */
			if (o + n + 4 >= size)
				i = len;
			else
				while (n-- > 0)
					out[o++] = (char)k[i++];
		}
	}
	out[o] = '\0';
}

static bool
strbuf_reserve(struct strbuf *sb, size_t extra)
{
	size_t need, cap;
	char *data;

	if (extra > SIZE_MAX - sb->len - 1)
		return false;
	need = sb->len + extra + 1;
	if (need <= sb->cap)
		return true;
	cap = sb->cap ? sb->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if ((data = realloc(sb->data, cap)) == NULL)
		return false;
	sb->data = data;
	sb->cap = cap;
	return true;
}

static void
strbuf_release(struct strbuf *sb)
{
	free(sb->data);
	memset(sb, 0, sizeof(*sb));
}

static inline void
skip_space(struct lexer *lx)
{
	const unsigned char *b = lx->buf;
	size_t p = lx->pos, n = lx->len;

	while (p < n && (cclass[b[p]] & CC_SPACE))
		p++;
	lx->pos = p;
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The code unit of the four hex digits after "\u" at `esc`, or -1. */
static long
read_u_escape(const unsigned char *b, size_t n, size_t esc)
{
	long unit = 0;
	int h;

	if (n - esc < 6)
		return -1;
	for (size_t i = esc + 2; i < esc + 6; i++) {
		if ((h = hex_value(b[i])) < 0)
			return -1;
		unit = unit << 4 | h;
	}
	return unit;
}

static size_t
utf8_encode(unsigned long cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decodes the escape at `esc` (a backslash) into out (at least 4 bytes); returns the
 * input bytes it took, 0 after an error.
 */
static size_t
decode_escape(struct lexer *lx, size_t quote, size_t esc, char *out, size_t *outlen)
{
	const unsigned char *b = lx->buf;
	size_t n = lx->len;
	long unit, low;

	if (esc + 1 >= n) {
		fail(lx, quote, "unterminated string");
		return 0;
	}
	*outlen = 1;
	switch (b[esc + 1]) {
	case '"':	*out = '"'; return 2;
	case '\\':	*out = '\\'; return 2;
	case '/':	*out = '/'; return 2;
	case 'b':	*out = '\b'; return 2;
	case 'f':	*out = '\f'; return 2;
	case 'n':	*out = '\n'; return 2;
	case 'r':	*out = '\r'; return 2;
	case 't':	*out = '\t'; return 2;
	case 'u':
		break;
	default:
		if (b[esc + 1] >= 0x20 && b[esc + 1] < 0x7f)
			fail(lx, esc, "invalid escape '\\%c' in string", b[esc + 1]);
		else
			fail(lx, esc, "invalid escape in string");
		return 0;
	}
	if ((unit = read_u_escape(b, n, esc)) < 0) {
		fail(lx, esc, "invalid \\u escape in string");
		return 0;
	}
	if (unit == 0) {
		fail(lx, esc, "NUL byte");
		return 0;
	}
	if (unit >= 0xdc00 && unit <= 0xdfff) {
		fail(lx, esc, "lone surrogate \\u%04lX in string", unit);
		return 0;
	}
	if (unit < 0xd800 || unit > 0xdbff) {
		*outlen = utf8_encode((unsigned long)unit, out);
		return 6;
	}
	if (esc + 7 >= n || b[esc + 6] != '\\' || b[esc + 7] != 'u' ||
	    (low = read_u_escape(b, n, esc + 6)) < 0xdc00 || low > 0xdfff) {
		fail(lx, esc, "lone surrogate \\u%04lX in string", unit);
		return 0;
	}
	*outlen = utf8_encode(0x10000 + ((unsigned long)(unit - 0xd800) << 10) +
	    (unsigned long)(low - 0xdc00), out);
	return 12;
}

/*
 * Reads the string whose quote is at lx->pos. Its text is left in *text and *textlen: in
 * the input when it has no escapes, else decoded into sb (then NUL-terminated).
 */
static bool
lex_string(struct lexer *lx, struct strbuf *sb, const char **text, size_t *textlen)
{
	const unsigned char *b = lx->buf;
	size_t n = lx->len, quote = lx->pos, p = quote + 1, run = p, taken, len;
	bool escaped = false;
	char decoded[4];
	unsigned char c;

	for (;;) {
		while (p < n && (cclass[b[p]] & CC_PLAIN))
			p++;
		if (p >= n)
			return fail(lx, quote, "unterminated string");
		c = b[p];
		if (c == '"')
			break;
		if (c >= 0x80) {
			if ((taken = utf8_sequence(b + p, n - p)) == 0)
				return fail(lx, p, "invalid UTF-8");
			p += taken;
			continue;
		}
		if (c == '\\') {
			if (!escaped) {
				sb->len = 0;
				escaped = true;
			}
			if (sb->len + (p - run) > lx->max_string)
				goto too_long;
			if ((taken = decode_escape(lx, quote, p, decoded, &len)) == 0)
				return false;
			if (!strbuf_reserve(sb, p - run + len))
				return fail_memory(lx);
			memcpy(sb->data + sb->len, b + run, p - run);
			sb->len += p - run;
			memcpy(sb->data + sb->len, decoded, len);
			sb->len += len;
			p += taken;
			run = p;
			continue;
		}
		if (c == 0)
			return fail(lx, p, "NUL byte");
		return fail(lx, p, "unescaped control character 0x%02x in string", c);
	}
	if (!escaped) {
		if (p - run > lx->max_string)
			goto too_long;
		*text = (const char *)b + run;
		*textlen = p - run;
	} else {
		if (sb->len + (p - run) > lx->max_string)
			goto too_long;
		if (!strbuf_reserve(sb, p - run))
			return fail_memory(lx);
		memcpy(sb->data + sb->len, b + run, p - run);
		sb->len += p - run;
		sb->data[sb->len] = '\0';
		*text = sb->data;
		*textlen = sb->len;
	}
	lx->pos = p + 1;
	return true;
too_long:
	return fail(lx, quote, "string longer than %zu bytes", lx->max_string);
}

/*
 * The end of the number starting at p, per RFC 8259's grammar; where it breaks, *fault
 * and *at say why and where.
 */
static size_t
scan_number(const unsigned char *b, size_t n, size_t p, enum number_fault *fault,
    size_t *at)
{
	*fault = NUMBER_OK;
	if (p < n && b[p] == '-')
		p++;
	if (p >= n)
		goto end;
	if (b[p] == '0') {
		p++;
		if (p < n && (cclass[b[p]] & CC_DIGIT)) {
			*fault = NUMBER_LEADING_ZERO;
			*at = p - 1;
			return p;
		}
	} else if (cclass[b[p]] & CC_DIGIT) {
		while (p < n && (cclass[b[p]] & CC_DIGIT))
			p++;
	} else
		goto bad;
	if (p < n && b[p] == '.') {
		p++;
		if (p >= n)
			goto end;
		if (!(cclass[b[p]] & CC_DIGIT))
			goto bad;
		while (p < n && (cclass[b[p]] & CC_DIGIT))
			p++;
	}
	if (p < n && (b[p] == 'e' || b[p] == 'E')) {
		p++;
		if (p < n && (b[p] == '+' || b[p] == '-'))
			p++;
		if (p >= n)
			goto end;
		if (!(cclass[b[p]] & CC_DIGIT))
			goto bad;
		while (p < n && (cclass[b[p]] & CC_DIGIT))
			p++;
	}
	return p;
end:
	*fault = NUMBER_END;
	*at = n;
	return p;
bad:
	*fault = NUMBER_BAD;
	*at = p;
	return p;
}

/* Reads the number at lx->pos; its text is the input from there, *textlen bytes. */
/* Whether a well-formed JSON number's exponent, if any, is within ±SJSON_MAX_EXPONENT. */
static bool
exponent_within(const unsigned char *text, size_t len)
{
	size_t	i = 0;
	long	exponent = 0;

	while (i < len && text[i] != 'e' && text[i] != 'E')
		i++;
	if (i == len)
		return true;
	i++;
	if (i < len && (text[i] == '+' || text[i] == '-'))
		i++;
	for (; i < len; i++) {
		exponent = exponent * 10 + (text[i] - '0');
		if (exponent > SJSON_MAX_EXPONENT)
			return false;
	}
	return true;
}

static bool
lex_number(struct lexer *lx, size_t *textlen)
{
	enum number_fault fault;
	size_t start = lx->pos, end, at = 0;

	end = scan_number(lx->buf, lx->len, start, &fault, &at);
	switch (fault) {
	case NUMBER_OK:
		break;
	case NUMBER_END:
		return fail_end(lx);
	case NUMBER_LEADING_ZERO:
		return fail(lx, at, "invalid number: leading zero");
	case NUMBER_BAD:
		if (at < lx->len && lx->buf[at] < 0x80 && lx->buf[at] >= 0x20)
			return fail(lx, at, "invalid number: unexpected character '%c'",
			    lx->buf[at]);
		return fail(lx, at, "invalid number");
	}
	if (end - start > lx->max_number)
		return fail(lx, start, "number longer than %zu characters", lx->max_number);
	if (!exponent_within(lx->buf + start, end - start))
		return fail(lx, start, "number exponent beyond -%d..%d", SJSON_MAX_EXPONENT,
		    SJSON_MAX_EXPONENT);
	*textlen = end - start;
	lx->pos = end;
	return true;
}

static bool
lex_literal(struct lexer *lx, const char *word, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (lx->pos + i >= lx->len)
			return fail_end(lx);
		if (lx->buf[lx->pos + i] != (unsigned char)word[i])
			return fail_unexpected(lx, lx->pos + i);
	}
	lx->pos += len;
	return true;
}

static json_t *
tagged_number(struct strbuf *sb, const char *text, size_t len)
{
	sb->len = 0;
	if (!strbuf_reserve(sb, len + 1))
		return NULL;
	sb->data[0] = '\0';
	memcpy(sb->data + 1, text, len);
	return json_stringn_nocheck(sb->data, len + 1);
}

static void
lexer_init(struct lexer *lx, const char *buf, size_t len,
    const struct sjson_limits *limits, struct sjson_error *err)
{
	memset(lx, 0, sizeof(*lx));
	lx->buf = (const unsigned char *)buf;
	lx->len = buf == NULL ? 0 : len;
	lx->max_depth = SJSON_DEFAULT_DEPTH;
	lx->max_string = SJSON_DEFAULT_STRING;
	if (limits != NULL && limits->max_depth > 0)
		lx->max_depth = limits->max_depth;
	if (limits != NULL && limits->max_string > 0)
		lx->max_string = limits->max_string;
	lx->max_number = SJSON_DEFAULT_NUMBER;
	if (limits != NULL && limits->max_number > 0)
		lx->max_number = limits->max_number;
	lx->err = err;
	memset(err, 0, sizeof(*err));
}

static void
lexer_release(struct lexer *lx)
{
	strbuf_release(&lx->text);
	strbuf_release(&lx->key);
	free(lx->frames);
	lx->frames = NULL;
	lx->frames_cap = 0;
}

#if JANSSON_VERSION_HEX < 0x020e00
/* Older jansson wants keys NUL-terminated; keys hold no NUL. NULL if out of memory. */
static const char *
key_string(struct lexer *lx)
{
	if (lx->keyp != lx->key.data) {
		lx->key.len = 0;
		if (!strbuf_reserve(&lx->key, lx->keylen))
			return NULL;
		memcpy(lx->key.data, lx->keyp, lx->keylen);
		lx->keyp = lx->key.data;
	}
	lx->key.data[lx->keylen] = '\0';
	return lx->key.data;
}
#endif

/*
 * Whether the object already has the key just read (an error then). Checked when the
 * key is read rather than when its value is set, so that the first error in the text
 * is the one reported, as the pull reader does.
 */
static bool
key_taken(struct lexer *lx, json_t *object)
{
	char quoted[MESSAGE_KEY_MAX + 8];
	bool taken;

#if JANSSON_VERSION_HEX >= 0x020e00
	taken = json_object_getn(object, lx->keyp, lx->keylen) != NULL;
#else
	taken = json_object_get(object, key_string(lx)) != NULL;
#endif
	if (!taken)
		return false;
	describe_key(quoted, sizeof(quoted), lx->keyp, lx->keylen);
	fail(lx, lx->keyoff, "duplicate key \"%s\"", quoted);
	return true;
}

/*
 * Puts a new value into the container being filled (depth > 0) or makes it the root;
 * takes the reference to value whatever happens.
 */
static bool
attach(struct lexer *lx, json_t **root, size_t depth, json_t *value)
{
	json_t *parent;

	if (value == NULL)
		return fail_memory(lx);
	if (depth == 0) {
		*root = value;
		return true;
	}
	parent = lx->frames[depth - 1];
	if (json_is_array(parent)) {
		if (json_array_append_new(parent, value) == -1)
			return fail_memory(lx);
		return true;
	}
#if JANSSON_VERSION_HEX >= 0x020e00
	if (json_object_setn_new_nocheck(parent, lx->keyp, lx->keylen, value) == -1)
#else
	if (json_object_set_new_nocheck(parent, key_string(lx), value) == -1)
#endif
		return fail_memory(lx);
	return true;
}

static bool
push_frame(struct lexer *lx, size_t depth, json_t *container)
{
	json_t **frames;
	size_t cap;

	if (depth >= lx->frames_cap) {
		cap = lx->frames_cap ? lx->frames_cap * 2 : 16;
		if ((frames = realloc(lx->frames, cap * sizeof(*frames))) == NULL)
			return fail_memory(lx);
		lx->frames = frames;
		lx->frames_cap = cap;
	}
	lx->frames[depth] = container;
	return true;
}

/*
 * Builds the value at lx->pos as a tree, leaving lx->pos just after it. `outer` is the
 * number of containers already open around it (the pull reader's), which count toward
 * the depth limit. Iterative, so no input can exhaust the C stack.
 */
static json_t *
parse_tree(struct lexer *lx, int outer)
{
	const unsigned char *b = lx->buf;
	size_t n = lx->len, depth = 0, len;
	const char *text;
	json_t *root = NULL, *value, *parent;

value:
	skip_space(lx);
	if (lx->pos >= n) {
		fail_end(lx);
		goto err;
	}
	switch (b[lx->pos]) {
	case '{':
	case '[':
		if ((size_t)outer + depth >= (size_t)lx->max_depth) {
			fail(lx, lx->pos, "nesting deeper than %d", lx->max_depth);
			goto err;
		}
		value = b[lx->pos] == '{' ? json_object() : json_array();
		if (!attach(lx, &root, depth, value) || !push_frame(lx, depth, value))
			goto err;
		depth++;
		lx->pos++;
		skip_space(lx);
		if (lx->pos < n && b[lx->pos] == (json_is_object(value) ? '}' : ']')) {
			lx->pos++;
			depth--;
			goto next;
		}
		if (json_is_object(value))
			goto key;
		goto value;
	case '"':
		if (!lex_string(lx, &lx->text, &text, &len) ||
		    !attach(lx, &root, depth, json_stringn_nocheck(text, len)))
			goto err;
		goto next;
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		text = (const char *)b + lx->pos;
		if (!lex_number(lx, &len) ||
		    !attach(lx, &root, depth, tagged_number(&lx->text, text, len)))
			goto err;
		goto next;
	case 't':
		if (!lex_literal(lx, "true", 4) || !attach(lx, &root, depth, json_true()))
			goto err;
		goto next;
	case 'f':
		if (!lex_literal(lx, "false", 5) || !attach(lx, &root, depth, json_false()))
			goto err;
		goto next;
	case 'n':
		if (!lex_literal(lx, "null", 4) || !attach(lx, &root, depth, json_null()))
			goto err;
		goto next;
	default:
		fail_unexpected(lx, lx->pos);
		goto err;
	}

key:
	/* At the first byte after '{' or ',' and its white space. */
	if (lx->pos >= n || b[lx->pos] != '"') {
		fail_unexpected(lx, lx->pos);
		goto err;
	}
	lx->keyoff = lx->pos;
	if (!lex_string(lx, &lx->key, &lx->keyp, &lx->keylen))
		goto err;
	if (key_taken(lx, lx->frames[depth - 1]))
		goto err;
	skip_space(lx);
	if (lx->pos >= n || b[lx->pos] != ':') {
		fail_unexpected(lx, lx->pos);
		goto err;
	}
	lx->pos++;
	goto value;

next:
	if (depth == 0)
		return root;
	skip_space(lx);
	if (lx->pos >= n) {
		fail_end(lx);
		goto err;
	}
	parent = lx->frames[depth - 1];
	if (b[lx->pos] == ',') {
		lx->pos++;
		if (json_is_object(parent)) {
			skip_space(lx);
			goto key;
		}
		goto value;
	}
	if (b[lx->pos] == (json_is_object(parent) ? '}' : ']')) {
		lx->pos++;
		depth--;
		goto next;
	}
	fail_unexpected(lx, lx->pos);
err:
	json_decref(root);
	return NULL;
}

json_t *
sjson_parse(const char *buf, size_t len, const struct sjson_limits *limits,
    struct sjson_error *err)
{
	struct sjson_error local;
	struct lexer lx;
	json_t *root = NULL;

	lexer_init(&lx, buf, len, limits, err != NULL ? err : &local);
	if ((root = parse_tree(&lx, 0)) == NULL)
		goto out;
	skip_space(&lx);
	if (lx.pos < lx.len) {
		fail(&lx, lx.pos, "trailing characters after the JSON value");
		json_decref(root);
		root = NULL;
	}
out:
	lexer_release(&lx);
	return root;
}

const char *
sjson_number(const json_t *j)
{
	const char *s;

	if (!json_is_string(j) || json_string_length(j) < 2)
		return NULL;
	s = json_string_value(j);
	return s[0] == '\0' ? s + 1 : NULL;
}

bool
sjson_is_number(const json_t *j)
{
	return sjson_number(j) != NULL;
}

json_t *
sjson_number_new(const char *text)
{
	struct strbuf sb = { NULL, 0, 0 };
	enum number_fault fault;
	size_t len, at;
	json_t *j = NULL;

	if (text == NULL || (len = strlen(text)) == 0)
		return NULL;
	if (scan_number((const unsigned char *)text, len, 0, &fault, &at) != len ||
	    fault != NUMBER_OK)
		return NULL;
	j = tagged_number(&sb, text, len);
	strbuf_release(&sb);
	return j;
}

/* Pull reader. */

static void
siphash_keys(struct sjson_reader *r)
{
	uint64_t seed[2];

	if (getrandom(seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		/* Without entropy the index still works; it is only easier to flood. */
		seed[0] = (uint64_t)(uintptr_t)r ^ (uint64_t)time(NULL);
		seed[1] = (uint64_t)clock() * 0x9e3779b97f4a7c15ULL;
	}
	r->hash_key[0] = seed[0];
	r->hash_key[1] = seed[1];
	r->hash_keyed = true;
}

#define ROTL64(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND(v0, v1, v2, v3) do {					\
	v0 += v1; v1 = ROTL64(v1, 13); v1 ^= v0; v0 = ROTL64(v0, 32);	\
	v2 += v3; v3 = ROTL64(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = ROTL64(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = ROTL64(v1, 17); v1 ^= v2; v2 = ROTL64(v2, 32);	\
} while (0)

/*
 * SipHash-1-3 of a key under the reader's random key: a body full of keys chosen to
 * collide must not make the duplicate check quadratic.
 */
static uint64_t
key_hash(const struct sjson_reader *r, const char *key, size_t len)
{
	const unsigned char *p = (const unsigned char *)key;
	uint64_t v0 = r->hash_key[0] ^ 0x736f6d6570736575ULL;
	uint64_t v1 = r->hash_key[1] ^ 0x646f72616e646f6dULL;
	uint64_t v2 = r->hash_key[0] ^ 0x6c7967656e657261ULL;
	uint64_t v3 = r->hash_key[1] ^ 0x7465646279746573ULL;
	uint64_t m, last = (uint64_t)len << 56;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		m = 0;
		for (int k = 7; k >= 0; k--)
			m = m << 8 | p[i + (size_t)k];
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t k = 0; i + k < len; k++)
		last |= (uint64_t)p[i + k] << (8 * k);
	v3 ^= last;
	SIPROUND(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

static void
keyset_release(struct keyset *ks)
{
	free(ks->bytes);
	free(ks->entries);
	free(ks->index);
	memset(ks, 0, sizeof(*ks));
}

static bool
keyset_equal(const struct keyset *ks, size_t entry, const char *key, size_t len)
{
	return ks->entries[entry].len == len &&
	    (len == 0 || memcmp(ks->bytes + ks->entries[entry].off, key, len) == 0);
}

static void
keyset_index_put(struct sjson_reader *r, struct keyset *ks, size_t entry)
{
	size_t mask = ks->index_cap - 1, slot;

	slot = (size_t)key_hash(r, ks->bytes + ks->entries[entry].off,
	    ks->entries[entry].len) & mask;
	while (ks->index[slot] != 0)
		slot = (slot + 1) & mask;
	ks->index[slot] = entry + 1;
}

/*
 * Builds or grows the index so that it stays at most half full. Only the slots in use
 * are cleared: a level that once held a huge object costs small objects nothing.
 */
static bool
keyset_reindex(struct sjson_reader *r, struct keyset *ks)
{
	size_t cap = 32, *index;

	if (ks->indexed && (ks->count + 1) * 2 <= ks->index_cap)
		return true;
	while ((ks->count + 1) * 2 > cap)
		cap *= 2;
	if (cap > ks->index_alloc) {
		if (cap > SIZE_MAX / sizeof(*index) ||
		    (index = realloc(ks->index, cap * sizeof(*index))) == NULL)
			return false;
		ks->index = index;
		ks->index_alloc = cap;
	}
	if (!r->hash_keyed)
		siphash_keys(r);
	ks->index_cap = cap;
	memset(ks->index, 0, cap * sizeof(*ks->index));
	ks->indexed = true;
	for (size_t i = 0; i < ks->count; i++)
		keyset_index_put(r, ks, i);
	return true;
}

static bool
keyset_contains(struct sjson_reader *r, const struct keyset *ks, const char *key,
    size_t len)
{
	size_t mask, slot;

	if (!ks->indexed) {
		for (size_t i = 0; i < ks->count; i++)
			if (keyset_equal(ks, i, key, len))
				return true;
		return false;
	}
	mask = ks->index_cap - 1;
	slot = (size_t)key_hash(r, key, len) & mask;
	for (; ks->index[slot] != 0; slot = (slot + 1) & mask)
		if (keyset_equal(ks, ks->index[slot] - 1, key, len))
			return true;
	return false;
}

static bool
keyset_add(struct sjson_reader *r, struct keyset *ks, const char *key, size_t len)
{
	struct keyset_entry *entries;
	size_t cap;
	char *bytes;

	if (len > SIZE_MAX - ks->used)
		return false;
	if (ks->used + len > ks->cap) {
		cap = ks->cap ? ks->cap : 256;
		while (cap < ks->used + len)
			cap = cap > SIZE_MAX / 2 ? ks->used + len : cap * 2;
		if ((bytes = realloc(ks->bytes, cap)) == NULL)
			return false;
		ks->bytes = bytes;
		ks->cap = cap;
	}
	if (ks->count == ks->entries_cap) {
		cap = ks->entries_cap ? ks->entries_cap * 2 : 16;
		if ((entries = realloc(ks->entries, cap * sizeof(*entries))) == NULL)
			return false;
		ks->entries = entries;
		ks->entries_cap = cap;
	}
	if (ks->count >= KEYSET_LINEAR && !keyset_reindex(r, ks))
		return false;
	if (len > 0)
		memcpy(ks->bytes + ks->used, key, len);
	ks->entries[ks->count].off = ks->used;
	ks->entries[ks->count].len = len;
	ks->used += len;
	if (ks->indexed)
		keyset_index_put(r, ks, ks->count);
	ks->count++;
	return true;
}

struct sjson_reader *
sjson_reader_new(const char *buf, size_t len, const struct sjson_limits *limits)
{
	struct sjson_reader *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	lexer_init(&r->lx, buf, len, limits, &r->error);
	return r;
}

void
sjson_reader_free(struct sjson_reader *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < r->levels_cap; i++)
		keyset_release(&r->levels[i].keys);
	free(r->levels);
	strbuf_release(&r->keyz);
	lexer_release(&r->lx);
	free(r);
}

/* The token a value starting at lx->pos begins with. */
static enum sjson_token
value_token(struct sjson_reader *r)
{
	struct lexer *lx = &r->lx;

	if (lx->pos >= lx->len) {
		fail_end(lx);
		return SJSON_ERROR;
	}
	switch (lx->buf[lx->pos]) {
	case '{':
		return SJSON_OBJECT_BEGIN;
	case '[':
		return SJSON_ARRAY_BEGIN;
	case '"': case '-': case 't': case 'f': case 'n':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return SJSON_SCALAR;
	default:
		fail_unexpected(lx, lx->pos);
		return SJSON_ERROR;
	}
}

/*
 * Works out what comes next. It may move past white space and a comma, which changes
 * nothing a caller can see, so peeking twice is harmless.
 */
static enum sjson_token
lookahead(struct sjson_reader *r)
{
	struct lexer *lx = &r->lx;
	struct level *level;
	unsigned char close;

	if (lx->failed)
		return SJSON_ERROR;
	skip_space(lx);
	if (r->depth == 0) {
		if (!r->top_done)
			return value_token(r);
		if (lx->pos < lx->len) {
			fail(lx, lx->pos, "trailing characters after the JSON value");
			return SJSON_ERROR;
		}
		return SJSON_END;
	}
	level = &r->levels[r->depth - 1];
	close = level->is_object ? '}' : ']';
	switch (level->state) {
	case EXPECT_FIRST:
		if (lx->pos < lx->len && lx->buf[lx->pos] == close)
			return level->is_object ? SJSON_OBJECT_END : SJSON_ARRAY_END;
		if (!level->is_object)
			return value_token(r);
		break;
	case EXPECT_COMMA:
		if (lx->pos >= lx->len) {
			fail_end(lx);
			return SJSON_ERROR;
		}
		if (lx->buf[lx->pos] == close)
			return level->is_object ? SJSON_OBJECT_END : SJSON_ARRAY_END;
		if (lx->buf[lx->pos] != ',') {
			fail_unexpected(lx, lx->pos);
			return SJSON_ERROR;
		}
		lx->pos++;
		skip_space(lx);
		if (!level->is_object) {
			level->state = EXPECT_VALUE;
			return value_token(r);
		}
		level->state = EXPECT_KEY;
		break;
	case EXPECT_KEY:
		break;
	case EXPECT_VALUE:
		return value_token(r);
	}
	if (lx->pos < lx->len && lx->buf[lx->pos] == '"')
		return SJSON_KEY;
	fail_unexpected(lx, lx->pos);
	return SJSON_ERROR;
}

enum sjson_token
sjson_peek(struct sjson_reader *r)
{
	if (!r->has_peek || r->lx.failed) {
		r->peeked = lookahead(r);
		r->has_peek = true;
	}
	return r->peeked;
}

/* The current container, or the document, has one more value. */
static void
value_done(struct sjson_reader *r)
{
	if (r->depth == 0)
		r->top_done = true;
	else
		r->levels[r->depth - 1].state = EXPECT_COMMA;
}

static bool
open_level(struct sjson_reader *r, bool is_object)
{
	struct lexer *lx = &r->lx;
	struct level *levels, *level;
	int cap;

	if (r->depth >= lx->max_depth)
		return fail(lx, lx->pos, "nesting deeper than %d", lx->max_depth);
	if (r->depth == r->levels_cap) {
		cap = r->levels_cap ? r->levels_cap * 2 : 8;
		if ((levels = realloc(r->levels, (size_t)cap * sizeof(*levels))) == NULL)
			return fail_memory(lx);
		memset(levels + r->levels_cap, 0,
		    (size_t)(cap - r->levels_cap) * sizeof(*levels));
		r->levels = levels;
		r->levels_cap = cap;
	}
	level = &r->levels[r->depth++];
	level->is_object = is_object;
	level->state = EXPECT_FIRST;
	level->keys.used = 0;
	level->keys.count = 0;
	level->keys.indexed = false;
	lx->pos++;
	return true;
}

static bool
read_key(struct sjson_reader *r)
{
	struct lexer *lx = &r->lx;
	struct level *level = &r->levels[r->depth - 1];
	char quoted[MESSAGE_KEY_MAX + 8];
	const char *key;
	size_t len, offset = lx->pos;

	if (!lex_string(lx, &lx->key, &key, &len))
		return false;
	if (keyset_contains(r, &level->keys, key, len)) {
		describe_key(quoted, sizeof(quoted), key, len);
		return fail(lx, offset, "duplicate key \"%s\"", quoted);
	}
	if (!keyset_add(r, &level->keys, key, len))
		return fail_memory(lx);
	r->keyz.len = 0;
	if (!strbuf_reserve(&r->keyz, len))
		return fail_memory(lx);
	memcpy(r->keyz.data, key, len);
	r->keyz.data[len] = '\0';
	r->keyz.len = len;
	skip_space(lx);
	if (lx->pos >= lx->len || lx->buf[lx->pos] != ':')
		return fail_unexpected(lx, lx->pos);
	lx->pos++;
	level->state = EXPECT_VALUE;
	return true;
}

static bool
read_scalar(struct sjson_reader *r)
{
	struct lexer *lx = &r->lx;
	const char *text;
	size_t len;

	switch (lx->buf[lx->pos]) {
	case '"':
		return lex_string(lx, &lx->text, &text, &len);
	case 't':
		return lex_literal(lx, "true", 4);
	case 'f':
		return lex_literal(lx, "false", 5);
	case 'n':
		return lex_literal(lx, "null", 4);
	default:
		return lex_number(lx, &len);
	}
}

enum sjson_token
sjson_next(struct sjson_reader *r)
{
	enum sjson_token token = sjson_peek(r);
	bool ok = true;

	r->has_peek = false;
	switch (token) {
	case SJSON_ERROR:
	case SJSON_END:
		r->has_peek = true;	/* both stay */
		return token;
	case SJSON_OBJECT_BEGIN:
	case SJSON_ARRAY_BEGIN:
		ok = open_level(r, token == SJSON_OBJECT_BEGIN);
		break;
	case SJSON_OBJECT_END:
	case SJSON_ARRAY_END:
		r->lx.pos++;
		r->depth--;
		value_done(r);
		break;
	case SJSON_KEY:
		ok = read_key(r);
		break;
	case SJSON_SCALAR:
		if ((ok = read_scalar(r)))
			value_done(r);
		break;
	}
	if (!ok) {
		r->peeked = SJSON_ERROR;
		r->has_peek = true;
		return SJSON_ERROR;
	}
	return token;
}

const char *
sjson_key(const struct sjson_reader *r)
{
	return r->keyz.data != NULL ? r->keyz.data : "";
}

/* Whether a value comes next; if not, the reader fails (a caller's mistake or bad input). */
static bool
value_next(struct sjson_reader *r, enum sjson_token *token)
{
	*token = sjson_peek(r);
	switch (*token) {
	case SJSON_OBJECT_BEGIN:
	case SJSON_ARRAY_BEGIN:
	case SJSON_SCALAR:
		return true;
	case SJSON_ERROR:
		return false;
	default:
		fail(&r->lx, r->lx.pos, "expected a value");
		r->peeked = SJSON_ERROR;
		return false;
	}
}

json_t *
sjson_take(struct sjson_reader *r, const char **start, size_t *len)
{
	enum sjson_token token;
	size_t from;
	json_t *value;

	if (!value_next(r, &token))
		return NULL;
	from = r->lx.pos;
	if ((value = parse_tree(&r->lx, r->depth)) == NULL) {
		r->peeked = SJSON_ERROR;
		return NULL;
	}
	r->has_peek = false;
	value_done(r);
	if (start != NULL)
		*start = (const char *)r->lx.buf + from;
	if (len != NULL)
		*len = r->lx.pos - from;
	return value;
}

bool
sjson_skip(struct sjson_reader *r)
{
	enum sjson_token token;
	int depth = r->depth;

	if (!value_next(r, &token))
		return false;
	if (sjson_next(r) == SJSON_ERROR)
		return false;
	while (r->depth > depth)
		if (sjson_next(r) == SJSON_ERROR)
			return false;
	return true;
}

const struct sjson_error *
sjson_reader_error(const struct sjson_reader *r)
{
	return r->lx.failed ? &r->error : NULL;
}

/* Writer. */

struct dumper {
	struct evbuffer	*out;
	bool		 ok;
	size_t		 used;
	char		 buf[8192];
};

static void
dump_flush(struct dumper *d)
{
	if (d->used > 0 && d->ok && evbuffer_add(d->out, d->buf, d->used) == -1)
		d->ok = false;
	d->used = 0;
}

static void
dump_bytes(struct dumper *d, const void *bytes, size_t len)
{
	if (len > sizeof(d->buf) - d->used) {
		dump_flush(d);
		if (len > sizeof(d->buf)) {
			if (d->ok && evbuffer_add(d->out, bytes, len) == -1)
				d->ok = false;
			return;
		}
	}
	memcpy(d->buf + d->used, bytes, len);
	d->used += len;
}

static void
dump_char(struct dumper *d, char c)
{
	if (d->used == sizeof(d->buf))
		dump_flush(d);
	d->buf[d->used++] = c;
}

/* RFC 8259 escaping: quote, backslash and control characters; UTF-8 kept as is. */
static void
dump_string(struct dumper *d, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t run = 0, i;
	char esc[6];

	dump_char(d, '"');
	for (i = 0; i < len; i++) {
		if (p[i] >= 0x20 && p[i] != '"' && p[i] != '\\')
			continue;
		dump_bytes(d, p + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (p[i]) {
		case '"':	esc[1] = '"'; break;
		case '\\':	esc[1] = '\\'; break;
		case '\b':	esc[1] = 'b'; break;
		case '\f':	esc[1] = 'f'; break;
		case '\n':	esc[1] = 'n'; break;
		case '\r':	esc[1] = 'r'; break;
		case '\t':	esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[p[i] >> 4];
			esc[5] = hex[p[i] & 0xf];
			dump_bytes(d, esc, 6);
			continue;
		}
		dump_bytes(d, esc, 2);
	}
	dump_bytes(d, p + run, i - run);
	dump_char(d, '"');
}

static void
dump_value(struct dumper *d, const json_t *j)
{
	json_t *object = (json_t *)j;	/* jansson's iterators take no const */
	const char *number;
	char text[64];
	void *iter;
	bool first = true;
	size_t i;
	int n;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		dump_char(d, '{');
		for (iter = json_object_iter(object); iter != NULL;
		    iter = json_object_iter_next(object, iter)) {
			if (!first)
				dump_char(d, ',');
			first = false;
#if JANSSON_VERSION_HEX >= 0x020e00
			dump_string(d, json_object_iter_key(iter),
			    json_object_iter_key_len(iter));
#else
			dump_string(d, json_object_iter_key(iter),
			    strlen(json_object_iter_key(iter)));
#endif
			dump_char(d, ':');
			dump_value(d, json_object_iter_value(iter));
		}
		dump_char(d, '}');
		break;
	case JSON_ARRAY:
		dump_char(d, '[');
		for (i = 0; i < json_array_size(j); i++) {
			if (i > 0)
				dump_char(d, ',');
			dump_value(d, json_array_get(j, i));
		}
		dump_char(d, ']');
		break;
	case JSON_STRING:
		if ((number = sjson_number(j)) != NULL)
			dump_bytes(d, number, json_string_length(j) - 1);
		else
			dump_string(d, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		n = snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(j));
		dump_bytes(d, text, (size_t)n);
		break;
	case JSON_REAL:
		n = snprintf(text, sizeof(text), "%.17g", json_real_value(j));
		dump_bytes(d, text, (size_t)n);
		break;
	case JSON_TRUE:
		dump_bytes(d, "true", 4);
		break;
	case JSON_FALSE:
		dump_bytes(d, "false", 5);
		break;
	case JSON_NULL:
		dump_bytes(d, "null", 4);
		break;
	}
}

bool
sjson_dump(const json_t *j, struct evbuffer *out)
{
	struct dumper *d;
	bool ok;

	if (j == NULL || (d = malloc(sizeof(*d))) == NULL)
		return false;
	d->out = out;
	d->ok = true;
	d->used = 0;
	dump_value(d, j);
	dump_flush(d);
	ok = d->ok;
	free(d);
	return ok;
}

char *
sjson_dumps(const json_t *j)
{
	struct evbuffer *out = NULL;
	char *text = NULL;
	size_t len;

	if ((out = evbuffer_new()) == NULL || !sjson_dump(j, out))
		goto out;
	len = evbuffer_get_length(out);
	if ((text = malloc(len + 1)) == NULL)
		goto out;
	if (evbuffer_remove(out, text, len) != (int)len) {
		free(text);
		text = NULL;
		goto out;
	}
	text[len] = '\0';
out:
	if (out != NULL)
		evbuffer_free(out);
	return text;
}
