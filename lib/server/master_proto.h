/*
 * The protocol between master and the service processes it starts.
 *
 * Descriptors in a service process, set up by master before exec:
 *   MASTER_STATUS_FD   one end of a socketpair with master (IPC records both ways)
 *   MASTER_LISTEN_FD+i the service's listening sockets, i < the "listen_fds" count
 *
 * master -> child, first record on the status socket:
 *   "service"  name (s), type (s: inet|unix|pass), uid (i), gid (i),
 *              allow_root (i 0/1), chroot (s, may be empty), listen_fds (i),
 *              drop (i 0/1: change user; 0 in an unprivileged instance),
 *              tls_ticket_keys (data, inet services only, when tickets are on:
 *              1 or 2 keys as tls/tls_tickets.h encodes them, newest first)
 * master -> child, later:
 *   "retire"   stop accepting; exit once the connections in progress end
 *   "tls_keys" tls_ticket_keys (data): the keys after master replaced them
 * child -> master:
 *   "status"   pid (i), state (s: "idle" | "busy")
 *   A child that exits or closes the socket is gone; master reaps it.
 *
 * Wake-up requests (master -> a service with a wakeup time, and any program
 * that wants to poke a daemon) are one "wakeup" record sent on a fresh
 * connection to the service's socket.
 *
 * Control socket (mailctl -> master), at $queue_directory/private/master.ctl:
 *   request "status"  -> one "service" record per service, then "end"
 *   request "reload"  -> "ok" or "error" (message)
 *   request "stop"    -> "ok", then master stops
 *   request "version" -> "ok" (version, pid)
 */
#ifndef POSTERN_SERVER_MASTER_PROTO_H
#define POSTERN_SERVER_MASTER_PROTO_H

#define MASTER_STATUS_FD 3
#define MASTER_LISTEN_FD 4
#define MASTER_MAX_LISTEN_FDS 16

#define MASTER_CONTROL_SOCKET "private/master.ctl"
#define MASTER_LOCK_FILE "master.lock"

#endif
