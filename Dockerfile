# The builder's own image, built by the builder: scripts/build-image stages
# dist/kaniko/ (the static binary, also as executor, and CA certificates)
# and runs the builder on this directory. Laid out like kaniko's image so
# kaniko job definitions work with only the image changed.
FROM scratch
COPY dist/kaniko/ /kaniko/
ENV PATH=/kaniko \
    HOME=/root \
    USER=root \
    SSL_CERT_DIR=/kaniko/ssl/certs \
    DOCKER_CONFIG=/kaniko/.docker/
WORKDIR /workspace
ENTRYPOINT ["/kaniko/executor"]
