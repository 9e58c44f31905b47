# qbackupd container image: Debian bookworm, built with the same scripts CI
# runs (scripts/install-deps, scripts/build), run as an unprivileged user.
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY scripts/install-deps scripts/install-deps
RUN scripts/install-deps --build
COPY . .
RUN scripts/build --no-tests --dir /build --prefix /usr \
 && DESTDIR=/out cmake --install /build

FROM debian:bookworm-slim
COPY scripts/install-deps /usr/local/lib/qbackup/install-deps
RUN /usr/local/lib/qbackup/install-deps --runtime \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /data --shell /usr/sbin/nologin qbackup \
 && mkdir -p /data && chown qbackup:qbackup /data
COPY --from=build /out/ /
USER qbackup
WORKDIR /data
VOLUME ["/data"]
ENV QBACKUP_LISTEN=0.0.0.0:8080 \
    QBACKUP_DATA_DIR=/data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/bin/qbackupd"]
CMD ["serve"]
