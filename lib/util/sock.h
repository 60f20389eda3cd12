/*
 * Socket helpers: TCP (IPv4 and IPv6) and UNIX-domain listeners and
 * connections, non-blocking and close-on-exec flags, and descriptor passing
 * over UNIX sockets. Every function returns -1 (or NULL) and sets *error_r
 * to a static or thread-unsafe message on failure; none logs.
 */
#ifndef POSTERN_UTIL_SOCK_H
#define POSTERN_UTIL_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Parse "host:port", "[v6addr]:port", "port" or "*:port" into host (NULL for
 * all addresses) and port. Returns 0 or -1. *host_r and *port_r are malloc'd. */
int sock_split_hostport(const char *spec, char **host_r, char **port_r, const char **error_r);

/* Listen on TCP host (NULL or "*": all addresses, both families) and port
 * (number or service name), SO_REUSEADDR, IPV6_V6ONLY on v6 sockets.
 * Returns the number of sockets made (stored in fds_r, up to max_fds), or -1. */
int sock_listen_tcp(const char *host, const char *port, int backlog, int *fds_r, int max_fds,
                    const char **error_r);
/* Listen on a UNIX stream socket at path (an old socket file is removed) with the
 * given mode. Returns the fd or -1. */
int sock_listen_unix(const char *path, int mode, int backlog, const char **error_r);

/* Connect with a timeout (milliseconds, -1 = none). Returned fds are blocking
 * (and close-on-exec). */
int sock_connect_tcp(const char *host, const char *port, int timeout_ms, const char **error_r);
int sock_connect_unix(const char *path, int timeout_ms, const char **error_r);
/* The same, leaving the fd non-blocking (one system call less), for a
 * caller that only reads and writes it through ipc_read/ipc_write, which
 * poll with their own deadlines. On failure errno tells why (ETIMEDOUT:
 * the listener's backlog stayed full; with timeout_ms 0, one attempt). */
int sock_connect_unix_nonblock(const char *path, int timeout_ms, const char **error_r);

/* Accept one connection (close-on-exec set); -1 with errno (EAGAIN when none). */
int sock_accept(int listen_fd);

int sock_set_nonblock(int fd, bool on);
int sock_set_cloexec(int fd, bool on);

/* Printable "addr" and "port" of a connected socket's peer (or local end). */
int sock_peer_name(int fd, char *addr, size_t addr_len, char *port, size_t port_len);
int sock_local_name(int fd, char *addr, size_t addr_len, char *port, size_t port_len);

/* Send one descriptor with a small data payload (at least one byte) over a
 * UNIX socket; receive it (the received fd is close-on-exec; *fd_r is -1
 * if the message carried none). Return bytes of payload or -1 with errno. */
ssize_t sock_send_fd(int sock, int fd, const void *data, size_t len);
ssize_t sock_recv_fd(int sock, int *fd_r, void *data, size_t len);

#endif
