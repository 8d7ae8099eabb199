# Shared by scripts/start and scripts/test (sourced, not executed).
# Resolves the repository root, creates .venv with Python >= 3.11 and installs QCare into it,
# skipping the install when pyproject.toml (and the extras asked for) have not changed.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
export QCARE_DATA_DIR="${QCARE_DATA_DIR:-$ROOT/var}"

pick_python() {
    local candidate
    for candidate in "${QCARE_PYTHON:-}" python3.11 python3 python; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "QCare needs Python 3.11 or newer (set QCARE_PYTHON to its path)." >&2
    return 1
}

# ensure_venv [extras] — e.g. ensure_venv "" or ensure_venv "test"
ensure_venv() {
    local extras="${1:-}" spec="." stamp stamp_value python
    if [ ! -x "$VENV/bin/python" ]; then
        python="$(pick_python)"
        echo "==> creating $VENV with $python"
        "$python" -m venv "$VENV"
    fi
    [ -n "$extras" ] && spec=".[$extras]"
    stamp="$VENV/.qcare-install-${extras:-base}"
    stamp_value="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_value" ] && [ -x "$VENV/bin/qcare" ]; then
        return 0
    fi
    echo "==> installing QCare ($spec) into $VENV"
    (cd "$ROOT" && "$VENV/bin/python" -m pip install --quiet -e "$spec")
    echo "$stamp_value" >"$stamp"
}

# The .mo files are committed; compile only when some are missing and msgfmt exists.
compile_messages_if_needed() {
    local po missing=0
    while IFS= read -r po; do
        [ -f "${po%.po}.mo" ] || missing=1
    done < <(find "$ROOT/src/qcare" -path '*/LC_MESSAGES/*.po')
    if [ "$missing" = 1 ]; then
        if command -v msgfmt >/dev/null 2>&1; then
            echo "==> compiling translations"
            (cd "$ROOT/src/qcare" && "$VENV/bin/qcare" compilemessages --verbosity 0)
        else
            echo "warning: some translations are not compiled and msgfmt (gettext) is missing" >&2
        fi
    fi
}

# True when `qcare <command>` exists (some commands are provided by optional parts).
has_command() {
    "$VENV/bin/qcare" help "$1" >/dev/null 2>&1
}
