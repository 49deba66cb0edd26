/*
 * The field checks the record validators share (include/fieldcheck.h). Amounts are
 * judged as text and never converted: what is accepted is stored digit for digit.
 */
#include <stdlib.h>
#include <string.h>

#include "fieldcheck.h"
#include "issues.h"
#include "utf8.h"

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

enum amount_fault
fieldcheck_amount(const char *text, bool negative_ok)
{
	const char	*p = text;
	size_t		 int_digits = 0, frac_digits = 0;
	bool		 negative = false;

	if (p == NULL)
		return AMOUNT_NOT_DECIMAL;
	if (*p == '-') {
		negative = true;
		p++;
	}
	while (is_digit(p[int_digits]))
		int_digits++;
	if (int_digits == 0 || (int_digits > 1 && p[0] == '0'))
		return AMOUNT_NOT_DECIMAL;
	p += int_digits;
	if (*p == '.') {
		p++;
		while (is_digit(p[frac_digits]))
			frac_digits++;
		if (frac_digits == 0)
			return AMOUNT_NOT_DECIMAL;
		p += frac_digits;
	}
	if (*p == 'e' || *p == 'E') {
		/* Only an exponent that JSON's grammar allows is named as one. */
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!is_digit(*p))
			return AMOUNT_NOT_DECIMAL;
		while (is_digit(*p))
			p++;
		return *p == '\0' ? AMOUNT_EXPONENT : AMOUNT_NOT_DECIMAL;
	}
	if (*p != '\0')
		return AMOUNT_NOT_DECIMAL;
	if (negative && !negative_ok)
		return AMOUNT_NEGATIVE;
	if (int_digits > AMOUNT_INT_DIGITS_MAX)
		return AMOUNT_TOO_LARGE;
	if (frac_digits > AMOUNT_FRAC_DIGITS_MAX)
		return AMOUNT_TOO_PRECISE;
	return AMOUNT_OK;
}

#define STR(x)	#x
#define XSTR(x)	STR(x)

const char *
fieldcheck_amount_message(enum amount_fault fault)
{
	switch (fault) {
	case AMOUNT_OK:
		break;
	case AMOUNT_NOT_DECIMAL:
		return "must be a decimal amount (a JSON number or a string such as "
		    "\"1311264.00\")";
	case AMOUNT_EXPONENT:
		return "must be a decimal amount written without an exponent";
	case AMOUNT_NEGATIVE:
		return "must be a decimal amount of zero or more";
	case AMOUNT_TOO_LARGE:
		return "must be a decimal amount of at most " XSTR(AMOUNT_INT_DIGITS_MAX)
		    " integer digits";
	case AMOUNT_TOO_PRECISE:
		return "must be a decimal amount of at most " XSTR(AMOUNT_FRAC_DIGITS_MAX)
		    " fraction digits";
	}
	return "must be a decimal amount";
}

/* Exactly n digits at p. */
static bool
digits(const char *p, int n, int *out)
{
	int	v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

bool
fieldcheck_date(const char *text)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int		 y, m, d, last;
	bool		 leap;

	if (text == NULL || strlen(text) != 10 || text[4] != '-' || text[7] != '-' ||
	    !digits(text, 4, &y) || !digits(text + 5, 2, &m) || !digits(text + 8, 2, &d))
		return false;
	if (y < FIELDCHECK_YEAR_MIN || y > FIELDCHECK_YEAR_MAX || m < 1 || m > 12)
		return false;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	last = m == 2 && leap ? 29 : days[m - 1];
	return d >= 1 && d <= last;
}

bool
fieldcheck_currency(const char *text)
{
	if (text == NULL || strlen(text) != 3)
		return false;
	for (int i = 0; i < 3; i++)
		if (text[i] < 'A' || text[i] > 'Z')
			return false;
	return true;
}

bool
fieldcheck_integer(const char *text, long min, long max, long *value)
{
	const char	*p = text;
	long		 v = 0;
	bool		 negative = false;

	if (p == NULL)
		return false;
	if (*p == '-') {
		negative = true;
		p++;
	}
	if (!is_digit(*p))
		return false;
	for (; is_digit(*p); p++) {
		/* Past 18 digits the value is out of any range a caller asks for. */
		if (v > 100000000000000000L)
			return false;
		v = v * 10 + (*p - '0');
	}
	if (*p != '\0')
		return false;
	if (negative)
		v = -v;
	if (v < min || v > max)
		return false;
	if (value != NULL)
		*value = v;
	return true;
}

/*
 * Keys of a batch -----------------------------------------------------------------------
 */

struct batch_key {
	size_t	 seq;		/* arrival: the first of equal keys is the original */
	long	 record;
	size_t	 len;
	char	*where;		/* into the same block */
	char	*label;
	char	 key[];
};

void
batch_keys_add(struct batch_keys *k, const void *key, size_t len, long record,
    const char *where, const char *label)
{
	struct batch_key	**grown, *entry;
	size_t			  wlen = strlen(where), llen = strlen(label), cap;

	if (k->failed)
		return;
	if (k->count == k->cap) {
		cap = k->cap != 0 ? k->cap * 2 : 64;
		if ((grown = reallocarray(k->keys, cap, sizeof(*grown))) == NULL) {
			k->failed = true;
			return;
		}
		k->keys = grown;
		k->cap = cap;
	}
	if ((entry = malloc(sizeof(*entry) + len + wlen + llen + 2)) == NULL) {
		k->failed = true;
		return;
	}
	entry->seq = k->count;
	entry->record = record;
	entry->len = len;
	memcpy(entry->key, key, len);
	entry->where = entry->key + len;
	memcpy(entry->where, where, wlen + 1);
	entry->label = entry->where + wlen + 1;
	memcpy(entry->label, label, llen + 1);
	k->keys[k->count++] = entry;
}

static int
key_order(const void *a, const void *b)
{
	const struct batch_key	*x = *(struct batch_key *const *)a;
	const struct batch_key	*y = *(struct batch_key *const *)b;
	size_t			 n = x->len < y->len ? x->len : y->len;
	int			 c;

	if ((c = memcmp(x->key, y->key, n)) != 0)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

size_t
batch_keys_report(struct batch_keys *k, struct issue_list *issues, const char *why)
{
	struct batch_key	**order = NULL, *first = NULL;
	size_t			 *original = NULL, found = 0;

	if (k->count == 0)
		return 0;
	if ((order = reallocarray(NULL, k->count, sizeof(*order))) == NULL ||
	    (original = reallocarray(NULL, k->count, sizeof(*original))) == NULL) {
		k->failed = true;
		goto out;
	}
	memcpy(order, k->keys, k->count * sizeof(*order));
	qsort(order, k->count, sizeof(*order), key_order);
	/* Equal keys sort together, the earliest first: it is their original. */
	for (size_t i = 0; i < k->count; i++) {
		if (first != NULL && order[i]->len == first->len &&
		    memcmp(order[i]->key, first->key, first->len) == 0) {
			original[order[i]->seq] = first->seq;
			continue;
		}
		first = order[i];
		original[first->seq] = first->seq;
	}
	/* Issues in the order the records came, not in key order. */
	for (size_t i = 0; i < k->count; i++) {
		if (original[i] == i)
			continue;
		issues_add(issues, k->keys[i]->record, k->keys[i]->where,
		    "duplicates %s (%s)", k->keys[original[i]]->label, why);
		found++;
	}
out:
	free(original);
	free(order);
	return found;
}

void
batch_keys_free(struct batch_keys *k)
{
	for (size_t i = 0; i < k->count; i++)
		free(k->keys[i]);
	free(k->keys);
	memset(k, 0, sizeof(*k));
}
