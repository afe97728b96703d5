#!/usr/bin/env bash
# Installs Graphviz's `dot` (Debian package `graphviz`) when it is missing, so the
# graph pictures can be rendered. Everything else in tinygraph works without it.
set -u
if command -v dot >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "tinygraph: Graphviz's 'dot' is missing; install Graphviz (https://graphviz.org/download/) to render pictures" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "tinygraph: Graphviz's 'dot' is missing; run 'apt-get install graphviz' as root to render pictures" >&2
    exit 0
  fi
fi
echo "tinygraph: installing Graphviz (Debian package graphviz) for 'dot'"
$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq graphviz >/dev/null
command -v dot >/dev/null 2>&1 || { echo "tinygraph: installing graphviz failed" >&2; exit 1; }
