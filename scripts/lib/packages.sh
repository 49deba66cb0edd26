# shellcheck shell=bash
# Shell helpers shared by scripts/: the Debian packages ictmon needs and a function that
# installs the missing ones. Sourced, never run; bash only.

# What building, testing and running the demo need on a fresh Debian machine.
# shellcheck disable=SC2034  # used by the scripts that source this file
ICTMON_PACKAGES=(
	cmake pkg-config gcc make
	libevent-dev libpq-dev libcurl4-openssl-dev libjansson-dev libcmocka-dev libssl-dev
	postgresql postgresql-contrib
	python3 python3-aiosmtpd curl
)

# What the test suite needs besides: the dashboard's end-to-end test drives Debian's
# headless Chromium over the DevTools protocol (a WebSocket); clang builds the fuzzing
# harnesses (libFuzzer comes with it); valgrind checks the unit tests for leaks; wrk
# is the load benchmark's client.
# shellcheck disable=SC2034  # used by scripts/test
ICTMON_TEST_PACKAGES=(
	chromium python3-websocket clang valgrind wrk
)

# Set once apt-get update has run in this shell: one update per script is enough.
_ictmon_apt_updated=

# ensure_packages PKG...: installs those of PKG that dpkg does not list as installed,
# as root, or through sudo when not root. Returns non-zero, naming them, when it cannot.
ensure_packages()
{
	local pkg status
	local missing=()
	local sudo=()

	if ! command -v dpkg-query >/dev/null 2>&1; then
		echo "not a Debian system: make sure these are installed: $*" >&2
		return 0
	fi
	for pkg in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || status=
		[[ $status == *" installed" ]] || missing+=("$pkg")
	done
	((${#missing[@]} == 0)) && return 0

	if ((EUID != 0)); then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "missing Debian packages: ${missing[*]}" >&2
			echo "install them as root: apt-get install --no-install-recommends ${missing[*]}" >&2
			return 1
		fi
		sudo=(sudo)
	fi
	echo "installing missing Debian packages: ${missing[*]}" >&2
	if [[ -z $_ictmon_apt_updated ]]; then
		"${sudo[@]}" apt-get update -q || return 1
		_ictmon_apt_updated=1
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -q --no-install-recommends "${missing[@]}"
}
