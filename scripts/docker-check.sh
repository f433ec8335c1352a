#!/usr/bin/env bash
# Builds the Docker image, waits for its HEALTHCHECK to report healthy and
# asks the container for / (the dashboard built into the binary).
# Where no Docker daemon (or no base image) is reachable it says so and exits 0:
# only this check is skipped, never the rest of the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
	echo "docker-check: skipped: no Docker daemon here"
	exit 0
fi
if ! docker pull -q debian:12-slim >/dev/null 2>&1 && ! docker image inspect debian:12-slim >/dev/null 2>&1; then
	echo "docker-check: skipped: the debian:12 base images are not reachable"
	exit 0
fi
tag=yesapp:check-$$
docker build -q -t "$tag" . >/dev/null
echo "docker-check: image $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1/1e6}')"
id=$(docker run -d --rm "$tag")
trap 'docker rm -f "$id" >/dev/null 2>&1; docker rmi "$tag" >/dev/null 2>&1' EXIT
for _ in $(seq 1 60); do
	st=$(docker inspect -f '{{.State.Health.Status}}' "$id")
	if [ "$st" = healthy ]; then
		echo "docker-check: healthy"
		# the image carries the dashboard: / is its index.html (a 404 without it)
		docker exec "$id" yesapp probe / >/dev/null 2>&1 ||
			{ echo "docker-check: GET / is not the dashboard" >&2; exit 1; }
		echo "docker-check: dashboard served at /"
		exit 0
	fi
	sleep 2
done
echo "docker-check: not healthy: $st" >&2
docker logs "$id" | tail -20 >&2
exit 1
