# Small, non-root image: a static binary on distroless (Go 1.26, as go.mod asks).
#
#   docker build -t oncall-pager .
#   # a demo without a Twilio account (dry run; anyone who reaches the port can
#   # act as Twilio, so keep it on this machine):
#   docker run --rm -p 127.0.0.1:8080:8080 -e INSECURE_ALLOW_UNSIGNED=true -v pager-data:/data oncall-pager
#   # for real: settings in an env file (see .env.example)
#   docker run -d -p 127.0.0.1:8080:8080 --env-file pager.env -v pager-data:/data oncall-pager
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/oncall-pager ./cmd/oncall-pager \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/oncall-pager /oncall-pager
# The local folder store, owned by the non-root user (uid 65532) so a named
# volume mounted here starts writable.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
ENV LISTEN_ADDR=:8080 BACKING_STORE_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
# No shell or curl in the image: the binary probes itself (GET /livez).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/oncall-pager", "healthcheck"]
ENTRYPOINT ["/oncall-pager"]
CMD ["serve"]
