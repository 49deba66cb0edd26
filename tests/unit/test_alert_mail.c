/*
 * What an alert email says (include/alert_mail.h): subjects for one alert, several and
 * a digest, the evidence as tables in text and HTML, amounts, escaping, the 200
 * character cut, and that the result is a message mail_format accepts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "alert_mail.h"
#include "mail.h"
#include "sjson.h"
#include "utf8.h"

#define PUBLIC_URL	"https://ictmon.example.gov"

static const char overlap_summary[] = "4 agencies bought 432332, CLP 812,400,000 in 90 "
    "days (2026-01-01 to 2026-03-31).";

static size_t
chars_of(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/*
 * OVL-SPEND evidence as sql/indicators/ovl_spend.sql builds it: award rows of
 * ictmon_award_row plus classification, agencies as {code, name}. The amounts come as
 * each reader would give them: a tagged exact number, a jansson integer, a string.
 */
static json_t *
overlap_evidence(void)
{
	json_t *ev = json_pack("{s:s, s:s, s:[{s:s,s:s}, {s:s,s:s}, {s:s,s:s}, {s:s,s:s}],"
	    " s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s},"
	    "    {s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s},"
	    "    {s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}],"
	    " s:I, s:s}",
	    "summary", overlap_summary, "currency", "CLP",
	    "agencies",
	    "code", "MINSAL", "name", "Ministerio de Salud",
	    "code", "MOP", "name", "Ministerio de Obras Públicas",
	    "code", "SII", "name", "Servicio de Impuestos Internos",
	    "code", "SRCEI", "name", "Registro Civil",
	    "rows",
	    "kind", "award", "ocid", "ocds-70d2nz-1001-12-LE26", "award_id", "1",
	    "agency", "MOP", "supplier", "Soluciones Ñuñoa SpA",
	    "title", "Licencias de software de oficina", "date", "2026-01-01",
	    "currency", "CLP", "method", "open", "classification", "432332",
	    "kind", "award", "ocid", "ocds-70d2nz-2002-7-LP26", "award_id", "1",
	    "agency", "MINSAL", "supplier", "Tecnologías del Sur Ltda.",
	    "title", "Software ofimático", "date", "2026-02-10", "amount",
	    (json_int_t)280000000, "currency", "CLP", "method", "direct",
	    "classification", "432332",
	    "kind", "award", "ocid", "ocds-70d2nz-3003-2-LE26", "award_id", "2",
	    "agency", "SII", "supplier", "Soluciones Ñuñoa SpA",
	    "title", "Suite de productividad", "date", "2026-03-31", "amount",
	    "200000000", "currency", "CLP", "method", "selective",
	    "classification", "432332",
	    "rows_total", (json_int_t)3, "class", "432332");

	assert_non_null(ev);
	/* the first award's amount as the strict reader keeps it: exact text */
	assert_int_equal(json_object_set_new(json_array_get(json_object_get(ev, "rows"), 0),
	    "amount", sjson_number_new("332400000.00")), 0);
	return ev;
}

static struct alert_item
overlap_item(const json_t *ev)
{
	struct alert_item it;

	memset(&it, 0, sizeof(it));
	it.id = 42;
	it.rule = "ovl-spend";
	it.code = "OVL-SPEND";
	it.title = "Spending overlap";
	it.severity = "high";
	it.change = ALERT_NEW;
	it.summary = overlap_summary;
	it.amount = "812400000";
	it.currency = "CLP";
	it.evidence = ev;
	it.first_seen = "2026-11-28 13:05 UTC";
	return it;
}

static struct alert_email
email_of(const struct alert_item *items, size_t n)
{
	struct alert_email e;

	memset(&e, 0, sizeof(e));
	e.public_url = PUBLIC_URL;
	e.recipient_name = "José Pérez";
	e.group = "Spending overlap, several agencies";
	e.items = items;
	e.nitems = n;
	return e;
}

/* No control character but LF, and no line longer than 900 characters. */
static void
assert_tidy_lines(const char *s)
{
	size_t col = 0;

	assert_true(utf8_valid(s, strlen(s)));
	for (; *s != '\0'; s++) {
		if (*s == '\n') {
			col = 0;
			continue;
		}
		assert_false((unsigned char)*s < 0x20 || *s == 0x7f);
		if (((unsigned char)*s & 0xc0) != 0x80)
			col++;
		assert_true(col <= 900);
	}
}

/* The composed texts make a message mail_format accepts. */
static void
assert_sendable(const struct alert_email_text *t)
{
	struct mail_message	 m;
	char			*msg;

	memset(&m, 0, sizeof(m));
	m.from.addr = "ictmon@dipres.gob.cl";
	m.to.name = "José Pérez";
	m.to.addr = "jose@mop.gob.cl";
	m.subject = t->subject;
	m.message_id = "<ictmon.1.2@dipres.gob.cl>";
	m.text = t->text;
	m.html = t->html;
	m.boundary_seed = m.message_id;
	msg = mail_format(&m, NULL);
	assert_non_null(msg);
	free(msg);
}

static void
test_one_overlap_says_what_and_how_much(void **state)
{
	json_t			*ev = overlap_evidence();
	struct alert_item	 it = overlap_item(ev);
	struct alert_email	 e = email_of(&it, 1);
	struct alert_email_text	 t;
	const char		*needles[] = {
		"Hello José Pérez,", "[HIGH] New: 4 agencies bought 432332",
		"Amount: CLP 812,400,000", "ocds-70d2nz-1001-12-LE26",
		"ocds-70d2nz-2002-7-LP26", "ocds-70d2nz-3003-2-LE26", "332,400,000",
		"280,000,000", "200,000,000", PUBLIC_URL "/#/alerts/42",
		"MOP (Ministerio de Obras Públicas)", "Soluciones Ñuñoa SpA", "Awards:",
		"first seen 2026-11-28 13:05 UTC",
	};

	(void)state;
	assert_true(alert_email_compose(&e, &t));
	assert_string_equal(t.subject, "Spending overlap: 4 agencies bought 432332, CLP "
	    "812,400,000 in 90 days (2026-01-01 to 2026-03-31)");
	for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
		if (strstr(t.text, needles[i]) == NULL)
			fail_msg("text lacks \"%s\":\n%s", needles[i], t.text);
	/* the preferred columns lead, "kind" is no column */
	assert_non_null(strstr(t.text, "\n  agency  ocid "));
	assert_null(strstr(t.text, "kind"));
	assert_null(strstr(t.text, "more row"));
	assert_tidy_lines(t.text);
	assert_non_null(strstr(t.html, "<th style="));
	assert_non_null(strstr(t.html, ">ocds-70d2nz-3003-2-LE26</td>"));
	assert_non_null(strstr(t.html, "href=\"" PUBLIC_URL "/#/alerts/42\""));
	assert_non_null(strstr(t.html, ">Open in ictmon</a>"));
	assert_non_null(strstr(t.html, "Ministerio de Obras Públicas"));
	assert_null(strstr(t.html, "<script"));
	assert_null(strstr(t.html, "<link"));
	assert_null(strstr(t.html, "src="));
	assert_sendable(&t);
	alert_email_text_free(&t);
	json_decref(ev);
}

static void
test_html_escapes_everything_from_data(void **state)
{
	json_t			*ev = json_pack("{s:[{s:s, s:s, s:s}], s:[s]}", "rows",
				    "kind", "project", "title", "<b>Sistema</b> & \"Portal\"",
				    "agency", "MOP", "agencies", "<i>MOP</i>");
	struct alert_item	 it;
	struct alert_email	 e;
	struct alert_email_text	 t;

	(void)state;
	assert_non_null(ev);
	memset(&it, 0, sizeof(it));
	it.id = 7;
	it.code = "DUP-PROJECT";
	it.title = "<script>alert('x')</script> Duplicates & copies";
	it.severity = "medium";
	it.summary = "Two projects <same> & alike";
	it.agency = "MOP";
	it.evidence = ev;
	e = email_of(&it, 1);
	e.recipient_name = "<img src=x>";
	assert_true(alert_email_compose(&e, &t));
	assert_null(strstr(t.html, "<script"));
	assert_null(strstr(t.html, "<b>"));
	assert_null(strstr(t.html, "<i>"));
	assert_null(strstr(t.html, "<img"));
	assert_non_null(strstr(t.html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; "
	    "Duplicates &amp; copies"));
	assert_non_null(strstr(t.html, "Two projects &lt;same&gt; &amp; alike"));
	assert_non_null(strstr(t.html, "&lt;b&gt;Sistema&lt;/b&gt; &amp; &quot;Portal&quot;"));
	/* the plain text says it as it is */
	assert_non_null(strstr(t.text, "<b>Sistema</b> & \"Portal\""));
	assert_non_null(strstr(t.text, "Projects:"));
	assert_sendable(&t);
	alert_email_text_free(&t);
	json_decref(ev);
}

static void
test_several_alerts_counted_in_subject(void **state)
{
	struct alert_item	 items[5];
	struct alert_email	 e;
	struct alert_email_text	 t;

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		items[i] = overlap_item(NULL);
		items[i].id = 100 + (long long)i;
		items[i].agency = "MOP";
		items[i].change = i < 3 ? ALERT_NEW : ALERT_OPEN;
	}
	e = email_of(items, 5);
	assert_true(alert_email_compose(&e, &t));
	assert_string_equal(t.subject, "Spending overlap: 3 new alerts, 2 open for MOP");
	for (size_t i = 0; i < 5; i++) {
		char link[128];

		snprintf(link, sizeof(link), PUBLIC_URL "/#/alerts/%zu", 100 + i);
		assert_non_null(strstr(t.text, link));
	}
	assert_non_null(strstr(t.text, "[HIGH] Still open: "));
	alert_email_text_free(&t);

	/* different indicators, different agencies: no common title or agency */
	items[1].code = "SPLIT";
	items[1].title = "Split purchases";
	items[4].agency = "MINSAL";
	items[4].change = ALERT_RESOLVED;
	assert_true(alert_email_compose(&e, &t));
	assert_string_equal(t.subject, "ictmon: 3 new alerts, 1 open, 1 resolved");
	alert_email_text_free(&t);

	/* only resolutions */
	items[0].change = items[1].change = ALERT_RESOLVED;
	e.nitems = 2;
	assert_true(alert_email_compose(&e, &t));
	assert_string_equal(t.subject, "ictmon: 2 resolved alerts for MOP");
	alert_email_text_free(&t);

	/* one resolution alone says what it was */
	e.nitems = 1;
	assert_true(alert_email_compose(&e, &t));
	assert_true(strncmp(t.subject, "Resolved: Spending overlap: 4 agencies", 38) == 0);
	assert_non_null(strstr(t.text, "[HIGH] Resolved: "));
	alert_email_text_free(&t);
}

static void
test_and_k_more(void **state)
{
	struct alert_item	 items[2];
	struct alert_email	 e;
	struct alert_email_text	 t;

	(void)state;
	items[0] = overlap_item(NULL);
	items[1] = overlap_item(NULL);
	items[1].id = 43;
	e = email_of(items, 2);
	e.more = 3;
	assert_true(alert_email_compose(&e, &t));
	assert_string_equal(t.subject, "Spending overlap: 2 new alerts and 3 more");
	assert_non_null(strstr(t.text, "\nand 3 more alerts: " PUBLIC_URL "/#/alerts\n"));
	assert_non_null(strstr(t.html, "and 3 more alerts: <a href=\"" PUBLIC_URL
	    "/#/alerts\""));
	assert_sendable(&t);
	alert_email_text_free(&t);

	/* Told what the left-out ones are, the subject counts every alert. */
	e.more_by_change[ALERT_NEW] = 1;
	e.more_by_change[ALERT_OPEN] = 2;
	assert_true(alert_email_compose(&e, &t));
	assert_string_equal(t.subject, "Spending overlap: 3 new alerts, 2 open");
	assert_non_null(strstr(t.text, "\nand 3 more alerts: " PUBLIC_URL "/#/alerts\n"));
	alert_email_text_free(&t);
}

static void
test_digest_subject(void **state)
{
	struct alert_item	 items[8];
	struct alert_email	 e;
	struct alert_email_text	 t;

	(void)state;
	for (size_t i = 0; i < 8; i++) {
		items[i] = overlap_item(NULL);
		items[i].id = (long long)i + 1;
		items[i].change = i < 4 ? ALERT_NEW : i < 7 ? ALERT_OPEN : ALERT_RESOLVED;
	}
	e = email_of(items, 8);
	e.digest = true;
	e.group = "Daily digest, 2026-11-28";
	assert_true(alert_email_compose(&e, &t));
	assert_string_equal(t.subject,
	    "ictmon daily digest, 2026-11-28: 4 new, 3 open, 1 resolved");
	assert_non_null(strstr(t.text, "Your daily digest of ictmon alerts: Daily digest, "
	    "2026-11-28"));
	alert_email_text_free(&t);
}

static void
test_subject_cut_at_200_characters(void **state)
{
	struct alert_item	 it = overlap_item(NULL);
	struct alert_email	 e = email_of(&it, 1);
	struct alert_email_text	 t;
	char			 summary[2048] = "", full[2200];
	size_t			 keep;

	(void)state;
	for (int i = 0; i < 40; i++)
		strcat(summary, "adquisición dispersa ");
	it.summary = summary;
	assert_true(alert_email_compose(&e, &t));
	assert_true(chars_of(t.subject) <= 200);
	assert_true(chars_of(t.subject) > 150);
	keep = strlen(t.subject) - strlen("…");
	assert_string_equal(t.subject + keep, "…");
	/* what is kept is the subject's start, cut where a word ends */
	snprintf(full, sizeof(full), "Spending overlap: %s", summary);
	assert_memory_equal(t.subject, full, keep);
	assert_int_equal(full[keep], ' ');
	assert_int_not_equal(t.subject[keep - 1], ' ');
	assert_sendable(&t);
	alert_email_text_free(&t);

	/* one endless word: cut inside it, on a character boundary */
	memset(summary, 0, sizeof(summary));
	for (int i = 0; i < 300; i++)
		strcat(summary, "ñ");
	it.summary = summary;
	assert_true(alert_email_compose(&e, &t));
	assert_int_equal(chars_of(t.subject), 200);
	assert_true(utf8_valid(t.subject, strlen(t.subject)));
	alert_email_text_free(&t);

	/* a line end in the data never reaches the header */
	it.summary = "two\r\nlines\tand  spaces";
	assert_true(alert_email_compose(&e, &t));
	assert_string_equal(t.subject, "Spending overlap: two lines and spaces");
	alert_email_text_free(&t);
}

static void
test_amounts_in_summary_style(void **state)
{
	json_t			*ev = json_pack("{s:[{s:s, s:s, s:s, s:I},"
				    " {s:s, s:s, s:s, s:I}, {s:s, s:s, s:s, s:I},"
				    " {s:s, s:s, s:s, s:I}]}", "rows",
				    "kind", "budget_line", "amount", "1234.5",
				    "currency", "CLP", "fiscal_year", (json_int_t)2026,
				    "kind", "budget_line", "amount", "-1234567.50",
				    "currency", "CLP", "fiscal_year", (json_int_t)2026,
				    "kind", "budget_line", "amount", "1000.00",
				    "currency", "CLP", "fiscal_year", (json_int_t)2026,
				    "kind", "budget_line", "amount", "0.5",
				    "currency", "USD", "fiscal_year", (json_int_t)2027);
	struct alert_item	 it = overlap_item(ev);
	struct alert_email	 e = email_of(&it, 1);
	struct alert_email_text	 t;

	(void)state;
	assert_non_null(ev);
	assert_true(alert_email_compose(&e, &t));
	assert_non_null(strstr(t.text, "Amount: CLP 812,400,000\n"));
	assert_non_null(strstr(t.text, " 1,234.50 "));
	assert_non_null(strstr(t.text, " -1,234,567.50 "));
	assert_non_null(strstr(t.text, " 1,000 "));
	assert_non_null(strstr(t.text, " 0.50 "));
	/* a year is no amount */
	assert_non_null(strstr(t.text, "  2026"));
	assert_null(strstr(t.text, "2,026"));
	assert_non_null(strstr(t.text, "Budget lines:"));
	assert_non_null(strstr(t.html, "text-align:right;white-space:nowrap\">1,234.50</td>"));
	alert_email_text_free(&t);

	it.amount = "1234.5";
	it.currency = NULL;
	assert_true(alert_email_compose(&e, &t));
	assert_non_null(strstr(t.text, "Amount: 1,234.50\n"));
	alert_email_text_free(&t);
	json_decref(ev);
}

static void
test_rows_capped_with_total(void **state)
{
	json_t			*rows = json_array(), *ev;
	struct alert_item	 it;
	struct alert_email	 e;
	struct alert_email_text	 t;
	size_t			 lines = 0;

	(void)state;
	for (int i = 0; i < 25; i++) {
		char ocid[64];

		snprintf(ocid, sizeof(ocid), "ocds-row-%02d", i);
		json_array_append_new(rows, json_pack("{s:s, s:s, s:I}", "kind", "award",
		    "ocid", ocid, "amount", (json_int_t)1000 * i));
	}
	ev = json_pack("{s:o, s:I}", "rows", rows, "rows_total", (json_int_t)230);
	it = overlap_item(ev);
	e = email_of(&it, 1);
	assert_true(alert_email_compose(&e, &t));
	for (const char *p = t.text; (p = strstr(p, "ocds-row-")) != NULL; p++)
		lines++;
	assert_int_equal(lines, 20);
	assert_non_null(strstr(t.text, "ocds-row-19"));
	assert_null(strstr(t.text, "ocds-row-20"));
	assert_non_null(strstr(t.text, "… and 210 more rows\n"));
	assert_non_null(strstr(t.html, "… and 210 more rows"));
	alert_email_text_free(&t);

	/* without rows_total the array says how many */
	json_object_del(ev, "rows_total");
	assert_true(alert_email_compose(&e, &t));
	assert_non_null(strstr(t.text, "… and 5 more rows\n"));
	alert_email_text_free(&t);
	json_decref(ev);
}

static void
test_kinds_grouped_and_cells_tamed(void **state)
{
	json_t			*ev, *wide = json_object();
	struct alert_item	 it;
	struct alert_email	 e;
	struct alert_email_text	 t;
	char			 longcell[600];
	const char		*awards, *budget;

	(void)state;
	memset(longcell, 'x', sizeof(longcell) - 1);
	longcell[sizeof(longcell) - 1] = '\0';
	/* 30 columns of long cells: the line must still stay under 900 characters */
	for (int i = 0; i < 30; i++) {
		char key[32];

		snprintf(key, sizeof(key), "column_%02d", i);
		json_object_set_new(wide, key, json_string(longcell));
	}
	json_object_set_new(wide, "kind", json_string("feed"));
	ev = json_pack("{s:[{s:s, s:s, s:s, s:[s,s], s:{s:s}},"
	    " {s:s, s:s, s:s, s:s}, {s:s, s:s, s:s}, o], s:[s, s]}", "rows",
	    "kind", "award", "title", "Licencias\nanuales", "ocid", "ocds-a",
	    "suppliers", "Proveedor Uno", "Proveedor Dos", "last_run", "status", "ok",
	    "kind", "budget_line", "agency", "MOP", "program", "01", "classification",
	    "29.07",
	    "kind", "award", "ocid", "ocds-b", "title", longcell,
	    wide, "agencies", "MOP", "MINSAL");
	assert_non_null(ev);
	it = overlap_item(ev);
	e = email_of(&it, 1);
	assert_true(alert_email_compose(&e, &t));
	assert_tidy_lines(t.text);
	awards = strstr(t.text, "Awards:\n");
	budget = strstr(t.text, "Budget lines:\n");
	assert_non_null(awards);
	assert_non_null(budget);
	/* awards first (as the rows come), both award rows in one table */
	assert_true(awards < budget);
	assert_true(strstr(awards, "ocds-b") < budget);
	assert_non_null(strstr(t.text, "Feeds:\n"));
	assert_non_null(strstr(t.text, "Proveedor Uno; Proveedor Dos"));
	assert_non_null(strstr(t.text, "Licencias anuales"));
	/* nested objects are no column */
	assert_null(strstr(t.text, "last run"));
	/* a long cell is cut to 80 characters */
	assert_non_null(strstr(t.text, "xxx…"));
	assert_null(strstr(t.html, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxx"));
	assert_non_null(strstr(t.text, "Agencies: MOP, MINSAL\n"));
	assert_sendable(&t);
	alert_email_text_free(&t);
	json_decref(ev);
}

static void
test_without_public_url_no_links(void **state)
{
	struct alert_item	 items[2];
	struct alert_email	 e;
	struct alert_email_text	 t;

	(void)state;
	items[0] = overlap_item(NULL);
	items[1] = overlap_item(NULL);
	e = email_of(items, 2);
	e.more = 1;
	e.recipient_name = NULL;
	for (int i = 0; i < 2; i++) {
		e.public_url = i == 0 ? NULL : "";
		assert_true(alert_email_compose(&e, &t));
		assert_null(strstr(t.text, "http"));
		assert_null(strstr(t.html, "href"));
		assert_non_null(strstr(t.text, "Hello,\n"));
		assert_non_null(strstr(t.text, "and 1 more alert in ictmon's dashboard."));
		assert_non_null(strstr(t.text, "ictmon's dashboard."));
		alert_email_text_free(&t);
	}
	/* a trailing slash is not doubled */
	e.public_url = PUBLIC_URL "/";
	assert_true(alert_email_compose(&e, &t));
	assert_non_null(strstr(t.text, PUBLIC_URL "/#/alerts/42"));
	alert_email_text_free(&t);
}

static void
test_prose_wrapped_and_footer(void **state)
{
	struct alert_item	 it = overlap_item(NULL);
	struct alert_email	 e = email_of(&it, 1);
	struct alert_email_text	 t;
	char			 summary[4096] = "";
	const char		*line, *end;

	(void)state;
	for (int i = 0; i < 60; i++)
		strcat(summary, "compras paralelas ");
	/* one word nobody reads whole */
	for (int i = 0; i < 1500; i++)
		strcat(summary, "z");
	it.summary = summary;
	assert_true(alert_email_compose(&e, &t));
	assert_tidy_lines(t.text);
	for (line = t.text; (end = strchr(line, '\n')) != NULL; line = end + 1) {
		/* prose (not the tables or links) stays within 76 columns */
		if (strncmp(line, "[HIGH]", 6) == 0 || strncmp(line, "compras", 7) == 0)
			assert_true(chars_of(line) - chars_of(end) <= 76);
	}
	assert_non_null(strstr(t.text, "\n-- \n"));
	assert_non_null(strstr(t.text, "recipient of ictmon"));
	assert_non_null(strstr(t.text, "silence"));
	assert_non_null(strstr(t.html, "silence"));
	alert_email_text_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_overlap_says_what_and_how_much),
		cmocka_unit_test(test_html_escapes_everything_from_data),
		cmocka_unit_test(test_several_alerts_counted_in_subject),
		cmocka_unit_test(test_and_k_more),
		cmocka_unit_test(test_digest_subject),
		cmocka_unit_test(test_subject_cut_at_200_characters),
		cmocka_unit_test(test_amounts_in_summary_style),
		cmocka_unit_test(test_rows_capped_with_total),
		cmocka_unit_test(test_kinds_grouped_and_cells_tamed),
		cmocka_unit_test(test_without_public_url_no_links),
		cmocka_unit_test(test_prose_wrapped_and_footer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
