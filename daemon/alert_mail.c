/*
 * What an alert email says (include/alert_mail.h): its subject, plain text and HTML,
 * written from the alerts of one group or digest; the evidence tables in it are
 * evidence_table.c's. Pure: the mailer reads the database and formats and sends the
 * message.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alert_mail.h"
#include "evidence_table.h"
#include "sjson.h"
#include "textout.h"
#include "utf8.h"

/* Characters, not octets. */
#define SUBJECT_MAX	200
/* Prose lines; a word longer than WORD_MAX is broken so no line grows without end. */
#define WRAP		76
#define WORD_MAX	200

/* Inline styles only: mail clients drop <style> and external sheets. */
#define STYLE_BODY	"margin:0;padding:16px;background:#ffffff;color:#1f2328;" \
			"font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:1.4"
#define STYLE_P		"margin:0 0 6px"
#define STYLE_META	"margin:0 0 6px;color:#57606a;font-size:13px"
#define STYLE_ITEM	"margin:0 0 20px;padding:12px 0 0;border-top:1px solid #d0d7de"
#define STYLE_BADGE	"display:inline-block;padding:1px 6px;border-radius:3px;" \
			"color:#ffffff;font-size:12px;font-weight:bold;background:"
#define STYLE_LINK	"color:#0969da"
#define STYLE_FOOTER	"margin:24px 0 0;color:#57606a;font-size:12px"

/* "CLP 812,400,000": an amount as the alert states it; cleaned, NULL when out of memory. */
static char *
amount_dup(const char *amount, const char *currency)
{
	char	 formatted[128], *text = NULL, *cleaned;
	int	 n;

	if (!money_format(amount, formatted, sizeof(formatted)))
		snprintf(formatted, sizeof(formatted), "%s", amount);
	if (currency != NULL && *currency != '\0')
		n = asprintf(&text, "%s %s", currency, formatted);
	else
		n = asprintf(&text, "%s", formatted);
	if (n < 0)
		return NULL;
	cleaned = clean_dup(text);
	free(text);
	return cleaned;
}

/* Writes s wrapped at WRAP columns, every line ending in "\n". */
static void
text_wrap(struct out *o, const char *s)
{
	size_t	col = 0, n, chars, piece;

	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		n = strcspn(s, " ");
		chars = utf8_chars(s, n);
		if (chars > WORD_MAX) {
			/* a word no one reads whole: broken rather than a line without end */
			piece = utf8_prefix(s, WORD_MAX);
			if (col > 0)
				out_str(o, "\n");
			out_bytes(o, s, piece);
			out_str(o, "\n");
			col = 0;
			s += piece;
			continue;
		}
		if (col > 0 && col + 1 + chars > WRAP) {
			out_str(o, "\n");
			col = 0;
		} else if (col > 0) {
			out_str(o, " ");
			col++;
		}
		out_bytes(o, s, n);
		col += chars;
		s += n;
	}
	if (col > 0)
		out_str(o, "\n");
}

/* A paragraph, written whole into p (opened by the caller), then wrapped into o. */
static void
para_done(struct out *p, struct out *o)
{
	char	*s;

	if ((s = out_close(p)) == NULL) {
		o->failed = true;
		return;
	}
	text_wrap(o, s);
	free(s);
}

/* "MOP (Ministerio de Obras Públicas), MINSAL": evidence.agencies, codes or objects. */
static void
agencies_write(struct out *o, const json_t *agencies, bool html)
{
	size_t		 i, written = 0;
	const json_t	*a, *code, *name;

	json_array_foreach(agencies, i, a) {
		if (json_is_string(a) && sjson_number(a) == NULL) {
			code = a;
			name = NULL;
		} else if (json_is_object(a)) {
			code = json_object_get(a, "code");
			name = json_object_get(a, "name");
		} else
			continue;
		code = json_is_string(code) && sjson_number(code) == NULL ? code : NULL;
		name = json_is_string(name) && sjson_number(name) == NULL ? name : NULL;
		if (code == NULL && name == NULL)
			continue;
		if (written++ > 0)
			out_str(o, ", ");
		if (html)
			out_html(o, json_string_value(code != NULL ? code : name));
		else
			out_clean(o, json_string_value(code != NULL ? code : name));
		if (code != NULL && name != NULL) {
			out_str(o, " (");
			if (html)
				out_html(o, json_string_value(name));
			else
				out_clean(o, json_string_value(name));
			out_str(o, ")");
		}
	}
}

static size_t
agencies_count(const json_t *agencies)
{
	size_t		 i, n = 0;
	const json_t	*a;

	json_array_foreach(agencies, i, a)
		if (json_is_string(a) || json_is_object(a))
			n++;
	return n;
}

static const char *
change_label(enum alert_change change)
{
	switch (change) {
	case ALERT_NEW:
		return "New";
	case ALERT_RESOLVED:
		return "Resolved";
	case ALERT_OPEN:
		break;
	}
	return "Still open";
}

static const char *
severity_colour(const char *severity)
{
	if (severity != NULL && strcmp(severity, "high") == 0)
		return "#b42318";
	if (severity != NULL && strcmp(severity, "medium") == 0)
		return "#b54708";
	return "#475467";
}

/* "HIGH" for the badge: the letters of the severity, or "ALERT". */
static void
severity_upper(const char *severity, char *buf, size_t len)
{
	size_t	n = 0;

	for (const char *p = severity != NULL ? severity : ""; *p != '\0' && n + 1 < len; p++)
		if (isalpha((unsigned char)*p) && (unsigned char)*p < 0x80)
			buf[n++] = (char)toupper((unsigned char)*p);
	buf[n] = '\0';
	if (n == 0)
		snprintf(buf, len, "ALERT");
}

/* Everything the text and the HTML need, with the dashboard's base URL once. */
struct compose {
	const struct alert_email	*e;
	char				*base;		/* public_url without a trailing
							   slash, or NULL: no links */
	struct out			 text;
	struct out			 html;
};

static void
item_write(struct compose *c, const struct alert_item *it)
{
	struct out	 p;
	const json_t	*agencies = json_object_get(it->evidence, "agencies");
	const char	*summary = it->summary != NULL && *it->summary != '\0' ?
			    it->summary : it->title;
	char		 severity[32], *amount = NULL;

	severity_upper(it->severity, severity, sizeof(severity));
	if (it->amount != NULL && *it->amount != '\0' &&
	    (amount = amount_dup(it->amount, it->currency)) == NULL)
		c->text.failed = true;

	/* text */
	out_str(&c->text, "\n");
	out_open(&p);
	out_printf(&p, "[%s] %s: ", severity, change_label(it->change));
	out_clean(&p, summary);
	para_done(&p, &c->text);
	out_open(&p);
	out_clean(&p, it->title);
	if (it->code != NULL) {
		out_str(&p, " (");
		out_clean(&p, it->code);
		out_str(&p, ")");
	}
	if (it->agency != NULL) {
		out_str(&p, ", agency ");
		out_clean(&p, it->agency);
	}
	if (it->first_seen != NULL) {
		out_str(&p, ", first seen ");
		out_clean(&p, it->first_seen);
	}
	out_str(&p, ".");
	para_done(&p, &c->text);
	if (amount != NULL)
		out_printf(&c->text, "Amount: %s\n", amount);
	if (agencies_count(agencies) > 0) {
		out_open(&p);
		out_str(&p, "Agencies: ");
		agencies_write(&p, agencies, false);
		para_done(&p, &c->text);
	}
	if (c->base != NULL)
		out_printf(&c->text, "Open in ictmon: %s/#/alerts/%lld\n", c->base, it->id);

	/* HTML */
	out_printf(&c->html, "<div style=\"" STYLE_ITEM "\">\n<p style=\"" STYLE_P
	    "\"><span style=\"" STYLE_BADGE "%s\">", severity_colour(it->severity));
	out_html(&c->html, severity);
	out_printf(&c->html, "</span> <strong>%s:</strong> ", change_label(it->change));
	out_html(&c->html, summary);
	out_str(&c->html, "</p>\n<p style=\"" STYLE_META "\">");
	out_html(&c->html, it->title);
	if (it->code != NULL) {
		out_str(&c->html, " (");
		out_html(&c->html, it->code);
		out_str(&c->html, ")");
	}
	if (it->agency != NULL) {
		out_str(&c->html, " &middot; agency ");
		out_html(&c->html, it->agency);
	}
	if (it->first_seen != NULL) {
		out_str(&c->html, " &middot; first seen ");
		out_html(&c->html, it->first_seen);
	}
	out_str(&c->html, "</p>\n");
	if (amount != NULL) {
		out_str(&c->html, "<p style=\"" STYLE_P "\">Amount: <strong>");
		out_html(&c->html, amount);
		out_str(&c->html, "</strong></p>\n");
	}
	if (agencies_count(agencies) > 0) {
		out_str(&c->html, "<p style=\"" STYLE_P "\">Agencies: ");
		agencies_write(&c->html, agencies, true);
		out_str(&c->html, "</p>\n");
	}
	if (c->base != NULL) {
		out_str(&c->html, "<p style=\"" STYLE_P "\"><a href=\"");
		out_html(&c->html, c->base);
		out_printf(&c->html, "/#/alerts/%lld\" style=\"" STYLE_LINK
		    "\">Open in ictmon</a></p>\n", it->id);
	}

	if (it->evidence != NULL)
		evidence_tables_write(&c->text, &c->html, it->evidence);
	out_str(&c->html, "</div>\n");
	free(amount);
}

/* "Daily digest, 2026-11-28" is what the mailer calls a digest; the subject says it once. */
static const char *
digest_group(const char *group)
{
	static const char	prefix[] = "Daily digest, ";

	if (group == NULL)
		return NULL;
	if (strncasecmp(group, prefix, sizeof(prefix) - 1) == 0)
		return group + sizeof(prefix) - 1;
	return group;
}

static void
counts_write(struct out *o, const struct alert_email *e, bool noun)
{
	static const char	*labels[] = { "new", "open", "resolved" };
	size_t			 counts[3] = { 0, 0, 0 }, parts = 0, unknown = e->more;

	for (size_t i = 0; i < e->nitems; i++) {
		switch (e->items[i].change) {
		case ALERT_NEW:
			counts[0]++;
			break;
		case ALERT_OPEN:
			counts[1]++;
			break;
		case ALERT_RESOLVED:
			counts[2]++;
			break;
		}
	}
	/* Alerts left out count too, when the caller says what they are. */
	for (size_t k = 0; k < 3; k++) {
		size_t left = e->more_by_change[k] < unknown ? e->more_by_change[k] :
		    unknown;

		counts[k] += left;
		unknown -= left;
	}
	for (size_t k = 0; k < 3; k++) {
		if (counts[k] == 0)
			continue;
		out_printf(o, "%s%zu %s", parts++ > 0 ? ", " : "", counts[k], labels[k]);
		/* the first count names what is counted: "3 new alerts, 2 open" */
		if (noun && parts == 1)
			out_str(o, counts[k] == 1 ? " alert" : " alerts");
	}
	if (parts == 0)
		out_str(o, "no changes");
	if (unknown > 0)
		out_printf(o, " and %zu more", unknown);
}

static const char *
common_agency(const struct alert_email *e)
{
	const char	*agency = e->nitems > 0 ? e->items[0].agency : NULL;

	for (size_t i = 1; agency != NULL && i < e->nitems; i++)
		if (e->items[i].agency == NULL || strcmp(e->items[i].agency, agency) != 0)
			return NULL;
	return agency;
}

static const struct alert_item *
common_code(const struct alert_email *e)
{
	const struct alert_item	*first = e->nitems > 0 ? &e->items[0] : NULL;

	if (first == NULL || first->code == NULL)
		return NULL;
	for (size_t i = 1; i < e->nitems; i++)
		if (e->items[i].code == NULL || strcmp(e->items[i].code, first->code) != 0)
			return NULL;
	return first;
}

/*
 * At most SUBJECT_MAX characters on one line: white space runs made one space, and a
 * longer subject cut at a word (at a character if no word ends late enough) with "…".
 */
static char *
subject_finish(const char *raw)
{
	char	*s, *o, *out;
	size_t	 keep, cut;

	if ((s = clean_dup(raw)) == NULL)
		return NULL;
	/* clean_dup made every control a space; one space between words */
	o = s;
	for (char *p = s; *p != '\0'; p++)
		if (*p != ' ' || (o > s && o[-1] != ' '))
			*o++ = *p;
	while (o > s && o[-1] == ' ')
		o--;
	*o = '\0';
	if (utf8_chars(s, strlen(s)) <= SUBJECT_MAX)
		return s;
	keep = utf8_prefix(s, SUBJECT_MAX - 1);
	for (cut = keep; cut > 0 && s[cut] != ' '; cut--)
		;
	/* a word boundary in the last half; else a long word is cut inside */
	if (cut > 0 && utf8_chars(s, cut) >= SUBJECT_MAX / 2)
		keep = cut;
	while (keep > 0 && strchr(" ,;:", s[keep - 1]) != NULL)
		keep--;
	if ((out = malloc(keep + sizeof(OUT_ELLIPSIS))) != NULL) {
		memcpy(out, s, keep);
		memcpy(out + keep, OUT_ELLIPSIS, sizeof(OUT_ELLIPSIS));
	}
	free(s);
	return out;
}

static char *
subject_compose(const struct alert_email *e)
{
	const struct alert_item	*it, *common;
	const char		*agency, *group;
	struct out		 o;
	char			*raw, *subject;
	size_t			 n;

	if (!out_open(&o))
		return NULL;
	if (e->digest) {
		out_str(&o, "ictmon daily digest");
		if ((group = digest_group(e->group)) != NULL && *group != '\0') {
			out_str(&o, ", ");
			out_str(&o, group);
		}
		out_str(&o, ": ");
		counts_write(&o, e, false);
	} else if (e->nitems == 1 && e->more == 0) {
		it = &e->items[0];
		if (it->change == ALERT_RESOLVED)
			out_str(&o, "Resolved: ");
		out_str(&o, it->title != NULL ? it->title : it->code != NULL ? it->code :
		    "ictmon");
		out_str(&o, ": ");
		if (it->summary != NULL && *it->summary != '\0') {
			/* a subject is not a sentence: no closing full stop */
			n = strlen(it->summary);
			out_bytes(&o, it->summary, n > 0 && it->summary[n - 1] == '.' ?
			    n - 1 : n);
		} else
			out_str(&o, change_label(it->change));
	} else {
		common = common_code(e);
		out_str(&o, common != NULL && common->title != NULL ? common->title :
		    "ictmon");
		out_str(&o, ": ");
		counts_write(&o, e, true);
		if ((agency = common_agency(e)) != NULL) {
			out_str(&o, " for ");
			out_str(&o, agency);
		}
	}
	if ((raw = out_close(&o)) == NULL)
		return NULL;
	subject = subject_finish(raw);
	free(raw);
	return subject;
}

/* The dashboard's address without trailing slashes; NULL when there is none. */
static bool
base_url(const char *public_url, char **base)
{
	size_t	n;

	*base = NULL;
	if (public_url == NULL || *public_url == '\0')
		return true;
	if ((*base = clean_dup(public_url)) == NULL)
		return false;
	for (n = strlen(*base); n > 0 && (*base)[n - 1] == '/'; n--)
		(*base)[n - 1] = '\0';
	return true;
}

static void
header_write(struct compose *c, const char *subject)
{
	const struct alert_email	*e = c->e;
	struct out			 p;

	out_str(&c->html, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<title>");
	out_html(&c->html, subject);
	out_str(&c->html, "</title>\n</head>\n<body style=\"" STYLE_BODY "\">\n");

	if (e->recipient_name != NULL && *e->recipient_name != '\0') {
		out_open(&p);
		out_str(&p, "Hello ");
		out_clean(&p, e->recipient_name);
		out_str(&p, ",");
		para_done(&p, &c->text);
		out_str(&c->html, "<p style=\"margin:0 0 12px\">Hello ");
		out_html(&c->html, e->recipient_name);
		out_str(&c->html, ",</p>\n");
	} else {
		out_str(&c->text, "Hello,\n");
		out_str(&c->html, "<p style=\"margin:0 0 12px\">Hello,</p>\n");
	}
	out_str(&c->text, "\n");
	out_open(&p);
	out_str(&p, e->digest ? "Your daily digest of ictmon alerts" :
	    e->nitems + e->more == 1 ? "An ictmon alert" : "ictmon alerts");
	if (e->group != NULL && *e->group != '\0') {
		out_str(&p, ": ");
		out_clean(&p, e->group);
	}
	para_done(&p, &c->text);
	out_str(&c->html, "<h1 style=\"margin:0 0 16px;font-size:20px\">");
	out_html(&c->html, e->group != NULL && *e->group != '\0' ? e->group :
	    "ictmon alerts");
	out_str(&c->html, "</h1>\n");
}

static void
footer_write(struct compose *c)
{
	const struct alert_email	*e = c->e;
	struct out			 p;

	if (e->more > 0) {
		out_str(&c->text, "\n");
		if (c->base != NULL) {
			out_printf(&c->text, "and %zu more alert%s: %s/#/alerts\n", e->more,
			    e->more == 1 ? "" : "s", c->base);
			out_printf(&c->html, "<p style=\"" STYLE_P "\">and %zu more alert%s: "
			    "<a href=\"", e->more, e->more == 1 ? "" : "s");
			out_html(&c->html, c->base);
			out_str(&c->html, "/#/alerts\" style=\"" STYLE_LINK "\">");
			out_html(&c->html, c->base);
			out_str(&c->html, "/#/alerts</a></p>\n");
		} else {
			out_printf(&c->text, "and %zu more alert%s in ictmon's dashboard.\n",
			    e->more, e->more == 1 ? "" : "s");
			out_printf(&c->html, "<p style=\"" STYLE_P "\">and %zu more alert%s in "
			    "ictmon&#39;s dashboard.</p>\n", e->more, e->more == 1 ? "" : "s");
		}
	}
	out_str(&c->text, "\n-- \n");
	out_open(&p);
	out_str(&p, "You receive this email because you are a recipient of ictmon "
	    "alerts. To stop emails about an alert, acknowledge it or silence it in "
	    "ictmon's dashboard");
	out_str(&p, c->base != NULL ? ":" : ".");
	para_done(&p, &c->text);
	/* alone on its line: no full stop for a mail client to take into the link */
	if (c->base != NULL)
		out_printf(&c->text, "%s/#/alerts\n", c->base);

	out_str(&c->html, "<p style=\"" STYLE_FOOTER "\">You receive this email because "
	    "you are a recipient of ictmon alerts. To stop emails about an alert, "
	    "acknowledge it or silence it in ");
	if (c->base != NULL) {
		out_str(&c->html, "<a href=\"");
		out_html(&c->html, c->base);
		out_str(&c->html, "/#/alerts\" style=\"" STYLE_LINK "\">ictmon&#39;s "
		    "dashboard</a>");
	} else
		out_str(&c->html, "ictmon&#39;s dashboard");
	out_str(&c->html, ".</p>\n</body>\n</html>\n");
}

bool
alert_email_compose(const struct alert_email *e, struct alert_email_text *out)
{
	struct compose	c;
	bool		ok = false;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.e = e;
	if (!base_url(e->public_url, &c.base) || (out->subject = subject_compose(e)) == NULL)
		goto out;
	if (!out_open(&c.text) || !out_open(&c.html))
		goto out;
	header_write(&c, out->subject);
	for (size_t i = 0; i < e->nitems; i++)
		item_write(&c, &e->items[i]);
	footer_write(&c);
	out->text = out_close(&c.text);
	out->html = out_close(&c.html);
	ok = out->text != NULL && out->html != NULL;
out:
	/* after a close these are no-ops; before it, they free what was written */
	out_close(&c.text);
	out_close(&c.html);
	free(c.base);
	if (!ok)
		alert_email_text_free(out);
	return ok;
}

void
alert_email_text_free(struct alert_email_text *t)
{
	if (t == NULL)
		return;
	free(t->subject);
	free(t->text);
	free(t->html);
	t->subject = t->text = t->html = NULL;
}
