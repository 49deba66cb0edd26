/*
 * What an alert email says: its subject, plain text and HTML, from the alerts of one
 * group (or one recipient's daily digest) as the mailer read them from the database.
 * Pure: the evidence goes in as JSON, the three texts come out.
 */
#ifndef ICTMON_ALERT_MAIL_H
#define ICTMON_ALERT_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

enum alert_change {
	ALERT_NEW,		/* fired since the group's last email (or grew) */
	ALERT_OPEN,		/* still firing, already mailed */
	ALERT_RESOLVED,		/* its condition no longer holds */
};

struct alert_item {
	long long		 id;		/* for the link: PUBLIC_URL/#/alerts/ID */
	const char		*rule;		/* "ovl-spend" */
	const char		*code;		/* indicator code, "OVL-SPEND" */
	const char		*title;		/* indicator title, "Spending overlap" */
	const char		*severity;	/* "low", "medium", "high" */
	enum alert_change	 change;
	const char		*agency;	/* its agency's code, or NULL */
	const char		*summary;	/* evidence.summary: says what and how much */
	const char		*amount;	/* exact decimal text, or NULL */
	const char		*currency;	/* ISO 4217, or NULL */
	const json_t		*evidence;	/* the result's evidence object, or NULL */
	const char		*first_seen;	/* "2026-11-28 13:05 UTC" */
};

struct alert_email {
	const char			*public_url;	/* "https://ictmon.example.gov"; no
							   trailing slash needed */
	const char			*recipient_name; /* may be NULL */
	const char			*group;		/* "Spending overlap, agency MOP" or
							   "Daily digest, 2026-11-28" */
	bool				 digest;
	const struct alert_item		*items;		/* new first, then open, resolved */
	size_t				 nitems;
	size_t				 more;		/* alerts left out: "and K more" */
	size_t				 more_by_change[3]; /* of those, by alert_change,
							   for the subject's counts */
};

struct alert_email_text {
	char	*subject;
	char	*text;
	char	*html;
};

/*
 * Subject: one alert says its title and summary ("Spending overlap: 4 agencies
 * bought 432332, CLP 812,400,000 in 90 days (...)"), several say how many, of what
 * and where, e.g. "Spending overlap: 3 new alerts, 2 open for MOP"; at most 200
 * characters (cut at a word, with "…"). Text and HTML list every item with its
 * severity, change, summary, link, and its evidence rows as a table (agencies,
 * projects, awards, tenders, budget lines, amounts); "and K more" when more > 0.
 * Returns false when out of memory (nothing to free then).
 */
bool	alert_email_compose(const struct alert_email *e, struct alert_email_text *out);
void	alert_email_text_free(struct alert_email_text *t);

#endif
