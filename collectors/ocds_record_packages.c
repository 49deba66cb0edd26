/*
 * The ocds_record_packages kind: an OCDS record package per page, its records the
 * records, links.next the next page.
 */
#include "kinds.h"

static const struct array_document_kind record_package = { "records", "record" };

static void *
record_package_open(const struct collector_limits *limits, unsigned long long skip)
{
	return array_document_open(&record_package, limits, skip);
}

const struct collector_ops collector_ocds_record_packages = {
	.kind = "ocds_record_packages",
	.ingest = INGEST_PROCUREMENT,
	.format = INGEST_JSON,
	.paged = true,
	.help = "OCDS record packages ({\"records\": [...]}): one document, or a paged "
	    "API followed by links.next; each record brings its releases and compiled "
	    "release.",
	.open = record_package_open,
	.write = array_document_write,
	.take = array_document_take,
	.next = array_document_next,
	.records = array_document_records,
	.buffered = array_document_buffered,
	.close = array_document_close,
};
