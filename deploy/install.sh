#!/bin/sh
# Install or upgrade alpr-edge as a service on a 64-bit Raspberry Pi OS (Bookworm) or JetPack 6
# unit. One command, run as root from a release checkout (docs/deploy.md):
#
#   sudo deploy/install.sh
#
# It creates (or, run again, upgrades in place):
#   /opt/alpr-edge/venv       a virtual environment that sees the OS's packages
#                             (--system-site-packages: OpenCV with GStreamer, picamera2,
#                             JetPack's onnxruntime-gpu), with the package installed into it
#   alpr-edge (user, group)   the service's own account, in the video and render groups
#   /etc/alpr-edge            edge.toml, agencies.toml, query-policy.toml: copied only when
#                             absent; an upgrade never touches them
#   /etc/alpr-edge/models     a link to the shipped models of the installed release
#   /var/lib/alpr-edge        reads, crops, the audit log and the outbox: never touched
#   /etc/systemd/system/alpr-edge.service, enabled (and restarted on upgrade once the camera
#                             is configured)
# It refuses, and changes nothing, on a 32-bit system (no onnxruntime wheels for armv7l),
# Python older than 3.10, or a machine without systemd (unless --no-systemd).
#
# Options (the first three are for tests and image builds):
#   --root DIR      install into DIR as if it were / (a chroot or image being built)
#   --no-systemd    install the unit file but do not ask systemd to load, enable or start it
#   --no-deps       install the package alone (its dependencies come from the OS or a
#                   wheelhouse already installed)
#   --wheel FILE    install this wheel instead of building the checkout
#   --python EXE    the interpreter to build the virtual environment with (default python3)
set -eu

ROOT=""
SYSTEMD=yes
NODEPS=""
WHEEL=""
PYTHON=python3
HERE=$(cd "$(dirname "$0")/.." && pwd)
while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT=${2%/}; shift 2 ;;
        --no-systemd) SYSTEMD=no; shift ;;
        --no-deps) NODEPS=--no-deps; shift ;;
        --wheel) WHEEL=$2; shift 2 ;;
        --python) PYTHON=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

PREFIX=/opt/alpr-edge
VENV=$PREFIX/venv
ETC=/etc/alpr-edge
VAR=/var/lib/alpr-edge
UNIT=/etc/systemd/system/alpr-edge.service
SHARE=$VENV/share/alpr-edge
USER_NAME=alpr-edge

say() { echo "alpr-edge install: $*"; }
refuse() { echo "alpr-edge install: refused: $*" >&2; exit 3; }

# --- Is this a system the unit runs on? Checked before anything is written. -----------------
MACHINE=${ALPR_EDGE_MACHINE:-$(uname -m)}
case "$MACHINE" in
    aarch64|arm64|x86_64) ;;
    armv6l|armv7l|armhf|arm*)
        refuse "$MACHINE is a 32-bit system: onnxruntime publishes no wheels for it. Install the 64-bit Raspberry Pi OS (Bookworm) and run this again." ;;
    *) refuse "unsupported machine $MACHINE (supported: aarch64, x86_64)" ;;
esac
command -v "$PYTHON" >/dev/null 2>&1 || refuse "no $PYTHON: install python3 (3.10 or later) and python3-venv"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    refuse "$("$PYTHON" -V 2>&1) is too old: alpr-edge needs Python 3.10 or later (Pi OS Bookworm has 3.11, JetPack 6 has 3.10)"
fi
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || refuse "$PYTHON cannot make virtual environments: apt install python3-venv"
if [ "$SYSTEMD" = yes ] && [ ! -d /run/systemd/system ]; then
    refuse "systemd is not running on this machine (pass --no-systemd to install the files only)"
fi
if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
    refuse "run as root (sudo deploy/install.sh)"
fi

# --- The virtual environment and the package. ----------------------------------------------
if [ -x "$ROOT$VENV/bin/python" ]; then
    say "upgrading the package in $ROOT$VENV"
else
    say "creating $ROOT$VENV (with the OS's site packages visible)"
    mkdir -p "$ROOT$PREFIX"
    "$PYTHON" -m venv --system-site-packages "$ROOT$VENV"
fi
PACKAGE=${WHEEL:-$HERE}
# --force-reinstall --no-deps first would lose dependency upgrades; --upgrade keeps them current.
# A PYTHONPATH of the caller's would make pip see other installs as this one.
env -u PYTHONPATH "$ROOT$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --upgrade $NODEPS "$PACKAGE"
[ -f "$ROOT$SHARE/models/detector.onnx" ] || refuse "the installed package has no models in $SHARE"

# --- The service user. ----------------------------------------------------------------------
if [ -z "$ROOT" ] || [ -f "$ROOT/etc/passwd" ]; then
    ROOTOPT=""
    [ -n "$ROOT" ] && ROOTOPT="--root $ROOT"
    if ! grep -q "^$USER_NAME:" "$ROOT/etc/passwd"; then
        say "creating the system user $USER_NAME"
        # shellcheck disable=SC2086
        useradd $ROOTOPT --system --user-group --home-dir "$VAR" --no-create-home \
            --shell /usr/sbin/nologin --comment "alpr-edge service" "$USER_NAME"
    fi
    for group in video render; do
        if grep -q "^$group:" "$ROOT/etc/group"; then
            # shellcheck disable=SC2086
            usermod $ROOTOPT -a -G "$group" "$USER_NAME"
        fi
    done
    OWNED=yes
else
    say "no $ROOT/etc/passwd: no service user created, files left owned by $(id -un)"
    OWNED=no
fi

# --- Config: copied only when absent. -------------------------------------------------------
mkdir -p "$ROOT$ETC" "$ROOT$VAR"
# The shipped models, through a link that follows the installed release (relative, so the same
# config holds inside an image built with --root).
ln -sfn "../..$SHARE/models" "$ROOT$ETC/models"
if [ -f "$ROOT$ETC/edge.toml" ]; then
    say "keeping $ETC/edge.toml"
else
    say "writing $ETC/edge.toml from the shipped example: set [camera] source, then start"
    # Paths stay relative to /etc/alpr-edge: models/ is the link above, data lives in
    # /var/lib/alpr-edge (the one writable place of the service).
    sed -e 's|^source = .*|source = ""  # set me: see docs/deploy.md|' \
        -e 's#"\.\./models/#"models/#' \
        -e 's#^data_dir = "\.\./data"#data_dir = "../../var/lib/alpr-edge/data"#' \
        -e 's#"\.\./data/share"#"../../var/lib/alpr-edge/share"#' \
        -e 's#^id = "demo-camera-1"#id = "camera-1"#' \
        "$ROOT$SHARE/config/edge.toml" > "$ROOT$ETC/edge.toml.new"
    mv "$ROOT$ETC/edge.toml.new" "$ROOT$ETC/edge.toml"
fi
for name in agencies.toml query-policy.toml; do
    if [ ! -f "$ROOT$ETC/$name" ]; then
        cp "$ROOT$SHARE/config/$name" "$ROOT$ETC/$name"
    fi
done
if [ "$OWNED" = yes ]; then
    # The service reads its config and writes only its data. Numeric ids from the root's own
    # account files: with --root the host's names may differ.
    UID_N=$(grep "^$USER_NAME:" "$ROOT/etc/passwd" | cut -d: -f3)
    GID_N=$(grep "^$USER_NAME:" "$ROOT/etc/passwd" | cut -d: -f4)
    chown -R "0:$GID_N" "$ROOT$ETC"
    chmod 0750 "$ROOT$ETC"
    chown "$UID_N:$GID_N" "$ROOT$VAR"
    chmod 0750 "$ROOT$VAR"
fi

# --- The service. ---------------------------------------------------------------------------
mkdir -p "$(dirname "$ROOT$UNIT")"
cp "$ROOT$SHARE/deploy/alpr-edge.service" "$ROOT$UNIT"
say "installed $UNIT"
CONFIGURED=no
grep -q '^source = "[^"]' "$ROOT$ETC/edge.toml" && CONFIGURED=yes
if [ "$SYSTEMD" = yes ]; then
    systemctl daemon-reload
    systemctl enable alpr-edge.service
    if [ "$CONFIGURED" = yes ]; then
        "$VENV/bin/alpr-edge" config check --config "$ETC/edge.toml"
        systemctl restart alpr-edge.service
        say "started; follow it with: journalctl -u alpr-edge -f"
    else
        say "enabled, not started: set [camera] source in $ETC/edge.toml, then: systemctl start alpr-edge"
    fi
fi
say "done ($(env -u PYTHONPATH "$ROOT$VENV/bin/alpr-edge" --version))"
