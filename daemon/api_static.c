/*
 * The dashboard's static files under http.web_root. Only regular files inside the
 * root are served: no dotfiles, no ".." segments, nothing a symbolic link leads out
 * of the root to. Local files, opened and stat'ed on the loop like any daemon does;
 * the body itself goes out with sendfile/mmap through evbuffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "daemon.h"
#include "http.h"
#include "log.h"

static const struct {
	const char	*extension;
	const char	*type;
} content_types[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "json", "application/json; charset=utf-8" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "ico", "image/x-icon" },
	{ "txt", "text/plain; charset=utf-8" },
	{ "woff2", "font/woff2" },
};

static const char *
content_type(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (dot != NULL && strchr(dot, '/') == NULL) {
		for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++) {
			if (strcasecmp(dot + 1, content_types[i].extension) == 0)
				return content_types[i].type;
		}
	}
	return "application/octet-stream";
}

/*
 * Whether a decoded path below the root may name a file: no backslash, no empty, "."
 * or ".." segment, no segment starting with '.' (dotfiles: .git, .htpasswd, ...).
 */
static bool
name_acceptable(const char *name)
{
	const char *segment = name;

	if (strchr(name, '\\') != NULL)
		return false;
	for (;;) {
		size_t len = strcspn(segment, "/");

		if (len == 0 || segment[0] == '.')
			return false;
		if (segment[len] == '\0')
			return true;
		segment += len + 1;
	}
}

void
api_static(struct request *req)
{
	const char	*rest = request_param(req, "*");
	const char	*web_root = config_str(req->daemon->cfg, CFG_HTTP_WEB_ROOT);
	char		 name[PATH_MAX], wanted[PATH_MAX];
	char		*root = NULL, *resolved = NULL;
	size_t		 rootlen;
	struct stat	 st;
	int		 fd = -1;

	/* "/" and any "dir/" are the directory's index.html. */
	if (rest == NULL || snprintf(name, sizeof(name), "%s%s", rest,
	    rest[0] == '\0' || rest[strlen(rest) - 1] == '/' ? "index.html" : "") >=
	    (int)sizeof(name))
		goto not_found;
	if (!name_acceptable(name))
		goto not_found;
	if ((root = realpath(web_root, NULL)) == NULL) {
		log_warn("http", "rid=%s web root %s: %s", req->id, web_root, strerror(errno));
		goto not_found;
	}
	if (snprintf(wanted, sizeof(wanted), "%s/%s", root, name) >= (int)sizeof(wanted))
		goto not_found;
	if ((resolved = realpath(wanted, NULL)) == NULL)
		goto not_found;
	rootlen = strlen(root);
	if (strncmp(resolved, root, rootlen) != 0 ||
	    (resolved[rootlen] != '/' && strcmp(root, "/") != 0))
		goto not_found;
	if ((fd = open(resolved, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) == -1 ||
	    fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		goto not_found;

	http_reply_file(req, content_type(resolved), fd, (size_t)st.st_size);
	fd = -1;		/* the reply owns it */
	goto out;
not_found:
	http_reply_error(req, 404, "no such file", NULL);
out:
	if (fd != -1)
		close(fd);
	free(resolved);
	free(root);
}
