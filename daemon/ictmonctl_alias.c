/*
 * `ictmonctl agency alias`: the other names an agency goes by in other systems
 * (agency_alias), such as the buyer id its purchasing unit has in OCDS releases. Mapping
 * an OCDS buyer also moves the procurement already stored under that buyer to the
 * agency, so that a buyer first seen unmapped (an "u-..." agency) joins its agency.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agency.h"
#include "ictmonctl.h"

#define ALIAS_MAX	200	/* bytes of an identifier */
#define SCHEME_OCDS	"ocds-buyer"

/* Locks the alias row, if there is one: what it maps to now. */
static const char sql_current[] =
    "SELECT g.id, g.code, g.kind FROM agency_alias x JOIN agency g ON g.id = x.agency_id"
    " WHERE x.scheme = $1 AND x.identifier = $2 FOR UPDATE OF x";

static const char sql_upsert[] =
    "INSERT INTO agency_alias (scheme, identifier, agency_id) VALUES ($1, $2, $3::bigint)"
    " ON CONFLICT (scheme, identifier) DO UPDATE SET agency_id = EXCLUDED.agency_id";

/*
 * The compiled processes whose buyer is the identifier ($2), and their tenders and
 * awards, move to the agency ($1), by the rule the ingest path reads a buyer with.
 */
static const char sql_move_procurement[] =
    "WITH moved AS (UPDATE ocds_compiled c SET buyer_agency_id = $1::bigint"
    "  WHERE ocds_buyer_id(c.data) = $2 AND c.buyer_agency_id IS DISTINCT FROM $1::bigint"
    "  RETURNING c.ocid),"
    " tenders AS (UPDATE tender t SET buyer_agency_id = $1::bigint FROM moved m"
    "  WHERE t.ocid = m.ocid RETURNING 1),"
    " awards AS (UPDATE award w SET buyer_agency_id = $1::bigint FROM moved m"
    "  WHERE w.ocid = m.ocid RETURNING 1)"
    " SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM tenders),"
    "  (SELECT count(*) FROM awards)";

/* An unmapped agency left with no alias and nothing of its own goes. */
static const char sql_drop_unmapped[] =
    "DELETE FROM agency g WHERE g.id = $1::bigint AND g.kind = 'unmapped'"
    " AND NOT EXISTS (SELECT 1 FROM agency_alias x WHERE x.agency_id = g.id)"
    " AND NOT EXISTS (SELECT 1 FROM ocds_compiled c WHERE c.buyer_agency_id = g.id)";

static bool
scheme_valid(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-");

	return n > 0 && n <= 32 && s[n] == '\0' && s[0] != '-';
}

static bool
identifier_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > ALIAS_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return s[0] != ' ' && s[len - 1] != ' ';
}

/* Drops the unmapped agency `id` when nothing is left of it; a row of its own that
   still refers to it (a project, an alert) keeps it, and that is no failure. */
static void
drop_unmapped(struct ctl *ctl, const char *id)
{
	const char	*params[1] = { id };
	PGresult	*res;

	if (!sql_run(ctl, "SAVEPOINT drop_unmapped", 0, NULL))
		return;
	res = PQexecParams(ctl->pg, sql_drop_unmapped, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		(void)sql_run(ctl, "ROLLBACK TO SAVEPOINT drop_unmapped", 0, NULL);
	PQclear(res);
}

int
cmd_agency_alias(struct ctl *ctl)
{
	const char	*code = ctl->args[0], *identifier = ctl->args[1];
	const char	*scheme = option(ctl, "scheme");
	const char	*params[3];
	char		 id[24], was[AGENCY_CODE_MAX + 1] = "", was_id[24] = "";
	char		 moved[96] = "";
	PGresult	*res = NULL;
	int		 rc = EXIT_FAIL;
	bool		 unmapped = false;

	if (scheme == NULL)
		scheme = SCHEME_OCDS;
	if (!agency_code_valid(code))
		return usage_error(ctl->cmd, "\"%s\" is not an agency code", code);
	if (!scheme_valid(scheme))
		return usage_error(ctl->cmd, "\"%s\" is not a scheme (a-z, 0-9, -)", scheme);
	if (!identifier_valid(identifier))
		return usage_error(ctl->cmd, "the identifier must be 1 to %d printable "
		    "characters, without spaces around", ALIAS_MAX);

	if (db_open(ctl) != EXIT_OK)
		goto out;
	if (!sql_run(ctl, "BEGIN", 0, NULL) || !agency_id(ctl, code, id))
		goto out;
	params[0] = scheme;
	params[1] = identifier;
	if ((res = sql(ctl, sql_current, 2, params)) == NULL)
		goto out;
	if (PQntuples(res) == 1) {
		snprintf(was_id, sizeof(was_id), "%s", PQgetvalue(res, 0, 0));
		snprintf(was, sizeof(was), " (was %s)", PQgetvalue(res, 0, 1));
		unmapped = strcmp(PQgetvalue(res, 0, 2), "unmapped") == 0;
	}
	PQclear(res);
	res = NULL;
	if (strcmp(was_id, id) == 0) {
		if (!sql_run(ctl, "COMMIT", 0, NULL))
			goto out;
		printf("%s %s is already %s\n", scheme, identifier, code);
		rc = EXIT_OK;
		goto out;
	}
	params[2] = id;
	if (!sql_run(ctl, sql_upsert, 3, params))
		goto out;
	if (strcmp(scheme, SCHEME_OCDS) == 0) {
		params[0] = id;
		params[1] = identifier;
		if ((res = sql(ctl, sql_move_procurement, 2, params)) == NULL)
			goto out;
		snprintf(moved, sizeof(moved), ": %s processes, %s tenders and %s awards moved",
		    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	}
	if (unmapped)
		drop_unmapped(ctl, was_id);
	if (!sql_run(ctl, "COMMIT", 0, NULL))
		goto out;
	printf("%s %s is now %s%s%s\n", scheme, identifier, code, was, moved);
	rc = EXIT_OK;
out:
	PQclear(res);
	return rc;
}
