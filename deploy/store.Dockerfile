# ob-event-store container image (there is no published image: build it from this repository).
#   docker build -f deploy/store.Dockerfile -t ob-event-store:0.1.0 .
# Configuration comes from OB_STORE_* environment variables (docs/store.md); the SET-signing key is a file.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p ob-event-store

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 --home /nonexistent ob-event-store
COPY --from=build /src/target/release/ob-event-store /usr/local/bin/ob-event-store
USER 10001
ENV OB_STORE_LISTEN=0.0.0.0:8081
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/ob-event-store"]
