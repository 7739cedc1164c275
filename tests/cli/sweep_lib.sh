# shellcheck shell=bash
# sweep_lib.sh - what the sweep tests share: the small Fashion-MNIST setup
# (--limit 2000, 2 epochs, mlp:784-32-10, two trials at once on one thread
# each), and the comparisons of run folders and summaries. Sourced after
# lib.sh, which sets descent and skip_all.
# A sweep starts its trials by executing itself (/proc/self/exe), which an
# arm64 program under qemu-user cannot do without binfmt_misc.
if [ "$emulated" = 1 ]; then
  skip_all "the sweep executes itself for each trial, which qemu-user cannot without binfmt_misc"
fi

# shellcheck disable=SC2154
fashion=/usr/share/datasets/fashion-mnist
[ -e "$fashion/train-images-idx3-ubyte.gz" ] || [ -e "$fashion/train-images-idx3-ubyte" ] ||
  skip_all "Fashion-MNIST is not installed at $fashion (Debian: dataset-fashion-mnist)"

small=(--limit 2000 --model mlp:784-32-10 --val 500)
sweep() { "$descent" sweep --jobs 2 --threads-per-trial 1 "$@"; }
train() { "$descent" train --quiet --threads 1 "${small[@]}" "$@"; }

# column FILE NAME: the values of CSV column NAME, one a line.
column() {
  awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
                        { print $c }' "$1"
}

# untimed FILE: a CSV file without its timing columns (samples_per_s and
# train_seconds), which differ from run to run.
untimed() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) drop[i] = ($i == "samples_per_s" || $i == "train_seconds") }
           { out = ""; for (i = 1; i <= NF; i++) if (!drop[i]) out = out (out == "" ? "" : ",") $i; print out }' "$1"
}

# same_metrics A B: two metrics.csv files equal but for their timing columns.
same_metrics() { cmp -s <(untimed "$1") <(untimed "$2"); }
