# routevault as a minimal, non-root container image: a static (musl) binary on distroless
# "static", which adds only CA certificates (S3 over TLS), tzdata and a nonroot user.
#
#   docker build -t ghcr.io/routevault/routevault:0.1.0 .
#
# The build stage runs scripts/build-static, the same script used to check the static build
# outside Docker (docs/deploy/README.md). The result runs as uid 65532 with a read-only root
# filesystem (docs/deploy/snapshot/cronjob.yaml).

FROM docker.io/library/rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN scripts/build-static \
 && install -D -m 0755 target/x86_64-unknown-linux-musl/release/routevault /out/routevault \
 && /out/routevault man --out /out/man \
 && /out/routevault completions bash > /out/routevault.bash

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="routevault" \
      org.opencontainers.image.description="Disaster recovery for Kubernetes routing: signed, sealed, immutable snapshots and verified restores" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/routevault /usr/local/bin/routevault
COPY --from=build /out/man /usr/local/share/man/man1
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/routevault"]
CMD ["--help"]
