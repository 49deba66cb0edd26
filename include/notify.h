/*
 * The systemd notification protocol (Type=notify): READY=1, RELOADING=1, STOPPING=1,
 * sent as a datagram to $NOTIFY_SOCKET. Does nothing when not run by systemd.
 */
#ifndef ICTMON_NOTIFY_H
#define ICTMON_NOTIFY_H

void	notify_systemd(const char *state);

#endif
