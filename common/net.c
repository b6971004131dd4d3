/*
 * Socket helpers shared by every role.  Nothing here blocks except what the
 * caller asks for explicitly.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/net.h"

static int
set_flag(int fd, int level, int name)
{
	int on = 1;

	return setsockopt(fd, level, name, &on, sizeof(on));
}

int
net_set_nonblock(int fd)
{
	int flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return -1;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int
net_set_nodelay(int fd)
{
	return set_flag(fd, IPPROTO_TCP, TCP_NODELAY);
}

int
net_listen(const struct sockaddr_storage *ss, socklen_t len, int reuseport,
    char *err, size_t errlen)
{
	char addr[64];
	int fd;

	net_addr_text((const struct sockaddr *)ss, addr, sizeof(addr));
	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		snprintf(err, errlen, "socket for %s: %s", addr,
		    strerror(errno));
		return -1;
	}
	if (set_flag(fd, SOL_SOCKET, SO_REUSEADDR) == -1 ||
	    (reuseport && set_flag(fd, SOL_SOCKET, SO_REUSEPORT) == -1) ||
	    (ss->ss_family == AF_INET6 &&
	    set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY) == -1)) {
		snprintf(err, errlen, "setsockopt on %s: %s", addr,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, (const struct sockaddr *)ss, len) == -1) {
		snprintf(err, errlen, "bind %s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, NET_BACKLOG) == -1) {
		snprintf(err, errlen, "listen %s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
net_connect(const struct sockaddr_storage *ss, socklen_t len, char *err,
    size_t errlen)
{
	char addr[64];
	int fd;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)ss, len) == -1 &&
	    errno != EINPROGRESS) {
		net_addr_text((const struct sockaddr *)ss, addr, sizeof(addr));
		snprintf(err, errlen, "connect %s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
net_connect_result(int fd)
{
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		return errno;
	return soerr;
}

char *
net_host_text(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a;

	if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else {
		snprintf(buf, len, "unix");
		return buf;
	}
	if (inet_ntop(sa->sa_family, a, buf, len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

char *
net_addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	net_host_text(sa, host, sizeof(host));
	if (sa->sa_family == AF_INET6) {
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else if (sa->sa_family == AF_INET) {
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else
		snprintf(buf, len, "%s", host);
	return buf;
}
