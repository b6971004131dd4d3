/*
 * systemd's readiness protocol (sd_notify(3)): one datagram per state change
 * to the socket named by $NOTIFY_SOCKET.  Without that variable (not under
 * systemd, or Type= is not notify) every call is a no-op.
 */
#ifndef FORKLIFT_NOTIFY_H
#define FORKLIFT_NOTIFY_H

/* Sends `state`, e.g. "READY=1" or "STOPPING=1".  Returns 0 or -1. */
int	notify_send(const char *state);

#endif
