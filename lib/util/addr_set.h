/*
 * A set of IP addresses (IPv4 and IPv6), filled from printable addresses,
 * host names (their addresses as getaddrinfo finds them) or the machine's
 * network interfaces, and asked whether a printable address is in it. An
 * IPv4-mapped IPv6 address (::ffff:192.0.2.1) is the IPv4 address. The
 * smtp client keeps the addresses of this host in one to spot mail loops.
 */
#ifndef POSTERN_UTIL_ADDR_SET_H
#define POSTERN_UTIL_ADDR_SET_H

#include <stdbool.h>
#include <stddef.h>

struct addr_set;

struct addr_set *addr_set_new(void);
void addr_set_free(struct addr_set *set);

/* Add one address ("192.0.2.1", "2001:db8::1", "[2001:db8::1]",
 * "[ipv6:2001:db8::1]"); 0, or -1 with *error_r (static) when text is
 * not an IP address. */
int addr_set_add_address(struct addr_set *set, const char *text, const char **error_r);
/* Add an address as above, or else every address of the host name
 * (getaddrinfo: the hosts file and DNS, as the system resolves). 0, or
 * -1 with *error_r (static, naming host) when it has none. */
int addr_set_add_host(struct addr_set *set, const char *host, const char **error_r);
/* Add the addresses of every network interface that is up (getifaddrs).
 * 0, or -1 with *error_r (static) when they cannot be listed. */
int addr_set_add_interfaces(struct addr_set *set, const char **error_r);

/* Is the printable address in the set? False for anything that is not an
 * address. */
bool addr_set_contains(const struct addr_set *set, const char *address);
size_t addr_set_count(const struct addr_set *set);

#endif
