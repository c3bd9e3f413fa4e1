# The seedrl controller: REST API and Kubernetes runtime (no TensorFlow, no environments' heavy deps).
# docker build -f docker/controller.Dockerfile -t seedrl-controller .
ARG PYTHON=python:3.11-slim-bookworm

FROM ${PYTHON} AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY services services
COPY docker/install.sh docker/install.sh
RUN docker/install.sh /opt/venv controller,kubernetes

FROM ${PYTHON}
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin seedrl
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["seedrl"]
CMD ["controller", "--runtime=kubernetes", "--host=0.0.0.0"]
