# A seedrl actor: Gymnasium environments, no TensorFlow.
# EXTRAS picks the environment families (pyproject extras), e.g. --build-arg EXTRAS=actor for Gymnasium classics only.
# docker build -f docker/actor.Dockerfile -t seedrl-actor .
ARG PYTHON=python:3.11-slim-bookworm

FROM ${PYTHON} AS build
ARG EXTRAS=atari,mujoco,football
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY services services
COPY docker/install.sh docker/install.sh
RUN docker/install.sh /opt/venv "${EXTRAS}"

FROM ${PYTHON}
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin seedrl
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 9090
ENTRYPOINT ["seedrl"]
CMD ["actor", "--help"]
