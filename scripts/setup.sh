#!/usr/bin/env bash
# setup.sh - installs what descent needs to build, test and run on Debian.
# Sourced or run by run.sh and test.sh; does nothing when all is present.
set -euo pipefail

# Each package and why (see also README.md):
packages=(
  gcc make cmake              # the C11 compiler and the build
  pkg-config                  # building the examples against the installed library (test `install`)
  libopenblas-openmp-dev      # GEMM; the OpenMP build shares one thread pool with ours;
                              # its libopenblas bundles LAPACK (dsyevd, for whitening)
  libdnnl-dev                 # oneDNN: the convolutions where it is faster (src/nn/conv_dnnl.c)
  zlib1g-dev                  # reading the gzipped IDX files
  libdeflate-dev              # inflating them whole, 1.6-2x faster than zlib (src/data/idx.c)
  libcjson-dev                # the JSON header of safetensors weight files
  gnuplot-nox                 # the lab's pictures: PNG (pngcairo) and SVG, without X11
  dataset-fashion-mnist       # the real data set, in /usr/share/datasets/fashion-mnist
  libopenmpi-dev openmpi-bin  # MPI: training across processes and machines (mpirun; cli/dist_mpi.c)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
