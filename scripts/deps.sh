#!/usr/bin/env bash
# Installs what building, testing or benchmarking YesApp needs on Debian 12.
#   scripts/deps.sh build   libraries and tools to build build/yesapp
#   scripts/deps.sh test    + Node.js/npm packages, clang (fuzzing)
#   scripts/deps.sh bench   + wrk
# As root it runs apt-get itself (apt-get update once first); otherwise it
# prints the apt-get line to run and fails.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-build}
pkgs=(gcc make pkg-config libc6-dev libmicrohttpd-dev libuv1-dev libwebsockets-dev libssl-dev
      libsignal-protocol-c-dev libprotobuf-c-dev protobuf-c-compiler libsqlite3-dev
      libcurl4-openssl-dev libjansson-dev libqrencode-dev libpng-dev zlib1g-dev libarchive-dev
      libsodium-dev libbrotli-dev libjpeg62-turbo-dev libwebp-dev libopusfile-dev libopus-dev
      libopenh264-dev)
case "$what" in
build) ;;
test) pkgs+=(clang libclang-rt-14-dev zbar-tools nginx-light chromium) ;;
bench) pkgs+=(clang libclang-rt-14-dev wrk) ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# the dashboard (web/) is built in every mode: Node is needed for build too
need_node() { [ "$what" != build ] || [ -f web/package.json ]; }
if need_node && ! command -v node >/dev/null; then missing+=(nodejs); fi
if need_node && ! command -v npm >/dev/null; then missing+=(npm); fi
# better-sqlite3 (bench/http's peer) builds from source with node-gyp when
# its prebuilt binary cannot be fetched from GitHub
if [ "$what" != build ] && ! command -v g++ >/dev/null; then missing+=(g++); fi
if [ "$what" != build ] && ! command -v python3 >/dev/null; then missing+=(python3); fi
# the HTTP tests check that Python `requests` reads our errors (413 among them)
if [ "$what" = test ] && ! python3 -c 'import requests' 2>/dev/null &&
	! /usr/bin/python3 -c 'import requests' 2>/dev/null; then missing+=(python3-requests); fi
if [ "$what" = test ] && ! command -v curl >/dev/null; then missing+=(curl); fi
# /metrics is also read by the Prometheus project's own parser (its Python client)
if [ "$what" = test ] && ! /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
	missing+=(python3-prometheus-client); fi
# deploy/yesapp.service is checked with systemd-analyze; TLS tests make certificates
if [ "$what" = test ] && ! command -v systemd-analyze >/dev/null; then missing+=(systemd); fi
if [ "$what" = test ] && ! command -v openssl >/dev/null; then missing+=(openssl); fi

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "deps: installing ${missing[*]}" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		# packages with a daemon (nginx, for the proxy test) must not start it
		rcd=/usr/sbin/policy-rc.d
		[ -e $rcd ] || { printf '#!/bin/sh\nexit 101\n' > $rcd && chmod +x $rcd && trap 'rm -f $rcd' EXIT; }
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	else
		echo "deps: missing Debian packages: ${missing[*]}" >&2
		echo "deps: run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
fi

# Node 20 and npm 10 at least: Baileys 7 and Vite need Node 20, and npm 9
# (Debian 12's) cannot read our lockfile's overrides. When the system's are
# older, a pinned Node LTS (the registry's node-linux-<arch> package: the
# official binary and headers) and npm are unpacked into build/node/, which
# the Makefile puts first on PATH for every later step.
NODE_PIN=20.19.5
NPM_PIN=10.9.4
node_ok() {
	command -v node >/dev/null && command -v npm >/dev/null &&
		[ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 20 ] &&
		[ "$(npm -v 2>/dev/null | cut -d. -f1 || echo 0)" -ge 10 ]
}
fetch_node() {
	local arch dest=build/node tmp
	case "$(uname -m)" in
	x86_64) arch=x64 ;;
	aarch64) arch=arm64 ;;
	*) echo "deps: no Node $NODE_PIN package for $(uname -m)" >&2; exit 1 ;;
	esac
	echo "deps: system Node $(node -v 2>/dev/null || echo none) / npm $(npm -v 2>/dev/null || echo none)" \
		"is too old: unpacking Node $NODE_PIN and npm $NPM_PIN into $dest" >&2
	tmp=$(mktemp -d)
	# npm pack checks each tarball against the registry's integrity hash
	(cd "$tmp" && npm pack --silent "node-linux-$arch@$NODE_PIN" "npm@$NPM_PIN" >/dev/null)
	rm -rf "$dest" && mkdir -p "$dest/lib/node_modules/npm"
	tar -xzf "$tmp/node-linux-$arch-$NODE_PIN.tgz" -C "$dest" --strip-components=1
	tar -xzf "$tmp/npm-$NPM_PIN.tgz" -C "$dest/lib/node_modules/npm" --strip-components=1
	rm -rf "$tmp"
	for t in npm npx; do
		printf '#!/bin/sh\nexec "$(dirname "$(readlink -f "$0")")/node" "$(dirname "$(readlink -f "$0")")/../lib/node_modules/npm/bin/%s-cli.js" "$@"\n' "$t" > "$dest/bin/$t"
		chmod +x "$dest/bin/$t"
	done
}
if need_node && ! node_ok; then
	fetch_node
	PATH=$PWD/build/node/bin:$PATH
	node_ok || { echo "deps: Node $NODE_PIN / npm $NPM_PIN did not start" >&2; exit 1; }
fi

# Node packages for the interop tests and the peer side of benchmarks.
if [ "$what" != build ]; then
	# Reinstall only when package.json or the lockfile changed in content (not
	# mtime: a fresh checkout must not wipe a good node_modules).
	stamp=$(cat package.json package-lock.json | sha256sum | cut -c1-64)
	if [ ! -f node_modules/.package-lock.json ] || [ "$(cat node_modules/.yesapp-stamp 2>/dev/null)" != "$stamp" ]; then
		# node-gyp downloads the Node headers from nodejs.org unless told
		# where they are: use the ones installed with this node, if any.
		prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
		if [ -z "${npm_config_nodedir:-}" ] && [ -f "$prefix/include/node/common.gypi" ]; then
			export npm_config_nodedir=$prefix
		fi
		echo "deps: npm ci" >&2
		npm ci --no-audit --no-fund --loglevel=error >&2
		echo "$stamp" > node_modules/.yesapp-stamp
	fi
fi

# The dashboard's own packages (web/package.json, its lockfile), in every
# mode: reinstalled only when either changed in content.
if [ -f web/package.json ]; then
	stamp=$(cat web/package.json web/package-lock.json | sha256sum | cut -c1-64)
	if [ ! -f web/node_modules/.package-lock.json ] || [ "$(cat web/node_modules/.yesapp-stamp 2>/dev/null)" != "$stamp" ]; then
		echo "deps: npm ci (web)" >&2
		(cd web && npm ci --no-audit --no-fund --loglevel=error >&2)
		echo "$stamp" > web/node_modules/.yesapp-stamp
	fi
fi
