/*
 * ICT projects as agencies push them (POST /v1/projects, `ictmonctl import projects`):
 * the body read one record at a time, each record validated field by field and turned
 * into a COPY row for the staging table. Writing the rows is the ingest path's work.
 */
#ifndef ICTMON_PROJECT_H
#define ICTMON_PROJECT_H

#include <stdbool.h>
#include <stddef.h>

struct copy_rows;
struct issue_list;
struct sjson_error;
struct sjson_limits;

/*
 * The staging table's columns, in the order of the COPY rows project_read writes.
 * - record: the project's index in "projects" (the issue list's record index);
 * - agency_pointer: where an unknown agency code is reported ("/projects/N/agency");
 * - agency: the code as given, or the scope's agency when the record has none; whether
 *   it exists is the writer's to check;
 * - the project's fields under their column names (description, category, dates,
 *   costs, currency, cio_rating, funding_* are NULL when not given; review_status
 *   is never NULL: "not_submitted" by default);
 * - arrays as PostgreSQL array literals, every element double-quoted ({"a","b \"c\""});
 *   an absent array is {};
 * - costs exactly as written in the body ("1311264.00" stays so);
 * - content_hash: hex SHA-256 of `data`, so an unchanged re-push can be told apart;
 * - data: the record as accepted, for project_version.data (see project_read).
 */
#define PROJECT_STAGING_COLUMNS						\
	"record int, agency_pointer text, agency text, external_id text, "	\
	"title text, description text, category text, capabilities text[], "	\
	"status text, planned_start date, planned_end date, "			\
	"projected_end date, actual_start date, actual_end date, "		\
	"planned_cost numeric, projected_cost numeric, actual_cost numeric, "	\
	"currency text, review_status text, cio_rating smallint, "		\
	"shared_platforms text[], budget_lines text[], ocids text[], "		\
	"funding_source text, funding_program text, content_hash text, "	\
	"data jsonb"
#define PROJECT_STAGING_NCOLUMNS	27

/* Bounds, in characters (code points) for strings. */
#define PROJECT_ID_MAX			200
#define PROJECT_TITLE_MAX		500
#define PROJECT_DESCRIPTION_MAX		20000
#define PROJECT_NAME_MAX		200	/* category, funding_program */
#define PROJECT_CAPABILITIES_MAX	50	/* tags, each at most PROJECT_TAG_MAX */
#define PROJECT_TAG_MAX			100
#define PROJECT_SHARED_PLATFORMS_MAX	50	/* each at most PROJECT_TAG_MAX */
#define PROJECT_BUDGET_LINES_MAX	200	/* each at most PROJECT_TAG_MAX */
#define PROJECT_OCIDS_MAX		500	/* each at most PROJECT_OCID_MAX */
#define PROJECT_OCID_MAX		200

/* Whose projects a request may write. */
struct project_scope {
	/*
	 * The agency a record without "agency" belongs to: an agency token's own, or the
	 * one an analyst named (ictmonctl --agency); NULL for none.
	 */
	const char	*agency;
	/*
	 * Analyst or admin: a record may name any agency. Otherwise (an agency token) a
	 * record naming an agency other than `agency` is forbidden.
	 */
	bool		 any_agency;
};

struct project_read_result {
	size_t	records;		/* elements of "projects" read */
	/*
	 * Records naming another agency than an agency token's: the caller answers 403
	 * and writes nothing. They are not in the issue list; the first is named here.
	 */
	size_t	forbidden;
	long	forbidden_record;
	char	forbidden_pointer[64];
};

enum project_read_status {
	PROJECT_READ_OK,		/* read whole: see the issues and `forbidden` */
	PROJECT_READ_MALFORMED,		/* not JSON: err says where (400) */
	PROJECT_READ_NOMEM,
};

/*
 * Reads {"projects": [ ... ]} with the strict pull reader, one record at a time, and
 * appends one COPY row per valid record to `rows` (initialised by the caller). Every
 * problem of every record goes to `issues` with its record index and pointer
 * ("/projects/17/planned_cost"); problems with the envelope have record -1. Once the
 * batch has an issue or a forbidden record no more rows are written: `rows` is only
 * complete when there is neither. `data` of a row is the record rewritten: fields in a
 * fixed order, null and empty arrays left out, amounts as JSON numbers in their text,
 * review_status with its default, `agency` the effective agency; two pushes that mean
 * the same thing give the same text and hash. Check rows->failed too.
 */
enum project_read_status project_read(const char *body, size_t len,
			    const struct sjson_limits *limits,
			    const struct project_scope *scope, struct copy_rows *rows,
			    struct issue_list *issues, struct sjson_error *err,
			    struct project_read_result *result);

#endif
