# shellcheck shell=bash
# report_lib.sh - synthetic run folders for the report tests: the files
# descent train writes (metrics.csv, steps.csv, config.txt) and the
# diagnostics.csv of a tracked run, following their schemas exactly
# (docs/report.md), with curves shaped like a real run's.
#
# synthetic_run DIR [KIND]: KIND "tracked" (default) writes every
# instrument's columns for an MLP of two dense layers; "edge" makes the
# sharpness rise to the stability limit and stay there; "untracked" writes
# no diagnostics.csv.
#
# And what the report scripts check with: have_gnuplot, fingerprint DIR (a
# run folder's files but its report, with their bytes), pictures_ok DIR STEM...
synthetic_run() {
  local dir=$1 kind=${2:-tracked}
  mkdir -p "$dir"
  cat >"$dir/config.txt" <<'EOF'
descent 0.1.0, float, synthetic run for the report tests
model       mlp:784-64-10
optimizer   sgd = lr(lr=0.02)
batch size  128
epochs      4, seed 1
EOF
  awk -v kind="$kind" 'BEGIN {
    print "step,epoch,lr,loss"
    for (s = 1; s <= 2000; s++)
      printf "%d,%d,%.9g,%.9g\n", s, int((s - 1) / 500) + 1, 0.02, 2.3 * exp(-s / 600) + 0.3 + 0.05 * sin(s * 1.7)
  }' >"$dir/steps.csv"
  awk 'BEGIN {
    print "epoch,step,lr,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,samples_per_s,train_seconds,evaluations,products"
    for (e = 1; e <= 4; e++)
      printf "%d,%d,0.02,%.9g,%.9g,nan,nan,%.9g,%.9g,5000,%d,%d,0\n", e, 500 * e, 1.2 / e + 0.2, 0.9 - 0.3 / e, 1.1 / e + 0.3, 0.88 - 0.3 / e, 10 * e, 500 * e
  }' >"$dir/metrics.csv"
  [ "$kind" = untracked ] && return 0
  awk -v kind="$kind" 'BEGIN {
    printf "step,epoch,lr,loss,cost,hessian_top,stability_limit,precond_top,edge_ratio,ggn_top,hessian_bottom,"
    printf "grad_norm,noise_trace,noise_scale,norm_test,inner_test,ortho_test,batch,alpha,step_norm,loss_after"
    printf ",layer1.dense.weight.grad_norm,layer1.dense.weight.update_ratio,layer1.dense.weight.distance"
    printf ",layer1.dense.bias.grad_norm,layer1.dense.bias.update_ratio,layer1.dense.bias.distance"
    printf ",layer3.dense.weight.grad_norm,layer3.dense.weight.update_ratio,layer3.dense.weight.distance"
    printf ",layer3.dense.bias.grad_norm,layer3.dense.bias.update_ratio,layer3.dense.bias.distance"
    print ",layer2.relu.mean,layer2.relu.std,layer2.relu.dead"
    for (i = 0; i < 200; i++) {
      s = 10 * i; limit = 2 / 0.02
      top = (kind == "edge") ? limit * (i < 40 ? 0.2 + 0.8 * i / 40 : 1 + 0.04 * sin(i)) : 20 + 30 * i / 200
      loss = 2.3 * exp(-s / 600) + 0.3 + 0.05 * sin(i)
      noise = 40 * (1 + i / 20) * (1 + 0.2 * sin(1.3 * i))
      norm = (noise / 128) / (1 + noise / 128)
      g = 2 * exp(-i / 100) + 0.2
      printf "%d,%d,0.02,%.9g,2.4,%.9g,%.9g,nan,%.9g,%.9g,%.9g,", s, int(s / 500) + 1, loss, top, limit, top / limit, 0.8 * top, -0.02 * top
      printf "%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,128,", g, noise * g * g / 128, noise, norm, 0.6 * norm, 0.8 * norm
      printf "%.9g,%.9g,%.9g,", 0.2 + 0.3 * sin(0.7 * i), 0.02 * g, loss * 0.98
      printf "%.9g,%.9g,%.9g,%.9g,%s,%.9g,", g, 1.2e-3 * (1 + 0.3 * sin(i)), 0.5 * sqrt(i), 0.3 * g, (i ? "0.01" : "nan"), 0.05 * sqrt(i)
      printf "%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,", 0.5 * g, 8e-4 * (1 + 0.3 * cos(i)), 0.3 * sqrt(i), 0.1 * g, 0.005, 0.02 * sqrt(i)
      printf "%.9g,%.9g,%.9g\n", 0.4 + 0.1 * i / 200, 0.6 + 0.1 * sin(i / 10), 0.05 + 0.1 * i / 200
    }
  }' >"$dir/diagnostics.csv"
}

# synthetic_sweep DIR: a sweep folder as the sweep tool writes it
# (docs/tuning.md): sweep.txt, summary.csv and trial folders with a
# metrics.csv each. Two optimizers over lr: sgd's runs at 0.01 (best, 0.90)
# and 0.1 (0.895, within 1%) and 0.001 (0.80), one diverged at 1: its window
# is 0.01 to 0.1, x10, 1 decade; adam's best at 0.001, its edge, with
# 0.01 outside: its window is the best value alone. One adam trial stopped
# early, one failed.
synthetic_sweep() {
  local dir=$1 t
  mkdir -p "$dir"
  cat >"$dir/sweep.txt" <<'EOT'
command  descent train --epochs 2
space    lr: log 1e-3..1; opt: sgd, adam
metric   val_acc (higher is better)
EOT
  cat >"$dir/summary.csv" <<'EOT'
rank,trial,status,seed,p.lr,p.opt,epochs,train_loss,val_loss,val_acc,test_loss,test_acc,train_seconds,metric,dir
1,1,done,1,0.01,sgd,2,0.5,0.6,0.9,0.6,0.89,3,0.9,trial-0001
3,2,done,1,0.1,sgd,2,0.45,0.62,0.895,0.6,0.88,3,0.895,trial-0002
5,3,done,1,0.001,sgd,2,0.9,0.9,0.8,0.9,0.79,3,0.8,trial-0003
nan,4,diverged,1,1,sgd,1,nan,nan,nan,nan,nan,1,nan,trial-0004
2,5,done,1,0.001,adam,2,0.4,0.5,0.899,0.5,0.89,3,0.899,trial-0005
4,6,done,1,0.01,adam,2,0.6,0.7,0.85,0.7,0.84,3,0.85,trial-0006
6,7,stopped,1,0.1,adam,1,1.2,1.1,0.6,1.1,0.6,1,0.6,trial-0007
nan,8,failed,1,1,adam,0,nan,nan,nan,nan,nan,0,nan,trial-0008
EOT
  for t in 1 2 3 5 6; do
    mkdir -p "$dir/trial-000$t"
    awk -v t="$t" 'BEGIN {
      print "epoch,step,lr,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,samples_per_s,train_seconds,evaluations,products"
      for (e = 1; e <= 2; e++)
        printf "%d,%d,0.01,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,5000,1.5,%d,0\n", e, 100 * e, 1 / e + 0.05 * t, 0.9 - 0.2 / e, 0.9 / e, 0.92 - 0.1 / e - 0.01 * t, 0.9 / e, 0.9 - 0.1 / e, 100 * e
    }' >"$dir/trial-000$t/metrics.csv"
  done
}

have_gnuplot=0
command -v gnuplot >/dev/null 2>&1 && have_gnuplot=1

# fingerprint DIR: every file of a run folder but its report, with its bytes.
fingerprint() { (cd "$1" && find . -path ./report -prune -o -type f -print0 | sort -z | xargs -0 md5sum); }

# pictures_ok DIR STEM...: each picture drawn (PNG and SVG) by a script that
# gnuplot runs again without a word.
pictures_ok() {
  local dir=$1 stem
  shift
  for stem in "$@"; do
    [ -s "$dir/$stem.gp" ] || { echo "no $stem.gp"; return 1; }
    [ "$have_gnuplot" = 1 ] || continue
    [ "$(head -c 4 "$dir/$stem.png" | od -An -tx1 | tr -d ' ')" = 89504e47 ] ||
      { echo "$stem.png is not a PNG"; return 1; }
    grep -q "<svg" "$dir/$stem.svg" || { echo "$stem.svg is not an SVG"; return 1; }
    local said
    said=$(cd "$dir" && gnuplot "$stem.gp" 2>&1 >/dev/null)
    [ -z "$said" ] || { echo "gnuplot on $stem.gp says: $said"; return 1; }
  done
}
