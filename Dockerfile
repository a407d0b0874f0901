# syntax=docker/dockerfile:1
#
# gatepass container image.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t gatepass .
#   docker run --rm -e SLACK_BOT_TOKEN=… -e SLACK_SIGNING_SECRET=… \
#     -e GATEPASS_DB=postgres://… -v $PWD/gatepass.yml:/etc/gatepass/gatepass.yml:ro \
#     -p 8080:8080 gatepass
#
# gatepass links SQLite through cgo (mattn/go-sqlite3), so the binary needs
# glibc at run time: the final stage is Debian slim of the same release as the
# builder, never scratch, distroless/static or Alpine (musl).

# GO_VERSION must be at least the go line of go.mod (same major.minor).
# DEBIAN_RELEASE names both stages' Debian, so the glibc the binary was
# linked against is the one it runs on.
ARG GO_VERSION=1.26
ARG DEBIAN_RELEASE=bookworm

FROM golang:${GO_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY . .
ARG VERSION=dev
# mattn/go-sqlite3 is C: cgo on, with the image's gcc.
ENV CGO_ENABLED=1
RUN --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gatepass . \
 && /out/gatepass version

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# ca-certificates: TLS to Slack and to PostgreSQL (sslmode=require/verify-full).
# curl: the container health check below and in deploy/compose.yml
# (Kubernetes probes /healthz itself and does not need it).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gatepass \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/gatepass --shell /usr/sbin/nologin gatepass \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/gatepass \
 && install -d -m 0755 /etc/gatepass
COPY --from=builder /out/gatepass /usr/local/bin/gatepass

# The policy file is mounted at GATEPASS_CONFIG (read-only). GATEPASS_DB is
# left to the deployment: a postgres:// URL for several replicas; unset, it
# is ./gatepass.db in the working directory below (SQLite, one replica, mount
# a volume there to keep it).
ENV GATEPASS_ADDR=:8080 \
    GATEPASS_CONFIG=/etc/gatepass/gatepass.yml
WORKDIR /var/lib/gatepass
USER 10001:10001
EXPOSE 8080

# 200 once the database answers, 503 otherwise. Keep the port in step with
# GATEPASS_ADDR if you change it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]

# SIGTERM (docker stop, Kubernetes) drains in-flight requests and Slack
# replies, then closes the database: about 10 s at most.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gatepass"]
CMD ["serve"]
