/*
 * Flat rows from a compiled OCDS release (include/ocds_flat.h). Published data is
 * untidy: what cannot be read becomes NULL or is left out, so one odd value never
 * refuses a contracting process (its releases are kept as received either way).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocds_flat.h"
#include "sjson.h"

/* The keys seen in one compiled release, so that the first of a repeated id wins. */
struct key_set {
	char	**slots;
	size_t	  cap;
	size_t	  n;
	bool	  failed;
};

/* --- Reading values ------------------------------------------------------------- */

const char *
ocds_flat_id(const json_t *v)
{
	const char *s;

	if (v == NULL)
		return NULL;
	if ((s = sjson_number(v)) != NULL)
		return s;
	if (!json_is_string(v) || (s = json_string_value(v))[0] == '\0')
		return NULL;
	return s;
}

const char *
ocds_flat_text(const json_t *v)
{
	const char *s;

	if (v == NULL)
		return NULL;
	if ((s = sjson_number(v)) != NULL)
		return s;
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_true(v))
		return "true";
	if (json_is_false(v))
		return "false";
	return NULL;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* [+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})? over exactly len bytes. */
static bool
decimal_valid(const char *s, size_t len)
{
	size_t	i = 0, digits = 0, exp = 0;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	for (; i < len && is_digit(s[i]); i++)
		digits++;
	if (i < len && s[i] == '.') {
		for (i++; i < len && is_digit(s[i]); i++)
			digits++;
	}
	if (digits == 0)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (; i < len && is_digit(s[i]); i++)
			exp++;
		if (exp < 1 || exp > 3)
			return false;
	}
	return i == len;
}

const char *
ocds_flat_amount(const json_t *v, size_t *len)
{
	const char	*s;
	size_t		 n;

	if (v == NULL)
		return NULL;
	if ((s = sjson_number(v)) == NULL) {
		if (!json_is_string(v))
			return NULL;
		s = json_string_value(v);
	}
	n = strlen(s);
	while (n > 0 && is_space(*s)) {
		s++;
		n--;
	}
	while (n > 0 && is_space(s[n - 1]))
		n--;
	if (!decimal_valid(s, n))
		return NULL;
	*len = n;
	return s;
}

/* Reads exactly `n` digits at *p. */
static bool
number_at(const char **p, int n, int *value)
{
	*value = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return false;
		*value = *value * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return true;
}

static int
days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/*
 * YYYY-MM-DD, then optionally [T ]hh:mm[:ss[.f{1,9}]], then optionally Z or an offset
 * ±hh[[:]mm]: a real day and time; without an offset it is read in the transaction's
 * time zone (UTC). Offsets stop at PostgreSQL's ±15:59.
 */
bool
ocds_flat_instant_valid(const char *text)
{
	const char	*p = text;
	int		 year, month, day, hour = 0, minute = 0, second = 0, oh, om = 0;

	if (text == NULL || !number_at(&p, 4, &year) || *p++ != '-' ||
	    !number_at(&p, 2, &month) || *p++ != '-' || !number_at(&p, 2, &day))
		return false;
	if (year < 1 || month < 1 || month > 12 || day < 1 ||
	    day > days_in_month(year, month))
		return false;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (!number_at(&p, 2, &hour) || *p++ != ':' || !number_at(&p, 2, &minute))
			return false;
		if (*p == ':') {
			p++;
			if (!number_at(&p, 2, &second))
				return false;
			if (*p == '.') {
				int digits = 0;

				for (p++; is_digit(*p); p++)
					digits++;
				if (digits < 1 || digits > 9)
					return false;
			}
		}
		if (hour > 23 || minute > 59 || second > 59)
			return false;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		p++;
		if (!number_at(&p, 2, &oh))
			return false;
		if (*p == ':')
			p++;
		if (*p != '\0' && !number_at(&p, 2, &om))
			return false;
		if (oh > 15 || om > 59)
			return false;
	}
	return *p == '\0';
}

/* --- Keys ----------------------------------------------------------------------- */

static uint64_t
key_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void
key_set_clear(struct key_set *ks)
{
	for (size_t i = 0; i < ks->cap; i++)
		free(ks->slots[i]);
	free(ks->slots);
	memset(ks, 0, sizeof(*ks));
}

/* Takes `key`; true when it was not in the set. */
static bool
key_set_add(struct key_set *ks, char *key)
{
	size_t i;

	if (key == NULL) {
		ks->failed = true;
		return false;
	}
	if (ks->n + 1 > ks->cap / 2) {
		struct key_set	 grown = { NULL, ks->cap == 0 ? 16 : ks->cap * 2, 0, false };

		if ((grown.slots = calloc(grown.cap, sizeof(*grown.slots))) == NULL) {
			free(key);
			ks->failed = true;
			return false;
		}
		for (size_t j = 0; j < ks->cap; j++) {
			if (ks->slots[j] == NULL)
				continue;
			for (i = key_hash(ks->slots[j]) & (grown.cap - 1);
			    grown.slots[i] != NULL; i = (i + 1) & (grown.cap - 1))
				;
			grown.slots[i] = ks->slots[j];
			grown.n++;
		}
		free(ks->slots);
		*ks = grown;
	}
	for (i = key_hash(key) & (ks->cap - 1); ks->slots[i] != NULL;
	    i = (i + 1) & (ks->cap - 1)) {
		if (strcmp(ks->slots[i], key) == 0) {
			free(key);
			return false;
		}
	}
	ks->slots[i] = key;
	ks->n++;
	return true;
}

/* Parts joined so that no two different lists of parts give one key. */
static char *
key_of(const char *kind, const char *parent, const char *id)
{
	char	*key = NULL;

	if (asprintf(&key, "%s/%c%zu:%s/%zu:%s", kind, parent != NULL ? 'p' : 'n',
	    parent != NULL ? strlen(parent) : 0, parent != NULL ? parent : "",
	    strlen(id), id) == -1)
		return NULL;
	return key;
}

/* --- Rows ----------------------------------------------------------------------- */

static const json_t *
at(const json_t *v, const char *key)
{
	return json_is_object(v) ? json_object_get(v, key) : NULL;
}

static const json_t *
at2(const json_t *v, const char *k1, const char *k2)
{
	return at(at(v, k1), k2);
}

static void
field_amount(struct copy_rows *c, const json_t *v)
{
	const char	*s;
	size_t		 len = 0;

	if ((s = ocds_flat_amount(v, &len)) == NULL)
		copy_null(c);
	else
		copy_fieldn(c, s, len);
}

static void
field_instant(struct copy_rows *c, const json_t *v)
{
	const char *s = json_is_string(v) && !sjson_is_number(v) ?
	    json_string_value(v) : NULL;

	copy_field(c, ocds_flat_instant_valid(s) ? s : NULL);
}

/* An array's elements, or none for anything else. */
static size_t
count(const json_t *v)
{
	return json_is_array(v) ? json_array_size(v) : 0;
}

static void
add_tender(struct ocds_flat *f, const char *ocid, const json_t *t)
{
	struct copy_rows *c = &f->tender;

	copy_field(c, ocid);
	copy_field(c, ocds_flat_id(at(t, "id")));
	copy_field(c, ocds_flat_text(at(t, "title")));
	copy_field(c, ocds_flat_text(at(t, "status")));
	copy_field(c, ocds_flat_text(at(t, "procurementMethod")));
	copy_field(c, ocds_flat_text(at(t, "procurementMethodDetails")));
	field_amount(c, at2(t, "value", "amount"));
	copy_field(c, ocds_flat_text(at2(t, "value", "currency")));
	field_instant(c, at2(t, "tenderPeriod", "startDate"));
	field_instant(c, at2(t, "tenderPeriod", "endDate"));
	copy_end_row(c);
}

static void
add_items(struct ocds_flat *f, struct key_set *ks, const char *ocid, const char *kind,
    const char *parent, const json_t *items)
{
	struct copy_rows	*c = &f->item;
	char			 place[24];

	for (size_t n = 0; n < count(items); n++) {
		const json_t	*i = json_array_get(items, n);
		const char	*id;

		if (!json_is_object(i))
			continue;
		if ((id = ocds_flat_id(at(i, "id"))) == NULL) {
			snprintf(place, sizeof(place), "%zu", n + 1);
			id = place;
		}
		if (!key_set_add(ks, key_of(kind, parent, id)))
			continue;
		copy_field(c, ocid);
		copy_field(c, kind);
		copy_field(c, parent);
		copy_field(c, id);
		copy_field(c, ocds_flat_text(at(i, "description")));
		copy_field(c, ocds_flat_text(at2(i, "classification", "scheme")));
		copy_field(c, ocds_flat_id(at2(i, "classification", "id")));
		field_amount(c, at(i, "quantity"));
		field_amount(c, at2(at(i, "unit"), "value", "amount"));
		copy_field(c, ocds_flat_text(at2(at(i, "unit"), "value", "currency")));
		copy_end_row(c);
	}
}

/* The party of the release whose id is `id`: the first one. */
static const json_t *
party(const json_t *parties, const char *id)
{
	for (size_t n = 0; n < count(parties); n++) {
		const json_t	*p = json_array_get(parties, n);
		const char	*pid = ocds_flat_id(at(p, "id"));

		if (json_is_object(p) && pid != NULL && strcmp(pid, id) == 0)
			return p;
	}
	return NULL;
}

static const char *
first(const char *a, const char *b)
{
	return a != NULL ? a : b;
}

/*
 * A supplier reference is known by its id, else by "scheme-id" of its identifier;
 * its name and identifier come from the reference, else from the party it names.
 */
static bool
add_suppliers(struct ocds_flat *f, const char *ocid, const char *award_id,
    const json_t *suppliers, const json_t *parties)
{
	struct copy_rows *c = &f->award_supplier;

	for (size_t n = 0; n < count(suppliers); n++) {
		const json_t	*sp = json_array_get(suppliers, n), *p;
		const char	*sid, *scheme, *iid;
		char		*joined = NULL;

		if (!json_is_object(sp))
			continue;
		if ((sid = ocds_flat_id(at(sp, "id"))) == NULL &&
		    (iid = ocds_flat_id(at2(sp, "identifier", "id"))) != NULL) {
			scheme = ocds_flat_text(at2(sp, "identifier", "scheme"));
			if (asprintf(&joined, "%s%s%s", scheme != NULL && *scheme != '\0' ?
			    scheme : "", scheme != NULL && *scheme != '\0' ? "-" : "",
			    iid) == -1)
				return false;
			sid = joined;
		}
		if (sid == NULL)
			continue;
		p = party(parties, sid);
		copy_field(c, ocid);
		copy_field(c, award_id);
		copy_field(c, sid);
		copy_field(c, first(ocds_flat_text(at(sp, "name")),
		    first(ocds_flat_text(at(p, "name")),
		    ocds_flat_text(at2(p, "identifier", "legalName")))));
		copy_field(c, first(ocds_flat_text(at2(sp, "identifier", "scheme")),
		    ocds_flat_text(at2(p, "identifier", "scheme"))));
		copy_field(c, first(ocds_flat_id(at2(sp, "identifier", "id")),
		    ocds_flat_id(at2(p, "identifier", "id"))));
		copy_end_row(c);
		free(joined);
	}
	return true;
}

static bool
add_awards(struct ocds_flat *f, struct key_set *ks, const char *ocid,
    const json_t *compiled)
{
	const json_t		*awards = at(compiled, "awards");
	const json_t		*parties = at(compiled, "parties");
	struct copy_rows	*c = &f->award;

	for (size_t n = 0; n < count(awards); n++) {
		const json_t	*a = json_array_get(awards, n);
		const char	*id = ocds_flat_id(at(a, "id"));

		if (!json_is_object(a) || id == NULL)
			continue;
		if (key_set_add(ks, key_of("award", NULL, id))) {
			copy_field(c, ocid);
			copy_field(c, id);
			copy_field(c, ocds_flat_text(at(a, "title")));
			copy_field(c, ocds_flat_text(at(a, "status")));
			field_instant(c, at(a, "date"));
			field_amount(c, at2(a, "value", "amount"));
			copy_field(c, ocds_flat_text(at2(a, "value", "currency")));
			copy_end_row(c);
		}
		/* A repeated award's suppliers and items go to the first of its id. */
		if (!add_suppliers(f, ocid, id, at(a, "suppliers"), parties))
			return false;
	}
	return true;
}

/* OCDS 1.0's amount, providerOrganization and receiverOrganization are read too. */
static void
add_transactions(struct ocds_flat *f, struct key_set *ks, const char *ocid,
    const char *contract_id, const json_t *transactions)
{
	struct copy_rows	*c = &f->transaction;
	char			 place[24];

	for (size_t n = 0; n < count(transactions); n++) {
		const json_t	*t = json_array_get(transactions, n), *amount, *currency;
		const char	*id;

		if (!json_is_object(t))
			continue;
		if ((id = ocds_flat_id(at(t, "id"))) == NULL) {
			snprintf(place, sizeof(place), "%zu", n + 1);
			id = place;
		}
		if (!key_set_add(ks, key_of("transaction", contract_id, id)))
			continue;
		/* A value given, even as null, hides the 1.0 amount. */
		if ((amount = at2(t, "value", "amount")) == NULL)
			amount = at2(t, "amount", "amount");
		if ((currency = at2(t, "value", "currency")) == NULL)
			currency = at2(t, "amount", "currency");
		copy_field(c, ocid);
		copy_field(c, contract_id);
		copy_field(c, id);
		field_instant(c, at(t, "date"));
		field_amount(c, amount);
		copy_field(c, ocds_flat_text(currency));
		copy_field(c, first(ocds_flat_id(at2(t, "payer", "id")),
		    ocds_flat_id(at2(t, "providerOrganization", "id"))));
		copy_field(c, first(ocds_flat_text(at2(t, "payer", "name")),
		    ocds_flat_text(at2(t, "providerOrganization", "legalName"))));
		copy_field(c, first(ocds_flat_id(at2(t, "payee", "id")),
		    ocds_flat_id(at2(t, "receiverOrganization", "id"))));
		copy_field(c, first(ocds_flat_text(at2(t, "payee", "name")),
		    ocds_flat_text(at2(t, "receiverOrganization", "legalName"))));
		copy_end_row(c);
	}
}

static void
add_contracts(struct ocds_flat *f, struct key_set *ks, const char *ocid,
    const json_t *contracts)
{
	struct copy_rows *c = &f->contract;

	for (size_t n = 0; n < count(contracts); n++) {
		const json_t	*k = json_array_get(contracts, n);
		const char	*id = ocds_flat_id(at(k, "id"));

		if (!json_is_object(k) || id == NULL ||
		    !key_set_add(ks, key_of("contract", NULL, id)))
			continue;
		copy_field(c, ocid);
		copy_field(c, id);
		copy_field(c, ocds_flat_id(at(k, "awardID")));
		copy_field(c, ocds_flat_text(at(k, "title")));
		copy_field(c, ocds_flat_text(at(k, "status")));
		field_amount(c, at2(k, "value", "amount"));
		copy_field(c, ocds_flat_text(at2(k, "value", "currency")));
		field_instant(c, at(k, "dateSigned"));
		field_instant(c, at2(k, "period", "startDate"));
		field_instant(c, at2(k, "period", "endDate"));
		copy_end_row(c);
	}
}

int
ocds_flat_init(struct ocds_flat *f)
{
	memset(f, 0, sizeof(*f));
	if (copy_rows_init(&f->tender) == -1 || copy_rows_init(&f->award) == -1 ||
	    copy_rows_init(&f->award_supplier) == -1 ||
	    copy_rows_init(&f->contract) == -1 || copy_rows_init(&f->item) == -1 ||
	    copy_rows_init(&f->transaction) == -1) {
		ocds_flat_free(f);
		return -1;
	}
	return 0;
}

void
ocds_flat_free(struct ocds_flat *f)
{
	copy_rows_free(&f->tender);
	copy_rows_free(&f->award);
	copy_rows_free(&f->award_supplier);
	copy_rows_free(&f->contract);
	copy_rows_free(&f->item);
	copy_rows_free(&f->transaction);
}

bool
ocds_flat_add(struct ocds_flat *f, const char *ocid, const json_t *compiled)
{
	struct key_set	 ks = { NULL, 0, 0, false };
	const json_t	*tender = at(compiled, "tender");
	const json_t	*awards = at(compiled, "awards");
	const json_t	*contracts = at(compiled, "contracts");
	bool		 ok = false;

	if (json_is_object(tender)) {
		add_tender(f, ocid, tender);
		add_items(f, &ks, ocid, "tender", NULL, at(tender, "items"));
	}
	if (!add_awards(f, &ks, ocid, compiled))
		goto out;
	for (size_t n = 0; n < count(awards); n++) {
		const json_t	*a = json_array_get(awards, n);
		const char	*id = ocds_flat_id(at(a, "id"));

		if (json_is_object(a) && id != NULL)
			add_items(f, &ks, ocid, "award", id, at(a, "items"));
	}
	add_contracts(f, &ks, ocid, contracts);
	for (size_t n = 0; n < count(contracts); n++) {
		const json_t	*k = json_array_get(contracts, n);
		const char	*id = ocds_flat_id(at(k, "id"));

		if (!json_is_object(k) || id == NULL)
			continue;
		add_items(f, &ks, ocid, "contract", id, at(k, "items"));
		add_transactions(f, &ks, ocid, id, at2(k, "implementation", "transactions"));
	}
	ok = !ks.failed && !f->tender.failed && !f->award.failed &&
	    !f->award_supplier.failed && !f->contract.failed && !f->item.failed &&
	    !f->transaction.failed;
out:
	key_set_clear(&ks);
	return ok;
}
