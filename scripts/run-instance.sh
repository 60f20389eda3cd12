#!/bin/sh
# `make run`: a complete local Postern instance under ./run/, listening on
# 127.0.0.1 only, in the foreground until Ctrl-C. run/etc is rewritten on
# every start (so new services appear as they are built); the certificate
# and the demo account's password are kept.
# Usage: scripts/run-instance.sh BUILD_DIR
# Env:   POSTERN_RUN_DIR (default ./run), POSTERN_PORT_OFFSET (added to every
#        port; the tests use it so they never clash with a running instance)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" && pwd)
base=${POSTERN_RUN_DIR:-$top/run}
offset=${POSTERN_PORT_OFFSET:-0}
bin=$build/bin
mkdir -p "$base/etc/tls" "$base/log" "$base/spool" "$base/data" "$base/mail"
# Virtual mailboxes are written by the vmail user when running as root.
if [ "$(id -u)" -eq 0 ] && getent passwd vmail >/dev/null; then
	chown vmail:vmail "$base/mail"
fi
chmod 755 "$base" "$base/etc"

# A self-signed certificate for localhost, made once.
if [ ! -f "$base/etc/tls/cert.pem" ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$base/etc/tls/key.pem" -out "$base/etc/tls/cert.pem" 2>/dev/null
	chmod 600 "$base/etc/tls/key.pem"
fi
# The demo account's password, made once.
if [ ! -f "$base/demo-password" ]; then
	umask 077
	openssl rand -base64 12 | tr -d '/+=' >"$base/demo-password"
	umask 022
fi
password=$(cat "$base/demo-password")

cat >"$base/etc/main.conf" <<CONF
# Written by scripts/run-instance.sh (make run); rewritten on every start.
myhostname = localhost.localdomain
queue_directory = $base/spool
data_directory = $base/data
daemon_directory = $bin
maillog_file = /dev/stderr
inet_interfaces = 127.0.0.1
virtual_mailbox_domains = example.test
virtual_mailbox_base = $base/mail
smtpd_tls_cert_file = $base/etc/tls/cert.pem
smtpd_tls_key_file = $base/etc/tls/key.pem
smtpd_tls_auth_only_exempt = 127.0.0.0/8
pop3d_tls_auth_only_exempt = 127.0.0.0/8
mydestination = localhost.localdomain, localhost
recipient_delimiter = +
virtual_alias_maps = lmdb:$base/etc/virtual.lmdb
CONF

# Virtual aliases (virtual(5)): written once, then the user's to edit.
if [ ! -f "$base/etc/virtual" ]; then
	cat >"$base/etc/virtual" <<VIRTUAL
# Virtual aliases, see virtual(5). After an edit (or just restart make run):
#   build/bin/mailctl -c run/etc map build run/etc/virtual
postmaster@example.test  demo@example.test
abuse@example.test       demo@example.test
VIRTUAL
fi

# One line per service whose program has been built.
{
	echo "# Written by scripts/run-instance.sh (make run); rewritten on every start."
	echo "# service type private unpriv chroot wakeup maxproc command + args"
	while read -r prog name rest; do
		[ -x "$bin/$prog" ] || continue
		case $name in
		127.0.0.1:*) port=${name#127.0.0.1:}; name=127.0.0.1:$((port + offset)) ;;
		esac
		echo "$name $rest"
	done <<SERVICES
smtpd 127.0.0.1:2525 inet n - n - - smtpd
smtpd 127.0.0.1:2587 inet n - n - - smtpd -o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes -o smtpd_auth_required=yes -o smtpd_add_missing_headers=yes
smtpd 127.0.0.1:2465 inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_sasl_auth_enable=yes -o smtpd_auth_required=yes -o smtpd_add_missing_headers=yes
pop3d 127.0.0.1:2110 inet n n n - - pop3d
pop3d 127.0.0.1:2995 inet n n n - - pop3d -o pop3d_tls_wrappermode=yes
imapd 127.0.0.1:2143 inet n - n - - imapd
imapd 127.0.0.1:2993 inet n - n - - imapd -o imapd_tls_wrappermode=yes
qmgr qmgr unix n - n 300 1 qmgr
pickup pickup unix n - n 60 1 pickup
showq showq unix n - n - - showq
local local unix - n n - - local
smtp smtp unix - - n - - smtp
lmtp lmtp unix - - n - - lmtp
auth auth unix y postern-auth n - - auth
SERVICES
} >"$base/etc/master.conf"

# Remove settings for parameters this build does not know yet (they arrive
# with the services that use them), so the instance starts warning-free.
known=$("$bin/mailctl" -c "$base/etc" config -d | sed 's/ = .*//')
tmp=$base/etc/main.conf.new
while IFS= read -r line; do
	name=$(printf '%s' "$line" | sed -n 's/^\([a-z_0-9]*\) *=.*/\1/p')
	if [ -n "$name" ] && ! printf '%s\n' "$known" | grep -qx "$name"; then
		continue
	fi
	printf '%s\n' "$line"
done <"$base/etc/main.conf" >"$tmp"
mv "$tmp" "$base/etc/main.conf"
chmod 644 "$base/etc/main.conf" "$base/etc/master.conf"

# The demo account: a virtual user of example.test, password from run/demo-password.
if [ -x "$bin/auth" ]; then
	if "$bin/mailctl" -c "$base/etc" user list 2>/dev/null | grep -q '^demo@example.test'; then
		printf '%s\n' "$password" | "$bin/mailctl" -c "$base/etc" user passwd demo@example.test >/dev/null
	else
		printf '%s\n' "$password" | "$bin/mailctl" -c "$base/etc" user add demo@example.test >/dev/null
	fi
fi

"$bin/mailctl" -c "$base/etc" map build "$base/etc/virtual" >/dev/null

"$bin/mailctl" -c "$base/etc" check >/dev/null || {
	"$bin/mailctl" -c "$base/etc" check
	exit 1
}

echo "Postern instance in $base (config $base/etc, log on this terminal)"
echo "  services:"
grep -v '^#' "$base/etc/master.conf" | awk '{printf "    %-20s %s\n", $1, $8}'
echo "  demo account: demo@example.test  password: $password  (saved in run/demo-password)"
echo "  demo mailbox: $base/mail/example.test/demo/Maildir"
echo "  control:      $bin/mailctl -c $base/etc status"
echo "  Ctrl-C stops everything."
exec "$bin/master" -c "$base/etc" -f
