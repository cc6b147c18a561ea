# Small, non-root image: a static binary on distroless.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/pager ./cmd/pager

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pager /pager
USER nonroot:nonroot
WORKDIR /home/nonroot
ENV LISTEN_ADDR=:8080 BACKING_STORE_DIR=/home/nonroot/data
EXPOSE 8080
ENTRYPOINT ["/pager"]
