/*
 * The systemd notification protocol without libsystemd: one datagram with the state
 * to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or @name for the abstract
 * namespace). Failing to notify never stops the daemon: systemd's timeout will.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

void
notify_systemd(const char *state)
{
	struct sockaddr_un	 sun;
	const char		*path;
	socklen_t		 addrlen;
	size_t			 len;
	int			 fd = -1;

	if ((path = getenv("NOTIFY_SOCKET")) == NULL || *path == '\0')
		return;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sun.sun_path)) {
		log_debug("notify", "NOTIFY_SOCKET is not a usable unix socket address");
		goto out;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len);
	addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';		/* abstract: no trailing NUL counted */
	else
		addrlen++;
	/* Non-blocking: a stalled systemd must not stall the event loop. */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
		log_debug("notify", "socket: %s", strerror(errno));
		goto out;
	}
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    addrlen) == -1)
		log_debug("notify", "%s to %s: %s", state, path, strerror(errno));
out:
	if (fd != -1)
		close(fd);
}
