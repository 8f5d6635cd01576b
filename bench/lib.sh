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
