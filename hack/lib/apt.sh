#!/usr/bin/env bash
# Installing Debian packages a script needs on a fresh machine. Source this
# file; it defines functions only. Callers define die().

# as_root CMD...: runs CMD as root (directly, or through sudo).
as_root() {
  if [[ ${EUID} -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root to run: $*"
  fi
}

# apt_install PKG...: apt-get update + install, quiet unless it fails.
apt_install() {
  local out
  out=$(mktemp)
  if ! { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } >"${out}" 2>&1; then
    cat "${out}" >&2
    rm -f "${out}"
    die "installing $* failed"
  fi
  rm -f "${out}"
}
