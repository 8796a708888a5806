# hookd's image: one static binary on an empty base, run as a non-root
# user, its SQLite data (when no PostgreSQL URL is given) in /var/lib/hookd.
#
# From source (needs the golang image and the Go module proxy):
#   docker build -t hookd .
# Offline, from a binary built on the host (no base image is pulled):
#   CGO_ENABLED=0 go build -trimpath -ldflags="-X github.com/hookd/hookd.Version=1.2.3" -o hookd ./cmd/hookd
#   podman build --pull=never --target prebuilt -t hookd .
#
# No HEALTHCHECK: orchestrators probe GET /healthz (the process serves) and
# GET /readyz (its database answers). See docs/DEPLOY.md.

ARG GO_VERSION=1.26

# What every variant shares: the files of an empty system and the settings.
FROM scratch AS runtime
COPY deploy/image/passwd deploy/image/group /etc/
COPY --chown=65532:65532 deploy/image/DATA.txt /var/lib/hookd/README.txt
USER 65532:65532
WORKDIR /var/lib/hookd
ENV HOOKD_ADDR=:8080 \
    HOOKD_DB=/var/lib/hookd/hookd.db
EXPOSE 8080
VOLUME ["/var/lib/hookd"]
ENTRYPOINT ["/usr/local/bin/hookd"]
CMD ["serve"]

# The binary built on the host at ./hookd (.dockerignore keeps it).
FROM runtime AS prebuilt
COPY --chmod=0755 hookd /usr/local/bin/hookd

# The binary built here from source; VERSION is what `hookd version` says.
FROM golang:${GO_VERSION} AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X github.com/hookd/hookd.Version=${VERSION}" -o /out/hookd ./cmd/hookd

# The default target.
FROM runtime AS source
COPY --from=build /out/hookd /usr/local/bin/hookd
