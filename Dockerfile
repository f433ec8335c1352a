# syntax=docker/dockerfile:1
# YesApp in a container: build on Debian 12, run on Debian 12 slim as a
# non-root user with its data in the volume /app/data. The binary carries
# the web dashboard (served at /).
#   docker build -t yesapp .
#   docker run -p 3000:3000 -v yesapp-data:/app/data yesapp
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends make ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY scripts ./scripts
COPY src ./src
COPY migrations ./migrations
# the dashboard's sources (docs/dashboard.md): make builds them with Vite and
# embeds web/dist in the binary; its node_modules and dist are not copied
# (.dockerignore) but made here
COPY web ./web
# scripts/deps.sh installs the build dependencies (it runs apt-get as root;
# Node 20 and web/'s npm packages too). WEB=1: fail rather than embed no
# dashboard when npm is missing.
RUN scripts/deps.sh build && make WEB=1 && test -f web/dist/index.html && strip build/yesapp

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libmicrohttpd12 libuv1 libwebsockets17 libssl3 libprotobuf-c1 libsignal-protocol-c2.3.2 \
      libsqlite3-0 libcurl4 libjansson4 libqrencode4 libpng16-16 zlib1g libarchive13 libsodium23 libbrotli1 \
      libjpeg62-turbo libwebp7 libopusfile0 libopus0 libopenh264-7 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /app --uid 10001 yesapp \
    && mkdir -p /app/data && chown yesapp /app/data
COPY --from=build /src/build/yesapp /usr/local/bin/yesapp
USER yesapp
WORKDIR /app
ENV DATA_DIR=/app/data PORT=3000 HOST=0.0.0.0
VOLUME /app/data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["yesapp", "probe", "/health"]
ENTRYPOINT ["yesapp"]
CMD ["serve"]
