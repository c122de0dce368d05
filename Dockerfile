# syntax=docker/dockerfile:1
#
# Container image of modelgate: a static binary on distroless, run as a
# non-root user. Build with
#
#   docker build --build-arg VERSION=1.2.3 -t modelgate:1.2.3 .
#
# cmd/modelgate/dockerfile_test.go runs the go build line below, with
# the ENV and ARG values of the build stage, and checks that the result
# is static and reports VERSION. Keep that line one plain command.

# GO_VERSION matches the go line of go.mod (checked by the same test).
ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# BuildKit sets TARGETOS and TARGETARCH from --platform, so the build
# stage cross-compiles on the builder's own platform.
ARG TARGETOS
ARG TARGETARCH
RUN GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/modelgate ./cmd/modelgate

# The nonroot variant carries CA certificates and runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION
LABEL org.opencontainers.image.title="modelgate" \
      org.opencontainers.image.description="Serves model weights from S3 through pre-signed redirects" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/modelgate/modelgate" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"
COPY --from=build /out/modelgate /usr/local/bin/modelgate
# A numeric user lets Kubernetes verify runAsNonRoot without a passwd
# lookup.
USER 65532:65532
# The binary listens on 127.0.0.1:8080 by default, which is unreachable
# from outside a container. ":8080" listens on every IPv4 and IPv6
# address.
ENV MODELGATE_LISTEN=:8080
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/modelgate", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/modelgate"]
CMD ["serve"]
