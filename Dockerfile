# Multi-stage build: a static ark binary in a small image, run as a non-root user.
# The same image runs the server (`ark server`) and the client, as in:
#   docker run --rm -u $(id -u) -v $(dirname $KUBECONFIG):/kubeconfig \
#     -e KUBECONFIG=/kubeconfig/$(basename $KUBECONFIG) heptio/ark:latest backup get
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=v0.0.0-dev
ARG GIT_SHA=unknown
RUN CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/heptio/ark/pkg/buildinfo.Version=${VERSION} -X github.com/heptio/ark/pkg/buildinfo.GitSHA=${GIT_SHA} -X github.com/heptio/ark/pkg/buildinfo.GitTreeState=clean" \
    -o /out/ark ./cmd/ark

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ark /usr/bin/ark
USER 65532:65532
ENTRYPOINT ["/usr/bin/ark"]
