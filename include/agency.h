/*
 * Agencies as data: validating an agency code, and reading Chile's list of budget
 * institutions (institutions.csv) into ministries and services. Pure: the database
 * side lives in ictmonctl and the API.
 */
#ifndef ICTMON_AGENCY_H
#define ICTMON_AGENCY_H

#include <stdbool.h>
#include <stddef.h>

/* The longest agency code, in bytes (struct principal keeps it with its NUL). */
#define AGENCY_CODE_MAX		31

enum agency_kind {
	AGENCY_MINISTRY,
	AGENCY_SERVICE,
	AGENCY_UNMAPPED,	/* created from an OCDS buyer nobody has mapped yet */
};

/* ^[0-9A-Za-z][0-9A-Za-z._-]*$, at most AGENCY_CODE_MAX bytes. */
bool		 agency_code_valid(const char *code);
/* "ministry", "service", "unmapped": agency.kind in the schema. */
const char	*agency_kind_name(enum agency_kind kind);

/* One agency of institutions.csv. */
struct agency_entry {
	enum agency_kind	 kind;		/* MINISTRY or SERVICE */
	char			 code[8];	/* "05", "05-62" */
	char			 parent[8];	/* the ministry's code; "" for a ministry */
	char			*name;		/* trimmed, owned */
	unsigned long		 line;
};

struct agency_list {
	struct agency_entry	*entries;	/* every ministry first, then services,
						   each in file order */
	size_t			 count;
	size_t			 ministries;
	size_t			 services;
	size_t			 programs;	/* Programa > 0 rows, skipped */
};

/*
 * Reads institutions.csv (Partida;Capítulo;Programa;Name, no header): Capítulo 0 and
 * Programa 0 is a ministry, code the 2-digit Partida ("05"); Capítulo > 0 and
 * Programa 0 a service, code "PP-CC" ("05-62"), under its ministry, which the file
 * must hold; rows with Programa > 0 are programs, counted and skipped. Numbers are
 * digits only (Partida 1-99, Capítulo and Programa 0-99); names are trimmed, valid
 * UTF-8 and not empty; a code may appear once. On failure returns false, out empty,
 * and err says "line N: ...".
 */
bool	agency_parse_institutions(const char *buf, size_t len, struct agency_list *out,
	    char *err, size_t errlen);
void	agency_list_free(struct agency_list *list);

#endif
