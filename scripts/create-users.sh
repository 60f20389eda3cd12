#!/bin/sh
# Creates Postern's system users and groups if they are missing, as a
# package would: postern (mail_owner), postern-auth (the auth service),
# vmail (virtual mailboxes), postern-login (pop3d's login processes, which
# must own nothing) and the group postern-drop (the setgid drop
# helper). Needs root; does nothing otherwise.
set -eu
[ "$(id -u)" -eq 0 ] || exit 0
add_group() {
	getent group "$1" >/dev/null || groupadd --system "$1"
}
add_user() {
	getent passwd "$1" >/dev/null ||
		useradd --system --no-create-home --home-dir "$2" --shell /usr/sbin/nologin \
			--user-group "$1"
}
add_group postern-drop
add_user postern /var/spool/postern
add_user postern-auth /nonexistent
add_user vmail /var/mail/vhosts
add_user postern-login /nonexistent
