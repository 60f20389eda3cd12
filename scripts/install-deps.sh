#!/bin/sh
# Installs the Debian packages Postern needs to build and test, if any are
# missing. As root it runs apt-get; otherwise it names what to install.
# Usage: scripts/install-deps.sh [build|test]
set -eu
want=${1:-test}
build_pkgs="build-essential cmake pkg-config libssl-dev liblmdb-dev libunbound-dev zlib1g-dev libmilter-dev libcrypt-dev openssl"
test_pkgs="clang libclang-rt-14-dev python3 groff-base man-db swaks libnet-ssleay-perl libio-socket-ssl-perl curl fetchmail getmail6 opendkim opendkim-tools spamass-milter spamassassin spamd spamc unbound ldnsutils postfix fail2ban pflogsumm postgrey dovecot-core dovecot-lmtpd"
pkgs=$build_pkgs
[ "$want" = test ] && pkgs="$pkgs $test_pkgs"

missing=""
for p in $pkgs; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages:$missing" >&2
	echo "install-deps: run as root: apt-get install$missing" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
