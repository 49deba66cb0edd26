/*
 * The read API's items as PostgreSQL builds them, shared by the lists (api_read.c)
 * and the one project's page (api_project.c) so that an item reads the same in both.
 */
#ifndef ICTMON_API_READ_H
#define ICTMON_API_READ_H

struct config;

/* A time as the API writes it: UTC, microseconds, "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
#define API_UTC_TEXT(col) \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/*
 * A project's members: p the project row, a its agency, v its project_variance()
 * (as the CV and SV indicators compute it, with their bands' parameters). For a
 * json_build_object() of its own or with more members after them.
 */
#define API_PROJECT_FIELDS(p, a, v) \
    "'id', " p ".external_id, 'agency', " a ".code, 'title', " p ".title," \
    " 'description', " p ".description, 'category', " p ".category," \
    " 'capabilities', " p ".capabilities, 'status', " p ".status," \
    " 'planned_start', " p ".planned_start, 'planned_end', " p ".planned_end," \
    " 'projected_end', " p ".projected_end, 'actual_start', " p ".actual_start," \
    " 'actual_end', " p ".actual_end, 'planned_cost', " p ".planned_cost::text," \
    " 'projected_cost', " p ".projected_cost::text," \
    " 'actual_cost', " p ".actual_cost::text," \
    " 'currency', " p ".currency, 'review_status', " p ".review_status," \
    " 'cio_rating', " p ".cio_rating, 'shared_platforms', " p ".shared_platforms," \
    " 'budget_lines', " p ".budget_lines, 'ocids', " p ".ocids, 'funding_source', " p ".funding_source," \
    " 'funding_program', " p ".funding_program," \
    " 'version', " p ".version, 'updated_at', " API_UTC_TEXT(p ".updated_at") "," \
    " 'cv', " v ".cv::text, 'cv_percent', " v ".cv_percent, 'sv_days', " v ".sv_days," \
    " 'sv_percent', " v ".sv_percent, 'cost_band', " v ".cost_band," \
    " 'schedule_band', " v ".schedule_band," \
    " 'rebaselines', project_rebaselines(" p ".id)"

#define API_PROJECT_OBJECT(p, a, v) "json_build_object(" API_PROJECT_FIELDS(p, a, v) ")"

/*
 * An award: w the award, g its buyer agency (may be NULL), t its tender (may be
 * NULL). Its classifications are its items'; an award without classified items has
 * its tender's. Its method is the tender's procurementMethod.
 */
#define API_AWARD_OBJECT(w, g, t) \
    "json_build_object(" \
    "  'ocid', " w ".ocid, 'award_id', " w ".award_id, 'buyer', " g ".code," \
    "  'title', " w ".title," \
    "  'suppliers', coalesce((SELECT json_agg(json_build_object('id', s.id," \
    "    'name', s.name) ORDER BY s.id) FROM award_supplier x" \
    "    JOIN supplier s ON s.id = x.supplier_id" \
    "    WHERE x.ocid = " w ".ocid AND x.award_id = " w ".award_id), '[]')," \
    "  'amount', " w ".value_amount::text, 'currency', " w ".currency," \
    "  'date', " API_UTC_TEXT(w ".date") ", 'status', " w ".status," \
    "  'method', " t ".method," \
    "  'classifications', coalesce((SELECT json_agg(c ORDER BY c ->> 'scheme'," \
    "    c ->> 'id') FROM (SELECT DISTINCT jsonb_build_object(" \
    "     'scheme', i.classification_scheme, 'id', i.classification_id) AS c" \
    "    FROM item i WHERE i.ocid = " w ".ocid AND i.classification_id IS NOT NULL" \
    "     AND ((i.parent_kind = 'award' AND i.parent_id = " w ".award_id)" \
    "      OR (i.parent_kind = 'tender' AND NOT EXISTS (SELECT 1 FROM item j" \
    "       WHERE j.ocid = " w ".ocid AND j.parent_kind = 'award'" \
    "        AND j.classification_id IS NOT NULL" \
    "        AND j.parent_id = " w ".award_id)))) x), '[]'))"

/* A budget line: b the line, a its agency. */
#define API_BUDGET_OBJECT(b, a) \
    "json_build_object(" \
    "  'id', " b ".id, 'agency', " a ".code, 'fiscal_year', " b ".fiscal_year," \
    "  'program', " b ".program, 'subtitulo', " b ".subtitulo, 'item', " b ".item," \
    "  'asignacion', " b ".asignacion, 'denomination', " b ".denomination," \
    "  'phase', " b ".phase, 'period', " b ".period, 'amount', " b ".amount::text," \
    "  'currency', " b ".currency, 'updated_at', " API_UTC_TEXT(b ".updated_at") ")"

/* The parameters of indicator `code` (CV, SV) as JSON text; the caller frees it. */
char	*api_variance_params(const struct config *cfg, const char *code);

#endif
