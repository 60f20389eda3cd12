/*
 * This host's addresses, as Postfix's own_inet_addr and proxy_inet_addr:
 * those of inet_interfaces (every interface's with "all", or when it is
 * empty), then those of proxy_interfaces. The smtp client drops MX hosts
 * at them (mail loops), and canonical(5) mapping takes user@[address] of
 * them as a local address.
 */
#ifndef POSTERN_CONF_OWN_ADDRESSES_H
#define POSTERN_CONF_OWN_ADDRESSES_H

#include "conf/conf.h"
#include "util/addr_set.h"

/* The addresses; NULL with *error_r (static: names the parameter) when
 * one cannot be had (a host name that does not resolve, interfaces that
 * cannot be listed). */
struct addr_set *own_addresses(const struct conf *conf, const char **error_r);

#endif
