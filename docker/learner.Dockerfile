# A seedrl learner, one image per accelerator from this one file (pick it with --target):
#   gpu (the default): TensorFlow with its CUDA libraries from pip; GKE mounts the node's NVIDIA driver at
#        /usr/local/nvidia, which the image puts on LD_LIBRARY_PATH and PATH;
#   tpu: tensorflow-tpu with libtpu (the `learner-tpu` extra), for GKE TPU node pools;
#   cpu: tensorflow-cpu (the `learner` extra), for CPU-only clusters and local tests.
# docker build --platform linux/amd64 -f docker/learner.Dockerfile --target gpu -t seedrl-learner .
ARG PYTHON=python:3.11-slim-bookworm

FROM ${PYTHON} AS source
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY services services
COPY docker/install.sh docker/install.sh

FROM source AS build-cpu
RUN docker/install.sh /opt/venv learner

FROM source AS build-tpu
RUN docker/install.sh /opt/venv learner-tpu

FROM source AS build-gpu
RUN docker/install.sh /opt/venv learner-gpu

# What every learner image shares: a non-root user (uid 10001) that can read and run the root-owned venv
# and needs to write nothing in it (no bytecode is written; /tmp and the data volume are the pod's).
FROM ${PYTHON} AS runtime
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin seedrl
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
USER 10001:10001
EXPOSE 8686 9090
ENTRYPOINT ["seedrl"]
CMD ["learner", "--help"]

FROM runtime AS cpu
COPY --from=build-cpu /opt/venv /opt/venv

FROM runtime AS tpu
COPY --from=build-tpu /opt/venv /opt/venv

FROM runtime AS gpu
COPY --from=build-gpu /opt/venv /opt/venv
ENV LD_LIBRARY_PATH=/usr/local/nvidia/lib64 PATH=$PATH:/usr/local/nvidia/bin
