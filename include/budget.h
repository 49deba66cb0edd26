/*
 * Budget lines as agencies push them (POST /v1/budget, `ictmonctl import budget`):
 * {"lines": [...]} in JSON, or Chile's budget law layout in CSV, each line validated and
 * turned into a COPY row for the staging table. Writing the rows is the ingest path's work.
 */
#ifndef ICTMON_BUDGET_H
#define ICTMON_BUDGET_H

#include <stdbool.h>
#include <stddef.h>

struct copy_rows;
struct issue_list;
struct sjson_error;
struct sjson_limits;

/*
 * The staging table's columns, in the order of the COPY rows budget_read_* write.
 * - record: the line's index in "lines", or in the CSV's data lines (the issue list's
 *   record index); one CSV line may give two rows (CLP and USD) with the same record;
 * - agency_pointer: where an unknown agency code is reported: "/lines/N/agency", or
 *   "line N" (the CSV line, 1-based, counting a header);
 * - agency: the code as given, or "PP-CC" from the CSV's Partida and Capítulo
 *   ("05-62"; "PP" alone for Capítulo 0), or the scope's agency when a JSON line has
 *   none; whether it exists is the writer's to check;
 * - program: as given; from the CSV the Programa zero-padded to two digits ("01");
 * - item, asignacion, denomination, period: NULL when not given (a CSV line without
 *   Ítem is a subtítulo total; CSV lines are yearly: period NULL);
 * - amount: an exact decimal in currency units: as written in JSON; from the CSV
 *   (thousands, decimal comma) multiplied by 1000 in decimal text ("0,001" gives "1").
 */
#define BUDGET_STAGING_COLUMNS						\
	"record int, agency_pointer text, agency text, fiscal_year smallint, "	\
	"program text, subtitulo smallint, item smallint, asignacion smallint, " \
	"denomination text, phase text, period smallint, amount numeric, "	\
	"currency text"
#define BUDGET_STAGING_NCOLUMNS		13

/* Bounds: strings in characters (code points). */
#define BUDGET_YEAR_MIN			1990
#define BUDGET_YEAR_MAX			2200
#define BUDGET_PROGRAM_MAX		100
#define BUDGET_DENOMINATION_MAX		1000
/* CSV amounts are thousands: 15 integer and 9 fraction digits give AMOUNT_*_MAX units. */
#define BUDGET_CSV_INT_DIGITS_MAX	15
#define BUDGET_CSV_FRAC_DIGITS_MAX	9

/* Whose lines a request may write: as struct project_scope. */
struct budget_scope {
	/*
	 * The agency a JSON line without "agency" belongs to: an agency token's own, or
	 * the one an analyst named; NULL for none. CSV lines always name their agency.
	 */
	const char	*agency;
	/* Analyst or admin: a line may be any agency's; else only `agency`'s. */
	bool		 any_agency;
};

struct budget_read_result {
	size_t	records;		/* JSON lines, or CSV data lines, read */
	/*
	 * Lines of another agency than an agency token's: the caller answers 403 and
	 * writes nothing. They are not in the issue list; the first is named here.
	 */
	size_t	forbidden;
	long	forbidden_record;
	char	forbidden_pointer[64];
};

enum budget_read_status {
	BUDGET_READ_OK,			/* read whole: see the issues and `forbidden` */
	BUDGET_READ_MALFORMED,		/* not JSON, or not CSV: err says where (400) */
	BUDGET_READ_NOMEM,
};

/* What a budget law CSV does not say: the caller's ?year=&phase=. */
struct budget_csv_params {
	int	fiscal_year;
	char	phase[16];
};

/* approved, modified, committed, accrued or paid. */
bool	budget_phase_valid(const char *phase);
/*
 * The query's year and phase (both required) into params; false with err saying what
 * is wrong ("year: must be ...") for a 400.
 */
bool	budget_csv_params_parse(const char *year, const char *phase,
	    struct budget_csv_params *params, char *err, size_t errlen);

/*
 * Reads {"lines": [ ... ]} with the strict pull reader, one line at a time, and
 * appends one COPY row per valid line to `rows` (initialised by the caller). Every
 * problem goes to `issues` ("/lines/4/amount"); problems with the envelope have record
 * -1; a line repeating an earlier one's key (agency, year, program, classification,
 * phase, period, currency) is an issue. Once the batch has an issue or a forbidden line
 * no more rows are written: `rows` is only complete when there is neither. Check
 * rows->failed too.
 */
enum budget_read_status	budget_read_json(const char *body, size_t len,
			    const struct sjson_limits *limits,
			    const struct budget_scope *scope, struct copy_rows *rows,
			    struct issue_list *issues, struct sjson_error *err,
			    struct budget_read_result *result);

/*
 * Reads Chile's budget law layout: `;`-separated, Partida;Capítulo;Programa;Subtítulo;
 * Ítem;Asignación;Denominación;Monto Pesos;Monto Dólar, an optional header line (its
 * first field "Partida"), amounts in thousands with a decimal comma. A line with a
 * peso and a dollar amount gives two rows (CLP and USD); a zero amount gives no row in
 * its currency, but a line with both zero gives CLP 0. Problems go to `issues` at
 * "line N" with the column's name in the message. On a CSV syntax error (an unclosed
 * quote, a NUL byte) returns BUDGET_READ_MALFORMED with err's line and message.
 * The rest as budget_read_json.
 */
enum budget_read_status	budget_read_csv(const char *body, size_t len,
			    const struct budget_csv_params *params,
			    const struct budget_scope *scope, struct copy_rows *rows,
			    struct issue_list *issues, struct sjson_error *err,
			    struct budget_read_result *result);

#endif
