/*
 * The problems found in a pushed batch (include/issues.h): each names its record and
 * its field by JSON pointer (RFC 6901), and the list becomes the body of a 422. Past
 * ISSUES_MAX_LISTED they are only counted, so a batch of a million bad records cannot
 * make a response of a million entries.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issues.h"
#include "utf8.h"

/*
 * A copy that is valid UTF-8, each bad byte replaced by U+FFFD: a message may quote
 * a value cut short, and jansson refuses a string that is not UTF-8.
 */
static char *
utf8_clean(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len = strlen(text), o = 0, n;
	char *out;

	if ((out = malloc(len * 3 + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += n) {
		if ((n = utf8_sequence(s + i, len - i)) == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			n = 1;
			continue;
		}
		memcpy(out + o, s + i, n);
		o += n;
	}
	out[o] = '\0';
	return out;
}

/* Lists one issue; false only when memory ran out (the issue is still counted). */
static bool
list_issue(struct issue_list *l, long record, const char *pointer, const char *message)
{
	struct issue *items, *issue;
	size_t cap;

	l->total++;
	if (l->count >= ISSUES_MAX_LISTED)
		return true;
	if (l->count == l->cap) {
		cap = l->cap ? l->cap * 2 : 16;
		if ((items = realloc(l->items, cap * sizeof(*items))) == NULL)
			return false;
		l->items = items;
		l->cap = cap;
	}
	issue = &l->items[l->count];
	issue->record = record;
	issue->pointer = utf8_clean(pointer != NULL ? pointer : "");
	issue->message = utf8_clean(message);
	if (issue->pointer == NULL || issue->message == NULL) {
		free(issue->pointer);
		free(issue->message);
		return false;
	}
	l->count++;
	return true;
}

void
issues_add(struct issue_list *l, long record, const char *pointer, const char *fmt, ...)
{
	char *message = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&message, fmt, ap);
	va_end(ap);
	if (n < 0) {
		l->total++;
		return;
	}
	(void)list_issue(l, record, pointer, message);
	free(message);
}

bool
issues_add_fieldv(struct issue_list *l, long record, const char *base, const char *field,
    const char *fmt, va_list ap)
{
	char *pointer = NULL, *message = NULL;
	bool ok = false;

	if (field != NULL) {
		if (asprintf(&pointer, "%s/%s", base, field) == -1)
			pointer = NULL;
	} else
		pointer = strdup(base);
	if (pointer != NULL && vasprintf(&message, fmt, ap) >= 0)
		ok = list_issue(l, record, pointer, message);
	else
		l->total++;
	free(pointer);
	free(message);
	return ok;
}

bool
issues_unknown_field(struct issue_list *l, long record, const char *base, const char *key)
{
	char	*pointer;

	/* A long key is quoted cut short, so that keys cannot inflate the reply. */
	if (strlen(key) > ISSUES_KEY_QUOTED_MAX) {
		issues_add(l, record, base, "unknown field \"%.*s...\"",
		    ISSUES_KEY_QUOTED_MAX, key);
		return true;
	}
	if ((pointer = issues_pointer(base, key)) == NULL) {
		l->total++;
		return false;
	}
	issues_add(l, record, pointer, "unknown field");
	free(pointer);
	return true;
}

char *
issues_pointer(const char *base, const char *key)
{
	size_t blen = base != NULL ? strlen(base) : 0, extra = 0, o;
	char *pointer;

	if (key == NULL)
		key = "";
	for (const char *k = key; *k != '\0'; k++)
		if (*k == '~' || *k == '/')
			extra++;
	if ((pointer = malloc(blen + 1 + strlen(key) + extra + 1)) == NULL)
		return NULL;
	if (blen > 0)
		memcpy(pointer, base, blen);
	o = blen;
	pointer[o++] = '/';
	for (const char *k = key; *k != '\0'; k++) {
		if (*k == '~') {
			pointer[o++] = '~';
			pointer[o++] = '0';
		} else if (*k == '/') {
			pointer[o++] = '~';
			pointer[o++] = '1';
		} else
			pointer[o++] = *k;
	}
	pointer[o] = '\0';
	return pointer;
}

char *
issues_pointer_index(const char *base, size_t index)
{
	char *pointer;

	if (asprintf(&pointer, "%s/%zu", base != NULL ? base : "", index) == -1)
		return NULL;
	return pointer;
}

json_t *
issues_to_json(const struct issue_list *l)
{
	json_t *list = NULL, *entry;

	if ((list = json_array()) == NULL)
		return NULL;
	for (size_t i = 0; i < l->count; i++) {
		const struct issue *issue = &l->items[i];

		if ((entry = json_object()) == NULL ||
		    json_array_append_new(list, entry) == -1 ||
		    (issue->record >= 0 && json_object_set_new(entry, "record",
		    json_integer(issue->record)) == -1) ||
		    json_object_set_new(entry, "pointer", json_string(issue->pointer)) == -1 ||
		    json_object_set_new(entry, "message", json_string(issue->message)) == -1) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

void
issues_clear(struct issue_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		free(l->items[i].pointer);
		free(l->items[i].message);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}
