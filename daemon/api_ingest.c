/*
 * POST /v1/projects, /v1/procurement and /v1/budget: what HTTP adds to an ingest — the
 * Content-Type (415), the Idempotency-Key header (400 when malformed), the budget CSV's
 * ?year=&phase= — then the request goes to ingest_submit and its outcome is the reply.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "budget.h"
#include "daemon.h"
#include "ingest.h"


static void
on_ingested(int status, json_t *reply, unsigned flags, void *arg)
{
	struct request *req = arg;

	if (flags & INGEST_REPLAYED)
		http_set_header(req, "Idempotency-Replayed", "true");
	if (status == 503)
		http_set_header(req, "Retry-After", HTTP_RETRY_AFTER);
	http_reply_json(req, status, reply);
}

static void
push(struct request *req, enum ingest_kind kind)
{
	struct ingest_request		 ir;
	struct budget_csv_params	 params;
	const char			*content_type = request_header(req, "Content-Type");
	const char			*key = request_header(req, "Idempotency-Key");
	char				 err[160];

	memset(&ir, 0, sizeof(ir));
	ir.kind = kind;
	if (http_media_type_is(content_type, "application/json"))
		ir.format = INGEST_JSON;
	else if (kind == INGEST_BUDGET && http_media_type_is(content_type, "text/csv"))
		ir.format = INGEST_CSV;
	else {
		http_reply_error(req, 415, kind == INGEST_BUDGET ?
		    "Content-Type must be application/json or text/csv" :
		    "Content-Type must be application/json", NULL);
		return;
	}
	if (key != NULL && !ingest_key_valid(key)) {
		http_reply_error(req, 400, "Idempotency-Key must be 1 to 255 printable "
		    "ASCII characters", NULL);
		return;
	}
	if (ir.format == INGEST_CSV) {
		if (!budget_csv_params_parse(request_query(req, "year"),
		    request_query(req, "phase"), &params, err, sizeof(err))) {
			http_reply_error(req, 400, err, NULL);
			return;
		}
		ir.csv_year = params.fiscal_year;
		ir.csv_phase = params.phase;
	}
	ir.body = request_body(req, &ir.len);
	ir.who = &req->who;
	ir.idempotency_key = key;
	ir.request_id = req->id;
	ir.metrics = req->daemon->metrics;
	/* From here the ingest owns the request until on_ingested replies. */
	ingest_submit(req->daemon->db, req->daemon->cfg, &ir, on_ingested, req);
}

void
api_post_projects(struct request *req)
{
	push(req, INGEST_PROJECTS);
}

void
api_post_procurement(struct request *req)
{
	push(req, INGEST_PROCUREMENT);
}

void
api_post_budget(struct request *req)
{
	push(req, INGEST_BUDGET);
}
