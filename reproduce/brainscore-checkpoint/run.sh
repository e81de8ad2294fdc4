#!/bin/sh
# A Brain-Score-style run with your own checkpoint (README.md).
#
#   sh run.sh [--reduced] [--keep]
#
#   --reduced  the CI run: make a random-weight torchvision VGG-16 checkpoint
#              (make_checkpoint.py) and convert it (scripts/torch_to_h5.py) into
#              out/reduced/ if it is not there yet, then run study-reduced.ini
#              and check the results against expected-reduced.json
#              (a few minutes on 2 cores).
#              Without it: run study.ini (your ImageNet VGG-16 on MajajHong2015;
#              hours, see README.md), checked against expected.json if you made one.
#   --keep     keep the outputs of an earlier run: the study then redoes only the
#              steps whose command or inputs changed.  Without it every step is
#              run again (neurocmp study --rerun), so the time printed is that of
#              a whole run.  The checkpoint is never remade when it exists.
#
# Environment: NEUROCMP (default ROOT/build/neurocmp), PYTHON (a python3 with
# torch, torchvision and h5py; default: the first of python3, /usr/bin/python3
# that has them).  Exit status: that of neurocmp study (0 done and reproduced,
# 1 a step failed or a value was not reproduced, 2 usage, 3 interrupted).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
NEUROCMP=${NEUROCMP:-$root/build/neurocmp}

reduced=0
keep=0
for a in "$@"; do
    case $a in
    --reduced) reduced=1 ;;
    --keep) keep=1 ;;
    -h | --help)
        sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "run.sh: unknown option '$a' (use --reduced, --keep)" >&2
        exit 2
        ;;
    esac
done

if [ ! -x "$NEUROCMP" ]; then
    echo "run.sh: no neurocmp at $NEUROCMP (build it: cmake --build $root/build, or set NEUROCMP)" >&2
    exit 2
fi

now() { date +%s; }

pick_python() {
    if [ -n "${PYTHON:-}" ]; then
        echo "$PYTHON"
        return 0
    fi
    for p in python3 /usr/bin/python3; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch, torchvision, h5py' >/dev/null 2>&1; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

if [ $reduced = 1 ]; then
    config=$here/study-reduced.ini
    expected=$here/expected-reduced.json
    out=$here/out/reduced
    mkdir -p "$out"
    if [ ! -f "$out/vgg16-random.h5" ]; then
        if ! py=$(pick_python); then
            echo "run.sh: making the checkpoint needs a python3 with torch, torchvision and h5py" \
                "(Debian/Ubuntu: apt install python3-torch python3-torchvision python3-h5py; or set PYTHON)" >&2
            exit 2
        fi
        t0=$(now)
        if [ ! -f "$out/vgg16-random.pth" ]; then
            "$py" "$here/make_checkpoint.py" "$out/vgg16-random.pth"
        fi
        t1=$(now)
        # the architecture is guessed from torchvision's VGG-16 keys (arch 'vgg16'): no --arch needed
        "$py" "$root/scripts/torch_to_h5.py" "$out/vgg16-random.pth" "$out/vgg16-random.h5" --force
        t2=$(now)
        echo "run.sh: checkpoint made in $((t1 - t0)) s, converted in $((t2 - t1)) s"
    fi
else
    config=$here/study.ini
    expected=$here/expected.json
fi

set -- --config "$config"
[ $keep = 1 ] || set -- "$@" --rerun
if [ -f "$expected" ]; then
    set -- "$@" --check "$expected"
else
    echo "run.sh: no $(basename "$expected"): the results are not checked (README.md says how to make one)" >&2
fi

start=$(now)
status=0
"$NEUROCMP" study "$@" || status=$?
end=$(now)
echo "run.sh: neurocmp study $(basename "$config") took $((end - start)) s (exit status $status)"
exit $status
