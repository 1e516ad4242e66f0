# Multi-stage build: compile in the Rust image, run in a slim Debian with only libpq.
FROM rust:1-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev pkg-config && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY locales ./locales
COPY conf ./conf
COPY integration-tests ./integration-tests
RUN cargo build --release --locked --bin devicelink

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/devicelink --create-home devicelink
COPY --from=build /src/target/release/devicelink /usr/local/bin/devicelink
# The default --config (DEVICELINK_CONFIG below): shipped empty, since every default is
# embedded in the binary (conf/default.toml); mount your own file over it.
RUN mkdir -p /etc/devicelink \
 && printf '# Overrides of conf/default.toml (embedded); see README "With Docker and PostgreSQL".\n' \
      > /etc/devicelink/devicelink.toml
USER devicelink
WORKDIR /var/lib/devicelink
ENV DEVICELINK_CONFIG=/etc/devicelink/devicelink.toml \
    DEVICELINK__SERVER__BIND=0.0.0.0:8080 \
    DEVICELINK__LOG__FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["devicelink"]
CMD ["serve"]
