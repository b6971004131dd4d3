/*
 * Socket helpers: listening sockets, non-blocking connects, address text.
 * In the style of Redis's anet: each returns an fd or -1 with a message in
 * the caller's err buffer.
 */
#ifndef FORKLIFT_NET_H
#define FORKLIFT_NET_H

#include <sys/socket.h>

#include <stddef.h>

#define NET_BACKLOG	4096	/* listen(2) queue per socket */

/*
 * A non-blocking, close-on-exec TCP listening socket on `ss`.  With
 * `reuseport` several sockets may share the address (SO_REUSEPORT), each
 * with its own accept queue.
 */
int	net_listen(const struct sockaddr_storage *ss, socklen_t len,
	    int reuseport, char *err, size_t errlen);

/*
 * Starts a non-blocking connect to `ss`.  Returns the fd (connected or in
 * progress: wait for writability, then net_connect_result()) or -1.
 */
int	net_connect(const struct sockaddr_storage *ss, socklen_t len,
	    char *err, size_t errlen);
/* 0 once a non-blocking connect has succeeded, else the errno value. */
int	net_connect_result(int fd);

int	net_set_nonblock(int fd);
int	net_set_nodelay(int fd);

/* "127.0.0.1:8080" or "[::1]:8080" into buf; returns buf. */
char	*net_addr_text(const struct sockaddr *, char *buf, size_t len);
/* The host part only ("127.0.0.1", "::1"), for X-Forwarded-For. */
char	*net_host_text(const struct sockaddr *, char *buf, size_t len);

#endif
