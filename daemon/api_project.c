/*
 * GET /v1/projects/{agency}/{id}: one project on one page, built by one query: its
 * list item, every version measured as the CV and SV indicators measure the project,
 * the awards of its processes, the budget lines it spends from and the current
 * DUP-PROJECT clusters that hold it. The list item's `budget_lines` are classifications
 * ("29.07"); the lines they name are `budget`.
 */
#include <stdlib.h>
#include <string.h>

#include "agency.h"
#include "api.h"
#include "api_read.h"
#include "daemon.h"
#include "db.h"
#include "log.h"
#include "utf8.h"

#define EXTERNAL_ID_MAX	1000	/* bytes: longer is no id ingest accepts */

/*
 * $1 agency code, $2 the project's external id, $3 and $4 the CV and SV parameters.
 * A version's data is the record as accepted (project_version.data), so its amounts
 * are the numbers as they were sent. The duplicates are those of the newest finished
 * run that computed DUP-PROJECT (as /v1/overlaps reads them) whose evidence rows hold
 * this project.
 */
static const char sql_project[] =
    "SELECT json_build_object(" API_PROJECT_FIELDS("p", "a", "v") ","
    "  'agency_name', a.name,"
    "  'versions', (SELECT coalesce(json_agg(json_build_object("
    "    'version', h.version, 'valid_from', " API_UTC_TEXT("h.valid_from") ","
    "    'rebaselined', project_rebaselined(h.previous, h.data),"
    "    'status', h.data ->> 'status', 'planned_cost', h.data ->> 'planned_cost',"
    "    'projected_cost', h.data ->> 'projected_cost',"
    "    'actual_cost', h.data ->> 'actual_cost',"
    "    'planned_end', h.data ->> 'planned_end',"
    "    'projected_end', h.data ->> 'projected_end',"
    "    'cv_percent', hv.cv_percent, 'sv_percent', hv.sv_percent,"
    "    'cost_band', hv.cost_band, 'schedule_band', hv.schedule_band)"
    "    ORDER BY h.version), '[]')"
    "   FROM (SELECT pv.version, pv.valid_from, pv.data,"
    "     lag(pv.data) OVER (ORDER BY pv.version) AS previous"
    "    FROM project_version pv WHERE pv.project_id = p.id) h"
    "   CROSS JOIN LATERAL project_variance(h.data,"
    "    ($3::jsonb ->> 'medium')::numeric, ($3::jsonb ->> 'high')::numeric,"
    "    ($4::jsonb ->> 'medium')::numeric, ($4::jsonb ->> 'high')::numeric) hv),"
    "  'awards', (SELECT coalesce(json_agg(" API_AWARD_OBJECT("w", "g", "t")
    "    ORDER BY w.ocid, w.award_id), '[]')"
    "   FROM award w LEFT JOIN agency g ON g.id = w.buyer_agency_id"
    "   LEFT JOIN tender t ON t.ocid = w.ocid WHERE w.ocid = ANY (p.ocids)),"
    "  'budget', (SELECT coalesce(json_agg(" API_BUDGET_OBJECT("b", "a")
    "    ORDER BY b.id), '[]')"
    "   FROM budget_line b WHERE b.agency_id = p.agency_id"
    "    AND budget_classification_under(budget_classification(b.subtitulo, b.item,"
    "     b.asignacion), p.budget_lines)),"
    "  'duplicates', (SELECT coalesce(json_agg(json_build_object('id', x.id,"
    "    'value', x.value::text, 'band', x.band,"
    "    'agencies', coalesce((SELECT json_agg(g.code ORDER BY g.code) FROM agency g"
    "     WHERE g.id = ANY (x.agencies)), '[]'),"
    "    'amount', x.amount::text, 'currency', x.currency,"
    "    'summary', CASE WHEN jsonb_typeof(x.evidence -> 'summary') = 'string'"
    "     THEN x.evidence ->> 'summary' END) ORDER BY x.amount DESC NULLS LAST, x.id),"
    "    '[]')"
    "   FROM indicator_result x"
    "   WHERE x.code = 'DUP-PROJECT' AND x.run_id = (SELECT r.id FROM indicator_run r"
    "     WHERE r.status = 'done' AND 'DUP-PROJECT' = ANY (r.codes)"
    "     ORDER BY r.finished_at DESC, r.id DESC LIMIT 1)"
    "    AND x.evidence -> 'rows' @> jsonb_build_array("
    "     jsonb_build_object('project_id', p.id))))::text"
    " FROM project p JOIN agency a ON a.id = p.agency_id"
    " CROSS JOIN LATERAL project_variance(p.status, p.planned_cost, p.projected_cost,"
    "  p.actual_cost, p.planned_start, p.planned_end, p.projected_end, p.actual_end,"
    "  ($3::jsonb ->> 'medium')::numeric, ($3::jsonb ->> 'high')::numeric,"
    "  ($4::jsonb ->> 'medium')::numeric, ($4::jsonb ->> 'high')::numeric) v"
    " WHERE a.code = $1 AND p.external_id = $2";

static const struct api_object project_object = { "project", NULL };

void
api_get_project(struct request *req)
{
	const char	*agency = request_param(req, "agency");
	const char	*id = request_param(req, "id");
	const char	*values[4];
	char		*cv_params = NULL, *sv_params = NULL;

	/* Neither can name a stored project: no such project, whoever asks. */
	if (agency == NULL || !agency_code_valid(agency) || id == NULL || id[0] == '\0' ||
	    strlen(id) > EXTERNAL_ID_MAX || !utf8_valid(id, strlen(id))) {
		http_reply_error(req, 404, "no such project", NULL);
		return;
	}
	if (req->who.role == ROLE_AGENCY && strcmp(agency, req->who.agency_code) != 0) {
		http_reply_error(req, 403, "an agency token reads only its own agency's "
		    "projects", NULL);
		return;
	}
	if ((cv_params = api_variance_params(req->daemon->cfg, "CV")) == NULL ||
	    (sv_params = api_variance_params(req->daemon->cfg, "SV")) == NULL) {
		http_reply_error(req, 500, "out of memory", NULL);
		goto out;
	}
	values[0] = agency;
	values[1] = id;
	values[2] = cv_params;
	values[3] = sv_params;
	api_object_query(req, &project_object, sql_project, 4, values);
out:
	free(cv_params);
	free(sv_params);
}
