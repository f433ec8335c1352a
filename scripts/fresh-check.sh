#!/usr/bin/env bash
# `make fresh-check`: proves the README's set-up on a bare Debian 12.
#
# Builds a minimal Debian 12 root with debootstrap (variant minbase: no git,
# no make, no compiler, no Node), gives it this machine's apt sources and CA
# certificates so that it reaches Debian's and npm's registries the way this
# machine does, clones the current commit into it, and there runs what the
# README tells a newcomer: `apt-get install git make`, then `make test`.
# Everything else (libraries, clang, Node 20 when Debian's is older, npm
# packages, Chromium) must come from the project's own scripts.
#
# Opt-in, not part of `make test` (it takes as long as a full test run plus
# the debootstrap). Needs root (debootstrap, chroot, mounts). The root is
# kept under build/fresh-root between runs unless FRESH_CLEAN=1; the clone in
# it is always made anew. The log goes to build/fresh-check.log; the last
# line printed is "fresh-check: PASS|FAIL <date> <commit> <summary>".
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
root=${FRESH_ROOT:-$repo/build/fresh-root}
log=$repo/build/fresh-check.log
suite=bookworm
mirror=${FRESH_MIRROR:-http://deb.debian.org/debian}

[ "$(id -u)" = 0 ] || { echo "fresh-check: needs root (debootstrap, chroot)" >&2; exit 1; }
mkdir -p "$repo/build"

if ! command -v debootstrap >/dev/null; then
	echo "fresh-check: installing debootstrap" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

mounts=()
cleanup() {
	local i
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT

# A run killed before its trap leaves mounts behind: undo them before any rm.
{ findmnt -rn -o TARGET | grep "^$root/" || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
if findmnt -rn -o TARGET | grep -q "^$root/"; then
	echo "fresh-check: $root still has mounts; not touching it" >&2; exit 1
fi
[ "${FRESH_CLEAN:-0}" = 1 ] && rm -rf --one-file-system "$root"
if [ ! -x "$root/usr/bin/apt-get" ] || [ ! -f "$root/.fresh-ok" ]; then
	rm -rf --one-file-system "$root"
	echo "fresh-check: debootstrap $suite (minbase) into $root" >&2
	debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$log.debootstrap" 2>&1 ||
		{ tail -n 20 "$log.debootstrap" >&2; exit 1; }
	touch "$root/.fresh-ok"
fi

# The machine's way out: apt sources and settings, name resolution, CAs (an
# egress proxy may re-sign TLS; local CAs go where update-ca-certificates
# finds them again when the root installs the ca-certificates package).
rm -f "$root/etc/apt/sources.list"
mkdir -p "$root/etc/apt/sources.list.d" "$root/etc/apt/apt.conf.d" "$root/usr/local/share/ca-certificates" \
	"$root/etc/ssl/certs"
cp -a /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$root/etc/apt/sources.list"
for f in /etc/apt/apt.conf.d/*; do
	grep -qi -E 'proxy|Check-Valid|Check-Date' "$f" 2>/dev/null && cp "$f" "$root/etc/apt/apt.conf.d/"
done
cp /etc/resolv.conf /etc/hosts "$root/etc/"
cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"

for m in proc sys dev dev/pts; do
	mkdir -p "$root/$m"
	mount --bind "/$m" "$root/$m"
	mounts+=("$root/$m")
done
mkdir -p "$root/dev/shm"
mount -t tmpfs -o size=2g tmpfs "$root/dev/shm"
mounts+=("$root/dev/shm")

commit=$(git rev-parse HEAD)
rm -rf "$root/root/yesapp"
git clone -q --no-local "$repo" "$root/root/yesapp"
git -C "$root/root/yesapp" checkout -q "$commit"

echo "fresh-check: make test in the fresh root (log: $log)" >&2
start=$(date +%s)
set +e
chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 CI=true \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
	NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
	/bin/bash -c 'set -e
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq git make >/dev/null
		cd /root/yesapp && make test' >"$log" 2>&1
rc=$?
set -e
secs=$(($(date +%s) - start))
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
verdict=FAIL
[ $rc = 0 ] && verdict=PASS
echo "fresh-check: $verdict $(date -u +%Y-%m-%d) ${commit:0:7} ${summary:-no summary} (${secs}s, exit $rc)"
[ $rc = 0 ] || tail -n 30 "$log" >&2
exit $rc
