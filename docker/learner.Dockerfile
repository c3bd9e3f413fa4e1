# A seedrl learner on NVIDIA GPUs: TensorFlow with its CUDA libraries from pip (the node's driver is mounted by GKE).
# CPU learner: --build-arg EXTRAS=learner. TPU learner: see docs/gke.md ("TPU learner image").
# docker build -f docker/learner.Dockerfile -t seedrl-learner .
ARG PYTHON=python:3.11-slim-bookworm

FROM ${PYTHON} AS build
ARG EXTRAS=learner-gpu
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY services services
COPY docker/install.sh docker/install.sh
RUN docker/install.sh /opt/venv "${EXTRAS}"

FROM ${PYTHON}
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin seedrl
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
USER 10001:10001
EXPOSE 8686 9090
ENTRYPOINT ["seedrl"]
CMD ["learner", "--help"]
