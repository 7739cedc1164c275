# shellcheck shell=bash
# hostile_corpus.sh - makes the hostile-input corpus that tests/cli/hostile.sh
# runs, and lists its cases.
#
# Sourced by hostile.sh after lib.sh. hostile_corpus_make builds every input
# under $corpus (good data, a real run, then damaged copies of its files) and
# declares one case per line:
#   hc NAME PHRASE ARGS...
# descent ARGS... must refuse with one line on stderr holding PHRASE (the
# file or option at fault, or the problem). tc is hc for `descent train` with
# tiny defaults for every option the case does not give itself.
# Nothing binary is committed: every file is written here, byte by byte.
# shellcheck disable=SC2154 # descent, corpus, fresh: set by hostile.sh

# ---- bytes ------------------------------------------------------------------

# le64 N / le32 N: little-endian bytes; hexbytes HEX: raw bytes from hex.
# shellcheck disable=SC2059 # the format is the bytes
le32() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 24 & 255)))"; }
le64() { le32 $(($1 & 0xffffffff)); le32 $(($1 >> 32 & 0xffffffff)); }
hexbytes() { printf '%s' "$1" | xxd -r -p; }

# patch FILE OFFSET HEX: overwrites bytes in place.
patch() { hexbytes "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
# u32_at / u64_at FILE OFFSET: little-endian numbers read back.
u32_at() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
u64_at() { od -An -tu8 -j "$2" -N8 "$1" | tr -d ' '; }
# truncated SRC N DST: the first N bytes.
truncated() { head -c "$2" "$1" >"$3"; }
# flipped SRC OFFSET DST: a copy with one byte inverted.
flipped() {
  cp "$1" "$3"
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  patch "$3" "$2" "$(printf %02x $((b ^ 255)))"
}
# crc32 FILE OFFSET LEN: zlib's CRC-32 of a byte range as four little-endian
# bytes in hex (gzip's trailer holds exactly that).
crc32_hex() { tail -c +$(($2 + 1)) "$1" | head -c "$3" | gzip -c | tail -c 8 | head -c 4 | xxd -p; }

# Model files and checkpoints: 16-byte header, then sections of tag, u64
# length, payload, CRC-32. section FILE TAG prints the payload's offset and
# length; fix_crcs FILE rewrites every CRC, so that a mutation inside a
# payload reaches the reader's range checks instead of its CRC check.
section() {
  local at=16 n i len tag
  n=$(u32_at "$1" 12)
  for ((i = 0; i < n; i++)); do
    tag=$(dd if="$1" bs=1 skip="$at" count=4 status=none)
    len=$(u64_at "$1" $((at + 4)))
    if [ "${tag% }" = "${2% }" ]; then echo "$((at + 12)) $len"; return; fi
    at=$((at + 16 + len))
  done
  echo "no section $2 in $1" >&2
  return 1
}
fix_crcs() {
  local at=16 n i len size
  n=$(u32_at "$1" 12)
  size=$(stat -c %s "$1")
  for ((i = 0; i < n && at + 16 <= size; i++)); do
    len=$(u64_at "$1" $((at + 4)))
    [ $((at + 16 + len)) -le "$size" ] || return 0
    patch "$1" $((at + 12 + len)) "$(crc32_hex "$1" "$at" $((12 + len)))"
    at=$((at + 16 + len))
  done
}
# mutated SRC DST TAG OFFSET HEX: a copy with HEX written at OFFSET into
# section TAG's payload, CRCs fixed.
mutated() {
  local where
  where=$(section "$1" "$3") || return 1
  cp "$1" "$2"
  patch "$2" $((${where% *} + $4)) "$5"
  fix_crcs "$2"
}

NAN32=0000c07f
INF32=0000807f
NAN64=000000000000f87f
INF64=000000000000f07f

# ---- the table --------------------------------------------------------------

# tc NAME PHRASE ARGS...: a `descent train` case; options the case does not
# give take tiny defaults (a new --out of its own unless it resumes).
tc() {
  local name=$1 phrase=$2 a
  shift 2
  local -a extra=()
  local -A given=()
  for a in "$@"; do
    case $a in --?*) a=${a#--} && given[${a%%=*}]=1 ;; esac
  done
  local -a defaults=(data-dir "$data" model mlp:64-4-10 epochs 1 batch-size 5 threads 1
    out "$fresh/out-${#names[@]}") # not the case's name: a phrase must not match it
  local i
  for ((i = 0; i < ${#defaults[@]}; i += 2)); do
    [ -n "${given[resume]:-}" ] && [ "${defaults[i]}" != threads ] && continue
    [ -n "${given[${defaults[i]}]:-}" ] || extra+=("--${defaults[i]}" "${defaults[i + 1]}")
  done
  [ -n "${given[quiet]:-}" ] || extra+=(--quiet)
  hc "$name" "$phrase" train "$@" "${extra[@]}"
}

# ---- the inputs and the cases -----------------------------------------------

hostile_corpus_make() {
  mkdir -p "$corpus" && cd "$corpus" || return 1
  data=$corpus/data
  dataset "$data" 20 10
  mkdir -p idx dirs model ckpt ckdirs st outs
  # A real run to damage: its model, its checkpoints (adam, so the optimizer
  # state is not empty), its logs; and a second run of another seed.
  good=$corpus/good
  "$descent" train --data-dir "$data" --model mlp:64-4-10 --opt adam --epochs 2 --batch-size 5 \
    --threads 1 --quiet --checkpoint-every 3 --out "$good" >/dev/null || return 1
  other=$corpus/other
  "$descent" train --data-dir "$data" --model mlp:64-4-10 --opt adam --epochs 1 --batch-size 5 \
    --threads 1 --quiet --seed 2 --out "$other" >/dev/null || return 1
  "$descent" export --model-file "$good/model.bin" --out "$corpus/good.safetensors" >/dev/null ||
    return 1
  model=$good/model.bin
  ckpt=$good/ckpt-8.dsc
  [ -f "$ckpt" ] || { echo "no $ckpt after the base run" >&2; return 1; }
  make_idx_cases
  make_data_dir_cases
  make_model_cases
  make_checkpoint_cases
  make_safetensors_cases
  make_option_cases
  make_out_cases
}

# slug TEXT: a short name-safe form of an option value, for case names.
slug() {
  local s=${1//[^A-Za-z0-9.=]/_}
  printf '%s' "${s:0:28}"
}

# Images and labels for eval --images/--labels, each damaged one way.
make_idx_cases() {
  local img=$data/t10k-images-idx3-ubyte lab=$data/t10k-labels-idx1-ubyte f n size
  size=$(stat -c %s "$img")
  for n in 0 1 2 3 4 7 8 11 12 15 16 17 100 $((size - 1)); do
    f=idx/img-trunc-$n
    truncated "$img" "$n" "$f"
    hc "idx-img-trunc-$n" "$f" eval --model-file "$model" --images "$f" --labels "$lab"
  done
  f=idx/img-trailing && { cat "$img"; printf x; } >"$f"
  hc idx-img-trailing "$f" eval --model-file "$model" --images "$f" --labels "$lab"
  local off hex
  for spec in 0:01 1:01 0:ff 2:09 2:0b 2:0c 2:0d 2:0e 2:00 2:ff 3:00 3:01 3:05 3:ff; do
    off=${spec%:*} hex=${spec#*:}
    f=idx/img-magic-$off-$hex
    cp "$img" "$f" && patch "$f" "$off" "$hex"
    hc "idx-img-magic-$off-$hex" "$f" eval --model-file "$model" --images "$f" --labels "$lab"
  done
  # Dimensions: zero, huge, overflowing, disagreeing with the data.
  for spec in 4:00000000 8:00000000 12:00000000 4:ffffffff 8:ffffffff 4:0000000b 4:00000009 \
    8:00000010 12:00000004 8:80000000; do
    off=${spec%:*} hex=${spec#*:}
    f=idx/img-dim-$off-$hex
    cp "$img" "$f" && patch "$f" "$off" "$hex"
    hc "idx-img-dim-$off-$hex" "$f" eval --model-file "$model" --images "$f" --labels "$lab"
  done
  f=idx/img-overflow
  { printf '\x00\x00\x08\x04'; be32 4294967295; be32 4294967295; be32 4294967295; be32 4294967295; } >"$f"
  hc idx-img-overflow "$f" eval --model-file "$model" --images "$f" --labels "$lab"
  f=idx/img-7x7 && images "$f" 10 7 7
  hc idx-img-7x7 "$f" eval --model-file "$model" --images "$f" --labels "$lab"
  f=idx/img-garbage && head -c 656 /dev/urandom >"$f" && patch "$f" 0 ab
  hc idx-img-garbage "$f" eval --model-file "$model" --images "$f" --labels "$lab"
  # gzip: garbage, cut short, wrong trailer, trailing bytes, a bomb's claim.
  f=idx/img-gz-garbage.gz && { printf '\x1f\x8b\x08\x00'; head -c 200 /dev/urandom; } >"$f"
  hc idx-img-gz-garbage "$f" eval --model-file "$model" --images "$f" --labels "$lab"
  gzip -c "$img" >idx/img.gz
  local gsize
  gsize=$(stat -c %s idx/img.gz)
  for n in 2 10 17 18 30 $((gsize / 2)) $((gsize - 8)) $((gsize - 4)) $((gsize - 1)); do
    f=idx/img-gz-trunc-$n.gz
    truncated idx/img.gz "$n" "$f"
    hc "idx-img-gz-trunc-$n" "$f" eval --model-file "$model" --images "$f" --labels "$lab"
  done
  f=idx/img-gz-isize.gz && cp idx/img.gz "$f" && patch "$f" $((gsize - 4)) 01000000
  hc idx-img-gz-isize "$f" eval --model-file "$model" --images "$f" --labels "$lab"
  f=idx/img-gz-crc.gz && cp idx/img.gz "$f" && patch "$f" $((gsize - 8)) 00000000
  hc idx-img-gz-crc "$f" eval --model-file "$model" --images "$f" --labels "$lab"
  f=idx/img-gz-data.gz && flipped idx/img.gz $((gsize / 2)) "$f"
  hc idx-img-gz-flip "$f" eval --model-file "$model" --images "$f" --labels "$lab"
  f=idx/img-gz-trailing.gz && { cat idx/img.gz; printf 'junk'; } >"$f"
  hc idx-img-gz-trailing "$f" eval --model-file "$model" --images "$f" --labels "$lab"
  f=idx/img-gz-twomembers.gz && { cat idx/img.gz idx/img.gz; } >"$f"
  hc idx-img-gz-twomembers "$f" eval --model-file "$model" --images "$f" --labels "$lab"
  f=idx/img-gz-of-trunc.gz && head -c 300 "$img" | gzip -c >"$f"
  hc idx-img-gz-of-truncated "$f" eval --model-file "$model" --images "$f" --labels "$lab"
  f=idx/img-gz-bomb.gz
  { printf '\x00\x00\x08\x03'; be32 100000; be32 1000; be32 1000; } | gzip -c >"$f"
  hc idx-img-gz-bomb-claim "$f" eval --model-file "$model" --images "$f" --labels "$lab"
  special_files idx img
  for n in special-empty special-dir special-fifo special-loop special-dangling; do
    hc "idx-img-$n" "idx/img-$n" eval --model-file "$model" --images "idx/img-$n" --labels "$lab"
  done
  hc idx-img-devnull /dev/null eval --model-file "$model" --images /dev/null --labels "$lab"
  hc idx-img-devzero /dev/zero eval --model-file "$model" --images /dev/zero --labels "$lab"
  hc idx-img-missing idx/img-missing eval --model-file "$model" --images idx/img-missing --labels "$lab"
  unreadable "idx-img-unreadable" "$img" idx/img-unreadable eval --model-file "$model" --images \
    idx/img-unreadable --labels "$lab"

  # Labels.
  size=$(stat -c %s "$lab")
  for n in 0 3 4 7 8 $((size - 1)); do
    f=idx/lab-trunc-$n
    truncated "$lab" "$n" "$f"
    hc "idx-lab-trunc-$n" "$f" eval --model-file "$model" --images "$img" --labels "$f"
  done
  f=idx/lab-trailing && { cat "$lab"; printf x; } >"$f"
  hc idx-lab-trailing "$f" eval --model-file "$model" --images "$img" --labels "$f"
  # A label the 10-output network has no output for.
  for spec in 8:ff 8:0a 17:0a 12:80; do
    off=${spec%:*} hex=${spec#*:}
    f=idx/lab-value-$off-$hex
    cp "$lab" "$f" && patch "$f" "$off" "$hex"
    hc "idx-lab-value-$off-$hex" "$f" eval --model-file "$model" --images "$img" --labels "$f"
  done
  for spec in 4:00000009 4:0000000b 4:00000000 4:ffffffff 3:03 3:00 2:0d 0:ff; do
    off=${spec%:*} hex=${spec#*:}
    f=idx/lab-head-$off-$hex
    cp "$lab" "$f" && patch "$f" "$off" "$hex"
    hc "idx-lab-head-$off-$hex" "$f" eval --model-file "$model" --images "$img" --labels "$f"
  done
  f=idx/lab-9 && labels "$f" 9
  hc idx-lab-count-9 "$f" eval --model-file "$model" --images "$img" --labels "$f"
  f=idx/lab-images && cp "$img" "$f"
  hc idx-lab-is-images "$f" eval --model-file "$model" --images "$img" --labels "$f"
  hc idx-img-is-labels "$lab" eval --model-file "$model" --images "$lab" --labels "$lab"
  special_files idx lab
  for n in special-empty special-dir special-fifo special-loop special-dangling; do
    hc "idx-lab-$n" "idx/lab-$n" eval --model-file "$model" --images "$img" --labels "idx/lab-$n"
  done
}

# special_files DIR PREFIX: DIR/PREFIX-special-{empty,dir,fifo,loop,dangling}.
special_files() {
  : >"$1/$2-special-empty"
  mkdir -p "$1/$2-special-dir"
  mkfifo "$1/$2-special-fifo"
  ln -s "$2-special-loop" "$1/$2-special-loop"
  ln -s "$2-nowhere" "$1/$2-special-dangling"
}

# unreadable NAME SRC COPY ARGS...: a case with COPY mode 000, skipped as
# root, for whom permissions do not stop a read.
unreadable() {
  local name=$1 src=$2 copy=$3
  shift 3
  if [ "$(id -u)" -eq 0 ]; then
    echo "SKIP $name: running as root, a mode-000 file is still readable"
    return
  fi
  cp "$src" "$copy" && chmod 000 "$copy"
  hc "$name" "$copy" "$@"
}

# Data folders for train --data-dir: the good files as links, one replaced.
data_dir() {
  local dir=dirs/$1
  mkdir -p "$dir"
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
    t10k-labels-idx1-ubyte; do
    ln -s "$data/$f" "$dir/$f"
  done
  echo "$dir"
}

make_data_dir_cases() {
  local dir file kind
  for file in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
    t10k-labels-idx1-ubyte; do
    for kind in trunc magic empty dir fifo loop gzbad count; do
      dir=$(data_dir "$file-$kind")
      rm "$dir/$file"
      case $kind in
      trunc) head -c $(($(stat -L -c %s "$data/$file") / 2)) "$data/$file" >"$dir/$file" ;;
      magic) cp "$data/$file" "$dir/$file" && patch "$dir/$file" 0 ff ;;
      empty) : >"$dir/$file" ;;
      dir) mkdir "$dir/$file" ;;
      fifo) mkfifo "$dir/$file" ;;
      loop) ln -s "$file" "$dir/$file" ;;
      gzbad) { printf '\x1f\x8b\x08\x00'; head -c 100 /dev/urandom; } >"$dir/$file.gz" ;;
      count) case $file in
        *images*) images "$dir/$file" 7 ;;
        *) labels "$dir/$file" 7 ;;
        esac ;;
      esac
      tc "data-$file-$kind" "$file" --data-dir "$dir"
    done
  done
  dir=$(data_dir test-7x7)
  rm "$dir/t10k-images-idx3-ubyte" && images "$dir/t10k-images-idx3-ubyte" 10 7 7
  tc data-test-shape-7x7 "$dir" --data-dir "$dir"
  dir=$(data_dir no-labels) && rm "$dir/train-labels-idx1-ubyte"
  tc data-no-train-labels train-labels-idx1-ubyte --data-dir "$dir"
  mkdir -p dirs/empty-dir
  tc data-empty-dir dirs/empty-dir --data-dir dirs/empty-dir
  tc data-missing-dir dirs/missing --data-dir dirs/missing
  tc data-dir-is-file "$data/train-images-idx3-ubyte" --data-dir "$data/train-images-idx3-ubyte"
  mkfifo dirs/fifo
  tc data-dir-is-fifo dirs/fifo --data-dir dirs/fifo
  dir=$(data_dir label-255) && rm "$dir/train-labels-idx1-ubyte"
  cp "$data/train-labels-idx1-ubyte" "$dir/train-labels-idx1-ubyte"
  patch "$dir/train-labels-idx1-ubyte" 8 ff
  tc data-train-label-255 "classes" --data-dir "$dir"
  dir=$(data_dir test-label-10) && rm "$dir/t10k-labels-idx1-ubyte"
  cp "$data/t10k-labels-idx1-ubyte" "$dir/t10k-labels-idx1-ubyte"
  patch "$dir/t10k-labels-idx1-ubyte" 8 0a
  tc data-test-label-10 "classes" --data-dir "$dir"
}

# Model files: cut, flipped, and changed inside with valid CRCs.
make_model_cases() {
  local size n f step
  size=$(stat -c %s "$model")
  step=$((size / 23))
  for n in 0 1 7 8 12 15 16 20 27 28 $(seq 60 "$step" $((size - 1))) $((size - 4)) $((size - 1)); do
    f=model/trunc-$n.bin
    truncated "$model" "$n" "$f"
    hc "model-trunc-$n" "$f" eval --model-file "$f" --data-dir "$data"
  done
  f=model/trailing.bin && { cat "$model"; printf '\0'; } >"$f"
  hc model-trailing "$f" eval --model-file "$f" --data-dir "$data"
  for n in 0 7 8 12 16 20 28 40 $(seq 90 "$step" $((size - 1))) $((size - 1)); do
    f=model/flip-$n.bin
    flipped "$model" "$n" "$f"
    hc "model-flip-$n" "$f" eval --model-file "$f" --data-dir "$data"
  done
  # Header fields.
  for spec in 8:02000000 8:00000000 12:00000000 12:41000000 12:04000000 12:06000000; do
    f=model/head-${spec/:/-}.bin
    cp "$model" "$f" && patch "$f" "${spec%:*}" "${spec#*:}"
    hc "model-head-${spec/:/-}" "$f" eval --model-file "$f" --data-dir "$data"
  done
  # Inside the sections, CRCs fixed: values out of range, NaN and Inf,
  # another spec, sizes that disagree.
  while read -r name tag off hex; do
    f=model/$name.bin
    mutated "$model" "$f" "$tag" "$off" "$hex" || return 1
    hc "model-$name" "$f" eval --model-file "$f" --data-dir "$data"
  done <<EOF
parm-nan-first PARM 8 $NAN32
parm-nan-last PARM 1236 $NAN32
parm-inf PARM 12 $INF32
parm-count PARM 0 3701000000000000
buff-count BUFF 0 01
prep-kind PREP 0 07000000
prep-features PREP 4 3f00000000000000
prep-eps-nan PREP 12 $NAN64
prep-eps-zero PREP 12 0000000000000000
prep-mean-nan PREP 20 $NAN32
prep-invstd-inf PREP 276 $INF32
prep-invstd-nan PREP 300 $NAN32
net-spec-len NET  0 ff000000
net-spec-len-huge NET  0 ffffffff
net-spec-widths NET  4 $(printf 'mlp:64-4-11' | xxd -p)
net-spec-garbage NET  4 $(printf 'xxxxxxxxxxx' | xxd -p)
net-spec-newline NET  4 $(printf 'mlp:64-4\n10' | xxd -p)
net-spec-nul NET  4 $(printf 'mlp:64-4-1' | xxd -p)00
net-spec-paren NET  4 $(printf 'dense(10)))' | xxd -p)
net-ndim-0 NET  15 00000000
net-ndim-9 NET  15 09000000
net-dim-0 NET  19 0000000000000000
net-dim-huge NET  27 0000000001000000
net-dim-other NET  27 0900000000000000
net-loss NET  43 09000000
net-width-3 NET  47 03000000
net-width-8 NET  47 08000000
rng-tag RNG  -12 524e4721
parm-tag-dup BUFF -12 5041524d
EOF
  f=model/ckpt-as-model-but-short.bin && cp "$ckpt" "$f" && patch "$f" 12 05000000
  hc model-ckpt-sections-5 "$f" eval --model-file "$f" --data-dir "$data"
  special_files model m
  for n in special-empty special-dir special-fifo special-loop special-dangling; do
    hc "model-$n" "model/m-$n" eval --model-file "model/m-$n" --data-dir "$data"
    hc "export-model-$n" "model/m-$n" export --model-file "model/m-$n" --out "$fresh/export-$n.st"
  done
  hc model-is-idx "$data/t10k-images-idx3-ubyte" eval --model-file "$data/t10k-images-idx3-ubyte" \
    --data-dir "$data"
  hc model-is-safetensors "$corpus/good.safetensors" eval --model-file "$corpus/good.safetensors" \
    --data-dir "$data"
  hc model-devzero /dev/zero eval --model-file /dev/zero --data-dir "$data"
  hc model-on-other-data idx/img-7x7 eval --model-file "$model" --images idx/img-7x7 \
    --labels "$data/t10k-labels-idx1-ubyte"
  for n in trunc-100 flip-40 parm-nan-first net-spec-newline; do
    hc "export-model-$n" "model/$n.bin" export --model-file "model/$n.bin" --out "$fresh/export-$n.st"
    hc "import-model-$n" "model/$n.bin" import --model-file "model/$n.bin" \
      --weights "$corpus/good.safetensors" --out "$fresh/import-$n.bin"
  done
}

# Checkpoints: checkpoint verify on damaged files, and --resume from folders
# that hold only a damaged one.
make_checkpoint_cases() {
  local size n f step
  size=$(stat -c %s "$ckpt")
  step=$((size / 19))
  for n in 0 15 16 $(seq 50 "$step" $((size - 1))) $((size - 1)); do
    f=ckpt/ckpt-trunc-$n.dsc
    truncated "$ckpt" "$n" "$f"
    hc "ckpt-trunc-$n" "$f" checkpoint verify "$f"
  done
  for n in 0 9 13 $(seq 70 "$step" $((size - 1))) $((size - 1)); do
    f=ckpt/ckpt-flip-$n.dsc
    flipped "$ckpt" "$n" "$f"
    hc "ckpt-flip-$n" "$f" checkpoint verify "$f"
  done
  while read -r name tag off hex; do
    f=ckpt/$name.dsc
    mutated "$ckpt" "$f" "$tag" "$off" "$hex" || return 1
    hc "ckpt-$name" "$f" checkpoint verify "$f"
  done <<EOF
version CKPT 0 09000000
width CKPT 4 03000000
step-negative CKPT 8 ffffffffffffffff
epoch-negative CKPT 16 ffffffffffffffff
batches-huge CKPT 24 ffffffffffffff00
samples-huge CKPT 32 ffffffffffffff00
loss-sum-nan CKPT 40 $NAN64
epoch-lr-at-epoch-end CKPT 48 000000000000f03f
first-loss-inf CKPT 56 $INF64
lr-scale-zero CKPT 64 0000000000000000
lr-scale-nan CKPT 64 $NAN64
rollbacks CKPT 72 ffffffff
full-batch CKPT 76 02000000
btch-n-zero BTCH 0 0000000000000000
btch-features BTCH 8 4100000000000000
btch-batch-zero BTCH 20 0000000000000000
btch-shuffle BTCH 28 02000000
btch-rng-zero BTCH 32 0000000000000000000000000000000000000000000000000000000000000000
btch-position BTCH 64 1500000000000000
btch-epoch-negative BTCH 72 ffffffffffffffff
btch-order-dup BTCH 80 0000000000000000000000000000000000
btch-order-range BTCH 88 e703000000000000
loss-history LOSS 0 ffff000000000000
opts-magic OPTS 0 5858
opts-width OPTS 12 08000000
opts-params OPTS 16 0100000000000000
opts-step OPTS 24 0900000000000000
conf-nul CONF 0 00
parm-nan PARM 8 $NAN32
prep-mean-nan PREP 20 $NAN32
net-spec-newline NET  4 $(printf 'mlp:64-4\n10' | xxd -p)
EOF
  # A configuration without the optimizer.
  local where conf
  where=$(section "$ckpt" CONF)
  conf=$(tail -c +$((${where% *} + 1)) "$ckpt" | head -c "${where#* }")
  local optpos
  optpos=$(printf '%s' "$conf" | grep -bo '^opt=' | head -1 | cut -d: -f1)
  f=ckpt/conf-opt-renamed.dsc
  mutated "$ckpt" "$f" CONF "$optpos" "$(printf 'OPT=' | xxd -p)"
  hc ckpt-conf-opt-renamed "$f" checkpoint verify "$f"
  f=ckpt/model-as-ckpt.dsc && cp "$model" "$f"
  hc ckpt-is-model "$f" checkpoint verify "$f"
  special_files ckpt c
  for n in special-empty special-dir special-fifo special-loop special-dangling; do
    hc "ckpt-$n" "ckpt/c-$n" checkpoint verify "ckpt/c-$n"
  done

  # Run folders holding one bad checkpoint: checkpoint verify DIR and
  # train --resume DIR must both refuse.
  local d
  for n in trunc-16 flip-13 step-negative btch-order-dup conf-nul lr-scale-nan; do
    d=ckdirs/$n && mkdir -p "$d"
    if [ -f "ckpt/ckpt-$n.dsc" ]; then cp "ckpt/ckpt-$n.dsc" "$d/ckpt-8.dsc"; else cp "ckpt/$n.dsc" "$d/ckpt-8.dsc"; fi
    cp "$good/config.txt" "$good/metrics.csv" "$good/steps.csv" "$d/"
    hc "ckdir-verify-$n" "$d" checkpoint verify "$d"
    tc "ckdir-resume-$n" "$d" --resume "$d" --epochs 3
  done
  d=ckdirs/fifo && mkdir -p "$d" && mkfifo "$d/ckpt-9.dsc"
  hc ckdir-verify-fifo "$d" checkpoint verify "$d"
  tc ckdir-resume-fifo "$d" --resume "$d" --epochs 3
  d=ckdirs/dir && mkdir -p "$d/ckpt-9.dsc"
  hc ckdir-verify-dir "$d" checkpoint verify "$d"
  d=ckdirs/empty && mkdir -p "$d"
  hc ckdir-verify-empty "$d" checkpoint verify "$d"
  tc ckdir-resume-empty "$d" --resume "$d" --epochs 3
  tc ckdir-resume-missing ckdirs/missing --resume ckdirs/missing --epochs 3
  tc ckdir-resume-file "$ckpt" --resume "$ckpt" --epochs 3
  # A checkpoint renamed to another step, and one copied into another run.
  d=ckdirs/renamed && mkdir -p "$d" && cp "$ckpt" "$d/ckpt-12.dsc"
  hc ckdir-verify-renamed "ckpt-12.dsc" checkpoint verify "$d"
  tc ckdir-resume-renamed "ckpt-12.dsc" --resume "$d" --epochs 3
  # The other run's folder keeps its identity and logs but none of its own
  # checkpoints: the copied-in file, refused, is all there is to resume from.
  # (Beside valid checkpoints of its own the folder resumes from those, and
  # says that it skipped the foreign file.)
  d=ckdirs/foreign && mkdir -p "$d" && cp "$other"/* "$d/" && rm -f "$d"/ckpt-*.dsc &&
    cp "$ckpt" "$d/ckpt-100.dsc"
  hc ckdir-verify-foreign "ckpt-100.dsc" checkpoint verify "$d"
  tc ckdir-resume-foreign "ckpt-100.dsc" --resume "$d" --epochs 3
  # Options that disagree with the checkpoint's run.
  tc resume-other-model --model --resume "$good" --model mlp:64-5-10 --epochs 3
  tc resume-other-opt --opt --resume "$good" --opt sgd --epochs 3
  tc resume-other-seed --seed --resume "$good" --seed 7 --epochs 3
  tc resume-other-out --resume --resume "$good" --out "$fresh/elsewhere" --epochs 3
  tc resume-other-data --data-dir --resume "$good" --data-dir "$other" --epochs 3
  tc resume-bad-epochs --epochs --resume "$good" --epochs 0
}

# st_file OUT JSON [DATA]: a safetensors file: u64 header length, the JSON
# header, then the data (by default the good file's 1240 bytes).
st_file() { { le64 ${#2}; printf '%s' "$2"; cat "${3:-st/data}"; } >"$1"; }
st_json() { # the good header, each tensor's entry replaceable: W0 B0 W2 B2
  local w0=${W0-'"0.weight":{"dtype":"F32","shape":[4,64],"data_offsets":[0,1024]}'}
  local b0=${B0-'"0.bias":{"dtype":"F32","shape":[4],"data_offsets":[1024,1040]}'}
  local w2=${W2-'"2.weight":{"dtype":"F32","shape":[10,4],"data_offsets":[1040,1200]}'}
  local b2=${B2-'"2.bias":{"dtype":"F32","shape":[10],"data_offsets":[1200,1240]}'}
  local all="" e
  for e in "$w0" "$b0" "$w2" "$b2" ${EXTRA:+"$EXTRA"}; do [ -n "$e" ] && all+="${all:+,}$e"; done
  printf '{"__metadata__":{"format":"pt"},%s}' "$all"
}

# import --weights W: each file damaged one way.
st_case() {
  local name=$1 phrase=${2:-st/$1.st}
  hc "st-$name" "$phrase" import --model-file "$model" --weights "st/$1.st" \
    --out "$fresh/st-$name.bin"
}

make_safetensors_cases() {
  local good_st=$corpus/good.safetensors hlen
  hlen=$(u64_at "$good_st" 0)
  tail -c +$((9 + hlen)) "$good_st" >st/data
  [ "$(stat -c %s st/data)" -eq 1240 ] || { echo "unexpected export layout" >&2; return 1; }
  st_file st/sanity.st "$(st_json)"
  "$descent" import --model-file "$model" --weights st/sanity.st --out "$fresh/sanity.bin" \
    >/dev/null || { echo "the hand-made safetensors file does not import" >&2; return 1; }
  local n
  for n in 0 1 7 8 9 50 $((8 + hlen)) $((8 + hlen + 1)) $((8 + hlen + 620)) $((8 + hlen + 1239)); do
    truncated "$good_st" "$n" "st/trunc-$n.st"
    st_case "trunc-$n"
  done
  { cat "$good_st"; printf '\0\0\0\0'; } >st/trailing.st && st_case trailing
  # The header length field.
  local spec
  for spec in 0 1 $((hlen + 1241)) $((hlen + 1)) 100000001 9223372036854775807 -1; do
    { le64 "$spec"; tail -c +9 "$good_st"; } >"st/hlen-$spec.st"
    st_case "hlen-$spec"
  done
  # JSON that is not a header.
  local i=0 j
  for j in '' '{' '[]' 'null' '"str"' '{"a":1}' 'not json' '{"0.weight":5}' '{"0.weight":{"dtype":"F32"' \
    "$(printf '%0.s[' {1..5000})" '{"__metadata__":5}' '{"__metadata__":{}}' \
    '{"0.weight":{"dtype":"F32","shape":[4,64],"data_offsets":[0,1024]},"0.weight":{"dtype":"F32","shape":[4,64],"data_offsets":[0,1024]}}'; do
    st_file "st/json-$i.st" "$j"
    st_case "json-$i"
    i=$((i + 1))
  done
  st_file st/json-nul.st "$(st_json | head -c 20)" && patch st/json-nul.st 12 00 && st_case json-nul
  # Offsets: overlapping, holes, beyond the data, malformed.
  local o
  i=0
  for o in '[0,1020]' '[4,1028]' '[0,2048]' '[-4,1020]' '[0.5,1024.5]' '[1024,0]' '[0,1e30]' \
    '["0","1024"]' '[0,1024,1040]' '[0]' '[]' '[0,18446744073709551616]' 'null'; do
    st_file "st/offsets-$i.st" "$(W0='"0.weight":{"dtype":"F32","shape":[4,64],"data_offsets":'"$o"'}' st_json)"
    st_case "offsets-$i"
    i=$((i + 1))
  done
  # dtypes.
  i=0
  for o in '"F16"' '"BF16"' '"I64"' '"f32"' '""' '5' '"F32\nX"' 'null'; do
    st_file "st/dtype-$i.st" "$(W0='"0.weight":{"dtype":'"$o"',"shape":[4,64],"data_offsets":[0,1024]}' st_json)"
    st_case "dtype-$i"
    i=$((i + 1))
  done
  # Shapes.
  i=0
  for o in '[64,4]' '[4,64,1]' '[4,-64]' '[4,64.5]' '[4,1e20]' '[]' '[256]' '["4",64]' \
    '[1,1,1,1,1,256]' '[18446744073709551615,1]'; do
    st_file "st/shape-$i.st" "$(W0='"0.weight":{"dtype":"F32","shape":'"$o"',"data_offsets":[0,1024]}' st_json)"
    st_case "shape-$i"
    i=$((i + 1))
  done
  # Tensors missing, extra, renamed, named oddly.
  head -c 1200 st/data >st/data-no-b2
  st_file st/missing.st "$(B2='' st_json)" st/data-no-b2 && st_case missing
  { cat st/data; head -c 40 st/data; } >st/data-extra
  st_file st/extra.st "$(EXTRA='"4.bias":{"dtype":"F32","shape":[10],"data_offsets":[1240,1280]}' st_json)" \
    st/data-extra && st_case extra
  st_file st/renamed.st "$(B2='"2.bais":{"dtype":"F32","shape":[10],"data_offsets":[1200,1240]}' st_json)" &&
    st_case renamed
  st_file st/name-newline.st "$(B2='"2.b\nias":{"dtype":"F16","shape":[10],"data_offsets":[1200,1240]}' st_json)" &&
    st_case name-newline
  local long
  long=$(printf 'x%.0s' {1..3000})
  st_file st/name-long.st "$(B2='"'"$long"'":{"dtype":"F16","shape":[10],"data_offsets":[1200,1240]}' st_json)" &&
    st_case name-long
  st_file st/name-control.st "$(B2='"2.b\u001b[2Jias":{"dtype":"F16","shape":[10],"data_offsets":[1200,1240]}' st_json)" &&
    st_case name-control
  # Values: NaN, Inf, F64 beyond float range.
  cp st/data st/data-nan && patch st/data-nan 0 "$NAN32"
  st_file st/value-nan.st "$(st_json)" st/data-nan && st_case value-nan
  cp st/data st/data-inf && patch st/data-inf 1236 "$INF32"
  st_file st/value-inf.st "$(st_json)" st/data-inf && st_case value-inf
  # F64: 2.bias as 10 doubles, the first 1e300 (beyond float), or NaN.
  { head -c 1200 st/data; hexbytes 9c7500883ce4377e; head -c 72 /dev/zero; } >st/data-f64-big
  local f64b='"2.bias":{"dtype":"F64","shape":[10],"data_offsets":[1200,1280]}'
  st_file st/value-f64-big.st "$(B2=$f64b st_json)" st/data-f64-big && st_case value-f64-big
  { head -c 1200 st/data; hexbytes "$NAN64"; head -c 72 /dev/zero; } >st/data-f64-nan
  st_file st/value-f64-nan.st "$(B2=$f64b st_json)" st/data-f64-nan && st_case value-f64-nan
  { head -c 1200 st/data; hexbytes 000000000000f0ff; head -c 72 /dev/zero; } >st/data-f64-ninf
  st_file st/value-f64-ninf.st "$(B2=$f64b st_json)" st/data-f64-ninf && st_case value-f64-ninf
  # Other models' weights, and files that are not regular.
  "$descent" train --data-dir "$data" --model mlp:64-5-10 --epochs 1 --batch-size 5 --threads 1 \
    --quiet --out "$corpus/wide" >/dev/null || return 1
  "$descent" export --model-file "$corpus/wide/model.bin" --out st/wider-model.st >/dev/null ||
    return 1
  st_case wider-model
  special_files st w
  for n in special-empty special-dir special-fifo special-loop special-dangling; do
    hc "st-$n" "st/w-$n" import --model-file "$model" --weights "st/w-$n" --out "$fresh/st-$n.bin"
  done
  hc st-is-model "$model" import --model-file "$model" --weights "$model" --out "$fresh/st-is-model.bin"
  hc st-devzero /dev/zero import --model-file "$model" --weights /dev/zero --out "$fresh/st-devzero.bin"
}

# Options of every command: unknown, missing, malformed, out of range.
make_option_cases() {
  tc opt-unknown --bogus --bogus 1
  tc opt-unknown-long --xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx --xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
  tc opt-positional "stray" stray
  tc opt-single-dash "-e" -e 3
  tc opt-double-dash-alone "'--'" --
  tc opt-flag-with-value --quiet --quiet=yes
  tc opt-twice --lr --lr 0.1 --lr=0.2
  hc opt-lr-missing-value --lr train --data-dir "$data" --out "$fresh/opt-lr-missing" --lr
  local v i=0
  for v in 0x10 1e-320 nan -nan inf -1 1e400 0.1abc ' 0.1' '0.1 ' '' 1,5 '+' 'cosine(' \
    'cosine(0.1,steps=10,min_lr=1)' 'cosine(0.1,steps=0)' 'step(0.1,every=0)' 'bogus(0.1)' \
    'warmup(0.1)' 'cosine(nan,steps=10)' $'0.1\n' $'0.1\x01'; do
    local phrase="--lr||learning rate"
    case $v in
    0x10) phrase=0x10 ;;       # accepted as 16 today: the run diverges
    1e-320) phrase=range ;;    # underflows: out of range, not "not a number"
    esac
    tc "opt-lr-$i-$(slug "$v")" "$phrase" --lr "$v"
    i=$((i + 1))
  done
  i=0
  for v in epochs:0 epochs:-1 epochs:1e3 epochs:0x10 epochs:99999999999999999999999 epochs:1000001 \
    batch-size:0 batch-size:1048577 batch-size:-5 threads:99999 threads:-1 threads:1.5 \
    seed:-1 seed:18446744073709551616 seed:abc val:20 val:99999 val:-1 limit:99999 limit:21 \
    keep:-1 keep:1000001 checkpoint-every:9223372036854775807 checkpoint-every:-1 \
    max-rollbacks:0 max-rollbacks:1001 stop-after-steps:-3 loss:bogus loss:XENT preprocess:bogus \
    preprocess-eps:0 preprocess-eps:nan preprocess-eps:-1 preprocess-eps:1e999 on-diverge:ignore \
    max-loss:-1 max-loss:nan max-loss:0 rollback-factor:1 rollback-factor:0 rollback-factor:nan \
    rollback-factor:2; do
    local key=${v%%:*} phrase
    case $key in
    loss) phrase="--loss||loss" ;;
    preprocess) phrase="--preprocess||preprocessing" ;;
    val) phrase="--val||validation" ;;
    *) phrase="--$key" ;;
    esac
    tc "opt-$key-$i-$(slug "${v#*:}")" "$phrase" "--$key" "${v#*:}"
    i=$((i + 1))
  done
  tc opt-keep0-every --keep --keep 0 --checkpoint-every 1
  tc opt-lr-min-lr-above min_lr --lr 'cosine(0.01,steps=10,min_lr=0.1)'
  # Optimizer chains.
  i=0
  for v in 'clip(1) | sgd' 'sgd | clip(1)' 'frob' 'adam(b1=2)' 'adam(b1=nan)' 'adam(b1=0x1)' \
    'adam(' 'adam)' 'adam(b1=0.9' 'adam(b1=)' 'adam(=0.9)' 'adam(b1=0.9,b1=0.9)' 'adam(zz=1)' \
    'clip(-1) | lr' 'clip(nan) | lr' '|' 'lr |' '| lr' 'lr || lr' 'adam(1,2,3,4,5,6,7,8,9)' \
    $'adam\n' $'ad\x1bam' "clip(1) | $(printf 'l2(0) | %.0s' {1..60})lr" \
    "$(printf 'clip(1)|%.0s' {1..80})lr(" 'sgd(lr=cosine(0.1,steps=10,min_lr=1))'; do
    tc "opt-chain-$i-$(slug "$v")" "--opt||optimizer" --opt "$v"
    i=$((i + 1))
  done
  # Model specs.
  i=0
  local long phrase
  long="$(printf 'dense(8), relu, %.0s' {1..300})dense(10), bogus(1)"
  for v in relu 'mlp:64-4-9' 'mlp:63-4-10' 'mlp:64-0-10' 'mlp:64--10' 'mlp:' 'mlp:64-4-10/frob' \
    'mlp:64-99999999999-10' 'conv(4,3,stride=0), dense(10)' 'conv(4,0), dense(10)' \
    'conv(0,3), dense(10)' 'conv(4,99), dense(10)' 'conv(4,3, dense(10)' 'dense(10))' \
    '((dense(10)' 'dense()' 'dense(-1)' 'dense(10,10)' 'dense(0x10)' 'maxpool(0), dense(10)' \
    'maxpool(9), dense(10)' 'dropout(1.5), dense(10)' 'dropout(nan), dense(10)' ', dense(10)' \
    'dense(10),' 'cnn:bogus' 'batchnorm(eps=0), dense(10)' \
    $'dense(10)\n, relu' $'dense(10)\x07' "$long" \
    "$(printf 'dense(8), %.0s' {1..100})dense(10)" 'dense(10), tanh, sigmoid, relu, flatten, frob'; do
    phrase="--model||model spec||classes"
    # Long specs: the reason must survive the echo of the spec.
    [ ${#v} -gt 500 ] && phrase="bogus||more than||at most||too many||too long"
    tc "opt-model-$i-$(slug "$v")" "$phrase" --model "$v"
    i=$((i + 1))
  done
  tc opt-data-dir-empty-value --data-dir --data-dir ''
  tc opt-out-empty-value --out --out ''
  # The other commands.
  hc cmd-unknown "frobnicate" frobnicate
  hc cmd-unknown-dash "--frob" --frob
  hc eval-no-model --model-file eval --data-dir "$data"
  hc eval-images-alone --labels eval --model-file "$model" --images "$data/t10k-images-idx3-ubyte"
  hc eval-labels-alone --images eval --model-file "$model" --labels "$data/t10k-labels-idx1-ubyte"
  hc eval-batch-0 --batch-size eval --model-file "$model" --data-dir "$data" --batch-size 0
  hc eval-batch-neg --batch-size eval --model-file "$model" --data-dir "$data" --batch-size -1
  hc eval-threads --threads eval --model-file "$model" --data-dir "$data" --threads 99999
  hc eval-unknown --out eval --model-file "$model" --data-dir "$data" --out x
  hc eval-missing-model model/none eval --model-file model/none --data-dir "$data"
  hc eval-data-dir-missing dirs/missing eval --model-file "$model" --data-dir dirs/missing
  hc export-no-out --out export --model-file "$model"
  hc export-no-model --model-file export --out "$fresh/export-none.st"
  hc export-out-missing-dir "$fresh/nodir/x/w.st" export --model-file "$model" --out "$fresh/nodir/x/w.st"
  hc import-no-weights --weights import --model-file "$model" --out "$fresh/import-none.bin"
  hc import-no-out --out import --model-file "$model" --weights "$corpus/good.safetensors"
  hc import-unknown --force-all import --model-file "$model" --weights "$corpus/good.safetensors" \
    --out "$fresh/import-unknown.bin" --force-all
  hc ckpt-no-args usage checkpoint
  hc ckpt-bad-verb usage checkpoint check "$ckpt"
  hc ckpt-two-paths usage checkpoint verify "$ckpt" "$ckpt"
  hc ckpt-missing ckpt/none.dsc checkpoint verify ckpt/none.dsc
  hc demo-none demo demo
  hc demo-unknown frob demo frob
  hc demo-option-unknown --bogus demo step-size --bogus 1 --out "$fresh/demo-1"
  hc demo-lr-bad --lr demo step-size --lr a,b,c --out "$fresh/demo-2"
  hc demo-lr-nan --lr demo step-size --lr nan,nan,nan --out "$fresh/demo-3"
  hc demo-iters-0 --iters demo step-size --iters 0 --out "$fresh/demo-4"
  hc demo-iters-neg --iters demo step-size --iters -1 --out "$fresh/demo-5"
  hc demo-iters-huge --iters demo step-size --iters 99999999999999999999999 --out "$fresh/demo-6"
  hc demo-curvature-nan --curvature demo step-size --curvature nan --out "$fresh/demo-7"
  hc demo-kappa-0 --kappa demo conditioning --kappa 0 --out "$fresh/demo-8"
  hc demo-scale-empty --scale demo normalization --scale , --out "$fresh/demo-9"
  hc demo-n-0 --n demo normalization --n 0 --out "$fresh/demo-10"
  hc demo-all-unknown --bogus demo all --bogus
}

# --out targets that exist: a run's files, a file, a FIFO; export and import
# onto existing files. Each must be refused with everything left as it was.
make_out_cases() {
  local n
  for n in model.bin config.txt steps.csv ckpt-3.dsc metrics.csv.tmp; do
    mkdir -p "outs/holds-$n"
    cp "$good/model.bin" "outs/holds-$n/$n"
    tc "out-holds-$n" "outs/holds-$n" --out "outs/holds-$n"
  done
  tc out-is-run "$good" --out "$good"
  : >outs/file && tc out-is-file outs/file --out outs/file
  tc out-below-file outs/file --out outs/file/run
  mkfifo outs/fifo && tc out-is-fifo outs/fifo --out outs/fifo
  ln -s "$good" outs/link-to-run && tc out-link-to-run outs/link-to-run --out outs/link-to-run
  mkdir -p outs/demo-full && : >outs/demo-full/keep
  hc demo-out-nonempty outs/demo-full demo step-size --out outs/demo-full
  hc demo-all-out-nonempty outs/demo-full demo all --out outs/demo-full
  hc demo-out-file outs/file demo step-size --out outs/file
  cp "$corpus/good.safetensors" outs/existing.st
  hc export-out-exists outs/existing.st export --model-file "$model" --out outs/existing.st
  cp "$model" outs/existing.bin
  hc import-out-exists outs/existing.bin import --model-file "$model" \
    --weights "$corpus/good.safetensors" --out outs/existing.bin
  hc import-out-is-model "$model" import --model-file "$model" \
    --weights "$corpus/good.safetensors" --out "$model"
  mkdir -p outs/dir.st
  hc export-out-dir outs/dir.st export --model-file "$model" --out outs/dir.st
  hc export-out-fifo outs/fifo export --model-file "$model" --out outs/fifo
  hc import-out-fifo outs/fifo import --model-file "$model" --weights "$corpus/good.safetensors" \
    --out outs/fifo
  hc export-out-is-input "$model" export --model-file "$model" --out "$model"
}
