#!/usr/bin/env bash
# Run the Swift toolchain for this project, also on machines without Swift.
#
# Usage (from any directory):
#   bindings/swift/swift.sh <swift args...>
#   e.g. bindings/swift/swift.sh test --package-path bindings/swift
#
# * If `swift` is on PATH (macOS, a Swift Linux box), it is exec'd directly.
# * Otherwise (Linux, root or sudo): Swift 6.0.3 from Debian 13 "trixie"
#   (package `swiftlang`) is installed once with debootstrap into a root
#   directory cached outside the repository, and `swift <args>` runs there
#   via chroot, in the same working directory. The first run takes a minute
#   or a few and ~3 GB of disk; later runs start in seconds.
#
# Inside the root these host directories appear at the same absolute path
# (bind mounts), so paths mean the same thing inside and outside:
#   * the repository and $CARGO_TARGET_DIR (e.g. target/release/libsessions.so);
#   * every directory named by --package-path, --scratch-path, --cache-path
#     or --chdir/-C in the arguments (relative ones are made absolute), and
#     the current directory: a package anywhere on the host (e.g. one made
#     with mktemp -d) builds like one in the repository;
#   * SWIFT_SH_EXTRA_MOUNTS: anything else the build reads, e.g. the git
#     repository of a `.package(url: "file:///...")` dependency.
# A directory the root itself needs (/, /usr, /root, ...: anything with files
# inside the root) is refused with a message, except the current directory:
# then swift runs in the --package-path directory. A library built on the
# host runs inside the root.
# All mounts live in a private mount namespace (unshare) when possible, so
# they are never visible to, nor left behind on, the host; they are also
# unmounted explicitly on exit (trap), which covers the no-unshare fallback.
#
# Environment:
#   SESSIONS_SWIFT_ROOT    where the root is kept
#                          (default /var/cache/sessions/swift-trixie)
#   SESSIONS_SWIFT_MIRROR  Debian mirror for debootstrap
#                          (default http://deb.debian.org/debian)
#   SWIFT_SH_EXTRA_MOUNTS  colon-separated extra host directories to
#                          bind-mount at the same path inside the root
#   Passed into the root: LD_LIBRARY_PATH, LIBRARY_PATH, PKG_CONFIG_PATH,
#   CARGO_TARGET_DIR, RUST_BACKTRACE, RUST_LOG, CI, NO_COLOR, TERM and every
#   SWIFT*/SWIFTPM*/XCTEST*/SESSIONS* variable. HOME is /root inside the root,
#   so SwiftPM's caches stay in the root; build products go to the package's
#   .build.
#
# Exit code: swift's exit code (or non-zero if provisioning fails).
set -euo pipefail

# --- 1. A real Swift toolchain wins. ---------------------------------------
if [[ -z ${_SWIFT_SH_IN_NS:-} ]] && command -v swift >/dev/null 2>&1; then
  exec swift "$@"
fi

log() { echo "swift.sh: $*" >&2; }

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
SCRIPT_DIR=$(dirname "$SCRIPT")

SWIFT_VERSION=6.0.3
SUITE=trixie
PACKAGES=(swiftlang libc6-dev libstdc++-14-dev)
# Packages added after roots were first made: installed into an existing root in
# place when missing (so adding one does not rebuild the root), and with the
# others into a new root. git: SwiftPM clones `.package(url:)` dependencies.
ADDED_PACKAGES=(git)
ROOT=${SESSIONS_SWIFT_ROOT:-/var/cache/sessions/swift-trixie}
ROOT=${ROOT%/}
MIRROR=${SESSIONS_SWIFT_MIRROR:-http://deb.debian.org/debian}
MARKER=$ROOT/.sessions-swift-ready
# What the marker records; a root made by a different recipe is redone.
RECIPE="swift $SWIFT_VERSION; $SUITE minbase; ${PACKAGES[*]}"
INNER_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

if [[ $(uname -s) != Linux ]]; then
  log "no swift on PATH, and the chroot fallback only works on Linux"
  exit 127
fi

# --- 2. Root privileges (chroot, mount). ------------------------------------
if [[ $EUID -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo --preserve-env "$BASH" "$SCRIPT" "$@"
  fi
  log "no swift on PATH; the chroot fallback needs root (or sudo)"
  exit 1
fi

# --- 3. A private mount namespace: mounts made from here on are invisible
# to the host and vanish with this process, even if it is killed. ----------
if [[ -z ${_SWIFT_SH_IN_NS:-} ]] &&
   unshare --mount --propagation private true 2>/dev/null; then
  export _SWIFT_SH_IN_NS=1
  exec unshare --mount --propagation private -- "$BASH" "$SCRIPT" "$@"
fi

# --- Mount bookkeeping: every mount is recorded and undone on exit. ---------
MOUNTED=()
unmount_all() {
  local i
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" ||
      log "warning: could not unmount ${MOUNTED[i]}"
  done
  MOUNTED=()
}
trap unmount_all EXIT
# On a signal: pass it to swift as SIGINT (SwiftPM cancels cleanly on SIGINT
# and stops its compiler processes; on SIGTERM it leaves them behind), wait
# for it, then exit, which unmounts via the EXIT trap.
CHILD=
# shellcheck disable=SC2329 # (called from the traps below)
on_signal() {
  if [[ -n $CHILD ]]; then
    kill -INT "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
  fi
  exit "$1"
}
trap 'on_signal 129' HUP
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# mount_in ROOT_DIR HOST_DIR: bind HOST_DIR at the same path under ROOT_DIR.
mount_in() {
  local target=$1$2
  mkdir -p "$target"
  mount --bind "$2" "$target"
  MOUNTED+=("$target")
}
# mount_system ROOT_DIR: /proc and /dev, which swift (and dpkg) need.
mount_system() {
  mount -t proc proc "$1/proc"
  MOUNTED+=("$1/proc")
  # A plain (non-recursive) bind: no /dev/pts etc. submounts to undo.
  mount --bind /dev "$1/dev"
  MOUNTED+=("$1/dev")
}

# Is anything mounted at or below $1 (in this namespace)?
has_mounts_below() {
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { found = 1 }
                 END { exit !found }' /proc/self/mountinfo
}

# Remove a (possibly half-built) root, never following mounts out of it.
remove_tree() {
  local dir=$1 m
  [[ -e $dir ]] || return 0
  [[ $dir == /*/* ]] || { log "refusing to remove '$dir'"; return 1; }
  # Left-over mounts (e.g. from a killed run without unshare): undo them.
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' \
             /proc/self/mountinfo | sort -r)
  if has_mounts_below "$dir"; then
    log "refusing to remove $dir: something is still mounted below it"
    return 1
  fi
  rm -rf --one-file-system -- "$dir"
}

# --- 4. Provision the root once. --------------------------------------------
# Built in $ROOT.partial and renamed to $ROOT only after it works, so an
# interrupted attempt never looks finished; a missing/stale marker means redo.
LOG=$ROOT.log
run_logged() {
  if ! "$@" >>"$LOG" 2>&1; then
    log "failed: $*"
    log "last lines of $LOG:"
    tail -n 25 "$LOG" >&2
    return 1
  fi
}

provision() {
  local tmp=$ROOT.partial start=$SECONDS
  log "provisioning Swift $SWIFT_VERSION (Debian $SUITE) in $ROOT" \
      "(once; a few minutes, ~3 GB; log: $LOG)"
  : >"$LOG"
  remove_tree "$tmp"
  remove_tree "$ROOT"

  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap on the host"
    export DEBIAN_FRONTEND=noninteractive
    run_logged apt-get update
    run_logged apt-get install -y --no-install-recommends debootstrap
  fi

  log "debootstrap --variant=minbase $SUITE"
  run_logged debootstrap --variant=minbase "$SUITE" "$tmp" "$MIRROR"

  log "apt-get install ${PACKAGES[*]} ${ADDED_PACKAGES[*]}"
  cp -L /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
  mount_system "$tmp"
  local apt=(chroot "$tmp" /usr/bin/env -i PATH="$INNER_PATH" HOME=/root
             LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
  run_logged "${apt[@]}" apt-get update
  run_logged "${apt[@]}" apt-get install -y --no-install-recommends \
    "${PACKAGES[@]}" "${ADDED_PACKAGES[@]}"
  run_logged "${apt[@]}" apt-get clean
  # Smoke test before declaring the root ready.
  run_logged "${apt[@]}" swift --version
  unmount_all

  echo "$RECIPE" >"$tmp/.sessions-swift-ready"
  mv -T "$tmp" "$ROOT"
  log "Swift root ready in $((SECONDS - start))s ($(du -sh --one-file-system \
       "$ROOT" | cut -f1))"
}

# Install whichever of ADDED_PACKAGES an existing root lacks.
add_packages() {
  local apt=(chroot "$ROOT" /usr/bin/env -i PATH="$INNER_PATH" HOME=/root
             LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
  local missing=() p
  for p in "${ADDED_PACKAGES[@]}"; do
    # shellcheck disable=SC2016 # (${Status} is dpkg-query's, not the shell's)
    "${apt[@]}" dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
      grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  log "adding ${missing[*]} to the Swift root (once; log: $LOG)"
  cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  mount_system "$ROOT"
  run_logged "${apt[@]}" apt-get update
  run_logged "${apt[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
  run_logged "${apt[@]}" apt-get clean
  unmount_all
}

mkdir -p "$(dirname "$ROOT")"
# Serialise provisioning between concurrent runs.
exec 9>"$ROOT.lock"
flock 9
if [[ ! -f $MARKER || $(<"$MARKER") != "$RECIPE" ]]; then
  provision
fi
add_packages
flock -u 9
exec 9>&-

# --- 5. Mount what the build needs and run swift. ---------------------------
REPO=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel 2>/dev/null) ||
  REPO=$(readlink -f "$SCRIPT_DIR/../..")

# Host directories to expose at the same absolute path: the repository, the
# cargo target directory, the package and scratch paths named in the arguments,
# SWIFT_SH_EXTRA_MOUNTS, and the current directory.
HOST_CWD=$(pwd -P)
MOUNT_DIRS=("$REPO")
if [[ -n ${CARGO_TARGET_DIR:-} ]]; then
  mkdir -p "$CARGO_TARGET_DIR"
  MOUNT_DIRS+=("$(readlink -f "$CARGO_TARGET_DIR")")
fi
# The arguments, with the paths below made absolute (the same place, wherever
# swift runs), and the directories they name added to MOUNT_DIRS; scratch and
# cache directories are created first, as swift would.
ARGS=()
PACKAGE_DIR=
absolute() { # the absolute path, symbolic links resolved where it exists
  local p=$1
  [[ $p == /* ]] || p=$HOST_CWD/$p
  if [[ -e $p ]]; then readlink -f "$p"; else echo "$p"; fi
}
path_arg() { # path_arg PATH create|keep: prints the absolute path
  local p
  p=$(absolute "$1")
  [[ $2 == create ]] && mkdir -p "$p"
  if [[ -d $p ]]; then
    MOUNT_DIRS+=("$(readlink -f "$p")")
    [[ $2 == keep && -z $PACKAGE_DIR ]] && PACKAGE_DIR=$(readlink -f "$p")
  fi
  echo "$p"
}
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  a=${args[i]}
  case $a in
    --package-path | --chdir | -C | --scratch-path | --cache-path)
      ARGS+=("$a")
      if ((i + 1 < ${#args[@]})); then
        i=$((i + 1))
        kind=keep
        [[ $a == --scratch-path || $a == --cache-path ]] && kind=create
        path_arg "${args[i]}" "$kind" >/dev/null # (for MOUNT_DIRS and PACKAGE_DIR)
        ARGS+=("$(absolute "${args[i]}")")
      fi ;;
    --package-path=* | --chdir=*)
      path_arg "${a#*=}" keep >/dev/null
      ARGS+=("${a%%=*}=$(absolute "${a#*=}")") ;;
    --scratch-path=* | --cache-path=*)
      path_arg "${a#*=}" create >/dev/null
      ARGS+=("${a%%=*}=$(absolute "${a#*=}")") ;;
    *) ARGS+=("$a") ;;
  esac
done
if [[ -n ${SWIFT_SH_EXTRA_MOUNTS:-} ]]; then
  IFS=: read -r -a extra <<<"$SWIFT_SH_EXTRA_MOUNTS"
  for d in "${extra[@]}"; do
    [[ -n $d ]] || continue
    [[ -d $d ]] || { log "SWIFT_SH_EXTRA_MOUNTS: no directory '$d'"; exit 1; }
    MOUNT_DIRS+=("$(readlink -f "$d")")
  done
fi

# Can $1 be mounted without hiding the root's own files? Not /, not the root's
# directory, nor any directory with files inside the root (/usr, /etc, /root,
# ...); empty directories there are mount points left by earlier runs.
mountable() {
  [[ $1 != / && $ROOT != "$1" && $ROOT != "$1"/* && $1 != "$ROOT"/* ]] || return 1
  [[ ! -e $ROOT$1 ]] && return 0
  [[ -z $(find "$ROOT$1" -mindepth 1 -not -type d -print -quit 2>/dev/null) ]]
}

mount_system "$ROOT"
MOUNTED_DIRS=()
# Is $1 equal to or below one of the directories mounted so far?
covered() {
  local m
  for m in "${MOUNTED_DIRS[@]}"; do
    [[ $1 == "$m" || $1 == "$m"/* ]] && return 0
  done
  return 1
}
# Shorter paths first, so that a directory below another one is not mounted twice.
mapfile -t MOUNT_DIRS < <(printf '%s\n' "${MOUNT_DIRS[@]}" | awk '{ print length, $0 }' |
                          sort -n -s | cut -d' ' -f2-)
for d in "${MOUNT_DIRS[@]}"; do
  covered "$d" && continue
  if ! mountable "$d"; then
    log "cannot use '$d' inside the Swift root (it would hide the root's own" \
        "files); keep packages in a directory such as one under /tmp, /home," \
        "/work or /srv"
    exit 1
  fi
  mount_in "$ROOT" "$d"
  MOUNTED_DIRS+=("$d")
done

# swift runs in the current directory if it can be mounted (e.g. not / or /root);
# otherwise in the package directory named by --package-path.
CWD=$HOST_CWD
if ! covered "$CWD"; then
  if mountable "$CWD"; then
    mount_in "$ROOT" "$CWD"
    MOUNTED_DIRS+=("$CWD")
  elif [[ -n $PACKAGE_DIR ]]; then
    CWD=$PACKAGE_DIR
  else
    log "cannot run in $CWD inside the Swift root (it would hide the root's" \
        "own files): cd into the package, or pass --package-path"
    exit 1
  fi
fi

# A clean environment, plus what matters to swift builds and tests.
ENV=(PATH="$INNER_PATH" HOME=/root LANG=C.UTF-8 USER=root)
while IFS= read -r name; do
  case $name in
    LD_LIBRARY_PATH | LIBRARY_PATH | PKG_CONFIG_PATH | CARGO_TARGET_DIR | RUST_BACKTRACE | \
    RUST_LOG | CI | NO_COLOR | TERM | SWIFT* | XCTEST* | SESSIONS*)
      ENV+=("$name=${!name}") ;;
  esac
done < <(compgen -e)

# swift runs in the background so that signals reach the traps above at
# once; --default-signal undoes the SIGINT-ignore bash gives background jobs,
# so Ctrl-C still reaches swift directly too; <&0 keeps stdin (bash would
# give a background job /dev/null).
chroot "$ROOT" /usr/bin/env -i --default-signal=INT --chdir="$CWD" \
  "${ENV[@]}" swift "${ARGS[@]}" <&0 &
CHILD=$!
rc=0
wait "$CHILD" || rc=$?
CHILD=
exit "$rc"
