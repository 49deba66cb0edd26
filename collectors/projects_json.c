/*
 * The projects_json kind: ictmon's own project format, {"projects": [...]} per page,
 * links.next the next page.
 */
#include "kinds.h"

static const struct array_document_kind projects_document = { "projects", "project" };

static void *
projects_document_open(const struct collector_limits *limits, unsigned long long skip)
{
	return array_document_open(&projects_document, limits, skip);
}

const struct collector_ops collector_projects_json = {
	.kind = "projects_json",
	.ingest = INGEST_PROJECTS,
	.format = INGEST_JSON,
	.paged = true,
	.help = "ICT projects as POST /v1/projects takes them ({\"projects\": [...]}): "
	    "one document, or pages followed by links.next.",
	.open = projects_document_open,
	.write = array_document_write,
	.take = array_document_take,
	.next = array_document_next,
	.records = array_document_records,
	.buffered = array_document_buffered,
	.close = array_document_close,
};
