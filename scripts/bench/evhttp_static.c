/*
 * The ceiling for scripts/bench/load: libevent's evhttp answering every request with
 * one file held in memory, nothing else (no routing, no logging, no headers of ours).
 * What ictmond does per request is measured against this loop on the same machine.
 *
 *   evhttp_static PORT FILE
 */
#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

static char	*file_data;
static size_t	 file_len;

static void
answer(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*out = evhttp_request_get_output_buffer(req);

	(void)arg;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/html; charset=utf-8");
	evbuffer_add_reference(out, file_data, file_len, NULL, NULL);
	evhttp_send_reply(req, 200, "OK", NULL);
}

int
main(int argc, char **argv)
{
	struct event_base	*base;
	struct evhttp		*http;
	FILE			*f;
	long			 size;

	if (argc != 3) {
		fprintf(stderr, "usage: evhttp_static PORT FILE\n");
		return 2;
	}
	if ((f = fopen(argv[2], "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (file_data = malloc((size_t)size + 1)) == NULL ||
	    fread(file_data, 1, (size_t)size, f) != (size_t)size) {
		perror(argv[2]);
		return 1;
	}
	fclose(f);
	file_len = (size_t)size;
	if ((base = event_base_new()) == NULL || (http = evhttp_new(base)) == NULL ||
	    evhttp_bind_socket(http, "127.0.0.1", (unsigned short)atoi(argv[1])) != 0) {
		fprintf(stderr, "evhttp_static: cannot listen on port %s\n", argv[1]);
		return 1;
	}
	evhttp_set_gencb(http, answer, NULL);
	event_base_dispatch(base);
	return 0;
}
