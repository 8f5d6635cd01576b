# lib.sh - shared setup of the shell benchmarks (sourced from the source
# tree's root): the e2e helpers (tests/e2e/lib.sh), the binaries, and
# readers of a process's CPU ticks and RSS.
SRCDIR=$PWD
USETRACE=${USETRACE:-$PWD/build/src/cli/usetrace}
INJECT=${INJECT:-$PWD/build/bench/bench_inject}
export SRCDIR USETRACE
. "$SRCDIR/tests/e2e/lib.sh"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

# Xvfb at 1920x1080 and mousepad, nearly full screen, on a seeded
# 3000-line document: the office scene of the frame benchmarks.  Sets MP.
start_office() {
	start_x 1920x1080x24
	python3 -c '
import random
random.seed(1)
w = "the of and to in is you that it he was for on are as with his they at be this have from".split()
for i in range(3000):
    print(" ".join(random.choice(w) for _ in range(random.randrange(4, 16))))
' >"$E2E_TMP/doc.txt"
	start_mousepad "$E2E_TMP/doc.txt"
	xdotool windowsize --sync "$MP" 1900 1000 windowmove --sync "$MP" 0 40
}
