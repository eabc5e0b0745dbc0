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

section() { printf '\n==== %s ====\n' "$*"; }
