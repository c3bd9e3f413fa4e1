#!/bin/sh
# Installs seedrl with the given extras into a fresh virtualenv: the one install step of every image
# (tests/kubernetes/test_images.py runs it too). Usage: docker/install.sh VENV EXTRAS [SOURCE]
set -eu
venv="$1"
extras="$2"
source="${3:-.}"
python3 -m venv "$venv"
"$venv/bin/pip" install --no-cache-dir --quiet --upgrade pip
"$venv/bin/pip" install --no-cache-dir --quiet "$source[$extras]"
"$venv/bin/seedrl" --help >/dev/null
