# The builder's own image, built by the builder: scripts/build-image stages
# dist/kaniko/ (the static binary, also as executor, and CA certificates)
# and runs the builder on this directory. Laid out like kaniko's image so
# kaniko job definitions work with only the image changed.
FROM scratch AS image
COPY dist/kaniko/ /kaniko/
ENV PATH=/kaniko \
    HOME=/root \
    USER=root \
    SSL_CERT_DIR=/kaniko/ssl/certs \
    DOCKER_CONFIG=/kaniko/.docker/
WORKDIR /workspace
ENTRYPOINT ["/kaniko/executor"]

# The debug variant (scripts/build-image --debug), kaniko's :debug layout:
# a static busybox at /busybox with its applets, on PATH, for CI systems
# that run a job's script with a shell in the job's image (GitLab).
FROM image AS debug
COPY dist/busybox/ /busybox/
ENV PATH=/kaniko:/busybox
SHELL ["/busybox/sh", "-c"]

FROM image
