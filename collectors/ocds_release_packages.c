/*
 * The ocds_release_packages kind: an OCDS release package per page, its releases the
 * records (each copied exactly as published), links.next the next page.
 */
#include "kinds.h"

static const struct array_document_kind release_package = { "releases", "release" };

static void *
release_package_open(const struct collector_limits *limits, unsigned long long skip)
{
	return array_document_open(&release_package, limits, skip);
}

const struct collector_ops collector_ocds_release_packages = {
	.kind = "ocds_release_packages",
	.ingest = INGEST_PROCUREMENT,
	.format = INGEST_JSON,
	.paged = true,
	.help = "OCDS release packages ({\"releases\": [...]}): one document, or a "
	    "paged API followed by links.next; each release is stored exactly as "
	    "published.",
	.open = release_package_open,
	.write = array_document_write,
	.take = array_document_take,
	.next = array_document_next,
	.records = array_document_records,
	.buffered = array_document_buffered,
	.close = array_document_close,
};
