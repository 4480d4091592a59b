# syntax=docker/dockerfile:1
# vtenrich container image: a --locked release build, run as a non-root user on a
# distroless base (glibc, CA certificates, no shell, no package manager).
#
#   docker build -t vtenrich .
#   docker run --rm -p 8080:8080 vtenrich demo --listen 0.0.0.0:8080
#
# deploy/README.md explains the configuration (VTENRICH_* variables, a mounted TOML file,
# the VirusTotal key from a mounted secret file).

# At least the toolchain the crate is developed with (edition 2024, see Cargo.lock).
ARG RUST_VERSION=1.95
ARG CARGO_CHEF_VERSION=0.1.78

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
ARG CARGO_CHEF_VERSION
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

# The recipe lists only what decides the dependency build (manifests, lock file), so the
# expensive layer below is rebuilt when dependencies change, not on every source edit.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
# The empty data directory is created here because the runtime image has no shell.
RUN cargo build --release --locked --bin vtenrich \
    && mkdir -p /out/data \
    && cp target/release/vtenrich /out/vtenrich

# Same Debian release as the builder, so the binary's glibc matches.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="vtenrich" \
      org.opencontainers.image.description="Enriches IP addresses with VirusTotal reputation and location under a strict API quota" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"

COPY --from=builder /out/vtenrich /usr/local/bin/vtenrich
COPY --from=builder --chown=65532:65532 /out/data /var/lib/vtenrich

# Listen on all interfaces inside the container (the binary's default is loopback only);
# `vtenrich healthcheck` derives its URL (127.0.0.1:8080/readyz) from the same variable.
# The API key is not defaulted: pass VTENRICH_VT_API_KEY_FILE pointing at a mounted secret.
# An optional TOML file (callers, verdict thresholds, ...): mount it and set VTENRICH_CONFIG.
ENV VTENRICH_LISTEN=0.0.0.0:8080

# distroless's "nonroot" user, numerically so Kubernetes can verify runAsNonRoot.
USER 65532:65532
# The default data directory (`data`) is relative, so the durable store lands in
# /var/lib/vtenrich/data: mount a volume on /var/lib/vtenrich and the root filesystem can be
# read-only. VTENRICH_DATA_DIR is deliberately left unset, so `vtenrich demo` keeps its
# simulated answers out of the store.
WORKDIR /var/lib/vtenrich
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/vtenrich", "healthcheck", "--timeout", "3s"]
ENTRYPOINT ["/usr/local/bin/vtenrich"]
CMD ["serve"]
