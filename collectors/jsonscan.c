/*
 * The streaming JSON scanner (include/jsonscan.h): a state machine fed one piece at a
 * time. It spends its time in tight loops over string bodies and white space; the
 * column of an error is counted only when there is one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jsonscan.h"

enum scan_state {
	S_VALUE,		/* a value must come */
	S_VALUE_OR_CLOSE,	/* after '[' */
	S_KEY,			/* after ',' in an object */
	S_KEY_OR_CLOSE,		/* after '{' */
	S_COLON,
	S_AFTER,		/* after a value inside an object or array */
	S_TRAIL,		/* after the outermost value: white space only */
	S_STRING,
	S_ESCAPE,
	S_UNICODE,
	S_MINUS,
	S_ZERO,
	S_INT,
	S_DOT,
	S_FRAC,
	S_EXP_MARK,
	S_EXP_SIGN,
	S_EXP,
	S_LITERAL,
};

static const char *const literals[] = { "true", "false", "null" };

/* Bytes a string body may hold as they are. */
#define PLAIN(c)	((c) >= 0x20 && (c) != '"' && (c) != '\\')
#define DIGIT(c)	((c) >= '0' && (c) <= '9')
#define SPACE(c)	((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')

/* Characters, not bytes: UTF-8 continuation bytes are not counted. */
static unsigned long
characters(const unsigned char *p, size_t n)
{
	unsigned long	count = 0;

	for (size_t i = 0; i < n; i++)
		count += (p[i] & 0xc0) != 0x80;
	return count;
}

static enum jsonscan_event	fail(struct jsonscan *, const unsigned char *, size_t,
				    const char *, ...) __attribute__((format(printf, 4, 5)));

/* The first error is the one reported: `d` NULL means at the end of the document. */
static enum jsonscan_event
fail(struct jsonscan *s, const unsigned char *d, size_t p, const char *fmt, ...)
{
	va_list		ap;
	unsigned long	column;
	int		n;

	if (d == NULL)
		column = s->column_base + 1;
	else if (s->line_in_piece)
		column = characters(d + s->line_start, p - s->line_start) + 1;
	else
		column = s->column_base + characters(d, p) + 1;
	n = snprintf(s->error, sizeof(s->error), "line %lu, column %lu: ", s->line, column);
	if (n > 0 && (size_t)n < sizeof(s->error)) {
		va_start(ap, fmt);
		vsnprintf(s->error + n, sizeof(s->error) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	s->failed = true;
	return JSONSCAN_ERROR;
}

/* "expected ':', found 'x'": the byte at p said the way a reader can see it. */
static enum jsonscan_event
fail_found(struct jsonscan *s, const unsigned char *d, size_t p, const char *expected)
{
	unsigned char c = d[p];

	if (c == '\0')
		return fail(s, d, p, "%s, found a NUL byte", expected);
	if (c > 0x20 && c < 0x7f)
		return fail(s, d, p, "%s, found '%c'", expected, c);
	return fail(s, d, p, "%s, found byte 0x%02x", expected, c);
}

void
jsonscan_init(struct jsonscan *s, unsigned long first_line, const char *unit,
    bool object_only)
{
	memset(s, 0, sizeof(*s));
	s->line = first_line;
	s->unit = unit;
	s->object_only = object_only;
	s->state = S_VALUE;
}

void
jsonscan_select(struct jsonscan *s, enum jsonscan_mark mark)
{
	s->pending = mark;
}

static void
key_add(struct jsonscan *s, const char *text, size_t n)
{
	if (n > JSONSCAN_KEY_MAX - s->keylen) {
		n = JSONSCAN_KEY_MAX - s->keylen;
		s->key_long = true;
	}
	memcpy(s->key + s->keylen, text, n);
	s->keylen += n;
}

static void
key_start(struct jsonscan *s)
{
	s->state = S_STRING;
	s->in_key = true;
	s->key_capture = s->depth == 1;	/* only the outermost object's names matter */
	s->keylen = 0;
	s->key_long = false;
}

static void
newline(struct jsonscan *s, size_t p)
{
	s->line++;
	s->line_in_piece = true;
	s->line_start = p + 1;
}

static bool
push(struct jsonscan *s, const unsigned char *d, size_t p, bool array)
{
	if (s->depth == JSONSCAN_DEPTH_MAX) {
		fail(s, d, p, "nesting deeper than %d", JSONSCAN_DEPTH_MAX);
		return false;
	}
	if (array)
		s->arrays |= (uint64_t)1 << s->depth;
	else
		s->arrays &= ~((uint64_t)1 << s->depth);
	s->depth++;
	return true;
}

static bool
top_is_array(const struct jsonscan *s)
{
	return (s->arrays >> (s->depth - 1)) & 1;
}

/* A value ended before `at`: JSONSCAN_MORE when there is nothing to report. */
static enum jsonscan_event
value_done(struct jsonscan *s, size_t at)
{
	s->at = at;
	if (s->depth == 0) {
		s->state = S_TRAIL;
		return JSONSCAN_DONE;
	}
	s->state = S_AFTER;
	if (s->mark != JSONSCAN_SKIP && s->depth == s->mark_depth) {
		if (s->mark == JSONSCAN_VALUE)
			s->mark = JSONSCAN_SKIP;
		return JSONSCAN_END;
	}
	return JSONSCAN_MORE;
}

/* The closing bracket just before `at`. */
static enum jsonscan_event
close_container(struct jsonscan *s, size_t at)
{
	/* The reported array itself ends: its elements were the values to report. */
	if (s->mark == JSONSCAN_ELEMENTS && s->depth == s->mark_depth)
		s->mark = JSONSCAN_SKIP;
	s->depth--;
	return value_done(s, at);
}

/* The first byte of a value, at p; the caller consumes it. */
static enum jsonscan_event
value_start(struct jsonscan *s, const unsigned char *d, size_t p)
{
	enum jsonscan_event	ev = JSONSCAN_MORE;
	unsigned char		c = d[p];

	if (s->depth == 0 && s->object_only && c != '{')
		return fail_found(s, d, p, "expected '{'");
	s->begun = true;
	if (s->pending != JSONSCAN_SKIP) {
		s->mark = s->pending;
		s->pending = JSONSCAN_SKIP;
		if (s->mark == JSONSCAN_ELEMENTS) {
			if (c != '[') {
				s->mark = JSONSCAN_SKIP;
				return fail_found(s, d, p, "expected '[' (an array)");
			}
			if (!push(s, d, p, true))
				return JSONSCAN_ERROR;
			s->mark_depth = s->depth;
			s->state = S_VALUE_OR_CLOSE;
			return JSONSCAN_MORE;
		}
		s->mark_depth = s->depth;
	}
	if (s->mark != JSONSCAN_SKIP && s->depth == s->mark_depth) {
		s->at = p;
		ev = JSONSCAN_BEGIN;
	}
	switch (c) {
	case '{':
		if (!push(s, d, p, false))
			return JSONSCAN_ERROR;
		s->state = S_KEY_OR_CLOSE;
		break;
	case '[':
		if (!push(s, d, p, true))
			return JSONSCAN_ERROR;
		s->state = S_VALUE_OR_CLOSE;
		break;
	case '"':
		s->state = S_STRING;
		s->in_key = false;
		s->key_capture = false;
		break;
	case '-':
		s->state = S_MINUS;
		break;
	case '0':
		s->state = S_ZERO;
		break;
	case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8':
	case '9':
		s->state = S_INT;
		break;
	case 't':
	case 'f':
	case 'n':
		s->state = S_LITERAL;
		s->literal = c == 't' ? 0 : c == 'f' ? 1 : 2;
		s->literal_pos = 1;
		break;
	default:
		return fail_found(s, d, p, "expected a value");
	}
	return ev;
}

/* After a number's digits, at the byte p that is not one: what may follow. */
static enum jsonscan_event
number_next(struct jsonscan *s, const unsigned char *d, size_t *p, bool fraction_allowed)
{
	unsigned char c = d[*p];

	if (c == '.' && fraction_allowed) {
		s->state = S_DOT;
		(*p)++;
		return JSONSCAN_MORE;
	}
	if (c == 'e' || c == 'E') {
		s->state = S_EXP_MARK;
		(*p)++;
		return JSONSCAN_MORE;
	}
	return value_done(s, *p);	/* p is not the number's: read it again */
}

enum jsonscan_event
jsonscan_feed(struct jsonscan *s, const char *data, size_t len, size_t *pos)
{
	const unsigned char	*d = (const unsigned char *)data;
	size_t			 p = *pos, start;
	enum jsonscan_event	 ev;
	unsigned char		 c, decoded;
	int			 hex;

	if (s->failed)
		return JSONSCAN_ERROR;
	if (!s->in_piece) {
		s->in_piece = true;
		s->line_in_piece = false;
	}
	for (;;) {
		if (p >= len) {
			if (s->line_in_piece)
				s->column_base = characters(d + s->line_start,
				    len - s->line_start);
			else
				s->column_base += characters(d, len);
			s->in_piece = false;
			*pos = len;
			return JSONSCAN_MORE;
		}
		ev = JSONSCAN_MORE;
		switch (s->state) {
		case S_STRING:
			start = p;
			while (p < len && PLAIN(d[p]))
				p++;
			if (s->key_capture && p > start)
				key_add(s, data + start, p - start);
			if (p == len)
				break;
			c = d[p];
			if (c == '"') {
				p++;
				if (!s->in_key) {
					ev = value_done(s, p);
					break;
				}
				s->state = S_COLON;
				if (s->key_capture) {
					s->key[s->keylen] = '\0';
					ev = JSONSCAN_KEY;
				}
			} else if (c == '\\') {
				p++;
				s->state = S_ESCAPE;
			} else if (c == '\n')
				return fail(s, d, p, "a line break in a string (write it \\n)");
			else if (c == '\0')
				return fail(s, d, p, "a NUL byte in a string");
			else
				return fail(s, d, p, "control character 0x%02x in a string", c);
			break;
		case S_ESCAPE:
			c = d[p];
			switch (c) {
			case '"': case '\\': case '/':
				decoded = c;
				break;
			case 'b':
				decoded = '\b';
				break;
			case 'f':
				decoded = '\f';
				break;
			case 'n':
				decoded = '\n';
				break;
			case 'r':
				decoded = '\r';
				break;
			case 't':
				decoded = '\t';
				break;
			case 'u':
				s->state = S_UNICODE;
				s->hex_digits = 0;
				s->code_point = 0;
				p++;
				continue;
			default:
				return fail_found(s, d, p, "invalid escape: expected one of "
				    "\"\\/bfnrtu after '\\'");
			}
			if (s->key_capture)
				key_add(s, (const char *)&decoded, 1);
			s->state = S_STRING;
			p++;
			break;
		case S_UNICODE:
			c = d[p];
			if (DIGIT(c))
				hex = c - '0';
			else if (c >= 'a' && c <= 'f')
				hex = c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				hex = c - 'A' + 10;
			else
				return fail_found(s, d, p,
				    "invalid \\u escape: expected a hex digit");
			s->code_point = s->code_point * 16 + (unsigned)hex;
			p++;
			if (++s->hex_digits < 4)
				break;
			s->state = S_STRING;
			if (s->key_capture) {
				/* Names we look for are ASCII: anything else matches none. */
				if (s->code_point > 0 && s->code_point < 0x80) {
					decoded = (unsigned char)s->code_point;
					key_add(s, (const char *)&decoded, 1);
				} else
					s->key_long = true;
			}
			break;
		case S_MINUS:
			c = d[p];
			if (c == '0')
				s->state = S_ZERO;
			else if (DIGIT(c))
				s->state = S_INT;
			else
				return fail_found(s, d, p, "expected a digit after '-'");
			p++;
			break;
		case S_ZERO:
			if (DIGIT(d[p]))
				return fail(s, d, p, "a number with a leading zero");
			ev = number_next(s, d, &p, true);
			break;
		case S_INT:
			while (p < len && DIGIT(d[p]))
				p++;
			if (p < len)
				ev = number_next(s, d, &p, true);
			break;
		case S_DOT:
			if (!DIGIT(d[p]))
				return fail_found(s, d, p, "expected a digit after '.'");
			s->state = S_FRAC;
			p++;
			break;
		case S_FRAC:
			while (p < len && DIGIT(d[p]))
				p++;
			if (p < len)
				ev = number_next(s, d, &p, false);
			break;
		case S_EXP_MARK:
			c = d[p];
			if (c == '+' || c == '-')
				s->state = S_EXP_SIGN;
			else if (DIGIT(c))
				s->state = S_EXP;
			else
				return fail_found(s, d, p, "expected a digit in the exponent");
			p++;
			break;
		case S_EXP_SIGN:
			if (!DIGIT(d[p]))
				return fail_found(s, d, p, "expected a digit in the exponent");
			s->state = S_EXP;
			p++;
			break;
		case S_EXP:
			while (p < len && DIGIT(d[p]))
				p++;
			if (p < len)
				ev = value_done(s, p);
			break;
		case S_LITERAL: {
			const char *literal = literals[s->literal];

			if (d[p] != (unsigned char)literal[s->literal_pos]) {
				char expected[32];

				snprintf(expected, sizeof(expected), "expected '%s'", literal);
				return fail_found(s, d, p, expected);
			}
			p++;
			if (literal[++s->literal_pos] == '\0')
				ev = value_done(s, p);
			break;
		}
		default:
			c = d[p];
			if (SPACE(c)) {
				do {
					if (c == '\n')
						newline(s, p);
					p++;
				} while (p < len && SPACE(c = d[p]));
				break;
			}
			switch (s->state) {
			case S_VALUE_OR_CLOSE:
				if (c == ']') {
					ev = close_container(s, ++p);
					break;
				}
				/* FALLTHROUGH */
			case S_VALUE:
				if ((ev = value_start(s, d, p)) == JSONSCAN_ERROR)
					return ev;
				p++;
				break;
			case S_AFTER:
				if (c == ',') {
					s->state = top_is_array(s) ? S_VALUE : S_KEY;
					p++;
				} else if (c == (top_is_array(s) ? ']' : '}'))
					ev = close_container(s, ++p);
				else
					return fail_found(s, d, p, top_is_array(s) ?
					    "expected ',' or ']'" : "expected ',' or '}'");
				break;
			case S_KEY_OR_CLOSE:
				if (c == '}')
					ev = close_container(s, ++p);
				else if (c == '"') {
					key_start(s);
					p++;
				} else
					return fail_found(s, d, p, "expected '\"' or '}'");
				break;
			case S_KEY:
				if (c != '"')
					return fail_found(s, d, p,
					    "expected '\"' (a member name)");
				key_start(s);
				p++;
				break;
			case S_COLON:
				if (c != ':')
					return fail_found(s, d, p, "expected ':'");
				s->state = S_VALUE;
				p++;
				break;
			default: {	/* S_TRAIL */
				char expected[64];

				snprintf(expected, sizeof(expected),
				    "expected the end of the %s after the value", s->unit);
				return fail_found(s, d, p, expected);
			}
			}
			break;
		}
		if (ev != JSONSCAN_MORE) {
			*pos = p;
			return ev;
		}
	}
}

enum jsonscan_event
jsonscan_finish(struct jsonscan *s)
{
	const char	*inside;
	char		 literal[16];

	if (s->failed)
		return JSONSCAN_ERROR;
	switch (s->state) {
	case S_TRAIL:
		return JSONSCAN_DONE;
	case S_ZERO:
	case S_INT:
	case S_FRAC:
	case S_EXP:
		if (s->depth == 0)
			return value_done(s, 0);
		inside = "a number";
		break;
	case S_MINUS:
	case S_DOT:
	case S_EXP_MARK:
	case S_EXP_SIGN:
		inside = "a number";
		break;
	case S_STRING:
	case S_ESCAPE:
	case S_UNICODE:
		inside = s->in_key ? "a member name" : "a string";
		break;
	case S_LITERAL:
		snprintf(literal, sizeof(literal), "'%s'", literals[s->literal]);
		inside = literal;
		break;
	default:
		if (!s->begun)
			return fail(s, NULL, 0, "the %s is empty", s->unit);
		inside = top_is_array(s) ? "an array" : "an object";
		break;
	}
	return fail(s, NULL, 0, "the %s ends inside %s", s->unit, inside);
}
