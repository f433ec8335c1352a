# syntax=docker/dockerfile:1
# YesApp in a container: build on Debian 12, run on Debian 12 slim as a
# non-root user with its data in the volume /app/data.
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
# scripts/deps.sh installs the build dependencies (it runs apt-get as root)
RUN scripts/deps.sh build && make && strip build/yesapp

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libmicrohttpd12 libuv1 libwebsockets17 libssl3 libprotobuf-c1 libsignal-protocol-c2.3.2 \
      libsqlite3-0 libcurl4 libjansson4 libqrencode4 libpng16-16 zlib1g libarchive13 libsodium23 ca-certificates \
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
