# The set-up every project script starts with; source it first:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
# It sets $repo and changes to it, keeps cargo's target directory outside the clone (so CI
# reruns and fresh clones are warm), puts rustup's cargo on PATH when a login shell did not,
# and defines section() for the scripts' headers.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rvedge/target}"
mkdir -p "$CARGO_TARGET_DIR"
if [[ -f "$HOME/.cargo/env" ]] && ! command -v cargo >/dev/null; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi

# Sections carry the time since the outermost script started (nested scripts inherit it), so
# a cold run's log shows where its time went; a script may name itself in $section_prefix.
export RVEDGE_SCRIPT_STARTED="${RVEDGE_SCRIPT_STARTED:-$(date +%s)}"
section() {
    local elapsed=$(($(date +%s) - RVEDGE_SCRIPT_STARTED))
    printf '\n==== %s%s ==== (at %d:%02d)\n' "${section_prefix:-}" "$*" $((elapsed / 60)) $((elapsed % 60))
}
